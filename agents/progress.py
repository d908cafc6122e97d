"""Live progress of one question, so the Slack message can say which specialist is doing what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class SpecialistState(StrEnum):
    CHECKING = "checking"
    FOUND = "found"
    NOTHING = "nothing"
    FAILED = "failed"


class SpecialistProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    specialist: str
    state: SpecialistState
    detail: str = ""


ProgressSink = Callable[[SpecialistProgress], Awaitable[None]]


async def ignore_progress(_: SpecialistProgress) -> None:
    """The sink for callers with nobody watching (the CLI's `ask`, evaluation)."""

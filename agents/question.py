"""One question as the agents see it, whichever door it came through (Slack or the CLI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PriorTurn(BaseModel):
    """An earlier question and answer of the same Slack thread, for follow-ups."""

    model_config = ConfigDict(frozen=True)

    question: str
    answer: str
    subjects: list[str] = Field(default_factory=list, description="services and objects that answer was about")


class Question(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    user: str = "cli"
    channel: str | None = None
    thread_ts: str | None = None
    via: Literal["mention", "slash", "ask"] = "ask"
    history: list[PriorTurn] = Field(default_factory=list)

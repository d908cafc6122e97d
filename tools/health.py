"""The health answer every tool server gives, so App Home and `sources_failed` read them alike."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    source: str
    ok: bool
    detail: str = Field(default="", description="one line: what was reached, or why not")
    latency_ms: float | None = None

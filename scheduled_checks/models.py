"""What a scheduled check hands on: its findings, where each belongs, and how a run went.

A check only knows its own source; routing (which team's channel) and de-duplication (whether
to say it again) happen after it, on these models, so the three checks share one digest path.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tools.findings import Finding


class CheckResult(BaseModel):
    """One run of one check: what needs attention, and what was looked at to say so."""

    model_config = ConfigDict(frozen=True)

    findings: list[Finding]
    checked: str = Field(description="what the run examined, e.g. '4 certificates checked'")


class Observation(BaseModel):
    """A finding made ready for a digest: its stable key, its team's channel, its follow-up question."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1, description="stays the same while the same thing stays wrong")
    finding: Finding
    channel: str
    owner: str | None = Field(default=None, description="the owning service, when the catalog knows it")
    question: str = Field(description="what Investigate asks the agents about this finding")


class CheckSchedule(BaseModel):
    """A configured check as people read it in `/whisper checks`."""

    model_config = ConfigDict(frozen=True)

    name: str
    when: str = Field(description="e.g. 'cron 0 8 * * 1-5 (Europe/Berlin)' or 'every 30 min'")
    channel: str = Field(description="where findings without an owning team go")
    enabled: bool = True


class CheckRun(BaseModel):
    """How one scheduled run went, kept in the audit log for `/whisper checks` and App Home."""

    model_config = ConfigDict(frozen=True)

    check: str
    at: datetime
    findings: int = 0
    checked: str = ""
    posted: dict[str, int] = Field(default_factory=dict, description="channel -> items posted there")
    undelivered: dict[str, str] = Field(default_factory=dict, description="channel -> why Slack refused it")
    error: str | None = None

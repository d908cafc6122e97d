"""The answer to one question: what the Slack message shows and what `ask --json` prints.

One model serves both so the text posted and the structured result can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from guardrails.proposals import Proposal
from tools.findings import Finding


class SourceFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    error: str = Field(description="one line, safe to show")


class Owner(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    team: str
    channel: str
    repo: str | None = None


class RunbookRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    path: str
    excerpt: str = ""


class FactGroup(BaseModel):
    """Facts a specialist reports as they are (a pod list, query results in words), under its name."""

    model_config = ConfigDict(frozen=True)

    source: str
    lines: list[str]


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: str = Field(description="symptom or change")
    text: str


class MetricSeries(BaseModel):
    """One metric over time around an incident, and the moment of the change suspected of causing it."""

    title: str = Field(description="e.g. 'payment-service p99 latency'")
    unit: str = ""
    points: list[tuple[datetime, float]] = Field(min_length=2)
    change_at: datetime | None = None
    change_label: str = "change"


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    verdict: str = Field(description="the one-line short answer shown first")
    text: str = Field(description="the full answer as posted (redacted)")
    findings: list[Finding] = Field(default_factory=list)
    facts: list[FactGroup] = Field(default_factory=list)
    root_cause: str | None = None
    explanation: str | None = Field(default=None, description="a model's explanation, unverified; None without one")
    owner: Owner | None = None
    runbook: RunbookRef | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)
    proposals: list[Proposal] = Field(default_factory=list)
    refused: str | None = None
    sources_failed: list[SourceFailure] = Field(default_factory=list)
    series: list[MetricSeries] = Field(default_factory=list, description="metrics worth a chart in the thread")
    tables: list[dict[str, Any]] = Field(
        default_factory=list, description="query results shown as tables: {title, columns, rows}"
    )

    def contract_view(self) -> dict[str, Any]:
        """Exactly the object `whisperer ask --json` prints (CONTRACT.md, section 2)."""
        return {
            "answer": self.text,
            "findings": [finding.contract_view() for finding in self.findings],
            "root_cause": self.root_cause,
            "proposals": [proposal.contract_view() for proposal in self.proposals],
            "refused": self.refused,
            "sources_failed": [failure.model_dump() for failure in self.sources_failed],
        }

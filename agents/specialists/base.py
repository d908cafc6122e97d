"""What every specialist receives and returns.

A specialist is a plain async function from an `Investigation` to a `Report`. It reaches its
systems only through the toolbox, so a failing source surfaces as a `ToolError` that the router
turns into a named entry of `sources_failed` without sinking the rest of the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from agents.answer import MetricSeries, RunbookRef, SourceFailure
from agents.catalog import Catalog, Service
from agents.correlation import ChangeEvent
from agents.intents import Plan
from agents.question import Question
from agents.toolbox import Toolbox
from guardrails.proposals import Target
from tools.findings import Finding


@dataclass
class Investigation:
    question: Question
    plan: Plan
    toolbox: Toolbox
    catalog: Catalog
    now: datetime
    namespaces: list[str] = field(default_factory=list)
    """The namespaces this question may look at (from the plan, the services, or the channel)."""
    prior_findings: list[Finding] = field(default_factory=list)
    """What the first wave of specialists found, for those that run second (runbooks)."""

    def focus(self) -> list[Service]:
        return self.plan.services


class Report(BaseModel):
    specialist: str
    findings: list[Finding] = Field(default_factory=list)
    headline: str | None = Field(default=None, description="a one-line overview, e.g. pods by status")
    facts: list[str] = Field(default_factory=list, description="lines of evidence worth showing as they are")
    tables: list[dict[str, Any]] = Field(default_factory=list)
    series: list[MetricSeries] = Field(default_factory=list)
    changes: list[ChangeEvent] = Field(default_factory=list)
    runbooks: list[RunbookRef] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list, description="live objects a proposal may act on")
    refused: str | None = None
    failures: list[SourceFailure] = Field(default_factory=list)

    @property
    def found_something(self) -> bool:
        return bool(self.findings or self.facts or self.tables or self.changes or self.runbooks or self.refused)


Specialist = Callable[[Investigation], Awaitable[Report]]

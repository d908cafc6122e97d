"""What every specialist, analyzer and check reports: one typed finding per symptom.

The first four fields are exactly the contract's `ask --json` finding; the rest let correlation
place a finding on the timeline and let digests de-duplicate it, and are dropped from the
contract's view by `contract_view()`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort key: critical first."""
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


class ObjectRef(BaseModel):
    """The Kubernetes object (or other named thing) a finding is about."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str = Field(description="kubernetes, metrics, database, changes, runbooks, certificates, logs, ...")
    severity: Severity
    summary: str = Field(description="one line a person reads first")
    evidence: str = Field(default="", description="the facts behind the summary, quoted from the source")
    reason: str = Field(default="", description="machine-readable cause, e.g. CrashLoopBackOff, OOMKilled")
    subject: ObjectRef | None = None
    since: datetime | None = Field(default=None, description="when the symptom started, if known")
    details: dict[str, Any] = Field(default_factory=dict)

    def contract_view(self) -> dict[str, str]:
        return {
            "source": self.source,
            "severity": self.severity.value,
            "summary": self.summary,
            "evidence": self.evidence,
        }

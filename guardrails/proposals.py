"""A remediation proposal as a typed object, the only form in which a fix can travel.

Action and target come from the policy's catalog and from live API objects, never from free text,
so text planted in a log line or a database row can change an explanation but not what runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from guardrails.policy_config import Risk


class Target(BaseModel):
    """The object an action changes; `cluster` is None for the only (or default) cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    name: str
    namespace: str | None = None
    cluster: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(description="a key of the policy's action catalog, e.g. restart_deployment")
    target: Target
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk = "medium"
    requires_approval: bool = True
    reason: str = Field(default="", description="why: the evidence a person weighs before approving")

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Proposal:
        """A stored proposal's payload, which may also carry what its dry run said (`dry_run`)."""
        return cls.model_validate({key: value for key, value in payload.items() if key in cls.model_fields})

    def contract_view(self) -> dict[str, Any]:
        """The `ask --json` proposal object of the contract."""
        return {
            "action": self.action,
            "target": {"kind": self.target.kind, "namespace": self.target.namespace, "name": self.target.name},
            "params": dict(self.params),
            "risk": self.risk,
            "requires_approval": self.requires_approval,
        }

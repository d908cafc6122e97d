"""Who may ask for and approve which remediation actions, as data.

These models are the `access`, `channels` and `policy` sections of the bot's config file. They
live with the guardrails because the policy that reads them must not depend on the bot that
loads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictSection(BaseModel):
    """A config section: a typo in a key must be an error, not a silently ignored setting."""

    model_config = ConfigDict(extra="forbid")


class ChannelBinding(StrictSection):
    channel: str
    namespaces: list[str] = Field(default_factory=list)
    clusters: list[str] = Field(default_factory=list)


class AccessConfig(StrictSection):
    requesters: list[str] = Field(default_factory=list, description="Slack user ids; empty means anyone")
    approvers: list[str] = Field(default_factory=list)
    approver_groups: list[str] = Field(default_factory=list, description="Slack user group ids")
    admins: list[str] = Field(default_factory=list)


Risk = Literal["low", "medium", "high"]


class ActionRule(StrictSection):
    risk: Risk = "medium"
    approvals: int = Field(default=1, ge=1)
    min_replicas: int | None = Field(default=None, ge=0)
    max_replicas: int | None = Field(default=None, ge=0)


class Freeze(StrictSection):
    start: datetime
    end: datetime
    namespaces: list[str] = Field(default_factory=list, description="empty means every namespace")
    reason: str = "change freeze"


def _default_actions() -> dict[str, ActionRule]:
    return {
        "restart_deployment": ActionRule(risk="low"),
        "scale_deployment": ActionRule(risk="medium", min_replicas=1, max_replicas=20),
        "rollback_deployment": ActionRule(risk="medium"),
        "delete_pod": ActionRule(risk="low"),
        "cordon_node": ActionRule(risk="high", approvals=2),
    }


class PolicyConfig(StrictSection):
    """Deny by default: an action not in this catalog can be neither proposed nor executed."""

    actions: dict[str, ActionRule] = Field(default_factory=_default_actions)
    requester_may_approve: bool = False
    proposal_ttl_minutes: float = Field(default=30, gt=0)
    max_actions_per_target_per_hour: int = Field(default=3, ge=1)
    freezes: list[Freeze] = Field(default_factory=list)

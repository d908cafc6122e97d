"""Records the store keeps, as pydantic models shared by every backend and every caller.

Timestamps are always timezone-aware UTC: naive datetimes are rejected (they are the classic source
of "the digest was posted an hour early" bugs) and other offsets are converted, so a value read back
compares and prints exactly like the one written. JSON fields are checked for plain-JSON content at
construction, so a bad payload fails where it was built rather than deep inside a database driver.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from store.digest import canonical_json


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, the only kind the store accepts."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random id for records whose callers have no natural key."""
    return uuid.uuid4().hex


def _same_as(field: str) -> Callable[[dict[str, Any]], datetime]:
    """Default a timestamp to an earlier field so a fresh record has one instant, not two close ones."""

    def default(data: dict[str, Any]) -> datetime:
        value: datetime = data[field]
        return value

    return default


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _plain_json(value: Any) -> Any:
    canonical_json(value)
    return value


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_plain_json)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProposalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification_failed"


# The lifecycle the store enforces: a caller bug can lose a compare-and-set race, but it can never
# move a rejected fix to executing or skip the executing state that guards against double runs.
ALLOWED_TRANSITIONS: Mapping[ProposalState, frozenset[ProposalState]] = {
    ProposalState.PENDING: frozenset({ProposalState.APPROVED, ProposalState.REJECTED, ProposalState.EXPIRED}),
    ProposalState.APPROVED: frozenset({ProposalState.EXECUTING, ProposalState.FAILED}),
    ProposalState.EXECUTING: frozenset({ProposalState.EXECUTED, ProposalState.FAILED}),
    ProposalState.EXECUTED: frozenset({ProposalState.VERIFIED, ProposalState.VERIFICATION_FAILED}),
    ProposalState.REJECTED: frozenset(),
    ProposalState.EXPIRED: frozenset(),
    ProposalState.FAILED: frozenset(),
    ProposalState.VERIFIED: frozenset(),
    ProposalState.VERIFICATION_FAILED: frozenset(),
}


class AuditKind(StrEnum):
    """Well-known audit kinds; ``AuditEvent.kind`` is a plain string so new kinds need no store change."""

    QUESTION = "question"
    TOOL_CALL = "tool_call"
    REDACTION = "redaction"
    PROPOSAL = "proposal"
    DECISION = "decision"
    EXECUTION = "execution"
    VERIFICATION = "verification"
    CHECK = "check"
    MODEL_CALL = "model_call"


class AuditEvent(_Record):
    id: int | None = Field(default=None, description="assigned by the store; leave unset when recording")
    at: UtcDateTime = Field(default_factory=utcnow)
    kind: str = Field(min_length=1)
    actor: str = Field(min_length=1, description='Slack user id, or "bot"')
    subject: str
    detail: JsonObject = Field(default_factory=dict)


class StoredProposal(_Record):
    id: str = Field(default_factory=new_id, min_length=1)
    created_at: UtcDateTime = Field(default_factory=utcnow)
    expires_at: UtcDateTime
    requested_by: str
    channel: str
    thread_ts: str | None = None
    message_ts: str | None = None
    digest: str = Field(min_length=1, description="proposal_digest(action, target, params)")
    payload: JsonObject
    state: ProposalState = ProposalState.PENDING


class ProposalEvent(_Record):
    """One row of a proposal's history; the creation row has ``from_state=None``."""

    proposal_id: str
    at: UtcDateTime
    actor: str
    from_state: ProposalState | None
    to_state: ProposalState
    reason: str | None = None


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Incident(_Record):
    id: str = Field(default_factory=new_id, min_length=1)
    title: str
    service: str
    severity: str
    status: IncidentStatus = IncidentStatus.OPEN
    created_at: UtcDateTime = Field(default_factory=utcnow)
    updated_at: UtcDateTime = Field(default_factory=_same_as("created_at"))
    channel: str | None = None
    thread_ts: str | None = None
    summary: str = ""
    detail: JsonObject = Field(default_factory=dict)


class FindingRecord(_Record):
    """What a scheduled check last saw for one thing it watches, so it reports changes, not repeats."""

    check: str = Field(min_length=1)
    key: str = Field(min_length=1)
    severity: str
    fingerprint: str = Field(description="content_fingerprint() of the content that matters")
    first_seen: UtcDateTime = Field(default_factory=utcnow)
    last_seen: UtcDateTime = Field(default_factory=_same_as("first_seen"))
    last_reported_at: UtcDateTime | None = None
    snoozed_until: UtcDateTime | None = None
    acknowledged_by: str | None = None
    resolved_at: UtcDateTime | None = None
    summary: str = ""
    detail: JsonObject = Field(default_factory=dict)


class Turn(_Record):
    """One question and answer in a Slack thread, kept so follow-ups have context."""

    at: UtcDateTime = Field(default_factory=utcnow)
    user: str
    question: str
    answer: str
    findings: list[JsonObject] = Field(default_factory=list)

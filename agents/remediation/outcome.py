"""What a click on Approve/Reject and the execution that may follow report back to the thread."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from guardrails.proposals import Proposal
from store.models import ProposalState, StoredProposal


class Decision(BaseModel):
    """The result of one click: accepted is False for an unauthorized, stale or expired click."""

    model_config = ConfigDict(frozen=True)

    proposal_id: str
    proposal: Proposal | None = Field(description="None when the id is unknown")
    actor: str
    approve: bool
    accepted: bool
    state: ProposalState | None
    message: str = Field(description="one line for the thread, e.g. who decided or why the click was refused")


class ExecutionReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposal_id: str
    executed: bool = Field(description="the real (not dry-run) call was made and succeeded")
    message: str = Field(description="one line: what was done, or why it failed")
    verified: bool | None = Field(default=None, description="None when verification did not run")
    verification: str | None = None
    follow_up: list[Proposal] = Field(default_factory=list, description="e.g. a rollback when verification failed")


class RefusedProposal(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposal: Proposal
    reason: str


class Registration(BaseModel):
    """What `register` keeps, plus what it refused and why, for callers that explain refusals."""

    model_config = ConfigDict(frozen=True)

    stored: list[StoredProposal]
    refused: list[RefusedProposal]


class Recovery(BaseModel):
    """An approved fix another replica left half-way, and what this replica made of it."""

    model_config = ConfigDict(frozen=True)

    proposal: StoredProposal = Field(description="as it stands now; channel, thread and message say where to report")
    report: ExecutionReport
    requester: str = Field(description="who asks for a follow-up fix (the last approver)")

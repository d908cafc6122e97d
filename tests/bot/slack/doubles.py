"""Scripted stand-ins for the agents behind the Slack surface (the Slack side under test is all real).

`ScriptedAsker` reports progress for its specialists and returns a fixed answer; `StoreRemediation`
keeps proposals in a real store and applies the two rules the Slack tests need (nobody approves
their own request, only approvers approve), recording every decision and execution.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from agents.answer import Answer, Owner, RunbookRef, SourceFailure, TimelineEntry
from agents.progress import ProgressSink, SpecialistProgress, SpecialistState
from agents.question import Question
from agents.remediation.outcome import Decision, ExecutionReport
from guardrails.proposals import Proposal, Target
from store import ProposalState, Store, StoredProposal, proposal_digest, utcnow
from tools.findings import Finding, ObjectRef, Severity

RESTART = Proposal(
    action="restart_deployment",
    target=Target(kind="Deployment", namespace="shop", name="payment-service"),
    risk="low",
    reason="3 of 3 pods are in CrashLoopBackOff since the 12:01 deploy; a restart clears the stuck connection pool.",
)
VERDICT = "payment-service is crash-looping since the 12:01 deploy"
PROGRESS = (
    SpecialistProgress(specialist="kubernetes", state=SpecialistState.CHECKING),
    SpecialistProgress(specialist="metrics", state=SpecialistState.CHECKING),
    SpecialistProgress(specialist="kubernetes", state=SpecialistState.FOUND, detail="2 problems"),
    SpecialistProgress(specialist="metrics", state=SpecialistState.FAILED, detail="connection refused"),
)


def outage_answer(question: str = "Why is payment-service failing?", **changes: object) -> Answer:
    """The answer a good run gives for the payment outage: findings, cause, owner, runbook, one fix."""
    answer = Answer(
        question=question,
        verdict=VERDICT,
        text=f"{VERDICT}. The gateway timed out on every call after the pool size changed.",
        findings=[
            Finding(
                source="kubernetes",
                severity=Severity.CRITICAL,
                summary="3/3 pods of payment-service in CrashLoopBackOff",
                evidence="Back-off restarting failed container payment in pod payment-service-7d9f-abcde",
                reason="CrashLoopBackOff",
                subject=ObjectRef(kind="Deployment", namespace="shop", name="payment-service"),
            ),
            Finding(
                source="changes",
                severity=Severity.WARNING,
                summary="PR #42 set DB_POOL_SIZE=0, deployed at 12:01",
                evidence="- DB_POOL_SIZE: 20\n+ DB_POOL_SIZE: 0",
            ),
        ],
        root_cause="PR #42 set the database pool size to 0, so every request times out waiting for a connection.",
        owner=Owner(
            service="payment-service", team="payments", channel="#oncall-payments", repo="acme/payment-service"
        ),
        runbook=RunbookRef(
            title="Payment service crash loop", path="runbooks/payment-crashloop.md", excerpt="Restart."
        ),
        timeline=[
            TimelineEntry(at=datetime(2026, 11, 3, 12, 1, tzinfo=UTC), kind="change", text="deploy of PR #42"),
            TimelineEntry(at=datetime(2026, 11, 3, 12, 2, tzinfo=UTC), kind="symptom", text="gateway timeouts"),
        ],
        proposals=[RESTART],
        sources_failed=[SourceFailure(source="metrics", error="connection refused")],
    )
    return answer.model_copy(update=changes)


class ScriptedAsker:
    """Reports `progress` (pausing `pause` seconds between reports), then answers or raises `error`."""

    def __init__(
        self,
        answer: Answer | Callable[[Question], Answer] | None = None,
        progress: Sequence[SpecialistProgress] = PROGRESS,
        pause: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self._answer = answer if answer is not None else (lambda question: outage_answer(question.text))
        self._progress = progress
        self._pause = pause
        self._error = error
        self.questions: list[Question] = []

    async def ask(self, question: Question, progress: ProgressSink) -> Answer:
        self.questions.append(question)
        for report in self._progress:
            await progress(report)
            await asyncio.sleep(self._pause)
        if self._error is not None:
            raise self._error
        return self._answer(question) if callable(self._answer) else self._answer


class StoreRemediation:
    """Proposals in a real store; `approvers` may approve, nobody their own request."""

    def __init__(self, store: Store, approvers: Sequence[str] = ("U_BOB", "U_CAROL")) -> None:
        self.store = store
        self.approvers = frozenset(approvers)
        self.decisions: list[Decision] = []
        self.executed: list[str] = []

    async def register(
        self, proposals: list[Proposal], requester: str, channel: str, thread_ts: str | None
    ) -> list[StoredProposal]:
        return [
            await self.store.create_proposal(
                StoredProposal(
                    expires_at=utcnow() + timedelta(minutes=30),
                    requested_by=requester,
                    channel=channel,
                    thread_ts=thread_ts,
                    digest=proposal_digest(proposal.action, proposal.target.model_dump(mode="json"), proposal.params),
                    payload=proposal.model_dump(mode="json"),
                )
            )
            for proposal in proposals
        ]

    async def attach_message(self, proposal_id: str, channel: str, ts: str) -> None:
        await self.store.set_proposal_message(proposal_id, channel, ts)

    async def decide(self, proposal_id: str, user: str, approve: bool) -> Decision:
        decision = await self._decide(proposal_id, user, approve)
        self.decisions.append(decision)
        return decision

    async def _decide(self, proposal_id: str, user: str, approve: bool) -> Decision:
        stored = await self.store.get_proposal(proposal_id)
        if stored is None:
            return Decision(
                proposal_id=proposal_id,
                proposal=None,
                actor=user,
                approve=approve,
                accepted=False,
                state=None,
                message="no such proposal",
            )
        proposal = Proposal.model_validate(stored.payload)

        def refused(message: str, state: ProposalState) -> Decision:
            return Decision(
                proposal_id=proposal_id,
                proposal=proposal,
                actor=user,
                approve=approve,
                accepted=False,
                state=state,
                message=message,
            )

        if approve and user == stored.requested_by:
            return refused("you requested this change, so someone else must approve it", stored.state)
        if approve and user not in self.approvers:
            return refused("only the on-call approvers may approve changes", stored.state)
        wanted = ProposalState.APPROVED if approve else ProposalState.REJECTED
        moved = await self.store.transition_proposal(proposal_id, [ProposalState.PENDING], wanted, user)
        if moved is None:
            current = await self.store.get_proposal(proposal_id)
            state = current.state if current else ProposalState.EXPIRED
            return refused(f"it was already {state.value}", state)
        return Decision(
            proposal_id=proposal_id,
            proposal=proposal,
            actor=user,
            approve=approve,
            accepted=True,
            state=wanted,
            message=f"{wanted.value} by <@{user}>",
        )

    async def execute(self, proposal_id: str) -> ExecutionReport:
        for current, following in (
            (ProposalState.APPROVED, ProposalState.EXECUTING),
            (ProposalState.EXECUTING, ProposalState.EXECUTED),
            (ProposalState.EXECUTED, ProposalState.VERIFIED),
        ):
            await self.store.transition_proposal(proposal_id, [current], following, "bot")
        self.executed.append(proposal_id)
        return ExecutionReport(
            proposal_id=proposal_id,
            executed=True,
            message="restarted Deployment shop/payment-service",
            verified=True,
            verification="3/3 pods ready, error rate back to 0%",
        )

    async def pending(self) -> list[StoredProposal]:
        return await self.store.list_proposals([ProposalState.PENDING])

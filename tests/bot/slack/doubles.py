"""Scripted stand-ins for the agents behind the Slack surface (the Slack side under test is all real).

`ScriptedAsker` reports progress for its specialists and returns a fixed answer; `StoreRemediation`
is the real remediation service and policy over a real store, with only the cluster side (the
executor and the verifier) recorded instead of reaching Kubernetes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from agents.answer import Answer, Owner, RunbookRef, SourceFailure, TimelineEntry
from agents.progress import ProgressSink, SpecialistProgress, SpecialistState
from agents.question import Question
from agents.remediation.outcome import Decision, ExecutionReport
from agents.remediation.service import RemediationService
from agents.remediation.verifier import Verification
from guardrails.policy import Policy
from guardrails.policy_config import AccessConfig, PolicyConfig
from guardrails.proposals import Proposal, Target
from store import Store
from tools.findings import Finding, ObjectRef, Severity
from tools.kubernetes.models import ActionResult

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


class RecordingExecutor:
    """The Kubernetes side of remediation: records what it was asked to run and reports success."""

    def __init__(self) -> None:
        self.runs: list[tuple[Proposal, bool]] = []

    def problem(self, proposal: Proposal) -> str | None:
        return None

    async def run(self, proposal: Proposal, *, dry_run: bool, actor: str = "bot") -> ActionResult:
        self.runs.append((proposal, dry_run))
        target = ObjectRef(kind=proposal.target.kind, name=proposal.target.name, namespace=proposal.target.namespace)
        done = "would restart" if dry_run else "restarted"
        return ActionResult(
            action=proposal.action, target=target, dry_run=dry_run, ok=True, message=f"{done} {proposal.target}"
        )


class HealthyVerifier:
    async def verify(self, proposal: Proposal) -> Verification | None:
        return Verification(verified=True, summary="3/3 pods ready, error rate back to 0%")


class StoreRemediation(RemediationService):
    """The real remediation service and policy over a real store, with the cluster side recorded.

    `approvers` may approve, alice among them, so that her approving her own request meets the
    policy's two-person rule rather than a missing permission.
    """

    def __init__(self, store: Store, approvers: Sequence[str] = ("U_ALICE", "U_BOB", "U_CAROL")) -> None:
        self.executor = RecordingExecutor()
        policy = Policy(PolicyConfig(), AccessConfig(approvers=list(approvers)), [])
        super().__init__(store, policy, self.executor, HealthyVerifier())
        self.store = store
        self.decisions: list[Decision] = []
        self.executed: list[str] = []

    async def decide(self, proposal_id: str, user: str, approve: bool) -> Decision:
        decision = await super().decide(proposal_id, user, approve)
        self.decisions.append(decision)
        return decision

    async def execute(self, proposal_id: str) -> ExecutionReport:
        report = await super().execute(proposal_id)
        if report.executed:
            self.executed.append(proposal_id)
        return report

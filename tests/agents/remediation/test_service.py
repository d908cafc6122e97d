"""The approval flow as Slack users drive it, on SQLite and PostgreSQL (see conftest).

The executor and verifier here are recorders: they let the tests count real calls (the point of
exactly-once) and choose a verification outcome. The same service against the sandbox's
Kubernetes API through real MCP sessions is in test_executor_verifier.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from agents.remediation.outcome import Decision
from agents.remediation.service import RemediationService
from agents.remediation.verifier import Verification
from guardrails.policy import Policy
from guardrails.policy_config import AccessConfig, ChannelBinding, PolicyConfig
from guardrails.proposals import Proposal, Target
from store import AuditKind, ProposalState, Store, StoredProposal, utcnow
from tests.store.conftest import raw_query
from tools.findings import ObjectRef
from tools.kubernetes.models import ActionResult

CHANNEL = "#incident-payments"
PAYMENT = Target(kind="Deployment", namespace="shop", name="payment-service")
RESTART = Proposal(action="restart_deployment", target=PAYMENT, reason="CrashLoopBackOff since the deploy")


class Clock:
    """Real time plus an offset the test moves; the store's own deadline checks use real time."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


class RecordingExecutor:
    def __init__(self, *, dry_run_ok: bool = True) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.dry_run_ok = dry_run_ok

    def problem(self, proposal: Proposal) -> str | None:
        return None

    async def run(self, proposal: Proposal, *, dry_run: bool, actor: str = "bot") -> ActionResult:
        await asyncio.sleep(0.01)  # a real API round trip, so racing executions overlap
        self.calls.append((proposal.action, dry_run))
        target = proposal.target
        return ActionResult(
            action=proposal.action,
            target=ObjectRef(kind=target.kind, namespace=target.namespace, name=target.name),
            dry_run=dry_run,
            ok=self.dry_run_ok or not dry_run,
            message="deployment.apps/payment-service restarted" if self.dry_run_ok else "forbidden by admission",
        )

    @property
    def real_calls(self) -> int:
        return sum(1 for _, dry_run in self.calls if not dry_run)


class FixedVerifier:
    def __init__(self, verified: bool = True) -> None:
        self.verified = verified

    async def verify(self, proposal: Proposal) -> Verification | None:
        if proposal.action == "cordon_node":
            return None
        if self.verified:
            return Verification(verified=True, summary="Rollout complete: 2 of 2 pods Ready")
        return Verification(verified=False, summary="2 of 2 new pods are not Ready after 1 s: CrashLoopBackOff")


def make_service(
    store: Store,
    *,
    executor: RecordingExecutor | None = None,
    verifier: FixedVerifier | None = None,
    clock: Clock | None = None,
    groups: dict[str, set[str]] | None = None,
    policy: dict[str, Any] | None = None,
) -> RemediationService:
    async def resolve(user: str) -> set[str]:
        return (groups or {}).get(user, set())

    rules = Policy(
        PolicyConfig.model_validate(policy or {}),
        AccessConfig(
            requesters=["U_ALICE", "U_BOB", "U_CAROL"], approvers=["U_BOB", "U_CAROL"], approver_groups=["S_SRE"]
        ),
        [ChannelBinding(channel=CHANNEL, namespaces=["shop"])],
    )
    return RemediationService(
        store,
        rules,
        executor or RecordingExecutor(),
        verifier or FixedVerifier(),
        clock=clock or Clock(),
        groups=resolve,
    )


async def proposed(service: RemediationService, proposal: Proposal = RESTART, requester: str = "U_ALICE") -> str:
    stored = await service.register([proposal], requester, CHANNEL, "1700000000.000100")
    assert len(stored) == 1
    return stored[0].id


async def state_of(store: Store, proposal_id: str) -> ProposalState:
    stored = await store.get_proposal(proposal_id)
    assert stored is not None
    return stored.state


async def decisions(store: Store) -> list[dict[str, Any]]:
    return [
        {"actor": e.actor, **e.detail} for e in reversed(await store.list_audit(kind=AuditKind.DECISION, limit=500))
    ]


async def test_register_stores_what_policy_allows_and_audits_what_it_refuses(store: Store) -> None:
    service = make_service(store)
    outside = Proposal(action="restart_deployment", target=Target(kind="Deployment", namespace="kube-system", name="x"))
    unknown = Proposal(action="delete_namespace", target=Target(kind="Namespace", name="shop"))

    registration = await service.register_all([RESTART, outside, unknown], "U_ALICE", CHANNEL, "1.2")

    [stored] = registration.stored
    assert (stored.requested_by, stored.channel, stored.thread_ts) == ("U_ALICE", CHANNEL, "1.2")
    assert stored.state is ProposalState.PENDING
    assert stored.expires_at - stored.created_at == timedelta(minutes=30)
    assert Proposal.from_payload(stored.payload) == RESTART.model_copy(update={"risk": "low"})
    assert stored.payload["dry_run"] == "deployment.apps/payment-service restarted"
    assert [refusal.reason for refusal in registration.refused] == [
        "Deployment kube-system/x is outside what #incident-payments may change",
        "delete_namespace is not in the action catalog",
    ]
    audited = await store.list_audit(kind=AuditKind.PROPOSAL)
    assert sorted(event.detail["allowed"] for event in audited) == [False, False, True]
    assert await service.pending() == [stored]
    assert await service.register([unknown], "U_ALICE", CHANNEL, None) == []


async def test_twenty_concurrent_approvals_execute_exactly_once(store: Store) -> None:
    executor = RecordingExecutor()
    service = make_service(store, executor=executor)
    proposal_id = await proposed(service)

    clicks = await asyncio.gather(*(service.decide(proposal_id, "U_BOB", approve=True) for _ in range(20)))
    winners = [d for d in clicks if d.accepted and d.state is ProposalState.APPROVED]
    # Every Slack handler that saw an approval would call execute; let all of them try at once.
    reports = await asyncio.gather(*(service.execute(d.proposal_id) for d in clicks))

    assert len(winners) == 1
    assert winners[0].message == "Approved by <@U_BOB>"
    assert {d.message for d in clicks if d is not winners[0]} == {"This proposal was already approved by <@U_BOB>"}
    assert executor.real_calls == 1
    [done] = [r for r in reports if r.executed]
    assert done.message == "Restarted deployment shop/payment-service (approved by <@U_BOB>)"
    assert done.verified is True
    assert all("already being executed" in r.message for r in reports if r is not done)
    assert await state_of(store, proposal_id) is ProposalState.VERIFIED
    assert len(await decisions(store)) == 20
    assert len(await store.list_audit(kind=AuditKind.EXECUTION)) == 1
    history = [(e.from_state, e.to_state) for e in await store.list_proposal_events(proposal_id)]
    assert [to for _, to in history] == ["pending", "approved", "executing", "executed", "verified"]


async def test_redelivered_click_after_execution_runs_nothing_again(store: Store) -> None:
    executor = RecordingExecutor()
    service = make_service(store, executor=executor)
    proposal_id = await proposed(service)
    first = await service.decide(proposal_id, "U_BOB", approve=True)
    await service.execute(proposal_id)

    again = await service.decide(proposal_id, "U_BOB", approve=True)
    rerun = await service.execute(proposal_id)

    assert first.accepted
    assert not again.accepted
    assert again.message == "This proposal was already approved by <@U_BOB>"
    assert again.state is ProposalState.VERIFIED
    assert not rerun.executed
    assert executor.real_calls == 1


async def test_expired_proposal_is_refused_and_no_longer_pending(store: Store) -> None:
    clock = Clock()
    executor = RecordingExecutor()
    service = make_service(store, clock=clock, executor=executor)
    proposal_id = await proposed(service)
    stored = await store.get_proposal(proposal_id)
    assert stored is not None

    clock.offset = timedelta(minutes=31)
    click = await service.decide(proposal_id, "U_BOB", approve=True)

    assert not click.accepted
    assert click.state is ProposalState.EXPIRED
    assert click.message == f"This proposal expired at {stored.expires_at:%Y-%m-%d %H:%M} UTC without approval"
    assert await service.pending() == []
    assert not (await service.execute(proposal_id)).executed
    assert executor.real_calls == 0


async def test_pending_expires_overdue_proposals(store: Store) -> None:
    clock = Clock()
    service = make_service(store, clock=clock)
    old = await proposed(service)
    clock.offset = timedelta(minutes=20)
    fresh = await proposed(
        service, Proposal(action="delete_pod", target=Target(kind="Pod", namespace="shop", name="p"))
    )

    clock.offset = timedelta(minutes=35)

    assert [p.id for p in await service.pending()] == [fresh]
    assert await state_of(store, old) is ProposalState.EXPIRED


@pytest.mark.parametrize("when", ["before approval", "after approval"])
async def test_tampered_payload_is_never_executed(store: Store, store_url: str, when: str) -> None:
    executor = RecordingExecutor()
    service = make_service(store, executor=executor)
    proposal_id = await proposed(service)
    tampered = RESTART.model_copy(update={"target": Target(kind="Deployment", namespace="shop", name="postgres")})
    statement = (
        f"UPDATE proposals SET payload = '{json.dumps(tampered.model_dump(mode='json'))}' WHERE id = '{proposal_id}'"
    )

    if when == "after approval":
        assert (await service.decide(proposal_id, "U_BOB", approve=True)).accepted
        raw_query(store_url, statement)
        report = await service.execute(proposal_id)
        assert not report.executed
        assert "no longer matches the digest" in report.message
        assert await state_of(store, proposal_id) is ProposalState.FAILED
    else:
        raw_query(store_url, statement)
        click = await service.decide(proposal_id, "U_BOB", approve=True)
        assert not click.accepted
        assert click.message == "This proposal was changed after it was proposed, so it cannot be approved"
        assert await state_of(store, proposal_id) is ProposalState.REJECTED
        assert not (await service.execute(proposal_id)).executed
    assert executor.real_calls == 0


@pytest.mark.parametrize(
    ("requester", "approver", "message"),
    [
        ("U_BOB", "U_BOB", "U_BOB cannot approve their own request (two-person rule)"),
        ("U_ALICE", "U_ALICE", "U_ALICE is not allowed to approve restart_deployment"),
        ("U_ALICE", "U_DAVE", "U_DAVE is not allowed to approve restart_deployment"),
    ],
    ids=["self-approval", "requester who is no approver", "stranger"],
)
async def test_refused_approval_changes_nothing_and_is_audited(
    store: Store, requester: str, approver: str, message: str
) -> None:
    executor = RecordingExecutor()
    service = make_service(store, executor=executor)
    proposal_id = await proposed(service, requester=requester)

    click = await service.decide(proposal_id, approver, approve=True)

    assert (click.accepted, click.state, click.message) == (False, ProposalState.PENDING, message)
    assert await state_of(store, proposal_id) is ProposalState.PENDING
    assert not (await service.execute(proposal_id)).executed
    assert executor.real_calls == 0
    [audited] = await decisions(store)
    assert audited["actor"] == approver
    assert (audited["accepted"], audited["message"]) == (False, message)


async def test_approver_group_member_may_approve(store: Store) -> None:
    service = make_service(store, groups={"U_DAVE": {"S_SRE"}})
    proposal_id = await proposed(service)

    click = await service.decide(proposal_id, "U_DAVE", approve=True)
    report = await service.execute(proposal_id)

    assert (click.accepted, click.state) == (True, ProposalState.APPROVED)
    assert report.message == "Restarted deployment shop/payment-service (approved by <@U_DAVE>)"


async def test_reject_is_recorded_and_later_clicks_say_who_rejected(store: Store) -> None:
    executor = RecordingExecutor()
    service = make_service(store, executor=executor)
    proposal_id = await proposed(service)

    stranger = await service.decide(proposal_id, "U_DAVE", approve=False)
    rejection = await service.decide(proposal_id, "U_CAROL", approve=False)
    late = await service.decide(proposal_id, "U_BOB", approve=True)

    assert (stranger.accepted, stranger.message) == (False, "U_DAVE is not allowed to reject restart_deployment")
    assert (rejection.accepted, rejection.state, rejection.message) == (
        True,
        ProposalState.REJECTED,
        "Rejected by <@U_CAROL>",
    )
    assert (late.accepted, late.message) == (False, "This proposal was already rejected by <@U_CAROL>")
    assert not (await service.execute(proposal_id)).executed
    assert executor.real_calls == 0
    assert [(d["actor"], d["approve"], d["accepted"]) for d in await decisions(store)] == [
        ("U_DAVE", False, False),
        ("U_CAROL", False, True),
        ("U_BOB", True, False),
    ]


async def test_failed_verification_proposes_a_rollback(store: Store) -> None:
    service = make_service(store, verifier=FixedVerifier(verified=False))
    proposal_id = await proposed(service)
    await service.decide(proposal_id, "U_BOB", approve=True)

    report = await service.execute(proposal_id)

    assert report.executed
    assert report.verified is False
    assert report.verification == "2 of 2 new pods are not Ready after 1 s: CrashLoopBackOff"
    [rollback] = report.follow_up
    assert (rollback.action, rollback.target) == ("rollback_deployment", PAYMENT)
    assert "CrashLoopBackOff" in rollback.reason
    assert await state_of(store, proposal_id) is ProposalState.VERIFICATION_FAILED
    [verification] = await store.list_audit(kind=AuditKind.VERIFICATION)
    assert verification.detail["verified"] is False
    # The follow-up goes through the same gate as any proposal.
    assert len(await service.register(report.follow_up, "U_ALICE", CHANNEL, None)) == 1


async def test_a_proposal_whose_dry_run_fails_is_not_offered(store: Store) -> None:
    executor = RecordingExecutor(dry_run_ok=False)
    registration = await make_service(store, executor=executor).register_all([RESTART], "U_ALICE", CHANNEL, None)

    assert registration.stored == []
    assert [refusal.reason for refusal in registration.refused] == ["its dry run failed: forbidden by admission"]
    assert executor.calls == [("restart_deployment", True)]


async def test_refused_dry_run_at_execution_stops_before_the_real_call(store: Store) -> None:
    executor = RecordingExecutor()
    service = make_service(store, executor=executor)
    proposal_id = await proposed(service)
    await service.decide(proposal_id, "U_BOB", approve=True)
    executor.dry_run_ok = False  # the cluster changed between the proposal and the click

    report = await service.execute(proposal_id)

    assert not report.executed
    assert report.message == (
        "Could not restart deployment shop/payment-service: dry run refused: forbidden by admission; "
        "nothing was changed"
    )
    assert executor.calls == [("restart_deployment", True), ("restart_deployment", True)]
    assert await state_of(store, proposal_id) is ProposalState.FAILED


async def test_two_approvals_need_two_distinct_people(store: Store) -> None:
    cordon = Proposal(action="cordon_node", target=Target(kind="Node", name="node-2"))
    service = RemediationService(
        store,
        Policy(
            PolicyConfig.model_validate({"actions": {"cordon_node": {"risk": "high", "approvals": 2}}}),
            AccessConfig(approvers=["U_BOB", "U_CAROL", "U_ERIN"]),
            [],
        ),
        RecordingExecutor(),
        FixedVerifier(),
    )
    proposal_id = await proposed(service, cordon)

    first = await service.decide(proposal_id, "U_BOB", approve=True)
    repeat = await service.decide(proposal_id, "U_BOB", approve=True)
    second, third = await asyncio.gather(
        service.decide(proposal_id, "U_CAROL", approve=True), service.decide(proposal_id, "U_ERIN", approve=True)
    )
    report = await service.execute(proposal_id)

    assert (first.accepted, first.state) == (True, ProposalState.PENDING)
    assert first.message == "Approval 1 of 2 recorded from <@U_BOB>; waiting for 1 more approver(s)"
    assert (repeat.accepted, repeat.message) == (False, "U_BOB already approved; it needs 2 different approvers")
    winner: Decision = second if second.state is ProposalState.APPROVED and second.accepted else third
    assert [second.accepted and second.state, third.accepted and third.state].count(ProposalState.APPROVED) == 1
    assert winner.message == f"Approved by <@U_BOB> and <@{winner.actor}>"
    assert report.message == f"Cordoned node node-2 (approved by <@U_BOB> and <@{winner.actor}>)"
    assert report.verified is None
    assert await state_of(store, proposal_id) is ProposalState.EXECUTED


async def test_rate_limit_counts_executions_of_the_same_target(store: Store) -> None:
    service = make_service(store, policy={"max_actions_per_target_per_hour": 2})
    for _ in range(2):
        proposal_id = await proposed(service)
        await service.decide(proposal_id, "U_BOB", approve=True)
        assert (await service.execute(proposal_id)).executed

    other = Proposal(action="restart_deployment", target=Target(kind="Deployment", namespace="shop", name="cart"))
    registration = await service.register_all([RESTART, other], "U_ALICE", CHANNEL, None)

    assert [p.payload["target"]["name"] for p in registration.stored] == ["cart"]
    assert registration.refused[0].reason == (
        "Deployment shop/payment-service already had 2 actions in the last hour (limit 2)"
    )


async def test_unknown_proposal_id(store: Store) -> None:
    service = make_service(store)

    click = await service.decide("nope", "U_BOB", approve=True)

    assert (click.accepted, click.proposal, click.state) == (False, None, None)
    assert not (await service.execute("nope")).executed


async def test_attach_message_remembers_where_the_buttons_are(store: Store) -> None:
    service = make_service(store)
    proposal_id = await proposed(service)

    await service.attach_message(proposal_id, "C0PAYMENTS", "1700000001.000200")

    stored = await store.get_proposal(proposal_id)
    assert isinstance(stored, StoredProposal)
    assert (stored.channel, stored.message_ts) == ("C0PAYMENTS", "1700000001.000200")

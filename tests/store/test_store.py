"""The store's behaviour, run identically against SQLite and PostgreSQL (see conftest.store_url)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest

from store import (
    LATEST_SCHEMA_VERSION,
    AlreadyExistsError,
    AuditEvent,
    FindingRecord,
    Incident,
    IncidentStatus,
    InvalidTransitionError,
    NotFoundError,
    ProposalState,
    Store,
    StoredProposal,
    StoreError,
    Turn,
    content_fingerprint,
    open_store,
    proposal_digest,
    utcnow,
)
from tests.store.conftest import raw_query

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
PENDING, APPROVED, REJECTED, EXPIRED = (
    ProposalState.PENDING,
    ProposalState.APPROVED,
    ProposalState.REJECTED,
    ProposalState.EXPIRED,
)
EXECUTING, FAILED = ProposalState.EXECUTING, ProposalState.FAILED


def make_proposal(**overrides: Any) -> StoredProposal:
    params = {"replicas": 3, "reason": "p99 latency ≥ 2s"}
    fields: dict[str, Any] = {
        "created_at": utcnow(),
        "expires_at": utcnow() + timedelta(minutes=15),
        "requested_by": "U1",
        "channel": "C1",
        "thread_ts": "1700000000.000100",
        "digest": proposal_digest("scale", {"kind": "Deployment", "name": "checkout"}, params),
        "payload": {"action": "scale", "target": {"kind": "Deployment", "name": "checkout"}, "params": params},
    }
    return StoredProposal(**{**fields, **overrides})


async def test_audit_round_trips_newest_first_with_filters(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    events = [
        AuditEvent(at=T0 + timedelta(minutes=5), kind="question", actor="U1", subject="5a", detail={"q": "why 502?"}),
        AuditEvent(at=T0 + timedelta(minutes=1), kind="tool_call", actor="bot", subject="1", detail={"n": [1, 2.5]}),
        AuditEvent(at=(T0 + timedelta(minutes=9)).astimezone(plus_two), kind="question", actor="U2", subject="9"),
        AuditEvent(at=T0 + timedelta(minutes=5), kind="decision", actor="U3", subject="5b", detail={"ok": True}),
    ]
    recorded = [await store.record_audit(event) for event in events]

    assert len({event.id for event in recorded}) == 4
    assert all(isinstance(event.id, int) for event in recorded)
    newest_first = await store.list_audit()
    assert [event.subject for event in newest_first] == ["9", "5b", "5a", "1"]
    assert sorted(newest_first, key=lambda e: e.subject) == sorted(recorded, key=lambda e: e.subject)
    assert newest_first[0].at == T0 + timedelta(minutes=9)
    assert newest_first[0].at.tzinfo == UTC

    assert [e.subject for e in await store.list_audit(kind="question")] == ["9", "5a"]
    assert [e.subject for e in await store.list_audit(since=T0 + timedelta(minutes=5))] == ["9", "5b", "5a"]
    assert [e.subject for e in await store.list_audit(limit=2)] == ["9", "5b"]
    assert await store.list_audit(kind="redaction") == []
    with pytest.raises(ValueError, match="id from the store"):
        await store.record_audit(recorded[0])


async def test_proposal_round_trip_message_and_listing(store: Store) -> None:
    proposal = make_proposal(created_at=datetime(2025, 3, 1, 17, 30, 0, 1, tzinfo=timezone(timedelta(hours=5))))
    assert await store.create_proposal(proposal) == proposal
    assert await store.get_proposal(proposal.id) == proposal
    assert await store.get_proposal("no-such-proposal") is None
    with pytest.raises(AlreadyExistsError, match=proposal.id):
        await store.create_proposal(proposal)
    with pytest.raises(InvalidTransitionError, match="starts pending"):
        await store.create_proposal(make_proposal(state=APPROVED))

    posted = await store.set_proposal_message(proposal.id, "C-approvals", "1700000001.000200")
    assert posted == proposal.model_copy(update={"channel": "C-approvals", "message_ts": "1700000001.000200"})
    assert await store.get_proposal(proposal.id) == posted
    with pytest.raises(NotFoundError):
        await store.set_proposal_message("no-such-proposal", "C1", "1.2")

    newer = await store.create_proposal(make_proposal(created_at=proposal.created_at + timedelta(hours=1)))
    await store.transition_proposal(newer.id, {PENDING}, REJECTED, "U2")
    assert [p.id for p in await store.list_proposals()] == [newer.id, proposal.id]
    assert [p.id for p in await store.list_proposals(states={PENDING})] == [proposal.id]
    assert [p.id for p in await store.list_proposals(states={PENDING, REJECTED}, limit=1)] == [newer.id]


async def test_transition_is_compare_and_set_and_keeps_history(store: Store) -> None:
    proposal = await store.create_proposal(make_proposal())

    approved = await store.transition_proposal(proposal.id, {PENDING}, APPROVED, "U2", reason="lgtm")
    assert approved == proposal.model_copy(update={"state": APPROVED})
    assert await store.transition_proposal(proposal.id, {PENDING}, REJECTED, "U3") is None
    assert await store.get_proposal(proposal.id) == approved
    assert await store.transition_proposal(proposal.id, {APPROVED}, EXECUTING, "bot") is not None
    failed = await store.transition_proposal(proposal.id, {APPROVED, EXECUTING}, FAILED, "bot", reason="timeout")
    assert failed is not None and failed.state is FAILED

    history = await store.list_proposal_events(proposal.id)
    assert [(e.from_state, e.to_state, e.actor, e.reason) for e in history] == [
        (None, PENDING, "U1", None),
        (PENDING, APPROVED, "U2", "lgtm"),
        (APPROVED, EXECUTING, "bot", None),
        (EXECUTING, FAILED, "bot", "timeout"),
    ]
    assert history[0].at == proposal.created_at
    assert all(e.proposal_id == proposal.id for e in history)
    assert all(earlier.at <= later.at for earlier, later in pairwise(history))

    assert await store.transition_proposal("no-such-proposal", {PENDING}, APPROVED, "U2") is None
    with pytest.raises(InvalidTransitionError, match="from rejected to executing"):
        await store.transition_proposal(proposal.id, {REJECTED}, EXECUTING, "bot")
    with pytest.raises(ValueError, match="at least one expected state"):
        await store.transition_proposal(proposal.id, set(), APPROVED, "U2")


async def test_concurrent_decisions_exactly_one_wins(store: Store) -> None:
    proposal = await store.create_proposal(make_proposal())
    attempts = [
        store.transition_proposal(proposal.id, {PENDING}, APPROVED if i % 2 else REJECTED, f"U{i}") for i in range(20)
    ]
    winners = [result for result in await asyncio.gather(*attempts) if result is not None]

    assert len(winners) == 1
    history = await store.list_proposal_events(proposal.id)
    assert len(history) == 2
    assert history[1].to_state is winners[0].state
    assert await store.get_proposal(proposal.id) == winners[0]


async def test_two_store_instances_race_on_one_database(store: Store, store_url: str) -> None:
    proposal = await store.create_proposal(make_proposal())
    async with await open_store(store_url) as other:
        decisions = await asyncio.gather(
            *(
                s.transition_proposal(proposal.id, {PENDING}, APPROVED, f"U{i}")
                for i in range(10)
                for s in (store, other)
            )
        )
        leases = await asyncio.gather(
            *(
                s.acquire_lease("daily-digest", f"replica-{n}-{i}", 60)
                for i in range(10)
                for n, s in enumerate((store, other))
            )
        )
    assert sum(result is not None for result in decisions) == 1
    assert len(await store.list_proposal_events(proposal.id)) == 2
    assert leases.count(True) == 1


async def test_expire_proposals_moves_only_overdue_pending(store: Store) -> None:
    now = utcnow()
    due = await store.create_proposal(make_proposal(expires_at=now + timedelta(minutes=1)))
    later = await store.create_proposal(make_proposal(expires_at=now + timedelta(minutes=20)))
    decided = await store.create_proposal(make_proposal(expires_at=now + timedelta(minutes=1)))
    await store.transition_proposal(decided.id, {PENDING}, APPROVED, "U2")

    sweep_at = due.expires_at
    assert await store.expire_proposals(sweep_at) == [due.model_copy(update={"state": EXPIRED})]
    assert await store.expire_proposals(sweep_at) == []
    assert (await store.get_proposal(later.id) or later).state is PENDING
    assert (await store.get_proposal(decided.id) or decided).state is APPROVED
    last = (await store.list_proposal_events(due.id))[-1]
    assert (last.from_state, last.to_state, last.actor, last.at) == (PENDING, EXPIRED, "bot", sweep_at)


async def test_overdue_pending_proposal_cannot_be_approved_before_the_sweep(store: Store) -> None:
    overdue = await store.create_proposal(
        make_proposal(created_at=utcnow() - timedelta(hours=1), expires_at=utcnow() - timedelta(seconds=1))
    )
    assert await store.transition_proposal(overdue.id, {PENDING}, APPROVED, "U2") is None
    expired = await store.transition_proposal(overdue.id, {PENDING}, EXPIRED, "bot")
    assert expired is not None and expired.state is EXPIRED


async def test_incident_round_trip_update_and_listing(store: Store) -> None:
    first = Incident(
        id="inc-1",
        title="checkout 502s",
        service="checkout",
        severity="sev2",
        created_at=T0,
        channel="C1",
        thread_ts="1700000000.000100",
        detail={"alerts": [{"name": "HighErrorRate", "value": 0.12}]},
    )
    second = Incident(
        id="inc-2", title="slow payments", service="payments", severity="sev3", created_at=T0 + timedelta(hours=1)
    )
    assert await store.create_incident(first) == first
    await store.create_incident(second)
    assert await store.get_incident("inc-1") == first
    assert await store.get_incident("inc-404") is None
    with pytest.raises(AlreadyExistsError):
        await store.create_incident(first)
    assert await store.list_incidents() == [second, first]

    resolved = first.model_copy(
        update={
            "status": IncidentStatus.RESOLVED,
            "summary": "rolled back v2.3.1",
            "updated_at": T0 + timedelta(hours=2),
            "detail": {**first.detail, "root_cause": "bad config"},
        }
    )
    assert await store.update_incident(resolved.model_copy(update={"created_at": T0 - timedelta(days=1)})) == resolved
    assert await store.get_incident("inc-1") == resolved
    assert await store.list_incidents(status=IncidentStatus.OPEN) == [second]
    assert await store.list_incidents(status=IncidentStatus.RESOLVED, service="checkout") == [resolved]
    assert await store.list_incidents(service="payments", limit=1) == [second]
    with pytest.raises(NotFoundError, match="inc-404"):
        await store.update_incident(second.model_copy(update={"id": "inc-404"}))


async def test_findings_are_upserted_per_check_and_key(store: Store) -> None:
    assert await store.get_finding("disk", "node-1") is None
    seen = FindingRecord(
        check="disk",
        key="node-1",
        severity="warning",
        fingerprint=content_fingerprint({"used_pct": 91}),
        first_seen=T0,
        summary="/var at 91%",
        detail={"mount": "/var", "used_pct": 91},
    )
    await store.upsert_finding(seen)
    assert await store.get_finding("disk", "node-1") == seen

    seen_again = seen.model_copy(
        update={
            "last_seen": T0 + timedelta(hours=1),
            "last_reported_at": T0 + timedelta(hours=1),
            "snoozed_until": T0 + timedelta(days=1),
            "acknowledged_by": "U9",
        }
    )
    await store.upsert_finding(seen_again)
    assert await store.get_finding("disk", "node-1") == seen_again

    cert = FindingRecord(check="cert", key="api.example.com", severity="critical", fingerprint="f1", first_seen=T0)
    gone = FindingRecord(
        check="disk",
        key="node-2",
        severity="warning",
        fingerprint="f2",
        first_seen=T0,
        resolved_at=T0 + timedelta(hours=3),
    )
    await store.upsert_finding(cert)
    await store.upsert_finding(gone)
    assert await store.list_findings() == [cert, seen_again]
    assert await store.list_findings(include_resolved=True) == [cert, seen_again, gone]
    assert await store.list_findings(check="disk") == [seen_again]
    assert await store.list_findings(check="disk", include_resolved=True) == [seen_again, gone]


async def test_threads_return_latest_turns_oldest_first(store: Store) -> None:
    turns = [
        Turn(
            at=T0 + timedelta(seconds=i),
            user="U1",
            question=f"question {i}",
            answer=f"answer {i}",
            findings=[{"metric": "p99_ms", "value": 100 + i}],
        )
        for i in range(25)
    ]
    for turn in turns:
        await store.append_turn("C1", "1700000000.000100", turn)
    elsewhere = Turn(at=T0, user="U2", question="q", answer="a")
    await store.append_turn("C2", "1700000000.000100", elsewhere)

    assert await store.get_thread("C1", "1700000000.000100") == turns[-20:]
    assert await store.get_thread("C1", "1700000000.000100", limit=3) == turns[-3:]
    assert await store.get_thread("C2", "1700000000.000100") == [elsewhere]
    assert await store.get_thread("C1", "1700000099.000000") == []


async def test_claim_event_once_across_instances(store: Store, store_url: str) -> None:
    async with await open_store(store_url) as other:
        claims = await asyncio.gather(*(s.claim_event("Ev01") for _ in range(10) for s in (store, other)))
        assert claims.count(True) == 1
        assert await other.claim_event("Ev01") is False
        assert await other.claim_event("Ev02") is True

        store.claim_retention = timedelta(0)
        assert await store.claim_event("Ev01") is True, "a claim past retention is forgotten"
        assert await other.claim_event("Ev02") is True, "claiming prunes claims past retention"


async def test_leases_acquire_renew_release_and_takeover(store: Store) -> None:
    assert await store.acquire_lease("digest", "replica-a", 0.2)
    assert not await store.acquire_lease("digest", "replica-b", 30)
    assert await store.acquire_lease("digest", "replica-a", 30), "the holder renews"
    await asyncio.sleep(0.3)
    assert not await store.acquire_lease("digest", "replica-b", 30), "renewal extended the lease"
    assert await store.acquire_lease("checks", "replica-b", 30), "names are independent"

    assert not await store.release_lease("digest", "replica-b")
    assert await store.release_lease("digest", "replica-a")
    assert not await store.release_lease("digest", "replica-a")

    assert await store.acquire_lease("digest", "replica-b", 0.2)
    assert not await store.acquire_lease("digest", "replica-a", 30)
    await asyncio.sleep(0.3)
    assert await store.acquire_lease("digest", "replica-a", 30), "an expired lease is taken over"
    assert not await store.acquire_lease("digest", "replica-b", 30)
    with pytest.raises(ValueError, match="ttl_seconds"):
        await store.acquire_lease("digest", "replica-a", 0)


async def test_migrations_are_idempotent_and_safe_to_race(store_url: str) -> None:
    stores = await asyncio.gather(*(open_store(store_url) for _ in range(5)))
    await stores[0].record_audit(AuditEvent(kind="check", actor="bot", subject="survives reopen"))
    for opened in stores:
        await opened.close()

    async with await open_store(store_url) as reopened:
        assert await reopened.schema_version() == LATEST_SCHEMA_VERSION
        assert [e.subject for e in await reopened.list_audit()] == ["survives reopen"]
    versions = raw_query(store_url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v in range(1, LATEST_SCHEMA_VERSION + 1)]


async def test_refuses_a_database_migrated_by_a_newer_build(store: Store, store_url: str) -> None:
    raw_query(store_url, "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', '2030-01-01')")
    with pytest.raises(StoreError, match="schema version 999 is newer than this build supports") as caught:
        await open_store(store_url)
    assert "\n" not in str(caught.value)


async def test_health_and_use_after_close(store: Store, store_url: str) -> None:
    assert await store.health() is True
    closed = await open_store(store_url)
    await closed.close()
    assert await closed.health() is False
    with pytest.raises(StoreError, match="after close"):
        await closed.get_proposal("anything")

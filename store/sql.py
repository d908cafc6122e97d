"""The Store implementation shared by SQLite and PostgreSQL.

Every query lives here, written once in the SQL both engines accept (``ON CONFLICT``, ``RETURNING``,
upserts with a ``WHERE``). Once-only operations are single conditional statements, so their
atomicity comes from the database's row locking rather than from anything this process holds.
A backend supplies only sessions: how to borrow a connection and, for ``atomic=True``, how to wrap
several statements in one write transaction.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from store.base import Store
from store.errors import AlreadyExistsError, InvalidTransitionError, NotFoundError, StoreError
from store.migrations import read_schema_version
from store.models import (
    ALLOWED_TRANSITIONS,
    AuditEvent,
    FindingRecord,
    Incident,
    IncidentStatus,
    ProposalEvent,
    ProposalState,
    StoredProposal,
    Turn,
    utcnow,
)
from store.session import Session
from store.tables import AUDIT, FINDINGS, INCIDENTS, PROPOSAL_EVENTS, PROPOSALS, TURNS

HEALTH_TIMEOUT_SECONDS = 5.0


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"store: {name} must be positive, got {value}")


def _in_list(prefix: str, values: Collection[object]) -> tuple[str, dict[str, object]]:
    """``(:p0, :p1, ...)`` and its parameters: an IN list both drivers bind without arrays."""
    params = {f"{prefix}{index}": value for index, value in enumerate(values)}
    return "(" + ", ".join(f":{name}" for name in params) + ")", params


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


class SqlStore(Store):
    @abstractmethod
    def _session(self, atomic: bool = False) -> AbstractAsyncContextManager[Session]:
        """A connection for one unit of work; ``atomic`` makes it one write transaction.

        Without ``atomic`` each statement commits on its own, which is all a single conditional
        statement needs and keeps locks as short as possible.
        """

    async def health(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), self._session() as session:
                await session.fetch_one("SELECT 1 AS ok")
        except (StoreError, TimeoutError):
            return False
        return True

    async def schema_version(self) -> int:
        async with self._session() as session:
            return await read_schema_version(session)

    # --- audit log -------------------------------------------------------------------------------

    async def record_audit(self, event: AuditEvent) -> AuditEvent:
        if event.id is not None:
            raise ValueError("store: audit events get their id from the store; leave AuditEvent.id unset")
        params = AUDIT.params(event)
        async with self._session() as session:
            row = await session.fetch_one(f"{AUDIT.insert_sql(exclude={'id'})} RETURNING id", params)
        assert row is not None
        return event.model_copy(update={"id": row["id"]})

    async def list_audit(
        self, limit: int = 100, kind: str | None = None, since: datetime | None = None
    ) -> list[AuditEvent]:
        _positive("limit", limit)
        clauses = []
        if kind is not None:
            clauses.append("kind = :kind")
        if since is not None:
            clauses.append("at >= :since")
        sql = f"SELECT {AUDIT.select_list} FROM {AUDIT.name} {_where(clauses)} ORDER BY at DESC, id DESC LIMIT :limit"
        async with self._session() as session:
            rows = await session.fetch_all(sql, {"kind": kind, "since": since, "limit": limit})
            return [AUDIT.from_row(row, session) for row in rows]

    # --- remediation proposals ---------------------------------------------------------------------

    async def create_proposal(self, proposal: StoredProposal) -> StoredProposal:
        if proposal.state is not ProposalState.PENDING:
            raise InvalidTransitionError(f"store: a new proposal starts pending, not {proposal.state}")
        async with self._session(atomic=True) as session:
            row = await session.fetch_one(
                f"{PROPOSALS.insert_sql()} ON CONFLICT (id) DO NOTHING RETURNING id", PROPOSALS.params(proposal)
            )
            if row is None:
                raise AlreadyExistsError(f"store: proposal {proposal.id!r} already exists")
            await self._record_transition(
                session,
                ProposalEvent(
                    proposal_id=proposal.id,
                    at=proposal.created_at,
                    actor=proposal.requested_by,
                    from_state=None,
                    to_state=ProposalState.PENDING,
                ),
            )
        return proposal

    async def get_proposal(self, proposal_id: str) -> StoredProposal | None:
        async with self._session() as session:
            row = await session.fetch_one(
                f"SELECT {PROPOSALS.select_list} FROM {PROPOSALS.name} WHERE id = :id", {"id": proposal_id}
            )
            return None if row is None else PROPOSALS.from_row(row, session)

    async def list_proposals(
        self, states: Collection[ProposalState] | None = None, limit: int = 100
    ) -> list[StoredProposal]:
        _positive("limit", limit)
        clauses: list[str] = []
        params: dict[str, object] = {"limit": limit}
        if states is not None:
            if not states:
                return []
            in_list, state_params = _in_list("state", sorted(set(states)))
            clauses.append(f"state IN {in_list}")
            params.update(state_params)
        sql = (
            f"SELECT {PROPOSALS.select_list} FROM {PROPOSALS.name} {_where(clauses)} "
            "ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
        async with self._session() as session:
            return [PROPOSALS.from_row(row, session) for row in await session.fetch_all(sql, params)]

    async def set_proposal_message(self, proposal_id: str, channel: str, ts: str) -> StoredProposal:
        async with self._session() as session:
            row = await session.fetch_one(
                f"UPDATE {PROPOSALS.name} SET channel = :channel, message_ts = :ts WHERE id = :id "
                f"RETURNING {PROPOSALS.select_list}",
                {"id": proposal_id, "channel": channel, "ts": ts},
            )
            if row is None:
                raise NotFoundError(f"store: no proposal {proposal_id!r}")
            return PROPOSALS.from_row(row, session)

    async def transition_proposal(
        self,
        proposal_id: str,
        expected: Collection[ProposalState],
        new_state: ProposalState,
        actor: str,
        reason: str | None = None,
    ) -> StoredProposal | None:
        expected_states = sorted({ProposalState(state) for state in expected})
        if not expected_states:
            raise ValueError("store: transition_proposal needs at least one expected state")
        forbidden = [state for state in expected_states if new_state not in ALLOWED_TRANSITIONS[state]]
        if forbidden:
            raise InvalidTransitionError(f"store: a proposal may not move from {', '.join(forbidden)} to {new_state}")
        now = utcnow()
        in_list, params = _in_list("expected", expected_states)
        overdue_guard = (
            "" if new_state is ProposalState.EXPIRED else " AND NOT (state = :pending AND expires_at <= :now)"
        )
        async with self._session(atomic=True) as session:
            # previous_state = state reads the pre-update value, giving the history row its from-state
            # without a separate SELECT that a concurrent writer could invalidate.
            row = await session.fetch_one(
                f"UPDATE {PROPOSALS.name} SET previous_state = state, state = :new_state "
                f"WHERE id = :id AND state IN {in_list}{overdue_guard} "
                f"RETURNING previous_state, {PROPOSALS.select_list}",
                {**params, "id": proposal_id, "new_state": new_state, "pending": ProposalState.PENDING, "now": now},
            )
            if row is None:
                return None
            previous = row.pop("previous_state")
            await self._record_transition(
                session,
                ProposalEvent(
                    proposal_id=proposal_id,
                    at=now,
                    actor=actor,
                    from_state=previous,
                    to_state=new_state,
                    reason=reason,
                ),
            )
            return PROPOSALS.from_row(row, session)

    async def expire_proposals(self, now: datetime) -> list[StoredProposal]:
        async with self._session(atomic=True) as session:
            rows = await session.fetch_all(
                f"UPDATE {PROPOSALS.name} SET previous_state = state, state = :expired "
                f"WHERE state = :pending AND expires_at <= :now RETURNING {PROPOSALS.select_list}",
                {"expired": ProposalState.EXPIRED, "pending": ProposalState.PENDING, "now": now},
            )
            expired = sorted((PROPOSALS.from_row(row, session) for row in rows), key=lambda p: (p.created_at, p.id))
            for proposal in expired:
                await self._record_transition(
                    session,
                    ProposalEvent(
                        proposal_id=proposal.id,
                        at=now,
                        actor="bot",
                        from_state=ProposalState.PENDING,
                        to_state=ProposalState.EXPIRED,
                        reason="not approved before expires_at",
                    ),
                )
        return expired

    async def list_proposal_events(self, proposal_id: str) -> list[ProposalEvent]:
        async with self._session() as session:
            rows = await session.fetch_all(
                f"SELECT {PROPOSAL_EVENTS.select_list} FROM {PROPOSAL_EVENTS.name} "
                "WHERE proposal_id = :proposal_id ORDER BY id",
                {"proposal_id": proposal_id},
            )
            return [PROPOSAL_EVENTS.from_row(row, session) for row in rows]

    @staticmethod
    async def _record_transition(session: Session, event: ProposalEvent) -> None:
        await session.execute(PROPOSAL_EVENTS.insert_sql(), PROPOSAL_EVENTS.params(event))

    # --- incidents ---------------------------------------------------------------------------------

    async def create_incident(self, incident: Incident) -> Incident:
        async with self._session() as session:
            row = await session.fetch_one(
                f"{INCIDENTS.insert_sql()} ON CONFLICT (id) DO NOTHING RETURNING id", INCIDENTS.params(incident)
            )
        if row is None:
            raise AlreadyExistsError(f"store: incident {incident.id!r} already exists")
        return incident

    async def get_incident(self, incident_id: str) -> Incident | None:
        async with self._session() as session:
            row = await session.fetch_one(
                f"SELECT {INCIDENTS.select_list} FROM {INCIDENTS.name} WHERE id = :id", {"id": incident_id}
            )
            return None if row is None else INCIDENTS.from_row(row, session)

    async def list_incidents(
        self, status: IncidentStatus | None = None, service: str | None = None, limit: int = 100
    ) -> list[Incident]:
        _positive("limit", limit)
        clauses = []
        if status is not None:
            clauses.append("status = :status")
        if service is not None:
            clauses.append("service = :service")
        sql = (
            f"SELECT {INCIDENTS.select_list} FROM {INCIDENTS.name} {_where(clauses)} "
            "ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
        async with self._session() as session:
            rows = await session.fetch_all(sql, {"status": status, "service": service, "limit": limit})
            return [INCIDENTS.from_row(row, session) for row in rows]

    async def update_incident(self, incident: Incident) -> Incident:
        async with self._session() as session:
            row = await session.fetch_one(
                f"UPDATE {INCIDENTS.name} SET {INCIDENTS.assignments(exclude={'id', 'created_at'})} "
                f"WHERE id = :id RETURNING {INCIDENTS.select_list}",
                INCIDENTS.params(incident),
            )
            if row is None:
                raise NotFoundError(f"store: no incident {incident.id!r}")
            return INCIDENTS.from_row(row, session)

    # --- scheduled-check findings --------------------------------------------------------------

    async def get_finding(self, check: str, key: str) -> FindingRecord | None:
        async with self._session() as session:
            row = await session.fetch_one(
                f"SELECT {FINDINGS.select_list} FROM {FINDINGS.name} WHERE check_name = :check AND finding_key = :key",
                {"check": check, "key": key},
            )
            return None if row is None else FINDINGS.from_row(row, session)

    async def upsert_finding(self, finding: FindingRecord) -> None:
        key_fields = {"check", "key"}
        updates = ", ".join(f"{column} = excluded.{column}" for column in FINDINGS.columns(exclude=key_fields))
        async with self._session() as session:
            await session.execute(
                f"{FINDINGS.insert_sql()} ON CONFLICT (check_name, finding_key) DO UPDATE SET {updates}",
                FINDINGS.params(finding),
            )

    async def list_findings(self, check: str | None = None, include_resolved: bool = False) -> list[FindingRecord]:
        clauses = []
        if check is not None:
            clauses.append("check_name = :check")
        if not include_resolved:
            clauses.append("resolved_at IS NULL")
        sql = f"SELECT {FINDINGS.select_list} FROM {FINDINGS.name} {_where(clauses)} ORDER BY check_name, finding_key"
        async with self._session() as session:
            return [FINDINGS.from_row(row, session) for row in await session.fetch_all(sql, {"check": check})]

    # --- conversation threads ------------------------------------------------------------------

    async def append_turn(self, channel: str, thread_ts: str, turn: Turn) -> None:
        sql = TURNS.insert_sql(extra=("channel", "thread_ts"))
        async with self._session() as session:
            await session.execute(sql, {**TURNS.params(turn), "channel": channel, "thread_ts": thread_ts})

    async def get_thread(self, channel: str, thread_ts: str, limit: int = 20) -> list[Turn]:
        _positive("limit", limit)
        async with self._session() as session:
            rows = await session.fetch_all(
                f"SELECT {TURNS.select_list} FROM {TURNS.name} WHERE channel = :channel AND thread_ts = :thread_ts "
                "ORDER BY id DESC LIMIT :limit",
                {"channel": channel, "thread_ts": thread_ts, "limit": limit},
            )
            return [TURNS.from_row(row, session) for row in reversed(rows)]

    # --- once-only primitives ------------------------------------------------------------------

    async def claim_event(self, event_id: str) -> bool:
        now = utcnow()
        cutoff = now - self.claim_retention
        async with self._session() as session:
            # A forgotten (stale) claim is taken over in the same statement, so the answer never depends
            # on whether pruning has run yet.
            row = await session.fetch_one(
                "INSERT INTO claimed_events (event_id, claimed_at) VALUES (:event_id, :now) "
                "ON CONFLICT (event_id) DO UPDATE SET claimed_at = excluded.claimed_at "
                "WHERE claimed_events.claimed_at < :cutoff RETURNING event_id",
                {"event_id": event_id, "now": now, "cutoff": cutoff},
            )
            # Pruning is its own statement: one claim never holds locks on other claims' rows, so
            # replicas pruning concurrently cannot deadlock each other or a claim.
            await session.execute("DELETE FROM claimed_events WHERE claimed_at < :cutoff", {"cutoff": cutoff})
        return row is not None

    async def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        _positive("ttl_seconds", ttl_seconds)
        now = utcnow()
        async with self._session() as session:
            row = await session.fetch_one(
                "INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :expires_at) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= :now RETURNING holder",
                {"name": name, "holder": holder, "expires_at": now + timedelta(seconds=ttl_seconds), "now": now},
            )
        return row is not None

    async def release_lease(self, name: str, holder: str) -> bool:
        async with self._session() as session:
            row = await session.fetch_one(
                "DELETE FROM leases WHERE name = :name AND holder = :holder RETURNING name",
                {"name": name, "holder": holder},
            )
        return row is not None

"""The one interface for everything InfraWhisperer must remember.

Callers depend on this class only, never on a backend: a single bot uses SQLite in its data
directory, several replicas share PostgreSQL, and nothing above the store notices the difference.
Operations that must happen once (approving a proposal, handling a redelivered Slack event, posting
a digest) are atomic across processes, not just across coroutines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from store.models import (
    AuditEvent,
    FindingRecord,
    Incident,
    IncidentStatus,
    ProposalEvent,
    ProposalState,
    StoredProposal,
    Turn,
)


class Store(ABC):
    """Async persistence for the bot; obtain one with ``store.open_store(url)``."""

    claim_retention: timedelta = timedelta(hours=24)
    """How long ``claim_event`` remembers an id; Slack stops redelivering after minutes, so a day is ample."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def close(self) -> None:
        """Release connections; the store is unusable afterwards (calls raise ``StoreError``)."""

    @abstractmethod
    async def health(self) -> bool:
        """True when the database answers a trivial query within a few seconds (readiness probes)."""

    @abstractmethod
    async def schema_version(self) -> int:
        """The highest migration applied to the database."""

    # --- audit log -------------------------------------------------------------------------------

    @abstractmethod
    async def record_audit(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` (whose ``id`` must be unset) and return it with the id the store assigned."""

    @abstractmethod
    async def list_audit(
        self, limit: int = 100, kind: str | None = None, since: datetime | None = None
    ) -> list[AuditEvent]:
        """Newest first (by ``at``, then insertion), optionally only one kind and only ``at >= since``."""

    # --- remediation proposals ---------------------------------------------------------------------

    @abstractmethod
    async def create_proposal(self, proposal: StoredProposal) -> StoredProposal:
        """Store a new pending proposal and its creation history row (actor ``requested_by``).

        Raises ``AlreadyExistsError`` if the id is taken and ``InvalidTransitionError`` if the proposal
        is not pending: every proposal enters the lifecycle at the start.
        """

    @abstractmethod
    async def get_proposal(self, proposal_id: str) -> StoredProposal | None:
        """The proposal, or None if no such id."""

    @abstractmethod
    async def list_proposals(
        self, states: Collection[ProposalState] | None = None, limit: int = 100
    ) -> list[StoredProposal]:
        """Newest first, optionally only those in one of ``states``."""

    @abstractmethod
    async def set_proposal_message(self, proposal_id: str, channel: str, ts: str) -> StoredProposal:
        """Remember where the approval message was posted, so buttons and updates can find it.

        Raises ``NotFoundError`` if no such proposal.
        """

    @abstractmethod
    async def transition_proposal(
        self,
        proposal_id: str,
        expected: Collection[ProposalState],
        new_state: ProposalState,
        actor: str,
        reason: str | None = None,
    ) -> StoredProposal | None:
        """Compare-and-set the state: move to ``new_state`` only if the current state is in ``expected``.

        Returns the updated proposal when this caller won, None when the proposal is missing or was
        not in an expected state (someone else got there first). Exactly one of any number of
        concurrent callers, in any number of processes, wins. The winner's change and its history row
        are written in one transaction. A pending proposal past ``expires_at`` can only become expired,
        so a click that arrives after the deadline but before ``expire_proposals`` ran still loses.
        Raises ``InvalidTransitionError`` if some expected state may never move to ``new_state``
        (see ``ALLOWED_TRANSITIONS``) and ``ValueError`` if ``expected`` is empty.
        """

    @abstractmethod
    async def expire_proposals(self, now: datetime) -> list[StoredProposal]:
        """Atomically move pending proposals with ``expires_at <= now`` to expired; return them, oldest first."""

    @abstractmethod
    async def list_proposal_events(self, proposal_id: str) -> list[ProposalEvent]:
        """The proposal's history, oldest first, starting with its creation."""

    # --- incidents ---------------------------------------------------------------------------------

    @abstractmethod
    async def create_incident(self, incident: Incident) -> Incident:
        """Store a new incident; raises ``AlreadyExistsError`` if the id is taken."""

    @abstractmethod
    async def get_incident(self, incident_id: str) -> Incident | None:
        """The incident, or None if no such id."""

    @abstractmethod
    async def list_incidents(
        self, status: IncidentStatus | None = None, service: str | None = None, limit: int = 100
    ) -> list[Incident]:
        """Newest first (by ``created_at``), optionally filtered by status and service."""

    @abstractmethod
    async def update_incident(self, incident: Incident) -> Incident:
        """Overwrite every field except ``id`` and ``created_at`` with the given values.

        The caller sets ``updated_at`` (``incident.model_copy(update={..., "updated_at": utcnow()})``)
        so the stored value is exactly what it decided. Raises ``NotFoundError`` if no such incident.
        """

    # --- scheduled-check findings --------------------------------------------------------------

    @abstractmethod
    async def get_finding(self, check: str, key: str) -> FindingRecord | None:
        """What ``check`` last recorded for ``key``, or None if it never saw it."""

    @abstractmethod
    async def upsert_finding(self, finding: FindingRecord) -> None:
        """Insert or fully replace the record for ``(finding.check, finding.key)``.

        The caller owns the merge (keep ``first_seen``, bump ``last_seen``...) because only it knows
        which content matters; checks run under a lease, so read-modify-write does not race.
        """

    @abstractmethod
    async def list_findings(self, check: str | None = None, include_resolved: bool = False) -> list[FindingRecord]:
        """Findings ordered by check then key; unresolved only unless ``include_resolved``."""

    # --- conversation threads ------------------------------------------------------------------

    @abstractmethod
    async def append_turn(self, channel: str, thread_ts: str, turn: Turn) -> None:
        """Add a turn to the Slack thread ``(channel, thread_ts)``."""

    @abstractmethod
    async def get_thread(self, channel: str, thread_ts: str, limit: int = 20) -> list[Turn]:
        """The thread's last ``limit`` turns, oldest first, ready to replay as conversation context."""

    # --- once-only primitives ------------------------------------------------------------------

    @abstractmethod
    async def claim_event(self, event_id: str) -> bool:
        """True for the first caller to claim ``event_id`` across all processes, False for the rest.

        Used to handle Slack retries and duplicate deliveries once. Claims older than
        ``claim_retention`` are forgotten (and pruned), after which the id can be claimed again.
        """

    @abstractmethod
    async def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the named lease for ``ttl_seconds``; True if ``holder`` now holds it.

        Succeeds when the lease is free, already held by ``holder`` (a renewal, which extends it), or
        expired (a takeover). Time is each process's clock, so replicas need NTP-synchronised clocks,
        which a TTL of a minute or more tolerates easily.
        """

    @abstractmethod
    async def release_lease(self, name: str, holder: str) -> bool:
        """Give up the lease if ``holder`` holds it; True if it did. Another holder's lease is untouched."""

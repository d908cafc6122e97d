"""Persistence for InfraWhisperer: one async ``Store`` interface over SQLite or PostgreSQL.

    async with await open_store("sqlite:////var/lib/whisperer/whisperer.db") as store:
        await store.record_audit(AuditEvent(kind=AuditKind.QUESTION, actor="U123", subject="why 502?"))

``open_store`` is the only constructor callers need; backends are chosen by URL scheme.
"""

from __future__ import annotations

from store.base import Store
from store.digest import canonical_json, content_fingerprint, proposal_digest
from store.errors import AlreadyExistsError, InvalidTransitionError, NotFoundError, StoreError
from store.migrations import LATEST_SCHEMA_VERSION
from store.models import (
    ALLOWED_TRANSITIONS,
    AuditEvent,
    AuditKind,
    FindingRecord,
    Incident,
    IncidentStatus,
    ProposalEvent,
    ProposalState,
    StoredProposal,
    Turn,
    new_id,
    utcnow,
)
from store.postgres import DEFAULT_POOL_SIZE, PostgresStore
from store.sqlite import MEMORY, SqliteStore

URL_HELP = "use sqlite:///absolute/path/to/file.db, sqlite:///:memory: or postgresql://user@host:5432/dbname"

__all__ = [
    "ALLOWED_TRANSITIONS",
    "LATEST_SCHEMA_VERSION",
    "AlreadyExistsError",
    "AuditEvent",
    "AuditKind",
    "FindingRecord",
    "Incident",
    "IncidentStatus",
    "InvalidTransitionError",
    "NotFoundError",
    "ProposalEvent",
    "ProposalState",
    "Store",
    "StoreError",
    "StoredProposal",
    "Turn",
    "canonical_json",
    "content_fingerprint",
    "new_id",
    "open_store",
    "proposal_digest",
    "utcnow",
]


def _sqlite_location(rest: str) -> str:
    """The file path in ``sqlite://<rest>``; extra leading slashes (SQLAlchemy's absolute form) collapse."""
    if rest in {MEMORY, "/" + MEMORY}:
        return MEMORY
    if "?" in rest:
        raise StoreError(f"store: SQLite URLs take no query parameters; {URL_HELP}")
    if not rest.startswith("/") or not rest.strip("/"):
        raise StoreError(f"store: SQLite URL needs an absolute file path; {URL_HELP}")
    return "/" + rest.lstrip("/")


async def open_store(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Store:
    """Connect to the store at ``url``, apply pending migrations, and return it ready to use.

    ``pool_size`` is the number of PostgreSQL connections each process keeps (ignored for SQLite).
    Every failure is a ``StoreError`` with a one-line message free of passwords, fit to print as is.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise StoreError(f"store: not a store URL; {URL_HELP}")
    match scheme.lower():
        case "sqlite":
            return await SqliteStore.open(_sqlite_location(rest))
        case "postgresql" | "postgres":
            return await PostgresStore.open(url, pool_size)
        case _:
            raise StoreError(f"store: unsupported URL scheme {scheme!r}; {URL_HELP}")

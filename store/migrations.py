"""Numbered schema migrations, shared by both backends.

Statements use portable SQL with three type placeholders (``{timestamp}``, ``{json}``,
``{serial_pk}``) that each backend's Session spells in its own dialect. A migration, once released,
is never edited: the database records which versions it has, and new changes get a new number.

Callers run ``apply_migrations`` inside a transaction that excludes other migrators (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), so two processes starting at once apply each
migration exactly once and the second simply finds the work done.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.errors import StoreError
from store.models import utcnow
from store.session import Session


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            """CREATE TABLE audit_events (
                id {serial_pk},
                at {timestamp} NOT NULL,
                kind TEXT NOT NULL,
                actor TEXT NOT NULL,
                subject TEXT NOT NULL,
                detail {json} NOT NULL
            )""",
            "CREATE INDEX audit_events_at ON audit_events (at, id)",
            "CREATE INDEX audit_events_kind_at ON audit_events (kind, at, id)",
            """CREATE TABLE proposals (
                id TEXT PRIMARY KEY,
                created_at {timestamp} NOT NULL,
                expires_at {timestamp} NOT NULL,
                requested_by TEXT NOT NULL,
                channel TEXT NOT NULL,
                thread_ts TEXT,
                message_ts TEXT,
                digest TEXT NOT NULL,
                payload {json} NOT NULL,
                state TEXT NOT NULL,
                previous_state TEXT
            )""",
            "CREATE INDEX proposals_state_expires ON proposals (state, expires_at)",
            "CREATE INDEX proposals_created ON proposals (created_at)",
            """CREATE TABLE proposal_events (
                id {serial_pk},
                proposal_id TEXT NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
                at {timestamp} NOT NULL,
                actor TEXT NOT NULL,
                from_state TEXT,
                to_state TEXT NOT NULL,
                reason TEXT
            )""",
            "CREATE INDEX proposal_events_proposal ON proposal_events (proposal_id, id)",
            """CREATE TABLE incidents (
                id TEXT PRIMARY KEY,
                title TEXT NOT NULL,
                service TEXT NOT NULL,
                severity TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at {timestamp} NOT NULL,
                updated_at {timestamp} NOT NULL,
                channel TEXT,
                thread_ts TEXT,
                summary TEXT NOT NULL,
                detail {json} NOT NULL
            )""",
            "CREATE INDEX incidents_created ON incidents (created_at)",
            """CREATE TABLE check_findings (
                check_name TEXT NOT NULL,
                finding_key TEXT NOT NULL,
                severity TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                first_seen {timestamp} NOT NULL,
                last_seen {timestamp} NOT NULL,
                last_reported_at {timestamp},
                snoozed_until {timestamp},
                acknowledged_by TEXT,
                resolved_at {timestamp},
                summary TEXT NOT NULL,
                detail {json} NOT NULL,
                PRIMARY KEY (check_name, finding_key)
            )""",
            """CREATE TABLE conversation_turns (
                id {serial_pk},
                channel TEXT NOT NULL,
                thread_ts TEXT NOT NULL,
                at {timestamp} NOT NULL,
                user_id TEXT NOT NULL,
                question TEXT NOT NULL,
                answer TEXT NOT NULL,
                findings {json} NOT NULL
            )""",
            "CREATE INDEX conversation_turns_thread ON conversation_turns (channel, thread_ts, id)",
            """CREATE TABLE claimed_events (
                event_id TEXT PRIMARY KEY,
                claimed_at {timestamp} NOT NULL
            )""",
            "CREATE INDEX claimed_events_at ON claimed_events (claimed_at)",
            """CREATE TABLE leases (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                expires_at {timestamp} NOT NULL
            )""",
        ),
    ),
)

LATEST_SCHEMA_VERSION = MIGRATIONS[-1].version

_SCHEMA_VERSION_DDL = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at {timestamp} NOT NULL
)"""


async def read_schema_version(session: Session) -> int:
    row = await session.fetch_one("SELECT MAX(version) AS version FROM schema_version")
    return int(row["version"]) if row and row["version"] is not None else 0


async def apply_migrations(session: Session) -> int:
    """Bring the schema up to date and return its version; see the module docstring for locking."""
    await session.execute(_SCHEMA_VERSION_DDL.format_map(session.column_types))
    current = await read_schema_version(session)
    if current > LATEST_SCHEMA_VERSION:
        raise StoreError(
            f"store: database schema version {current} is newer than this build supports "
            f"({LATEST_SCHEMA_VERSION}); upgrade InfraWhisperer"
        )
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        for statement in migration.statements:
            await session.execute(statement.format_map(session.column_types))
        await session.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (:version, :name, :applied_at)",
            {"version": migration.version, "name": migration.name, "applied_at": utcnow()},
        )
    return LATEST_SCHEMA_VERSION

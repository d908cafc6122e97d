"""What the database tool server is configured with and what its tools answer.

Every answer names the database it came from (the agent may ask several in parallel) and
carries no DSN: a target is described by engine, host and database name only.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from guardrails.readonly_query import DEFAULT_STATEMENT_TIMEOUT_MS
from guardrails.sql_gate import DEFAULT_MAX_ROWS

Engine = Literal["postgresql", "sqlite"]
SQLITE_SCHEME = "sqlite://"


class DatabaseTarget(BaseModel):
    """One database the bot may read, through a role that can do nothing else.

    The DSN is a secret (it may hold a password), so it never appears in a repr, a log line or
    an answer.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, description="the name the agent and the config use, e.g. 'shop'")
    dsn: SecretStr = Field(description="postgresql://whisperer_reader@host:5432/db, or sqlite:///abs/path.db")
    statement_timeout_ms: int = Field(default=DEFAULT_STATEMENT_TIMEOUT_MS, gt=0)
    max_rows: int = Field(default=DEFAULT_MAX_ROWS, gt=0, le=10_000)

    @property
    def engine(self) -> Engine:
        return "sqlite" if self.dsn.get_secret_value().startswith(SQLITE_SCHEME) else "postgresql"

    def passwords(self) -> set[str]:
        """The DSN's password as written and as decoded, to cut out of any message that echoes it."""
        if self.engine == "sqlite":
            return set()
        try:
            password = conninfo_to_dict(self.dsn.get_secret_value()).get("password")
        except psycopg.Error:
            return set()
        return {str(password), quote(str(password), safe="")} if password else set()

    def info(self) -> DatabaseInfo:
        return DatabaseInfo(
            name=self.name,
            engine=self.engine,
            location=self._location(),
            statement_timeout_ms=self.statement_timeout_ms,
            max_rows=self.max_rows,
        )

    def _location(self) -> str:
        dsn = self.dsn.get_secret_value()
        if self.engine == "sqlite":
            return PurePosixPath(dsn[len(SQLITE_SCHEME) :]).name
        try:
            parts = conninfo_to_dict(dsn)
        except psycopg.Error:
            return "(unreadable DSN)"
        host = parts.get("host") or parts.get("hostaddr") or "localhost"
        return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


class DatabaseInfo(BaseModel):
    name: str
    engine: Engine
    location: str = Field(description="host:port/database (PostgreSQL) or the file name (SQLite); never credentials")
    statement_timeout_ms: int
    max_rows: int


class DatabaseList(BaseModel):
    databases: list[DatabaseInfo]


class TableInfo(BaseModel):
    schema_name: str = Field(description="PostgreSQL schema ('public' ...); 'main' for SQLite")
    table: str
    kind: str = Field(description="table, view, materialized view, partitioned table or foreign table")
    estimated_rows: int | None = Field(description="planner estimate (not an exact count); None if never measured")
    total_bytes: int | None = None
    readable: bool = Field(description="whether the bot's role may SELECT from it")


class TableList(BaseModel):
    database: str
    tables: list[TableInfo]
    truncated: bool = False


class ColumnInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    default: str | None = None


class IndexInfo(BaseModel):
    name: str
    definition: str
    unique: bool
    primary: bool


class TableDescription(BaseModel):
    database: str
    schema_name: str
    table: str
    kind: str
    estimated_rows: int | None
    columns: list[ColumnInfo]
    indexes: list[IndexInfo]


class QueryOutput(BaseModel):
    """A read-only query's rows with personal data and secrets already replaced by placeholders."""

    database: str
    sql: str = Field(description="the normalized query that actually ran")
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="the query had more rows than max_rows; only the first ones are here")
    elapsed_ms: float
    redactions: dict[str, int] = Field(description="how many values of each kind were replaced, e.g. EMAIL_ADDRESS")


class SlowQuery(BaseModel):
    query: str = Field(description="normalized statement ($1, $2 ... for constants), redacted")
    calls: int
    total_ms: float
    mean_ms: float
    max_ms: float
    rows: int


class SlowQueries(BaseModel):
    database: str
    available: bool = Field(description="False when pg_stat_statements cannot be read; `detail` says how to fix it")
    detail: str
    queries: list[SlowQuery] = Field(default_factory=list)


class StateCount(BaseModel):
    state: str = Field(description="active, idle, idle in transaction, ... or 'hidden' (another role's session)")
    connections: int
    waiting_on_locks: int
    oldest_transaction_s: float | None = Field(description="age of the oldest open transaction in this state")


class ClientCount(BaseModel):
    user: str | None
    application: str | None
    connections: int


class Activity(BaseModel):
    database: str
    connections: int = Field(description="client connections to this database, not counting this probe")
    server_connections: int = Field(description="client connections to the whole server, not counting this probe")
    max_connections: int
    reserved_connections: int = Field(description="slots only superusers may use")
    usage: float = Field(description="server_connections / (max_connections - reserved_connections)")
    by_state: list[StateCount]
    by_client: list[ClientCount]
    oldest_transaction_s: float | None
    note: str = Field(default="", description="what the bot's role cannot see, and how to let it")


class Blocker(BaseModel):
    pid: int
    user: str | None = None
    application: str | None = None
    state: str | None = None
    transaction_age_s: float | None = None
    query: str | None = Field(default=None, description="its current or last statement, redacted")


class LockWait(BaseModel):
    pid: int = Field(description="the waiting backend")
    user: str | None
    application: str | None
    lock_type: str
    mode: str
    relation: str | None
    waiting_s: float | None
    query: str | None = Field(description="the waiting statement, redacted")
    blocked_by: list[Blocker]


class LockWaits(BaseModel):
    database: str
    waits: list[LockWait]
    note: str = ""

"""Run a query that passed the SQL gate, so that even a mistake in the gate cannot change data.

Defence in depth, because each layer alone has a known gap:

1. The gate (``guardrails.sql_gate``) admits one statement whose every node is on an allowlist,
   and hands over its own re-rendering of the query; only that text is executed here.
2. The text runs as ONE prepared statement (``prepare=True`` uses the extended protocol, which
   refuses several statements in one string). A READ ONLY transaction alone does not stop
   ``SELECT 1; COMMIT; DELETE FROM orders``: the COMMIT ends it and the DELETE runs in a new one.
   The gate's one-statement rule and the prepared statement do.
3. ``BEGIN READ ONLY`` with ``statement_timeout``, ``lock_timeout`` and
   ``idle_in_transaction_session_timeout`` set LOCAL (``set_config(..., true)``, the form of
   ``SET LOCAL`` that takes bound parameters), always rolled back. This stops what the
   gate cannot see, such as a view or a user-defined function on a table's row type reached as
   ``t.f`` (column notation) that would write; the timeouts bound runaway scans, sleeps and waits
   for locks held by the application. ``standard_conforming_strings`` is forced on so that string
   literals mean what the gate's rendering says they mean.
4. A role that could not do harm anyway. Recommended setup (run as an administrator)::

       CREATE ROLE whisperer_reader LOGIN PASSWORD '...' NOSUPERUSER NOCREATEDB NOCREATEROLE;
       GRANT CONNECT ON DATABASE shop TO whisperer_reader;
       GRANT USAGE ON SCHEMA public TO whisperer_reader;
       GRANT SELECT ON ALL TABLES IN SCHEMA public TO whisperer_reader;
       ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO whisperer_reader;
       GRANT pg_monitor TO whisperer_reader;   -- optional: pg_stat_activity, pg_stat_statements
       ALTER ROLE whisperer_reader SET default_transaction_read_only = on;
       ALTER ROLE whisperer_reader SET statement_timeout = '5s';
       REVOKE CREATE ON SCHEMA public FROM PUBLIC;   -- the default since PostgreSQL 15

   Never a superuser, and never a member of pg_read_server_files, pg_write_server_files,
   pg_execute_server_program or pg_signal_backend: those turn a read into file access, shell
   commands or killed sessions. Nobody untrusted should be able to create functions in a schema
   on the reader's search_path, or a better-matching ``lower(varchar)`` there would shadow the
   built-in one the gate approved.

A SQLite database (``sqlite:///absolute/path.db``, the sandbox's fallback) gets the same query
transpiled by sqlglot, run through a ``mode=ro`` connection with ``PRAGMA query_only`` in a
worker thread, interrupted at the deadline by a progress handler.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import sqlite3
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from pathlib import Path
from typing import Any, Final

import psycopg
import sqlglot
from psycopg import errors as pg_errors
from pydantic import BaseModel, ConfigDict
from sqlglot.errors import SqlglotError

from guardrails.sql_gate import AllowedQuery

DEFAULT_STATEMENT_TIMEOUT_MS: Final = 5000
DEFAULT_LOCK_TIMEOUT_MS: Final = 1000
CONNECT_TIMEOUT_S: Final = 10
_SQLITE_SCHEME: Final = "sqlite://"
# SQLite calls the progress handler every this many virtual-machine instructions.
_SQLITE_PROGRESS_STEPS: Final = 1000

_LIMITS_SQL: Final = (
    "SELECT set_config('statement_timeout', %(statement)s, true),"
    " set_config('lock_timeout', %(lock)s, true),"
    " set_config('idle_in_transaction_session_timeout', %(idle)s, true),"
    " set_config('standard_conforming_strings', 'on', true)"
)


class QueryResult(BaseModel):
    """Rows as JSON-safe values: decimals, dates, intervals, UUIDs and addresses become strings.

    ``truncated`` says the query had more than ``max_rows`` rows; ``elapsed_ms`` includes connecting.
    """

    model_config = ConfigDict(frozen=True)

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float


class ReadOnlyQueryError(Exception):
    """The database did not answer the query; the message is one line, fit to show a user."""


async def run_readonly(
    conninfo: str,
    allowed: AllowedQuery,
    *,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
) -> QueryResult:
    """Run ``allowed.normalized`` read-only and return at most ``allowed.max_rows`` rows.

    ``conninfo`` is a PostgreSQL URL or keyword string, or ``sqlite:///absolute/path.db``.
    Raises ``ReadOnlyQueryError`` when the database refuses, times out or cannot be reached.
    """
    if statement_timeout_ms < 1 or lock_timeout_ms < 1:
        raise ValueError("statement_timeout_ms and lock_timeout_ms must be positive")
    started = time.perf_counter()
    if conninfo.startswith(_SQLITE_SCHEME):
        columns, rows = await asyncio.to_thread(
            _run_sqlite, _sqlite_path(conninfo), allowed, statement_timeout_ms / 1000
        )
    else:
        columns, rows = await _run_postgres(conninfo, allowed, statement_timeout_ms, lock_timeout_ms)
    return QueryResult(
        columns=columns,
        rows=[[_json_safe(value) for value in row] for row in rows[: allowed.max_rows]],
        truncated=len(rows) > allowed.max_rows,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
    )


async def _run_postgres(
    conninfo: str, allowed: AllowedQuery, statement_timeout_ms: int, lock_timeout_ms: int
) -> tuple[list[str], list[Sequence[Any]]]:
    try:
        conn = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as error:
        raise ReadOnlyQueryError(f"cannot connect to the database: {_first_line(error)}") from None
    try:
        await conn.set_read_only(True)
        async with conn.cursor() as cursor:
            limits = {
                "statement": f"{statement_timeout_ms}ms",
                "lock": f"{lock_timeout_ms}ms",
                "idle": f"{statement_timeout_ms}ms",
            }
            await cursor.execute(_LIMITS_SQL, limits)
            await cursor.execute(allowed.normalized, prepare=True)
            columns = [column.name for column in cursor.description or []]
            rows = await cursor.fetchmany(allowed.max_rows + 1)
        return columns, list(rows)
    except pg_errors.QueryCanceled:
        raise ReadOnlyQueryError(f"query cancelled after {statement_timeout_ms} ms (statement_timeout)") from None
    except pg_errors.LockNotAvailable:
        raise ReadOnlyQueryError(
            f"query gave up waiting for a lock after {lock_timeout_ms} ms (lock_timeout)"
        ) from None
    except pg_errors.ReadOnlySqlTransaction as error:
        raise ReadOnlyQueryError(f"query tried to write in a read-only transaction: {_first_line(error)}") from None
    except psycopg.Error as error:
        raise ReadOnlyQueryError(f"query failed: {_first_line(error)}") from None
    finally:
        await _rollback_and_close(conn)


async def _rollback_and_close(conn: psycopg.AsyncConnection[Any]) -> None:
    """Nothing a query did survives it; a broken connection is simply dropped."""
    try:
        await conn.rollback()
    except psycopg.Error:
        pass
    finally:
        await conn.close()


def _sqlite_path(conninfo: str) -> Path:
    """The file in ``sqlite:///abs/path`` (extra leading slashes, SQLAlchemy's absolute form, collapse)."""
    rest = conninfo[len(_SQLITE_SCHEME) :]
    if not rest.startswith("/") or "?" in rest or rest.strip("/") in {"", ":memory:"}:
        raise ReadOnlyQueryError("a SQLite database is named sqlite:///absolute/path/to/file.db")
    return Path("/" + rest.lstrip("/"))


def _run_sqlite(path: Path, allowed: AllowedQuery, timeout_s: float) -> tuple[list[str], list[Sequence[Any]]]:
    try:
        sql = sqlglot.transpile(allowed.normalized, read="postgres", write="sqlite")[0]
    except SqlglotError as error:
        raise ReadOnlyQueryError(f"query cannot be translated for SQLite: {_first_line(error)}") from None
    if not path.is_file():
        raise ReadOnlyQueryError(f"cannot open the database: no SQLite file at {path}")
    deadline = time.monotonic() + timeout_s
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise ReadOnlyQueryError(f"cannot open the database: {_first_line(error)}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), _SQLITE_PROGRESS_STEPS)
        cursor = conn.execute(sql)
        columns = [column[0] for column in cursor.description or []]
        return columns, list(cursor.fetchmany(allowed.max_rows + 1))
    except sqlite3.OperationalError as error:
        if time.monotonic() > deadline:
            raise ReadOnlyQueryError(
                f"query cancelled after {round(timeout_s * 1000)} ms (statement_timeout)"
            ) from None
        raise ReadOnlyQueryError(f"query failed: {_first_line(error)}") from None
    except sqlite3.Error as error:
        raise ReadOnlyQueryError(f"query failed: {_first_line(error)}") from None
    finally:
        conn.rollback()
        conn.close()


_STRINGIFIED: Final = (
    Decimal,
    dt.timedelta,
    uuid.UUID,
    IPv4Address,
    IPv6Address,
    IPv4Interface,
    IPv6Interface,
    IPv4Network,
    IPv6Network,
)


def _json_safe(value: Any) -> Any:
    """A value ``json.dumps`` accepts, readable in a Slack message."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, _STRINGIFIED):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return str(value)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

"""What a PostgreSQL server is busy with: connections, lock waits and the statements that cost most.

These answer the questions an SRE asks first when a service's database calls slow down: is the
connection limit near (pool exhaustion), is someone holding a lock everyone waits for, which
statement eats the time. Statement texts can hold customer data typed into literals, so they
are redacted before they leave here.

A role without `pg_monitor` sees other roles' sessions without state or query; the answers say
so instead of pretending those sessions are idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from psycopg import sql

from guardrails.redaction import Redactor
from tools.database.models import (
    Activity,
    Blocker,
    ClientCount,
    DatabaseTarget,
    LockWait,
    LockWaits,
    SlowQueries,
    SlowQuery,
    StateCount,
)
from tools.database.own_queries import failure, read, records
from tools.tool_errors import ToolFailure

HIDDEN_STATE: Final = "hidden"
# Without pg_monitor another role's session shows no backend_type; one attached to a database is a client
# (the server's own background processes are attached to none).
_CLIENT: Final = (
    "(backend_type = 'client backend' OR (backend_type IS NULL AND datname IS NOT NULL)) AND pid <> pg_backend_pid()"
)
_OWN_CLIENTS: Final = f"datname = current_database() AND {_CLIENT}"
_AGE: Final = "round(extract(epoch FROM now() - {start})::numeric, 1)::float8"

# One statement, so the counts are one snapshot and no sibling probe connection is counted.
_ACTIVITY: Final = (
    "SELECT (SELECT coalesce(json_agg(s ORDER BY s.connections DESC, s.state), '[]') FROM ("
    f"SELECT coalesce(state, '{HIDDEN_STATE}') AS state, count(*) AS connections,"
    " count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting_on_locks,"
    f" max({_AGE.format(start='xact_start')}) AS oldest_transaction_s"
    f" FROM pg_stat_activity WHERE {_OWN_CLIENTS} GROUP BY 1) s) AS by_state,"
    " (SELECT coalesce(json_agg(c ORDER BY c.connections DESC, c.user, c.application), '[]') FROM ("
    "SELECT usename AS \"user\", nullif(application_name, '') AS application, count(*) AS connections"
    f" FROM pg_stat_activity WHERE {_OWN_CLIENTS} GROUP BY 1, 2) c) AS by_client,"
    f" (SELECT count(*) FROM pg_stat_activity WHERE {_CLIENT})"
    " AS server_connections,"
    " current_setting('max_connections')::int AS max_connections,"
    " current_setting('superuser_reserved_connections')::int AS reserved_connections,"
    " current_user AS role"
)
# Row-lock waits (locktype transactionid) carry no database, so the waiter's session decides.
_LOCK_WAITS: Final = (
    "SELECT w.pid, a.usename AS \"user\", nullif(a.application_name, '') AS application, w.locktype AS lock_type,"
    " w.mode, CASE WHEN w.relation IS NOT NULL THEN w.relation::regclass::text END AS relation,"
    f" {_AGE.format(start='w.waitstart')} AS waiting_s, a.query, pg_blocking_pids(w.pid) AS blocked_by"
    " FROM pg_locks w LEFT JOIN pg_stat_activity a ON a.pid = w.pid"
    " WHERE NOT w.granted AND coalesce(a.datname, current_database()) = current_database()"
    " ORDER BY w.waitstart NULLS LAST, w.pid"
)
_BLOCKERS: Final = (
    "SELECT pid, usename AS \"user\", nullif(application_name, '') AS application, state,"
    f" {_AGE.format(start='xact_start')} AS transaction_age_s, query FROM pg_stat_activity WHERE pid IN ({{pids}})"
)
_STATEMENTS_EXTENSION: Final = (
    "SELECT n.nspname AS schema_name FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'pg_stat_statements'"
)
_STATEMENTS: Final = (
    "SELECT query, calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms, max_exec_time AS max_ms, rows"
    " FROM {schema}.pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " ORDER BY total_exec_time DESC LIMIT {limit}"
)
_INSUFFICIENT: Final = "<insufficient privilege>"
ENABLE_STATEMENTS: Final = (
    "To enable it: add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart PostgreSQL, "
    "run CREATE EXTENSION pg_stat_statements; in this database, and GRANT pg_read_all_stats TO the bot's role."
)


def _require_postgres(target: DatabaseTarget, tool: str) -> None:
    if target.engine != "postgresql":
        raise failure(target, f"{tool} needs PostgreSQL's statistics views; this database is a SQLite file")


async def _redacted(redactor: Redactor, texts: Sequence[str | None]) -> list[str | None]:
    """Statement texts with literals' personal data and secrets replaced, in one worker-thread hop."""

    def redact_all() -> list[str | None]:
        return [text if text is None or text == _INSUFFICIENT else redactor.redact(text).text for text in texts]

    return await asyncio.to_thread(redact_all)


async def activity(target: DatabaseTarget) -> Activity:
    _require_postgres(target, "activity")
    snapshot = records(await read(target, _ACTIVITY))[0]
    by_state = [StateCount.model_validate(row) for row in snapshot["by_state"]]
    usable = max(1, snapshot["max_connections"] - snapshot["reserved_connections"])
    ages = [state.oldest_transaction_s for state in by_state if state.oldest_transaction_s is not None]
    hidden = sum(state.connections for state in by_state if state.state == HIDDEN_STATE)
    note = (
        f"{hidden} connection(s) belong to other roles and hide their state, waits and transaction age; "
        f"GRANT pg_monitor TO {snapshot['role']} to see them"
        if hidden
        else ""
    )
    return Activity(
        database=target.name,
        connections=sum(state.connections for state in by_state),
        server_connections=snapshot["server_connections"],
        max_connections=snapshot["max_connections"],
        reserved_connections=snapshot["reserved_connections"],
        usage=round(snapshot["server_connections"] / usable, 3),
        by_state=by_state,
        by_client=[ClientCount.model_validate(row) for row in snapshot["by_client"]],
        oldest_transaction_s=max(ages, default=None),
        note=note,
    )


async def lock_waits(target: DatabaseTarget, redactor: Redactor) -> LockWaits:
    _require_postgres(target, "lock_waits")
    waits = records(await read(target, _LOCK_WAITS))
    blocker_pids = sorted({pid for wait in waits for pid in wait["blocked_by"]})
    blockers: dict[int, Blocker] = {pid: Blocker(pid=pid) for pid in blocker_pids}
    if blocker_pids:
        pids = sql.SQL(", ").join(sql.Literal(pid) for pid in blocker_pids)
        found = records(await read(target, sql.SQL(_BLOCKERS).format(pids=pids)))
        queries = await _redacted(redactor, [row["query"] for row in found])
        for row, query in zip(found, queries, strict=True):
            blockers[row["pid"]] = Blocker.model_validate(row | {"query": query})
    queries = await _redacted(redactor, [wait["query"] for wait in waits])
    hidden = any(query == _INSUFFICIENT for query in queries) or any(
        blocker.query == _INSUFFICIENT for blocker in blockers.values()
    )
    return LockWaits(
        database=target.name,
        waits=[
            LockWait.model_validate(
                wait | {"query": query, "blocked_by": [blockers[pid] for pid in wait["blocked_by"]]}
            )
            for wait, query in zip(waits, queries, strict=True)
        ],
        note="statements of other roles are hidden; GRANT pg_monitor to the bot's role to see them" if hidden else "",
    )


async def slow_queries(target: DatabaseTarget, redactor: Redactor, limit: int) -> SlowQueries:
    _require_postgres(target, "slow_queries")
    installed = records(await read(target, _STATEMENTS_EXTENSION))
    if not installed:
        return SlowQueries(
            database=target.name,
            available=False,
            detail=f"pg_stat_statements is not installed in database {target.name}. {ENABLE_STATEMENTS}",
        )
    query = sql.SQL(_STATEMENTS).format(schema=sql.Identifier(installed[0]["schema_name"]), limit=sql.Literal(limit))
    try:
        rows = records(await read(target, query))
    except ToolFailure as error:
        if "shared_preload_libraries" not in str(error):
            raise
        return SlowQueries(
            database=target.name,
            available=False,
            detail=(
                f"pg_stat_statements is installed in database {target.name} but not loaded by the server. "
                f"{ENABLE_STATEMENTS}"
            ),
        )
    texts = await _redacted(redactor, [row["query"] for row in rows])
    hidden = sum(text == _INSUFFICIENT for text in texts)
    return SlowQueries(
        database=target.name,
        available=True,
        detail=(
            f"top {len(rows)} statements by total execution time since the statistics were last reset"
            + (f"; {hidden} belong to other roles (GRANT pg_read_all_stats to see them)" if hidden else "")
        ),
        queries=[SlowQuery.model_validate(row | {"query": text}) for row, text in zip(rows, texts, strict=True)],
    )

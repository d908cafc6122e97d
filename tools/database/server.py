"""The database MCP server: read-only questions to the application databases an SRE is responsible for.

Every user query passes the SQL gate, runs in a rolled-back READ ONLY transaction under a
timeout as a read-only role, and has its rows redacted cell by cell (names, e-mails, phones,
secrets) before the answer leaves this process: the model never sees a customer's contact
details, so it cannot repeat them in Slack.

Run standalone: `python -m tools.database.server --dsn shop=postgresql://whisperer_reader@db/shop`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping, Sequence

from mcp.server.mcpserver import MCPServer

from guardrails.readonly_query import DEFAULT_STATEMENT_TIMEOUT_MS, ReadOnlyQueryError, run_readonly
from guardrails.redaction import Redactor, default_redactor
from guardrails.sql_gate import DEFAULT_MAX_ROWS, SqlRefused, gate_sql
from tools.database import catalog, diagnostics
from tools.database.models import (
    Activity,
    DatabaseList,
    DatabaseTarget,
    LockWaits,
    QueryOutput,
    SlowQueries,
    TableDescription,
    TableList,
)
from tools.database.own_queries import failure, read
from tools.health import Health
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import ToolFailure, one_line_errors

INSTRUCTIONS = (
    "Read-only access to the application databases. Start with list_tables and describe_table to learn the "
    "schema, then run_query with one SELECT. Personal data (names, e-mails, phones) comes back as placeholders "
    "such as <EMAIL_ADDRESS>; count or group by them rather than asking for them. For slowness or timeouts use "
    "activity (connections vs max_connections, idle-in-transaction sessions), lock_waits and slow_queries."
)
MAX_SLOW_QUERIES = 50


def build_server(databases: Mapping[str, DatabaseTarget], redactor: Redactor | None = None) -> MCPServer:
    """An MCP server named "database" over `databases` (keyed by the name tools take as `database`)."""
    server = MCPServer("database", instructions=INSTRUCTIONS)
    redact = redactor or default_redactor()

    def target(database: str | None) -> DatabaseTarget:
        if database is None and len(databases) == 1:
            return next(iter(databases.values()))
        if database is not None and database in databases:
            return databases[database]
        known = ", ".join(sorted(databases)) or "none configured"
        if database is None:
            raise ToolFailure(f"name the database to use; known databases: {known}")
        raise ToolFailure(f"unknown database {database!r}; known databases: {known}")

    @server.tool(description="Whether every configured database answers a trivial read-only query, and how fast.")
    @one_line_errors
    async def health() -> Health:
        if not databases:
            return Health(source="database", ok=False, detail="no databases are configured")
        started = time.perf_counter()
        results = await asyncio.gather(*(_probe(db) for db in databases.values()))
        failed = [line for ok, line in results if not ok]
        return Health(
            source="database",
            ok=not failed,
            detail="; ".join(failed) or f"{len(databases)} database(s) answered: {', '.join(databases)}",
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    @server.tool(description="The databases this server can read: name, engine, host/database, row limit, timeout.")
    @one_line_errors
    async def list_databases() -> DatabaseList:
        return DatabaseList(databases=[db.info() for db in databases.values()])

    @server.tool(
        description=(
            "Tables and views of a database with schema, kind, the planner's estimated row count, size in bytes "
            "and whether the bot may read them. `database` may be omitted when only one is configured."
        )
    )
    @one_line_errors
    async def list_tables(database: str | None = None) -> TableList:
        return await catalog.list_tables(target(database))

    @server.tool(
        description=(
            "Columns (name, type, nullable, default) and indexes (definition, unique, primary key) of one table "
            "or view; `table` is 'orders' or 'schema.orders'. Use it before writing a query."
        )
    )
    @one_line_errors
    async def describe_table(table: str, database: str | None = None) -> TableDescription:
        return await catalog.describe_table(target(database), table)

    @server.tool(
        description=(
            "Run ONE read-only SELECT (PostgreSQL dialect) and get its rows. Anything that writes, locks, sleeps, "
            "reads server files or settings is refused with a line starting 'refused:'. At most max_rows rows come "
            "back (the database's limit caps it); `truncated` says more existed, so prefer aggregates (count, "
            "group by) over listing rows. Personal data is replaced by placeholders like <EMAIL_ADDRESS>."
        )
    )
    @one_line_errors
    async def run_query(sql: str, database: str | None = None, max_rows: int | None = None) -> QueryOutput:
        chosen = target(database)
        limit = min(max_rows or chosen.max_rows, chosen.max_rows)
        if limit < 1:
            raise ToolFailure("max_rows must be at least 1")
        try:
            allowed = gate_sql(sql, max_rows=limit)
        except SqlRefused as refusal:
            raise ToolFailure(refusal.reason) from None
        try:
            result = await run_readonly(
                chosen.dsn.get_secret_value(), allowed, statement_timeout_ms=chosen.statement_timeout_ms
            )
        except ReadOnlyQueryError as error:
            raise failure(chosen, str(error)) from None
        rows, counts = await asyncio.to_thread(redact.redact_rows, result.columns, result.rows)
        shown_sql = await asyncio.to_thread(redact.redact, allowed.normalized)
        return QueryOutput(
            database=chosen.name,
            sql=shown_sql.text,
            columns=result.columns,
            rows=rows,
            row_count=len(rows),
            truncated=result.truncated,
            elapsed_ms=result.elapsed_ms,
            redactions=counts,
        )

    @server.tool(
        description=(
            "The statements that cost the most total execution time (calls, total/mean/max ms, rows), from "
            "pg_stat_statements. When the extension is missing the answer says so (available=false) and how to "
            "enable it; that is not an error."
        )
    )
    @one_line_errors
    async def slow_queries(database: str | None = None, limit: int = 10) -> SlowQueries:
        if not 1 <= limit <= MAX_SLOW_QUERIES:
            raise ToolFailure(f"limit must be between 1 and {MAX_SLOW_QUERIES}")
        return await diagnostics.slow_queries(target(database), redact, limit)

    @server.tool(
        description=(
            "Connections right now: count per state (active, idle, idle in transaction ...) with lock waiters and "
            "the oldest open transaction's age, count per user/application, and server-wide connections against "
            "max_connections (usage near 1.0 means new connections will be refused). Use it for pool exhaustion, "
            "'too many clients' and sessions left idle in transaction."
        )
    )
    @one_line_errors
    async def activity(database: str | None = None) -> Activity:
        return await diagnostics.activity(target(database))

    @server.tool(
        description=(
            "Sessions waiting for a lock right now: who waits (pid, statement, for how long, on which relation and "
            "lock mode) and which sessions block them (state, transaction age, statement). Empty when nothing waits."
        )
    )
    @one_line_errors
    async def lock_waits(database: str | None = None) -> LockWaits:
        return await diagnostics.lock_waits(target(database), redact)

    return server


async def _probe(database: DatabaseTarget) -> tuple[bool, str]:
    try:
        await read(database, "SELECT 1 AS ok")
    except ToolFailure as error:
        return False, str(error)
    return True, database.name


def parse_targets(entries: Sequence[str], statement_timeout_ms: int, max_rows: int) -> dict[str, DatabaseTarget]:
    """`NAME=DSN` command-line entries as targets; a malformed entry is a one-line ValueError without the DSN."""
    targets: dict[str, DatabaseTarget] = {}
    for number, entry in enumerate(entries, start=1):
        name, separator, dsn = entry.partition("=")
        if not separator or not name.strip() or not dsn.strip():
            raise ValueError(f"--dsn number {number} is not NAME=DSN")
        targets[name.strip()] = DatabaseTarget(
            name=name.strip(), dsn=dsn.strip(), statement_timeout_ms=statement_timeout_ms, max_rows=max_rows
        )
    return targets


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.database.server", description=__doc__, parents=[transport_options()]
    )
    parser.add_argument(
        "--dsn", action="append", default=[], metavar="NAME=DSN", help="a database to serve (repeatable)"
    )
    parser.add_argument("--statement-timeout-ms", type=_positive_int, default=DEFAULT_STATEMENT_TIMEOUT_MS)
    parser.add_argument("--max-rows", type=_positive_int, default=DEFAULT_MAX_ROWS)
    args = parse_args(parser, argv)
    try:
        targets = parse_targets(args.dsn, args.statement_timeout_ms, args.max_rows)
    except ValueError as error:
        parser.error(str(error).splitlines()[0])
    asyncio.run(serve_from_args(build_server(targets), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

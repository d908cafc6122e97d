"""Running the server's own catalog and statistics queries with the same protection as a user's.

These queries are written here, not by a model, so they skip the SQL gate (they read
`pg_stat_activity`, `pg_locks` and friends with casts the gate has no reason to allow). They
still run through `guardrails.readonly_query.run_readonly`: one prepared statement in a READ ONLY
transaction with a statement timeout, always rolled back, so a slow catalog on a struggling
server cannot make things worse. Values are bound as quoted literals because run_readonly runs
a finished text; it forces `standard_conforming_strings` on, which is what psycopg quotes for.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from guardrails.readonly_query import QueryResult, ReadOnlyQueryError, run_readonly
from guardrails.sql_gate import AllowedQuery
from tools.database.models import DatabaseTarget
from tools.tool_errors import ToolFailure

DEFAULT_CATALOG_ROWS = 1000


async def read(
    target: DatabaseTarget, query: sql.Composable | str, *, max_rows: int = DEFAULT_CATALOG_ROWS
) -> QueryResult:
    """Run one of our own read-only queries against `target`; failures become a one-line `ToolFailure`."""
    text = query if isinstance(query, str) else query.as_string()
    try:
        return await run_readonly(
            target.dsn.get_secret_value(),
            AllowedQuery(normalized=text, tables=[], max_rows=max_rows),
            statement_timeout_ms=target.statement_timeout_ms,
        )
    except ReadOnlyQueryError as error:
        raise failure(target, str(error)) from None


def records(result: QueryResult) -> list[dict[str, Any]]:
    """Rows keyed by column name, ready for `Model.model_validate`."""
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def failure(target: DatabaseTarget, message: str) -> ToolFailure:
    """A failure naming the database, with the DSN's password cut out should a driver have echoed it."""
    for secret in target.passwords():
        message = message.replace(secret, "<PASSWORD>")
    return ToolFailure(f"database {target.name}: {message}")

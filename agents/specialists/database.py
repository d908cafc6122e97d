"""The database specialist: data questions answered with read-only SQL that passed the gate.

Without a model it understands "show me <adjective> <table>": it picks the table the noun
names, a status-like column, and the status value the adjective names, from the database's own
catalog and values; identifiers and values in the SQL it writes come from the database, never
from the question. An explicit statement in the question goes through the SQL gate first, so a
refusal is reported before anything reaches a server.
"""

from __future__ import annotations

import re
from typing import Any

from agents.catalog import Service
from agents.specialists.base import Investigation, Report
from agents.toolbox import ToolError
from guardrails.sql_gate import check_sql
from tools.database.models import DatabaseList, QueryOutput, TableDescription, TableList

SERVER = "database"
ROWS_SHOWN = 20
_STATUS_COLUMNS = ("status", "state", "result", "outcome", "phase")
_REASON_WORDS = ("reason", "error", "failure", "message", "cause")
_TIME_WORDS = ("created_at", "updated_at", "created", "timestamp", "time", "at")
_WORD = re.compile(r"[a-z][a-z0-9_]*")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _pick_table(words: list[str], tables: TableList) -> str | None:
    wanted = {_singular(w) for w in words}
    for table in tables.tables:
        if table.readable and _singular(table.table.lower()) in wanted:
            return table.table
    return None


async def _database_for(inv: Investigation, services: list[Service]) -> str:
    named = next((s.database for s in services if s.database), None)
    if named:
        return named
    listing = await inv.toolbox.call(SERVER, "list_databases", {}, DatabaseList)
    if not listing.databases:
        raise ToolError(SERVER, "no database is configured")
    return listing.databases[0].name


async def _query(inv: Investigation, database: str, sql: str) -> QueryOutput:
    return await inv.toolbox.call(SERVER, "run_query", {"database": database, "sql": sql}, QueryOutput)


def _table(title: str, output: QueryOutput) -> dict[str, Any]:
    return {"title": title, "columns": output.columns, "rows": output.rows[:ROWS_SHOWN]}


async def database_specialist(inv: Investigation) -> Report:
    report = Report(specialist=SERVER)
    plan = inv.plan
    if plan.sql is not None:
        verdict = check_sql(plan.sql)
        if not verdict.allowed:
            report.refused = verdict.reason or "refused: not a read-only query"
            return report
        database = await _database_for(inv, plan.services)
        try:
            output = await _query(inv, database, plan.sql)
        except ToolError as error:
            if error.message.startswith("refused:"):
                report.refused = error.message
                return report
            raise
        report.facts.append(f"{output.row_count} rows from {database}" + (" (cut short)" if output.truncated else ""))
        report.tables.append(_table(output.sql, output))
        return report
    await _answer_data_request(inv, report, plan.data_request or plan.text)
    return report


async def _answer_data_request(inv: Investigation, report: Report, request: str) -> None:
    database = await _database_for(inv, inv.plan.services)
    words = _WORD.findall(request.lower())
    tables = await inv.toolbox.call(SERVER, "list_tables", {"database": database}, TableList)
    table = _pick_table(words, tables)
    if table is None:
        names = ", ".join(t.table for t in tables.tables[:15])
        report.facts.append(f"I could not tell which table that means; {database} has: {names}")
        return
    described = await inv.toolbox.call(
        SERVER, "describe_table", {"database": database, "table": table}, TableDescription
    )
    columns = [column.name for column in described.columns]
    status = next((c for c in columns if c.lower() in _STATUS_COLUMNS), None)
    order = next((c for c in columns if c.lower() in _TIME_WORDS), columns[0])
    adjectives = [w for w in words if _singular(w) != _singular(table.lower()) and len(w) > 2]
    if status is None or not adjectives:
        output = await _query(inv, database, f"SELECT * FROM {_ident(table)} ORDER BY {_ident(order)} DESC")
        report.facts.append(f"The latest {min(output.row_count, ROWS_SHOWN)} rows of {table}")
        report.tables.append(_table(table, output))
        return
    counts = await _query(
        inv, database, f"SELECT {_ident(status)}, count(*) AS n FROM {_ident(table)} GROUP BY 1 ORDER BY 2 DESC"
    )
    values = {str(row[0]): int(row[1]) for row in counts.rows if row[0] is not None}
    value = next((v for v in values for a in adjectives if v.lower().startswith(a[:4])), None)
    if value is None:
        present = ", ".join(f"{name} {count}" for name, count in values.items()) or "none"
        report.facts.append(f"No {' '.join(adjectives)} {table}: 0 of {sum(values.values())} (statuses: {present})")
        return
    where = f"{_ident(status)} = {_literal(value)}"
    report.facts.append(f"{values[value]} {value} {table} ({status} = '{value}' in {database}.{table})")
    reason = next((c for c in columns if c != status and any(word in c.lower() for word in _REASON_WORDS)), None)
    if reason is not None:
        grouped = await _query(
            inv,
            database,
            f"SELECT {_ident(reason)}, count(*) AS n FROM {_ident(table)} WHERE {where} GROUP BY 1 ORDER BY 2 DESC",
        )
        report.facts.extend(f"{reason}: {row[0]} ({row[1]})" for row in grouped.rows[:5])
    rows = await _query(inv, database, f"SELECT * FROM {_ident(table)} WHERE {where} ORDER BY {_ident(order)} DESC")
    report.tables.append(_table(f"{value} {table}", rows))
    report.facts.append(f"{value.capitalize()} {table}: " + ", ".join(str(row[0]) for row in rows.rows[:ROWS_SHOWN]))

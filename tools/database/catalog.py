"""Which tables a database has and what they look like, so a model can write a correct query.

PostgreSQL is read from its catalogs (`pg_class`, `pg_attribute`, `pg_index`), not from
`information_schema`, because only the catalogs say which relations the bot's role may read and
how many rows the planner expects. A SQLite file (the sandbox's fallback without PostgreSQL) is
read from `sqlite_master` and its table-valued pragmas.
"""

from __future__ import annotations

import asyncio
from typing import Final

from psycopg import sql

from tools.database.models import (
    ColumnInfo,
    DatabaseTarget,
    IndexInfo,
    TableDescription,
    TableInfo,
    TableList,
)
from tools.database.own_queries import failure, read, records

_PG_KIND: Final = (
    "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'"
    " WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END AS kind"
)
# The planner's estimate; a table never analyzed (reltuples -1) falls back to the live-tuple counter.
_PG_ESTIMATED_ROWS: Final = (
    "CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE s.n_live_tup END AS estimated_rows"
)
_PG_RELATIONS: Final = (
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid"
)

PG_LIST_TABLES: Final = (
    f'SELECT n.nspname AS schema_name, c.relname AS "table", {_PG_KIND}, {_PG_ESTIMATED_ROWS},'
    " pg_total_relation_size(c.oid) AS total_bytes, has_table_privilege(c.oid, 'SELECT') AS readable"
    f" {_PG_RELATIONS}"
    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    r" AND n.nspname NOT LIKE 'pg\_%' ORDER BY 1, 2"
)
_PG_RELATION: Final = (
    f'SELECT n.nspname AS schema_name, c.relname AS "table", {_PG_KIND}, {_PG_ESTIMATED_ROWS}'
    f" {_PG_RELATIONS} WHERE c.oid = to_regclass({{name}})"
)
_PG_COLUMNS: Final = (
    "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,"
    ' pg_get_expr(d.adbin, d.adrelid) AS "default"'
    " FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " WHERE a.attrelid = to_regclass({name}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
_PG_INDEXES: Final = (
    'SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition, x.indisunique AS "unique",'
    ' x.indisprimary AS "primary" FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid'
    " WHERE x.indrelid = to_regclass({name}) ORDER BY x.indisprimary DESC, i.relname"
)

SQLITE_LIST_TABLES: Final = (
    "SELECT 'main' AS schema_name, name AS \"table\", type AS kind, NULL AS estimated_rows, NULL AS total_bytes,"
    " TRUE AS readable FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    " ORDER BY name"
)
_SQLITE_RELATION: Final = (
    "SELECT 'main' AS schema_name, name AS \"table\", type AS kind, NULL AS estimated_rows FROM sqlite_master"
    " WHERE type IN ('table', 'view') AND name = {name}"
)
_SQLITE_COLUMNS: Final = (
    'SELECT name, type, "notnull" = 0 AS nullable, dflt_value AS "default" FROM pragma_table_info({name}) ORDER BY cid'
)
_SQLITE_INDEXES: Final = (
    'SELECT il.name AS name, coalesce(m.sql, il.origin) AS definition, il."unique" = 1 AS "unique",'
    " il.origin = 'pk' AS \"primary\" FROM pragma_index_list({name}) AS il"
    " LEFT JOIN sqlite_master AS m ON m.name = il.name ORDER BY il.name"
)


async def list_tables(target: DatabaseTarget) -> TableList:
    query = SQLITE_LIST_TABLES if target.engine == "sqlite" else PG_LIST_TABLES
    result = await read(target, query)
    return TableList(
        database=target.name,
        tables=[TableInfo.model_validate(row) for row in records(result)],
        truncated=result.truncated,
    )


async def describe_table(target: DatabaseTarget, table: str) -> TableDescription:
    """Columns and indexes of `table` ('orders' or 'schema.orders'); unknown names are a one-line failure."""
    templates = (
        (_SQLITE_RELATION, _SQLITE_COLUMNS, _SQLITE_INDEXES)
        if target.engine == "sqlite"
        else (_PG_RELATION, _PG_COLUMNS, _PG_INDEXES)
    )
    name = sql.Literal(table.strip())
    relation, columns, indexes = await asyncio.gather(
        *(read(target, sql.SQL(template).format(name=name)) for template in templates)
    )
    found = records(relation)
    if not found:
        raise failure(target, f"no table or view named {table!r}; list_tables shows what exists")
    return TableDescription(
        database=target.name,
        **found[0],
        columns=[ColumnInfo.model_validate(row) for row in records(columns)],
        indexes=[IndexInfo.model_validate(row) for row in records(indexes)],
    )

"""The executor against a real PostgreSQL: a scratch database with a small shop schema, read by a
non-superuser role as the module docstring recommends. Queries that bypass the gate are built as
``AllowedQuery`` directly, to show what the other layers stop on their own."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from guardrails.readonly_query import ReadOnlyQueryError, run_readonly
from guardrails.sql_gate import AllowedQuery, gate_sql
from tests.conftest import skip_or_fail
from tests.guardrails.test_sql_gate import ALLOWED

pytestmark = pytest.mark.integration

PG_DSN = os.environ.get("WHISPERER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

SCHEMA = """
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, tier text, created_at timestamptz);
CREATE TABLE orders (
    id serial PRIMARY KEY, customer_id int, status text, amount numeric(10, 2), region text,
    created_at timestamptz, payload jsonb, tags text[]
);
CREATE TABLE events (id serial PRIMARY KEY, service text, level text, message text, at timestamptz, attrs jsonb);
INSERT INTO customers
SELECT i, 'Customer ' || i, 'c' || i || '@example.com', (ARRAY['gold', 'silver', 'bronze'])[1 + i % 3],
       now() - i * interval '1 day'
FROM generate_series(1, 6) AS i;
INSERT INTO orders (customer_id, status, amount, region, created_at, payload, tags)
SELECT 1 + i % 5, (ARRAY['paid', 'shipped', 'refunded'])[1 + i % 3], i * 7.5, (ARRAY['eu', 'us'])[1 + i % 2],
       now() - i * interval '5 hours',
       jsonb_build_object('channel', CASE WHEN i % 2 = 0 THEN 'web' ELSE 'app' END,
                          'shipping', jsonb_build_object('city', 'City ' || i % 4, 'zip', '1000' || i)),
       (ARRAY['urgent', 'gift'])[1 + i % 2 : 2]
FROM generate_series(1, 30) AS i;
INSERT INTO events (service, level, message, at, attrs)
SELECT (ARRAY['api', 'worker'])[1 + i % 2], (ARRAY['info', 'error'])[1 + i % 2], 'request timeout after ' || i || 'ms',
       now() - i * interval '1 minute', jsonb_build_object('pod', 'pod-' || i % 3)
FROM generate_series(1, 20) AS i;
CREATE FUNCTION log_touch(customers) RETURNS int LANGUAGE sql VOLATILE
    AS $$ INSERT INTO events (service, level, message) VALUES ('x', 'x', 'touched') RETURNING 1 $$;
"""
ORDER_COUNT = 30


@dataclass(frozen=True)
class ScratchDb:
    admin_dsn: str
    reader_dsn: str


def dsn_for(database: str, user: str | None = None) -> str:
    parts = urlsplit(PG_DSN)
    netloc = parts.netloc if user is None else f"{user}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


@pytest.fixture(scope="module")
def scratch() -> Iterator[ScratchDb]:
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        skip_or_fail(f"PostgreSQL for tests unreachable (WHISPERER_TEST_PG_DSN): {str(exc).splitlines()[0]}")
    token = secrets.token_hex(5)
    database, reader = f"whisperer_gate_{token}", f"whisperer_gate_reader_{token}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(reader)))
    admin_dsn = dsn_for(database)
    try:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
            for grant in (
                "GRANT CONNECT ON DATABASE {db} TO {role}",
                "GRANT USAGE ON SCHEMA public TO {role}",
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
                "ALTER ROLE {role} SET default_transaction_read_only = on",
            ):
                conn.execute(sql.SQL(grant).format(db=sql.Identifier(database), role=sql.Identifier(reader)))
        yield ScratchDb(admin_dsn=admin_dsn, reader_dsn=dsn_for(database, reader))
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(reader)))


def count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def bypassing_the_gate(text: str, max_rows: int = 100) -> AllowedQuery:
    return AllowedQuery(normalized=text, tables=[], max_rows=max_rows)


EXECUTABLE = [entry for entry in ALLOWED if entry.get("execute", True)]


@pytest.mark.parametrize("entry", EXECUTABLE, ids=[e["name"] for e in EXECUTABLE])
async def test_every_allowed_query_runs_for_the_reader_role(scratch: ScratchDb, entry: dict[str, Any]) -> None:
    result = await run_readonly(scratch.reader_dsn, gate_sql(entry["sql"], max_rows=100))
    assert result.columns
    json.dumps(result.rows)


async def test_rows_are_truncated_at_max_rows(scratch: ScratchDb) -> None:
    capped = await run_readonly(scratch.reader_dsn, gate_sql("SELECT id FROM orders ORDER BY id", max_rows=10))
    assert capped.columns == ["id"]
    assert capped.rows == [[i] for i in range(1, 11)]
    assert capped.truncated
    whole = await run_readonly(scratch.reader_dsn, gate_sql("SELECT id FROM orders ORDER BY id", max_rows=ORDER_COUNT))
    assert len(whole.rows) == ORDER_COUNT
    assert not whole.truncated


async def test_values_become_json_safe(scratch: ScratchDb) -> None:
    allowed = gate_sql(
        "SELECT amount, created_at::date AS day, interval '90 minutes' AS wait, payload, tags FROM orders WHERE id = 2"
    )
    result = await run_readonly(scratch.reader_dsn, allowed)
    amount, day, wait, payload, tags = result.rows[0]
    assert amount == "15.00"
    assert isinstance(day, str) and len(day) == 10
    assert wait == "1:30:00"
    assert payload["channel"] == "web"
    assert tags == ["urgent", "gift"]
    json.dumps(result.rows)


async def test_read_only_transaction_stops_a_write_the_gate_cannot_see(scratch: ScratchDb) -> None:
    # Column notation calls log_touch(c), a function that INSERTs; the gate sees only a column.
    allowed = gate_sql("SELECT c.log_touch FROM customers AS c")
    before = count(scratch.admin_dsn, "events")
    # As the superuser that owns everything: only the READ ONLY transaction stands in the way.
    with pytest.raises(ReadOnlyQueryError, match=r"^query tried to write in a read-only transaction: .*INSERT"):
        await run_readonly(scratch.admin_dsn, allowed)
    with pytest.raises(ReadOnlyQueryError, match="read-only transaction"):
        await run_readonly(scratch.admin_dsn, bypassing_the_gate("DELETE FROM orders RETURNING id"))
    assert count(scratch.admin_dsn, "events") == before
    assert count(scratch.admin_dsn, "orders") == ORDER_COUNT


async def test_one_prepared_statement_stops_a_smuggled_commit(scratch: ScratchDb) -> None:
    smuggled = bypassing_the_gate("SELECT 1; COMMIT; DELETE FROM orders")
    with pytest.raises(ReadOnlyQueryError, match="cannot insert multiple commands into a prepared statement"):
        await run_readonly(scratch.admin_dsn, smuggled)
    assert count(scratch.admin_dsn, "orders") == ORDER_COUNT


async def test_transaction_is_read_only_with_local_limits(scratch: ScratchDb) -> None:
    probe = bypassing_the_gate(
        "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),"
        " current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout'),"
        " current_setting('standard_conforming_strings')"
    )
    result = await run_readonly(scratch.admin_dsn, probe, statement_timeout_ms=4000, lock_timeout_ms=700)
    assert result.rows == [["on", "4s", "700ms", "4s", "on"]]


async def test_statement_timeout_cancels_a_slow_query(scratch: ScratchDb) -> None:
    started = time.perf_counter()
    with pytest.raises(ReadOnlyQueryError) as error:
        await run_readonly(scratch.reader_dsn, bypassing_the_gate("SELECT pg_sleep(2)"), statement_timeout_ms=200)
    assert str(error.value) == "query cancelled after 200 ms (statement_timeout)"
    assert time.perf_counter() - started < 1.5


async def test_lock_timeout_gives_up_on_a_locked_table(scratch: ScratchDb) -> None:
    async with await psycopg.AsyncConnection.connect(scratch.admin_dsn) as holder:
        await holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(ReadOnlyQueryError) as error:
            await run_readonly(scratch.reader_dsn, gate_sql("SELECT count(*) FROM orders"), lock_timeout_ms=200)
        await holder.rollback()
    assert str(error.value) == "query gave up waiting for a lock after 200 ms (lock_timeout)"


@pytest.mark.parametrize(
    "literal",
    [
        "E'\\x27; DROP TABLE orders; --'",
        "E'\\\\'' ; DROP TABLE orders; --'",
        "'\\''; DROP TABLE orders; --'",
        "$x$ '; DROP TABLE orders; -- $x$",
        "U&'\\0027; DROP TABLE orders; --'",
        "$$\\'; DROP TABLE orders; --$$",
    ],
)
async def test_string_tricks_stay_strings_after_rendering(scratch: ScratchDb, literal: str) -> None:
    result = await run_readonly(scratch.admin_dsn, gate_sql(f"SELECT {literal} AS s"))
    assert len(result.rows) == 1 and len(result.columns) == 1
    assert "; DROP TABLE orders; --" in result.rows[0][0]
    assert count(scratch.admin_dsn, "orders") == ORDER_COUNT


async def test_unreachable_database_is_one_line() -> None:
    with pytest.raises(ReadOnlyQueryError, match=r"^cannot connect to the database: [^\n]+$"):
        await run_readonly("postgresql://postgres@127.0.0.1:1/none", gate_sql("SELECT 1"))


@pytest.fixture
def sqlite_shop(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, amount REAL)")
        conn.executemany(
            "INSERT INTO orders (status, amount) VALUES (?, ?)", [("paid", 10.0), ("paid", 5.5), ("refunded", 3.0)]
        )
    return f"sqlite://{path}"


async def test_sqlite_fallback_answers_and_truncates(sqlite_shop: str) -> None:
    allowed = gate_sql("SELECT status, count(*) AS n, sum(amount) AS total FROM orders GROUP BY status ORDER BY status")
    result = await run_readonly(sqlite_shop, allowed)
    assert result.columns == ["status", "n", "total"]
    assert result.rows == [["paid", 2, 15.5], ["refunded", 1, 3.0]]
    capped = await run_readonly(sqlite_shop, gate_sql("SELECT id FROM orders ORDER BY id", max_rows=2))
    assert capped.rows == [[1], [2]] and capped.truncated


async def test_sqlite_fallback_is_read_only_and_bounded(sqlite_shop: str) -> None:
    with pytest.raises(ReadOnlyQueryError, match="readonly"):
        await run_readonly(sqlite_shop, bypassing_the_gate("DELETE FROM orders"))
    endless = bypassing_the_gate("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n")
    with pytest.raises(ReadOnlyQueryError, match=r"^query cancelled after 200 ms \(statement_timeout\)$"):
        await asyncio.wait_for(run_readonly(sqlite_shop, endless, statement_timeout_ms=200), timeout=5)
    with closing(sqlite3.connect(sqlite_shop.removeprefix("sqlite://"))) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)

"""The database MCP server against the sandbox's real PostgreSQL, through real MCP client sessions."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from mcp.server.mcpserver import MCPServer
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sandbox.database import DEFAULT_ADMIN_DSN, DSN_ENV, WorldDatabase
from sandbox.up import Sandbox
from sandbox.world import load_world
from tests.conftest import skip_or_fail
from tests.tools.conftest import started_sandbox
from tests.tools.mcp_helpers import call, error_line, everything_sent, stdio_server, structured
from tools.database.models import DatabaseTarget
from tools.database.server import build_server
from tools.serving import http_endpoint

pytestmark = pytest.mark.integration

ADMIN_DSN = os.environ.get(DSN_ENV) or DEFAULT_ADMIN_DSN
SHOP_SQL = load_world("payment-outage").database_sql or ""
# Every contact detail the payment-outage world holds: none may ever leave the server.
EMAILS = set(re.findall(r"[\w.]+@example\.com", SHOP_SQL))
PHONES = set(re.findall(r"'(\+[\d][\d -]{6,}\d)'", SHOP_SQL))


def postgres_dsn(sandbox: Sandbox) -> str:
    assert sandbox.endpoints is not None
    dsn = sandbox.endpoints.database
    if dsn is None or not dsn.startswith("postgresql://"):
        skip_or_fail(f"the sandbox has no PostgreSQL database (got {dsn!r}); start PostgreSQL on 127.0.0.1:5432")
    assert dsn is not None
    return dsn


def admin_dsn_for(reader_dsn: str) -> str:
    """A superuser connection to the same database, playing the application that holds locks."""
    return make_conninfo(ADMIN_DSN, dbname=conninfo_to_dict(reader_dsn)["dbname"])


@pytest.fixture(scope="module")
def shop_dsn(payment_sandbox: Sandbox) -> str:
    return postgres_dsn(payment_sandbox)


@pytest.fixture(scope="module")
def shop(shop_dsn: str) -> MCPServer:
    return build_server({"shop": DatabaseTarget(name="shop", dsn=shop_dsn, max_rows=50)})


@pytest.fixture(scope="module")
def orders_sandbox() -> Iterator[Sandbox]:
    """db-pool-exhaustion's database, for tests that hold connections and locks on it."""
    yield from started_sandbox("db-pool-exhaustion")


@pytest.fixture(scope="module")
def orders_dsn(orders_sandbox: Sandbox) -> str:
    return postgres_dsn(orders_sandbox)


@pytest.fixture
def orders(orders_dsn: str) -> MCPServer:
    return build_server({"orders": DatabaseTarget(name="orders", dsn=orders_dsn)})


def test_the_world_has_contact_details_to_hide() -> None:
    assert len(EMAILS) >= 20 and len(PHONES) >= 20


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM customers",
        "SELECT * FROM orders ORDER BY id",
        # aliases defeat the column-name rules; the values must still be recognised by their shape
        "SELECT email AS c1, phone AS c2, full_name AS c3 FROM customers",
        "SELECT customer_email || ' / ' || customer_phone AS contact_line FROM orders",
        "SELECT json_agg(c) AS everything FROM customers AS c",
    ],
)
async def test_query_results_never_contain_an_email_or_phone(shop: MCPServer, sql: str) -> None:
    result = await call(shop, "run_query", sql=sql)
    assert not result.is_error, everything_sent(result)
    sent = everything_sent(result)
    assert "@" not in sent
    leaked = [value for value in EMAILS | PHONES if value in sent]
    assert not leaked, leaked
    assert result.structured_content is not None
    assert result.structured_content["row_count"] > 0


async def test_name_columns_are_replaced_whole_and_other_columns_kept(shop: MCPServer) -> None:
    answer = await structured(shop, "run_query", sql="SELECT id, full_name, email, phone, country FROM customers")
    assert answer["columns"] == ["id", "full_name", "email", "phone", "country"]
    first = answer["rows"][0]
    assert first[0] == 8841 and first[4] == "US"
    assert first[1:4] == ["<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>"]
    assert answer["redactions"]["EMAIL_ADDRESS"] == answer["row_count"] == 22


async def test_an_aggregate_answers_what_failed(shop: MCPServer) -> None:
    answer = await structured(
        shop,
        "run_query",
        sql="SELECT status, failure_reason, count(*) AS n FROM orders GROUP BY 1, 2 ORDER BY n DESC, status",
    )
    counts = {(status, reason): n for status, reason, n in answer["rows"]}
    assert counts[("failed", "Payment gateway timeout")] == 5
    assert counts[("pending", None)] == 2
    assert answer["sql"].startswith("SELECT status, failure_reason, COUNT(*) AS n FROM orders")


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("DELETE FROM orders", "DELETE"),
        ("UPDATE orders SET status = 'completed'", "UPDATE"),
        ("SELECT 1; DROP TABLE orders", "2 statements"),
        ("SELECT pg_sleep(30)", "pg_sleep"),
        ("WITH gone AS (DELETE FROM payments RETURNING id) SELECT count(*) FROM gone", "data-modifying"),
        ("SELECT * FROM pg_authid", "pg_authid"),
    ],
)
async def test_writes_and_dangerous_reads_are_refused_in_one_line(shop: MCPServer, sql: str, why: str) -> None:
    line = await error_line(shop, "run_query", sql=sql)
    assert line.startswith("refused: ")
    assert why in line


async def test_nothing_was_changed_by_the_refused_statements(shop: MCPServer) -> None:
    answer = await structured(shop, "run_query", sql="SELECT count(*) FROM orders")
    assert answer["rows"] == [[29]]


async def test_rows_are_capped_and_the_cut_is_reported(shop: MCPServer) -> None:
    capped = await structured(shop, "run_query", sql="SELECT id FROM orders ORDER BY id", max_rows=5)
    assert capped["row_count"] == 5 and capped["truncated"] is True
    # the database's own limit wins over a larger request
    limited = await structured(shop, "run_query", sql="SELECT generate_series(1, 500) AS n", max_rows=1000)
    assert limited["row_count"] == 50 and limited["truncated"] is True


async def test_a_runaway_query_is_cancelled_by_the_statement_timeout(shop_dsn: str) -> None:
    server = build_server({"shop": DatabaseTarget(name="shop", dsn=shop_dsn, statement_timeout_ms=200)})
    line = await error_line(server, "run_query", sql="SELECT count(*) FROM generate_series(1, 1000000000)")
    assert line == "database shop: query cancelled after 200 ms (statement_timeout)"


async def test_unknown_database_names_the_known_ones(shop: MCPServer) -> None:
    line = await error_line(shop, "run_query", database="billing", sql="SELECT 1")
    assert line == "unknown database 'billing'; known databases: shop"


async def test_tables_are_listed_with_their_size_and_readability(shop: MCPServer) -> None:
    answer = await structured(shop, "list_tables")
    tables = {table["table"]: table for table in answer["tables"]}
    assert set(tables) == {"customers", "orders", "payments"}
    assert all(table["schema_name"] == "public" and table["readable"] for table in tables.values())
    assert tables["orders"]["kind"] == "table" and tables["orders"]["total_bytes"] > 0


async def test_describe_table_gives_columns_and_indexes(shop: MCPServer) -> None:
    answer = await structured(shop, "describe_table", table="public.orders")
    columns = {column["name"]: column for column in answer["columns"]}
    assert list(columns)[:3] == ["id", "customer_id", "customer_name"]
    assert columns["amount"]["type"] == "numeric(10,2)"
    assert columns["status"]["nullable"] is False and columns["failure_reason"]["nullable"] is True
    indexes = {index["name"]: index for index in answer["indexes"]}
    assert indexes["orders_pkey"]["primary"] is True
    assert "(status, created_at DESC)" in indexes["orders_status_created_at_idx"]["definition"]


async def test_describe_unknown_table_points_at_list_tables(shop: MCPServer) -> None:
    line = await error_line(shop, "describe_table", table="invoices")
    assert line == "database shop: no table or view named 'invoices'; list_tables shows what exists"


async def test_health_and_list_databases_show_no_credentials(shop: MCPServer, shop_dsn: str) -> None:
    health = await structured(shop, "health")
    assert health["ok"] is True and health["source"] == "database"
    listed = await structured(shop, "list_databases")
    [info] = listed["databases"]
    assert info["engine"] == "postgresql"
    assert info["location"] == f"127.0.0.1:5432/{conninfo_to_dict(shop_dsn)['dbname']}"
    assert "whisperer_reader" not in json.dumps(listed)


async def test_a_password_in_the_dsn_never_reaches_the_client() -> None:
    password = "Tr0ub4dor-and-3"
    server = build_server(
        {
            "down": DatabaseTarget(name="down", dsn=f"postgresql://reader:{password}@127.0.0.1:1/shop"),
            "garbled": DatabaseTarget(name="garbled", dsn=f"postgresql://reader:{password}@db:notaport/shop"),
        }
    )
    health = await call(server, "health")
    assert health.structured_content is not None and health.structured_content["ok"] is False
    lines = [
        await error_line(server, "run_query", database="down", sql="SELECT 1"),
        await error_line(server, "list_tables", database="garbled"),
        await error_line(server, "activity", database="down"),
    ]
    assert lines[0].startswith("database down: cannot connect to the database")
    for sent in [everything_sent(health), *lines]:
        assert password not in sent


async def test_slow_queries_explains_how_to_enable_pg_stat_statements(orders: MCPServer, orders_dsn: str) -> None:
    missing = await structured(orders, "slow_queries")
    assert missing["available"] is False and missing["queries"] == []
    assert "not installed" in missing["detail"] and "CREATE EXTENSION pg_stat_statements" in missing["detail"]
    admin = admin_dsn_for(orders_dsn)
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as connection:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        preload = await (await connection.execute("SHOW shared_preload_libraries")).fetchone()
    answer = await structured(orders, "slow_queries", limit=5)
    if preload is not None and "pg_stat_statements" in str(preload[0]):
        assert answer["available"] is True and 0 < len(answer["queries"]) <= 5
    else:
        assert answer["available"] is False
        assert "not loaded" in answer["detail"] and "shared_preload_libraries" in answer["detail"]


@pytest.fixture
async def held_connections(orders_dsn: str) -> AsyncIterator[list[psycopg.AsyncConnection[tuple[object, ...]]]]:
    """Connections the test opens to play the application; all closed afterwards, whatever happens."""
    opened: list[psycopg.AsyncConnection[tuple[object, ...]]] = []
    yield opened
    for connection in opened:
        await connection.close()


async def test_activity_shows_sessions_left_idle_in_transaction(
    orders: MCPServer, orders_dsn: str, held_connections: list[psycopg.AsyncConnection[tuple[object, ...]]]
) -> None:
    for _ in range(3):
        leaked = await psycopg.AsyncConnection.connect(orders_dsn)
        held_connections.append(leaked)
        await leaked.execute("SELECT count(*) FROM orders")  # opens a transaction and never ends it
    other_role = await psycopg.AsyncConnection.connect(admin_dsn_for(orders_dsn), autocommit=True)
    held_connections.append(other_role)
    await asyncio.sleep(1.1)
    answer = await structured(orders, "activity")
    states = {state["state"]: state for state in answer["by_state"]}
    assert states["idle in transaction"]["connections"] == 3
    assert states["idle in transaction"]["oldest_transaction_s"] >= 1.0
    assert states["hidden"]["connections"] == 1
    assert "GRANT pg_monitor TO whisperer_reader" in answer["note"]
    assert answer["connections"] == 4 <= answer["server_connections"]
    assert answer["max_connections"] > answer["reserved_connections"] >= 0
    assert answer["usage"] == round(
        answer["server_connections"] / (answer["max_connections"] - answer["reserved_connections"]), 3
    )


async def test_lock_waits_name_the_waiter_and_the_blocker(
    orders: MCPServer, orders_dsn: str, held_connections: list[psycopg.AsyncConnection[tuple[object, ...]]]
) -> None:
    assert (await structured(orders, "lock_waits"))["waits"] == []
    blocker = await psycopg.AsyncConnection.connect(admin_dsn_for(orders_dsn))
    waiter = await psycopg.AsyncConnection.connect(orders_dsn, autocommit=True)
    held_connections += [blocker, waiter]
    await blocker.execute("LOCK TABLE order_line_items IN ACCESS EXCLUSIVE MODE")
    blocker_pid = blocker.info.backend_pid
    waiting = asyncio.create_task(
        waiter.execute("SELECT count(*) FROM order_line_items WHERE name = 'nadia.petrova@example.com'")
    )
    try:
        await asyncio.sleep(0.5)
        answer = await structured(orders, "lock_waits")
    finally:
        await blocker.rollback()
        await waiting
    [wait] = answer["waits"]
    assert wait["pid"] == waiter.info.backend_pid
    assert (wait["relation"], wait["mode"], wait["lock_type"]) == ("order_line_items", "AccessShareLock", "relation")
    assert wait["waiting_s"] >= 0.4
    assert wait["query"] == "SELECT count(*) FROM order_line_items WHERE name = '<EMAIL_ADDRESS>'"
    assert [blocking["pid"] for blocking in wait["blocked_by"]] == [blocker_pid]
    assert "pg_monitor" in answer["note"]


async def test_sqlite_fallback_answers_schema_and_queries_but_not_server_statistics() -> None:
    async with WorldDatabase(load_world("payment-outage"), prefer_postgres=False) as database:
        assert database.dsn is not None and database.dsn.startswith("sqlite:///")
        server = build_server({"shop": DatabaseTarget(name="shop", dsn=database.dsn)})
        tables = await structured(server, "list_tables")
        assert {table["table"] for table in tables["tables"]} == {"customers", "orders", "payments"}
        described = await structured(server, "describe_table", table="orders")
        assert {"status", "customer_email"} <= {column["name"] for column in described["columns"]}
        assert any(index["name"] == "orders_status_created_at_idx" for index in described["indexes"])
        result = await call(server, "run_query", sql="SELECT customer_email, customer_phone, status FROM orders")
        assert "@" not in everything_sent(result) and not [p for p in PHONES if p in everything_sent(result)]
        line = await error_line(server, "activity")
        assert line == "database shop: activity needs PostgreSQL's statistics views; this database is a SQLite file"


async def test_over_stdio_as_a_separate_process(shop_dsn: str) -> None:
    server = stdio_server("tools.database.server", "--dsn", f"shop={shop_dsn}", "--max-rows", "3")
    result = await call(server, "run_query", sql="SELECT customer_email, status FROM orders ORDER BY id")
    assert result.structured_content is not None
    assert result.structured_content["row_count"] == 3 and result.structured_content["truncated"] is True
    assert "@" not in everything_sent(result)
    line = await error_line(server, "run_query", sql="TRUNCATE orders")
    assert line.startswith("refused: ")


async def test_over_http(shop: MCPServer) -> None:
    async with http_endpoint(shop) as url:
        answer = await structured(url, "list_tables")
        assert {table["table"] for table in answer["tables"]} == {"customers", "orders", "payments"}
        line = await error_line(url, "run_query", sql="INSERT INTO orders (id) VALUES (1)")
        assert line.startswith("refused: INSERT")

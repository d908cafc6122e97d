from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import psycopg
import pytest

from sandbox.database import DEFAULT_ADMIN_DSN, DSN_ENV, WorldDatabase, WorldDatabaseError
from sandbox.world import BUNDLED_WORLDS, World, load_world
from tests.conftest import skip_or_fail

ADMIN_DSN = os.environ.get(DSN_ENV) or DEFAULT_ADMIN_DSN

SCRIPT = """\
-- the shop's database; a semicolon in a comment; must not split anything
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'failed');
CREATE TABLE customers (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    amount NUMERIC(10, 2) NOT NULL,
    status order_status NOT NULL DEFAULT 'pending',
    meta JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX orders_status_idx ON orders USING btree (status);
INSERT INTO customers (email, created_at) VALUES
    ('ann@shop.test', '2026-11-20 10:00:00+00'),
    ('bob@shop.test', '2026-11-20 11:00:00+00');
INSERT INTO orders (customer_id, amount, status, meta, created_at) VALUES
    (1, 10.50, 'failed', '{"error": "gateway timeout; retried"}', '2026-11-20 13:40:00+00'),
    (1, 12.00, 'failed', '{}', '2026-11-20 13:41:00+00'),
    (2, 3.00, 'paid', '{}', '2026-11-20 13:42:00+00');
CREATE VIEW failed_orders AS SELECT id, amount FROM orders WHERE status = 'failed';
"""
ROW_COUNTS = {"customers": 2, "orders": 3, "failed_orders": 2}


def make_world(root: Path, script: str | None = SCRIPT) -> World:
    root.mkdir(parents=True, exist_ok=True)
    (root / "world.yaml").write_text("name: Shop Outage\nrecorded_at: '2026-11-20T14:00:00Z'\n")
    if script is not None:
        (root / "database.sql").write_text(script)
    return load_world(root)


async def require_postgres() -> None:
    try:
        connection = await psycopg.AsyncConnection.connect(ADMIN_DSN, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL unreachable at {ADMIN_DSN}: {exc}")
    else:
        await connection.close()


async def database_exists(name: str) -> bool:
    async with await psycopg.AsyncConnection.connect(ADMIN_DSN) as admin:
        cursor = await admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return await cursor.fetchone() is not None


@pytest.mark.integration
async def test_postgres_database_is_readable_by_the_bot_and_nothing_more(tmp_path: Path) -> None:
    await require_postgres()
    async with WorldDatabase(make_world(tmp_path)) as database:
        assert database.kind == "postgresql"
        assert database.dsn == f"postgresql://whisperer_reader@127.0.0.1:5432/{database.database_name}"
        assert database.database_name.startswith("whisperer_shop_outage_")
        async with await psycopg.AsyncConnection.connect(database.dsn, autocommit=True) as reader:
            for table, count in ROW_COUNTS.items():
                cursor = await reader.execute(f"SELECT count(*) FROM {table}")
                assert await cursor.fetchone() == (count,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await reader.execute("INSERT INTO customers (email) VALUES ('mallory@shop.test')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await reader.execute("CREATE TABLE loot (id int)")
        assert await database_exists(database.database_name)
    assert not await database_exists(database.database_name)


async def test_sqlite_fallback_holds_the_same_rows(tmp_path: Path) -> None:
    async with WorldDatabase(make_world(tmp_path / "world"), sqlite_dir=tmp_path, prefer_postgres=False) as database:
        assert database.kind == "sqlite"
        assert database.sqlite_path is not None
        assert database.dsn == f"sqlite:///{database.sqlite_path}"
        with sqlite3.connect(database.sqlite_path) as connection:
            counts = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ROW_COUNTS}
            ids = [row[0] for row in connection.execute("SELECT id FROM orders ORDER BY id")]
            meta = connection.execute("SELECT meta FROM orders WHERE id = 1").fetchone()[0]
        path = database.sqlite_path
    assert counts == ROW_COUNTS
    assert ids == [1, 2, 3]
    assert meta == '{"error": "gateway timeout; retried"}'
    assert not path.exists()


async def test_unreachable_postgres_falls_back_to_sqlite(tmp_path: Path) -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/postgres"
    async with WorldDatabase(make_world(tmp_path), admin_dsn=unreachable) as database:
        assert database.kind == "sqlite"
        assert database.dsn is not None and database.dsn.startswith("sqlite:///")


async def test_world_without_database_has_no_dsn(tmp_path: Path) -> None:
    async with WorldDatabase(make_world(tmp_path, script=None)) as database:
        assert database.dsn is None
        assert database.kind is None


BROKEN = "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n\nINSERT INTO missing_table VALUES (1);\n"


@pytest.mark.integration
async def test_broken_script_names_the_statement_in_postgres_and_leaves_nothing_behind(tmp_path: Path) -> None:
    await require_postgres()
    database = WorldDatabase(make_world(tmp_path, BROKEN))
    with pytest.raises(WorldDatabaseError) as failure:
        await database.start()
    assert str(failure.value) == (
        'world Shop Outage: database.sql statement 3 (line 4): relation "missing_table" does not exist'
    )
    assert not await database_exists(database.database_name)


async def test_broken_script_names_the_statement_in_sqlite(tmp_path: Path) -> None:
    database = WorldDatabase(make_world(tmp_path / "world", BROKEN), sqlite_dir=tmp_path, prefer_postgres=False)
    with pytest.raises(WorldDatabaseError) as failure:
        await database.start()
    assert str(failure.value).startswith("world Shop Outage: database.sql statement 3 (line 4): no such table")
    assert "\n" not in str(failure.value)
    assert list(tmp_path.glob("*.sqlite")) == []


async def test_text_that_is_not_sql_is_one_line(tmp_path: Path) -> None:
    database = WorldDatabase(make_world(tmp_path, "INSERT INTO a VALUES ('unterminated);\n"), prefer_postgres=False)
    with pytest.raises(
        WorldDatabaseError, match=r"^world Shop Outage: database.sql cannot be read as SQL: "
    ) as failure:
        await database.start()
    assert "\n" not in str(failure.value)


@pytest.mark.integration
@pytest.mark.skipif(not (BUNDLED_WORLDS / "payment-outage").is_dir(), reason="worlds/payment-outage missing")
async def test_bundled_payment_outage_database_has_the_same_rows_in_postgres_and_sqlite(tmp_path: Path) -> None:
    await require_postgres()
    world = load_world("payment-outage")
    async with WorldDatabase(world) as database:
        assert database.dsn is not None
        async with await psycopg.AsyncConnection.connect(database.dsn) as reader:
            tables = await reader.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            in_postgres = {}
            for (table,) in await tables.fetchall():
                count = await reader.execute(f"SELECT count(*) FROM {table}")
                in_postgres[table] = (await count.fetchone() or (None,))[0]
    async with WorldDatabase(world, sqlite_dir=tmp_path, prefer_postgres=False) as fallback:
        assert fallback.sqlite_path is not None
        with sqlite3.connect(fallback.sqlite_path) as connection:
            in_sqlite = {
                table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in in_postgres
            }
    assert in_postgres
    assert in_sqlite == in_postgres


@pytest.mark.integration
async def test_databases_of_killed_sandboxes_are_dropped_by_the_next_start(tmp_path: Path) -> None:
    import socket

    await require_postgres()
    never_alive = 999_999_999  # above Linux's pid_max
    orphan, foreign = "whisperer_orphan_test", "whisperer_foreign_host_test"
    async with await psycopg.AsyncConnection.connect(ADMIN_DSN, autocommit=True) as admin:
        for name, host, pid in ((orphan, socket.gethostname(), never_alive), (foreign, "elsewhere", 1)):
            await admin.execute(f"DROP DATABASE IF EXISTS {name}")
            await admin.execute(f"CREATE DATABASE {name}")
            await admin.execute(f"COMMENT ON DATABASE {name} IS 'whisperer-sandbox host={host} pid={pid}'")
    try:
        async with WorldDatabase(make_world(tmp_path)) as database:
            assert await database_exists(database.database_name)
            assert not await database_exists(orphan)
            assert await database_exists(foreign), "a database of another host must be left alone"
    finally:
        async with await psycopg.AsyncConnection.connect(ADMIN_DSN, autocommit=True) as admin:
            for name in (orphan, foreign):
                await admin.execute(f"DROP DATABASE IF EXISTS {name}")

"""Fixtures that run the store suite against every backend.

SQLite gets a fresh file per test. PostgreSQL gets one throwaway database per session (dropped at
the end) and a fresh schema per test, selected through the URL's ``options=-csearch_path=...``,
so tests never see each other's rows and nothing is left behind.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from store import Store, open_store
from tests.conftest import skip_or_fail

PG_DSN = os.environ.get("WHISPERER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_url(dbname: str, schema: str | None = None) -> str:
    """``PG_DSN`` pointed at another database and, optionally, a schema."""
    parts = urlsplit(PG_DSN)
    query = parse_qsl(parts.query)
    if schema is not None:
        query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(path=f"/{dbname}", query=urlencode(query, quote_via=quote)))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """Name of a database created for this test session."""
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        skip_or_fail(f"PostgreSQL for tests unreachable (WHISPERER_TEST_PG_DSN): {str(exc).splitlines()[0]}")
    name = f"whisperer_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def fresh_pg_url(pg_database: str) -> str:
    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(pg_url(pg_database), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return pg_url(pg_database, schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with await open_store(store_url) as opened:
        yield opened


def raw_query(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run SQL behind the store's back, to inspect or tamper with what it wrote."""
    if url.startswith("sqlite://"):
        with closing(sqlite3.connect(url.removeprefix("sqlite://"))) as lite, lite:
            return lite.execute(statement).fetchall()
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description is not None else []

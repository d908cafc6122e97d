"""SQLite backend: the default, a single file under the bot's data directory.

One aiosqlite connection per store, guarded by an asyncio lock: SQLite runs one writer at a time
anyway, and a shared connection would otherwise let one coroutine's statements land inside another
coroutine's open transaction. WAL lets readers in other processes proceed during a write,
``busy_timeout`` makes concurrent writers wait instead of failing, and ``BEGIN IMMEDIATE`` takes
the write lock up front so two processes never deadlock upgrading read locks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import aiosqlite

from store.errors import StoreError
from store.migrations import apply_migrations
from store.session import Params, Row, Session
from store.sql import SqlStore

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
WAL_RETRY_SECONDS = 0.01


class _SqliteSession(Session):
    column_types: ClassVar[Mapping[str, str]] = {
        "timestamp": "TEXT",
        "json": "TEXT",
        "serial_pk": "INTEGER PRIMARY KEY AUTOINCREMENT",
    }

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def _run(self, sql: str, params: Params) -> list[Row]:
        async with self._connection.execute(sql, params) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    def _encode_timestamp(self, value: datetime) -> object:
        # Fixed width and always UTC, so text order is time order and comparisons in SQL just work.
        return value.isoformat(timespec="microseconds")

    def _encode_json(self, value: dict[str, Any] | list[Any]) -> object:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    def decode_json(self, value: Any) -> Any:
        return json.loads(value)


async def _enable_wal(connection: aiosqlite.Connection) -> None:
    """Switch to WAL, retrying while another process holds the file.

    The switch needs an exclusive lock and SQLite does not apply ``busy_timeout`` to it, so two
    processes creating the same database at once would otherwise fail with "database is locked".
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            await connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or loop.time() > deadline:
                raise
            await asyncio.sleep(WAL_RETRY_SECONDS)
        else:
            return


class SqliteStore(SqlStore):
    def __init__(self, connection: aiosqlite.Connection, location: str) -> None:
        self._connection: aiosqlite.Connection | None = connection
        self._location = location
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, location: str) -> SqliteStore:
        """Open (creating if needed) the database at ``location`` (a path or ``:memory:``) and migrate it."""
        try:
            if location != MEMORY:
                await asyncio.to_thread(Path(location).parent.mkdir, parents=True, exist_ok=True)
            connection = await aiosqlite.connect(location, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"store: cannot open SQLite database at {location}: {exc}") from exc
        store = cls(connection, location)
        try:
            connection.row_factory = sqlite3.Row
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _enable_wal(connection)
            await connection.execute("PRAGMA foreign_keys = ON")
            async with store._session(atomic=True) as session:
                await apply_migrations(session)
        except sqlite3.Error as exc:
            await store.close()
            raise StoreError(f"store: cannot open SQLite database at {location}: {exc}") from exc
        except BaseException:
            await store.close()
            raise
        return store

    @asynccontextmanager
    async def _session(self, atomic: bool = False) -> AsyncIterator[Session]:
        async with self._lock:
            connection = self._connection
            if connection is None:
                raise StoreError("store: SQLite store used after close()")
            try:
                if atomic:
                    await connection.execute("BEGIN IMMEDIATE")
                try:
                    yield _SqliteSession(connection)
                except BaseException:
                    if connection.in_transaction:
                        await connection.execute("ROLLBACK")
                    raise
                if atomic:
                    await connection.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"store: SQLite error on {self._location}: {exc}") from exc

    async def close(self) -> None:
        async with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

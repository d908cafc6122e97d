"""Loads a world's application database into a fresh database the bot may only read.

With a PostgreSQL server at hand (the normal case, and always in CI) the world's script runs
unchanged in a new database of its own, so concurrent runs and leftovers never mix, and the bot
gets a DSN for a login role that can SELECT and nothing else: the guardrails are then tested
against a real server's permissions, not against a promise.

Without a server the script is translated statement by statement to SQLite with sqlglot. That
fallback is best effort: it keeps tables and rows (the answers the bot reads), drops what SQLite
has no counterpart for (types, schemas, grants, functions, constraints added after the fact),
and is reported as `kind == "sqlite"` so nobody mistakes it for the real thing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import socket
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import psycopg
import sqlglot
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import TokenType

from sandbox.lifecycle import SandboxService
from sandbox.world import World

DSN_ENV = "WHISPERER_SANDBOX_PG_DSN"
DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
READER_ROLE = "whisperer_reader"
CONNECT_TIMEOUT_SECONDS = 3
# PostgreSQL identifiers are at most 63 bytes; the random suffix needs 9 of them.
MAX_WORLD_NAME_IN_DATABASE = 40
FORCE_DROP_VERSION = 130000
# Written on every sandbox database so that a later run can drop those whose process died.
OWNER_COMMENT = "whisperer-sandbox host={host} pid={pid}"
_OWNER = re.compile(r"^whisperer-sandbox host=(?P<host>\S+) pid=(?P<pid>\d+)$")

_log = logging.getLogger(__name__)

DatabaseKind = Literal["postgresql", "sqlite"]


class WorldDatabaseError(Exception):
    """A world's database cannot be loaded; the message is one line for the user."""


@dataclass(frozen=True)
class Statement:
    """One statement of a script and where it starts, so an error can point at it."""

    number: int
    line: int
    text: str


def split_statements(script: str) -> list[Statement]:
    """The script's statements, cut at the semicolons PostgreSQL's own lexer rules would cut at.

    Cutting with a tokenizer rather than on ';' keeps semicolons inside strings, quoted
    identifiers and dollar-quoted function bodies where they belong. Raises sqlglot's
    TokenError for text that is not SQL at all (an unterminated string, say).
    """
    tokens = Postgres().tokenize(script)
    statements: list[Statement] = []
    start: int | None = None
    end = 0
    for token in [*tokens, None]:
        if token is not None and token.token_type != TokenType.SEMICOLON:
            start = token.start if start is None else start
            end = token.end
            continue
        if start is not None:
            statements.append(
                Statement(
                    number=len(statements) + 1, line=script.count("\n", 0, start) + 1, text=script[start : end + 1]
                )
            )
        start = None
    return statements


def _first_line(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), message)


def _database_name(world_name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]+", "_", world_name.lower()).strip("_")[:MAX_WORLD_NAME_IN_DATABASE]
    return f"whisperer_{cleaned or 'world'}_{secrets.token_hex(4)}"


class WorldDatabase(SandboxService):
    """The world's `database.sql` in a fresh PostgreSQL database, or in SQLite when there is no server."""

    def __init__(
        self,
        world: World,
        *,
        admin_dsn: str | None = None,
        sqlite_dir: Path | None = None,
        prefer_postgres: bool = True,
    ) -> None:
        self._world = world
        self._admin_dsn = admin_dsn or os.environ.get(DSN_ENV) or DEFAULT_ADMIN_DSN
        self._sqlite_dir = sqlite_dir
        self._prefer_postgres = prefer_postgres
        self._owned_dir: Path | None = None
        self.database_name = _database_name(world.name)
        self.kind: DatabaseKind | None = None
        self.dsn: str | None = None
        self.sqlite_path: Path | None = None

    async def start(self) -> str | None:
        """The read-only DSN, or None for a world without `database.sql`."""
        script = self._world.database_sql
        if script is None:
            return None
        try:
            statements = split_statements(script)
        except SqlglotError as exc:
            raise WorldDatabaseError(
                f"world {self._world.name}: database.sql cannot be read as SQL: {_first_line(str(exc))}"
            ) from exc
        admin = await self._admin_connection() if self._prefer_postgres else None
        if admin is None:
            self.dsn = await asyncio.to_thread(self._load_sqlite, statements)
            self.kind = "sqlite"
        else:
            async with admin:
                await _drop_orphans(admin)
                self.dsn = await self._load_postgres(admin, statements)
            self.kind = "postgresql"
        return self.dsn

    async def stop(self) -> None:
        if self.kind == "postgresql":
            await self._drop_postgres()
        elif self.kind == "sqlite":
            self._drop_sqlite()
        self.kind = None
        self.dsn = None

    def _error(self, statement: Statement, message: str) -> WorldDatabaseError:
        return WorldDatabaseError(
            f"world {self._world.name}: database.sql statement {statement.number} (line {statement.line}): "
            f"{_first_line(message)}"
        )

    # -- PostgreSQL ----------------------------------------------------------------------------

    async def _admin_connection(self) -> psycopg.AsyncConnection[tuple[object, ...]] | None:
        try:
            return await psycopg.AsyncConnection.connect(
                self._admin_dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.OperationalError as exc:
            _log.warning("PostgreSQL unreachable (%s); loading the world's database into SQLite", _first_line(str(exc)))
            return None

    async def _load_postgres(
        self, admin: psycopg.AsyncConnection[tuple[object, ...]], statements: list[Statement]
    ) -> str:
        database = sql.Identifier(self.database_name)
        await admin.execute(sql.SQL("CREATE DATABASE {}").format(database))
        owner = OWNER_COMMENT.format(host=socket.gethostname(), pid=os.getpid())
        await admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(database, sql.Literal(owner)))
        try:
            async with await psycopg.AsyncConnection.connect(
                make_conninfo(self._admin_dsn, dbname=self.database_name), connect_timeout=CONNECT_TIMEOUT_SECONDS
            ) as loader:
                for statement in statements:
                    try:
                        await loader.execute(statement.text)
                    except psycopg.Error as exc:
                        raise self._error(statement, str(exc)) from exc
                await self._grant_reader(admin, loader)
        except BaseException:
            await self._drop_postgres()
            raise
        return f"postgresql://{READER_ROLE}@{quote(admin.info.host, safe='')}:{admin.info.port}/{self.database_name}"

    async def _grant_reader(
        self, admin: psycopg.AsyncConnection[tuple[object, ...]], loader: psycopg.AsyncConnection[tuple[object, ...]]
    ) -> None:
        """A login role that can read every table of this database and change nothing.

        The role is shared by all worlds (roles are per server); creating it tolerates a
        concurrent run creating it at the same moment. Trust authentication lets it log in
        without a password, as on the project's machines.
        """
        reader = sql.Identifier(READER_ROLE)
        await admin.execute(
            sql.SQL(
                "DO $$ BEGIN CREATE ROLE {} LOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ).format(reader)
        )
        await loader.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(self.database_name), reader)
        )
        # Before PostgreSQL 15 everyone may create tables in public; a read-only role must not.
        await loader.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        schemas = await loader.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
        )
        for (schema,) in await schemas.fetchall():
            name = sql.Identifier(str(schema))
            await loader.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, reader))
            await loader.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(name, reader))
        await loader.commit()

    async def _drop_postgres(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._admin_dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as admin:
            await _drop_database(admin, self.database_name)

    # -- SQLite fallback -------------------------------------------------------------------------

    def _load_sqlite(self, statements: list[Statement]) -> str:
        directory = self._sqlite_dir
        if directory is None:
            directory = self._owned_dir = Path(tempfile.mkdtemp(prefix="whisperer-db-"))
        directory.mkdir(parents=True, exist_ok=True)
        path = self.sqlite_path = directory / f"{self.database_name}.sqlite"
        connection = sqlite3.connect(path)
        try:
            for statement in statements:
                for translated in self._sqlite_statements(statement):
                    try:
                        connection.execute(translated)
                    except sqlite3.Error as exc:
                        raise self._error(statement, f"{exc} (in SQLite as: {translated})") from exc
            connection.commit()
        except BaseException:
            connection.close()
            self._drop_sqlite()
            raise
        connection.close()
        return f"sqlite:///{path}"

    def _sqlite_statements(self, statement: Statement) -> list[str]:
        try:
            parsed = sqlglot.parse(statement.text, read="postgres")
        except SqlglotError as exc:
            raise self._error(statement, str(exc)) from exc
        return [
            expression.transform(_to_sqlite).sql(dialect="sqlite")
            for expression in parsed
            if expression is not None and not _postgres_only(expression)
        ]

    def _drop_sqlite(self) -> None:
        if self.sqlite_path is not None:
            self.sqlite_path.unlink(missing_ok=True)
            self.sqlite_path = None
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None


_POSTGRES_ONLY_KINDS = {"TYPE", "SCHEMA", "SEQUENCE", "FUNCTION", "PROCEDURE", "EXTENSION", "TRIGGER"}
_POSTGRES_ONLY_STATEMENTS = (
    exp.Set,
    exp.Grant,
    exp.Revoke,
    exp.Comment,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Command,
    exp.Select,
)


def _postgres_only(expression: exp.Expr) -> bool:
    """Statements without a SQLite counterpart that carry no rows: skipped by the fallback.

    A SELECT in a load script only sets things up (setval, set_config), and statements sqlglot
    keeps as raw commands are pg_dump's ownership and extension lines.
    """
    if isinstance(expression, _POSTGRES_ONLY_STATEMENTS):
        return True
    if isinstance(expression, exp.Create):
        return str(expression.args.get("kind", "")).upper() in _POSTGRES_ONLY_KINDS
    if isinstance(expression, exp.Alter):
        return not all(isinstance(action, exp.ColumnDef) for action in expression.args.get("actions") or [])
    return False


_INTEGER_KEYS = {exp.DataType.Type.SERIAL, exp.DataType.Type.BIGSERIAL, exp.DataType.Type.SMALLSERIAL}
_KEPT_TYPES = {*exp.DataType.NUMERIC_TYPES, exp.DataType.Type.BOOLEAN}


def _to_sqlite(node: exp.Expr) -> exp.Expr:
    """Rewrites the PostgreSQL constructs whose literal SQLite rendering would lose or mangle rows."""
    if isinstance(node, exp.DataType):
        # SERIAL must become INTEGER so an INTEGER PRIMARY KEY numbers rows as PostgreSQL would;
        # every non-numeric type becomes TEXT, because SQLite's NUMERIC affinity would turn
        # '2026-11-20 10:00:00+00' into 2026 the moment it is cast.
        if node.this in _INTEGER_KEYS:
            return exp.DataType.build("INTEGER")
        return node if node.this in _KEPT_TYPES else exp.DataType.build("TEXT")
    if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
        shifted = _sqlite_datetime(node.this, node.expression, -1 if isinstance(node, exp.Sub) else 1)
        if shifted is not None:
            return shifted
    if isinstance(node, exp.Cast) and node.to.this not in _KEPT_TYPES:
        # A replaced node's children are not visited again, so the operand is rewritten here.
        operand: exp.Expr = node.this
        return operand.transform(_to_sqlite)
    if isinstance(node, exp.DefaultColumnConstraint) and not isinstance(
        node.this, exp.Literal | exp.Boolean | exp.Null
    ):
        # SQLite takes an expression as a default only in parentheses.
        node.set("this", exp.Paren(this=node.this))
    if isinstance(node, exp.Table):
        # SQLite would read a schema as an attached database; worlds rarely reuse a table name across schemas.
        node.set("db", None)
        node.set("catalog", None)
    if isinstance(node, exp.IndexParameters):
        node.set("using", None)
    if isinstance(node, exp.Ordered) and isinstance(node.parent, exp.IndexParameters):
        # SQLite has no NULLS FIRST/LAST in an index; the order it does have is enough for a copy.
        node.set("nulls_first", not node.args.get("desc"))
    return node


_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
# PostgreSQL's interval units by prefix (longest first where they clash), as SQLite modifiers.
_SQLITE_UNITS = (
    ("mon", "months", 1),
    ("m", "minutes", 1),
    ("s", "seconds", 1),
    ("h", "hours", 1),
    ("d", "days", 1),
    ("w", "days", 7),
    ("y", "years", 1),
)


def _sqlite_datetime(moment: exp.Expr, interval: exp.Interval, sign: int) -> exp.Expr | None:
    """`now() - interval '5 minutes'` as SQLite's `DATETIME(CURRENT_TIMESTAMP, '-5 minutes')`.

    None for an interval this cannot read, which is then left for SQLite to reject by name.
    """
    unit = interval.args.get("unit")
    parts = _INTERVAL_PART.findall(f"{interval.this.name} {unit.name if unit else ''}".lower())
    modifiers: list[exp.Expr] = []
    for amount, name in parts:
        known = next((entry for entry in _SQLITE_UNITS if name.startswith(entry[0])), None)
        if known is None:
            return None
        _, sqlite_unit, factor = known
        number = f"{sign * float(amount) * factor:+f}".rstrip("0").rstrip(".")
        modifiers.append(exp.Literal.string(f"{number} {sqlite_unit}"))
    if not modifiers:
        return None
    return exp.Anonymous(this="DATETIME", expressions=[moment.transform(_to_sqlite), *modifiers])


async def _drop_database(admin: psycopg.AsyncConnection[tuple[object, ...]], name: str) -> None:
    database = sql.Identifier(name)
    if admin.info.server_version >= FORCE_DROP_VERSION:
        await admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        return
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    await admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(database))


async def _drop_orphans(admin: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    """Drops sandbox databases left by processes on this host that died without cleaning up (SIGKILL)."""
    rows = await admin.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE 'whisperer\\_%'"
    )
    for name, comment in await rows.fetchall():
        owner = _OWNER.match(str(comment or ""))
        if owner and owner["host"] == socket.gethostname() and not _alive(int(owner["pid"])):
            _log.info("dropping orphaned sandbox database %s (its process %s is gone)", name, owner["pid"])
            await _drop_database(admin, str(name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

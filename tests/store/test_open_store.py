"""Opening stores from URLs, the errors a user sees when that fails, and the shared model helpers."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import ValidationError

from store import AuditEvent, AuditKind, StoredProposal, StoreError, open_store, proposal_digest, utcnow
from store.migrations import MIGRATIONS
from tests.store.conftest import pg_url

PASSWORD = "hunter2-s3cret"


async def open_error(url: str, secret: str | None = PASSWORD) -> str:
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    message = str(caught.value)
    assert "\n" not in message
    assert secret is None or secret not in message
    return message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://root:{PASSWORD}@db/whisperer", "unsupported URL scheme 'mysql'"),
        (f"root:{PASSWORD}@db/whisperer", "not a store URL"),
        ("sqlite://relative/whisperer.db", "needs an absolute file path"),
        ("sqlite://", "needs an absolute file path"),
        ("sqlite:///var/lib/whisperer.db?mode=ro", "no query parameters"),
        (f"postgresql://whisperer:{PASSWORD}@[::1/whisperer", "invalid PostgreSQL URL"),
    ],
)
async def test_bad_urls_fail_with_one_clear_line(url: str, expected: str) -> None:
    assert expected in await open_error(url)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_unreachable_postgres_is_one_line_without_password(scheme: str) -> None:
    message = await open_error(f"{scheme}://whisperer:{PASSWORD}@127.0.0.1:1/whisperer")
    assert message == "store: cannot reach PostgreSQL at 127.0.0.1:1: connection refused"


async def test_missing_postgres_database_names_the_reason(pg_database: str) -> None:
    missing = f"whisperer_missing_{secrets.token_hex(4)}"
    parts = urlsplit(pg_url(missing))
    if parts.password is None:  # the test server trusts local users, so any password gets as far as the database
        parts = parts._replace(netloc=f"{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port or 5432}")
    message = await open_error(urlunsplit(parts), secret=parts.password)
    assert message.startswith("store: cannot reach PostgreSQL at ")
    assert f'database "{missing}" does not exist' in message


async def test_unopenable_sqlite_files_fail_with_one_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "regular-file"
    not_a_dir.write_text("")
    assert "cannot open SQLite database" in await open_error(f"sqlite://{not_a_dir}/store.db")

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 512)
    assert "file is not a database" in await open_error(f"sqlite://{garbage}")


async def test_sqlalchemy_style_absolute_url_and_memory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "whisperer.db"
    async with await open_store(f"sqlite:///{path}") as store:
        await store.record_audit(AuditEvent(kind=AuditKind.QUESTION, actor="U1", subject="kept"))
    assert path.exists(), "four slashes mean the same absolute path, and the data directory is created"
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    async with await open_store(f"sqlite://{path}") as store:
        assert [e.subject for e in await store.list_audit()] == ["kept"]

    async with await open_store("sqlite:///:memory:") as store:
        assert await store.health()
        assert await store.list_audit() == []


def test_models_reject_naive_times_and_non_json_payloads() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        AuditEvent(at=datetime(2025, 1, 1), kind="question", actor="U1", subject="s")
    with pytest.raises(ValidationError, match="not plain JSON"):
        StoredProposal(
            expires_at=utcnow() + timedelta(minutes=5),
            requested_by="U1",
            channel="C1",
            digest="d",
            payload={"when": utcnow()},
        )


def test_proposal_digest_depends_on_content_not_key_order() -> None:
    digest = proposal_digest("scale", {"name": "checkout", "namespace": "prod"}, {"replicas": 3, "why": "load"})
    assert digest == proposal_digest("scale", {"namespace": "prod", "name": "checkout"}, {"why": "load", "replicas": 3})
    assert digest != proposal_digest("scale", {"name": "checkout", "namespace": "prod"}, {"replicas": 4, "why": "load"})
    assert digest != proposal_digest(
        "restart", {"name": "checkout", "namespace": "prod"}, {"replicas": 3, "why": "load"}
    )
    assert len(digest) == 64
    with pytest.raises(ValueError, match="not plain JSON"):
        proposal_digest("scale", "checkout", {"ratio": float("nan")})


def test_migrations_are_numbered_consecutively_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


async def test_many_stores_creating_one_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    # Switching a new file to WAL ignores busy_timeout; a lost race there must be retried, not reported.
    for attempt in range(20):
        url = f"sqlite://{tmp_path / f'race-{attempt}.db'}"
        stores = await asyncio.gather(*(open_store(url) for _ in range(5)))
        for opened in stores:
            await opened.close()

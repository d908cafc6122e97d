"""The audit log as `whisperer audit` prints it, read back from a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.audit_view import format_audit, run_audit_command
from store import AuditEvent, AuditKind, Store, open_store

T0 = datetime(2026, 11, 21, 12, 0, 3, tzinfo=UTC)
TARGET = {"kind": "Deployment", "namespace": "shop", "name": "payment-service", "cluster": None}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await open_store(f"sqlite://{tmp_path / 'store.db'}") as opened:
        yield opened


async def test_one_line_per_event_newest_first_with_the_details_that_explain_it(store: Store) -> None:
    events = [
        AuditEvent(
            at=T0,
            kind=AuditKind.PROPOSAL,
            actor="U_ALICE",
            subject="p1",
            detail={"action": "restart_deployment", "target": TARGET, "allowed": True, "params": {}},
        ),
        AuditEvent(
            at=T0 + timedelta(seconds=5),
            kind=AuditKind.DECISION,
            actor="U_ALICE",
            subject="p1",
            detail={
                "approve": True,
                "accepted": False,
                "message": "U_ALICE cannot approve their own request (two-person rule)",
                "target": TARGET,
                "action": "restart_deployment",
            },
        ),
        AuditEvent(
            at=T0 + timedelta(seconds=9),
            kind=AuditKind.EXECUTION,
            actor="bot",
            subject="p1",
            detail={"executed": True, "message": "Restarted deployment shop/payment-service (approved by <@U_BOB>)"},
        ),
    ]
    for event in events:
        await store.record_audit(event)

    text = await run_audit_command(store, limit=10)

    assert text.splitlines() == [
        '2026-11-21 12:00:12Z  execution    bot          p1  executed=yes message="Restarted deployment '
        'shop/payment-service (approved by <@U_BOB>)"',
        "2026-11-21 12:00:08Z  decision     U_ALICE      p1  action=restart_deployment "
        "target=Deployment shop/payment-service approve=approve accepted=no "
        'message="U_ALICE cannot approve their own request (two-person rule)"',
        "2026-11-21 12:00:03Z  proposal     U_ALICE      p1  action=restart_deployment "
        "target=Deployment shop/payment-service allowed=yes",
    ]
    assert (await run_audit_command(store, limit=10, kind="decision")).count("\n") == 0
    assert await run_audit_command(store, limit=10, kind="verification") == "No verification events in the audit log"


def test_lines_stay_single_short_and_free_of_secrets() -> None:
    question = AuditEvent(
        at=T0,
        kind=AuditKind.QUESTION,
        actor="U_ALICE",
        subject="why is\npayment-service failing?",
        detail={"text": "token xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJklmn " + "x" * 400},
    )

    [line] = format_audit([question]).splitlines()

    assert "why is payment-service failing?" in line
    assert "xoxb-123456789012" not in line
    assert line.endswith("…")
    assert len(line) < 300

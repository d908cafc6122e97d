"""When a digest says something again: one row per rule of `plan_digest`, then the stored outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduled_checks.dedupe import Change, plan_digest, save_plan
from scheduled_checks.models import Observation
from store import FindingRecord, Store, open_store
from tools.findings import Finding, ObjectRef, Severity

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
REMIND = timedelta(hours=24)
CHECK = "cert-expiry"
KEY = "expiry:Certificate api.example.com"


def observed(severity: Severity = Severity.WARNING, key: str = KEY) -> Observation:
    return Observation(
        key=key,
        finding=Finding(
            source="certificates",
            severity=severity,
            summary=f"api.example.com certificate expires soon ({severity})",
            reason="CertificateExpiring",
            subject=ObjectRef(kind="Certificate", name="api.example.com"),
        ),
        channel="#platform-alerts",
        owner="api-gateway",
        question="Why is the api.example.com certificate not renewing?",
    )


def stored(**changes: Any) -> FindingRecord:
    """What an earlier run left: reported an hour ago, as a warning."""
    base = FindingRecord(
        check=CHECK,
        key=KEY,
        severity="warning",
        fingerprint="earlier",
        first_seen=NOW - 48 * HOUR,
        last_seen=NOW - HOUR,
        last_reported_at=NOW - HOUR,
        summary="api.example.com certificate expires soon (warning)",
        detail={"channel": "#platform-alerts", "question": "Why is the api.example.com certificate not renewing?"},
    )
    return base.model_copy(update=changes)


RULES = [
    ("never seen: new", None, Severity.WARNING, Change.NEW),
    ("reported an hour ago, unchanged: quiet", stored(), Severity.WARNING, None),
    (
        "reported 25 h ago, unchanged: reminder",
        stored(last_reported_at=NOW - 25 * HOUR),
        Severity.WARNING,
        Change.REMINDER,
    ),
    (
        "acknowledged: no reminder",
        stored(last_reported_at=NOW - 25 * HOUR, acknowledged_by="U_BOB"),
        Severity.WARNING,
        None,
    ),
    ("warning became critical: severity changed", stored(), Severity.CRITICAL, Change.SEVERITY),
    (
        "severity change breaks through a snooze",
        stored(snoozed_until=NOW + 24 * HOUR),
        Severity.CRITICAL,
        Change.SEVERITY,
    ),
    (
        "snoozed: quiet even past the reminder interval",
        stored(last_reported_at=NOW - 30 * HOUR, snoozed_until=NOW + HOUR),
        Severity.WARNING,
        None,
    ),
    ("snooze ran out: said again", stored(snoozed_until=NOW - HOUR), Severity.WARNING, Change.UNSNOOZED),
    ("gone after being reported: resolved", stored(), None, Change.RESOLVED),
    ("gone and already resolved: nothing", stored(resolved_at=NOW - HOUR), None, None),
    ("gone, never reported: nothing to say", stored(last_reported_at=None), None, None),
    ("back after being resolved: new again", stored(resolved_at=NOW - 5 * HOUR), Severity.WARNING, Change.NEW),
    ("never reached Slack (bot not invited): new", stored(last_reported_at=None), Severity.WARNING, Change.NEW),
]


@pytest.mark.parametrize(("rule", "before", "now_seen", "expected"), RULES, ids=[row[0] for row in RULES])
def test_what_a_run_posts(
    rule: str, before: FindingRecord | None, now_seen: Severity | None, expected: Change | None
) -> None:
    observations = [observed(now_seen)] if now_seen is not None else []
    plan = plan_digest(CHECK, observations, [before] if before else [], NOW, REMIND)
    assert [item.change for item in plan.items] == ([expected] if expected else []), rule


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    opened = await open_store("sqlite:///:memory:")
    yield opened
    await opened.close()


async def run(store: Store, severity: Severity | None, at: datetime, delivered: bool = True) -> list[Change]:
    plan = plan_digest(
        CHECK, [observed(severity)] if severity else [], await store.list_findings(CHECK, True), at, REMIND
    )
    await save_plan(store, plan, {item.key for item in plan.items} if delivered else set())
    return [item.change for item in plan.items]


async def test_a_finding_over_its_life_is_posted_only_when_it_is_news(store: Store) -> None:
    assert await run(store, Severity.WARNING, NOW) == [Change.NEW]
    assert await run(store, Severity.WARNING, NOW + HOUR) == []
    assert await run(store, Severity.CRITICAL, NOW + 2 * HOUR) == [Change.SEVERITY]
    assert await run(store, Severity.CRITICAL, NOW + 3 * HOUR) == []
    assert await run(store, Severity.CRITICAL, NOW + 27 * HOUR) == [Change.REMINDER]
    assert await run(store, None, NOW + 28 * HOUR) == [Change.RESOLVED]
    assert await run(store, None, NOW + 29 * HOUR) == []
    record = await store.get_finding(CHECK, KEY)
    assert record is not None and record.resolved_at == NOW + 28 * HOUR


async def test_an_item_slack_refused_is_posted_by_the_next_run(store: Store) -> None:
    assert await run(store, Severity.WARNING, NOW, delivered=False) == [Change.NEW]
    assert await run(store, Severity.WARNING, NOW + HOUR) == [Change.NEW]
    assert await run(store, Severity.WARNING, NOW + 2 * HOUR) == []


async def test_a_snooze_clicked_while_the_check_ran_survives_the_runs_write(store: Store) -> None:
    await run(store, Severity.WARNING, NOW)
    plan = plan_digest(CHECK, [observed()], await store.list_findings(CHECK), NOW + 25 * HOUR, REMIND)
    clicked = await store.get_finding(CHECK, KEY)
    assert clicked is not None
    await store.upsert_finding(clicked.model_copy(update={"snoozed_until": NOW + 48 * HOUR}))
    await save_plan(store, plan, {item.key for item in plan.items})
    after = await store.get_finding(CHECK, KEY)
    assert after is not None and after.snoozed_until == NOW + 48 * HOUR


def test_items_are_ordered_most_severe_first_and_resolved_last() -> None:
    gone = stored(key="expiry:Certificate old.example.com", summary="old.example.com expires")
    plan = plan_digest(
        CHECK,
        [observed(Severity.WARNING, "warn"), observed(Severity.CRITICAL, "crit"), observed(Severity.INFO, "info")],
        [gone],
        NOW,
        REMIND,
    )
    assert [(item.severity, item.change) for item in plan.items] == [
        ("critical", Change.NEW),
        ("warning", Change.NEW),
        ("info", Change.NEW),
        ("warning", Change.RESOLVED),
    ]

"""Migrations as suspects: the schema changes that slow or block a running service, and what to propose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.catalog import Service
from agents.correlation import ChangeEvent, Correlation
from agents.intents import Intent, Plan
from agents.patch_patterns import find_patterns
from agents.proposals import propose
from guardrails.policy_config import ActionRule
from guardrails.proposals import Target

T0 = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
LEDGER = Service(name="ledger-api", namespace="ledger", team="ledger", channel="#oncall-ledger", repo="acme/ledger-api")


@pytest.mark.parametrize(
    ("filename", "lines", "kinds", "says"),
    [
        (
            "db/migrations/0091.sql",
            [(6, "DROP INDEX CONCURRENTLY IF EXISTS orders_customer_id_idx;")],
            ["drop_index"],
            "drops index orders_customer_id_idx",
        ),
        (
            "migrations/versions/a1.py",
            [(9, '    op.drop_index("orders_customer_id_idx", table_name="orders")')],
            ["drop_index"],
            "orders_customer_id_idx",
        ),
        (
            "migrations/versions/4c2a.py",
            [
                (16, '    op.execute("ALTER TABLE entries ADD COLUMN currency char(3)")'),
                (21, '    op.execute("ALTER TABLE entries ALTER COLUMN currency SET NOT NULL")'),
            ],
            ["alter_table"],
            "ACCESS EXCLUSIVE lock on entries",
        ),
        ("db/migrations/0092.sql", [(1, "-- DROP INDEX orders_old_idx is done later"), (2, "SELECT 1;")], [], ""),
        ("orders/api.py", [(3, "index = build_index(rows)")], [], ""),
    ],
)
def test_schema_changes_name_the_index_or_table_they_affect(
    filename: str, lines: list[tuple[int, str]], kinds: list[str], says: str
) -> None:
    found = find_patterns(filename, lines)
    assert [pattern.kind for pattern in found] == kinds
    assert all(says in pattern.summary for pattern in found)


def _correlation(culprit: ChangeEvent) -> Correlation:
    return Correlation(culprit=culprit, service=LEDGER, root_cause="x", onset=T0)


@pytest.mark.parametrize(
    ("culprit", "rollback"),
    [
        (ChangeEvent(kind="pull_request", at=T0 - timedelta(minutes=9), number=623, repo=LEDGER.repo), False),
        (
            ChangeEvent(
                kind="pull_request",
                at=T0 - timedelta(minutes=9),
                number=623,
                repo=LEDGER.repo,
                deployed_at=T0 - timedelta(minutes=2),
            ),
            True,
        ),
        (ChangeEvent(kind="deploy", at=T0 - timedelta(minutes=2), image="ghcr.io/acme/ledger-api:2.15.0"), True),
    ],
)
def test_rollback_is_proposed_only_for_a_change_that_was_deployed(culprit: ChangeEvent, rollback: bool) -> None:
    plan = Plan(text="why is ledger-api failing?", intents=frozenset({Intent.DIAGNOSE}), services=[LEDGER])
    targets = [Target(kind="Deployment", namespace="ledger", name="ledger-api")]
    proposals = propose(plan, [], _correlation(culprit), targets, {"rollback_deployment": ActionRule(risk="medium")})
    assert [p.action for p in proposals] == (["rollback_deployment"] if rollback else [])

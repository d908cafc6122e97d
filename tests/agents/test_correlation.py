"""Root-cause hypotheses from symptoms and changes, and the risky patterns a patch adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.catalog import Catalog, Service
from agents.correlation import ChangeEvent, correlate
from agents.patch_patterns import find_patterns
from sandbox.world import load_world
from tools.changes.patches import added_lines
from tools.findings import Finding, ObjectRef, Severity

ONSET = datetime(2026, 11, 20, 13, 40, tzinfo=UTC)
ORDERS = Service(name="orders-service", namespace="checkout", team="orders", channel="#o", repo="acme/orders-service")
CATALOG = Catalog([ORDERS])


def _symptom(since: datetime = ONSET, severity: Severity = Severity.CRITICAL) -> Finding:
    return Finding(
        source="metrics",
        severity=severity,
        summary="orders-service connection pool at 95%",
        reason="PoolSaturation",
        subject=ObjectRef(kind="Service", name="orders-service", namespace="checkout"),
        since=since,
        details={"service": "orders-service"},
    )


def _change(
    number: int, minutes_before: float, patterns: bool = False, repo: str = "acme/orders-service"
) -> ChangeEvent:
    world = load_world("db-pool-exhaustion")
    found = []
    if patterns:
        pr = next(p for p in world.changes.pull_requests if p.number == 847)
        found = [pat for f in pr.files for pat in find_patterns(f.filename, added_lines(f.patch))]
    return ChangeEvent(
        kind="pull_request",
        at=ONSET - timedelta(minutes=minutes_before),
        repo=repo,
        number=number,
        title=f"change {number}",
        patterns=found,
    )


def test_the_change_just_before_the_onset_is_named_with_its_pattern() -> None:
    result = correlate([_symptom()], [_change(844, 60 * 24 * 3), _change(847, 8, patterns=True)], CATALOG)
    assert result.culprit is not None and result.culprit.number == 847
    assert result.root_cause is not None
    assert "PR #847" in result.root_cause and "8 minutes before" in result.root_cause
    assert "query inside a loop in orders/repository.py" in result.root_cause


def test_changes_after_the_onset_or_of_other_services_are_not_blamed() -> None:
    later = _change(900, -60)
    other = _change(12, 5, repo="acme/frontend")
    assert correlate([_symptom()], [later, other], CATALOG).root_cause is None


def test_no_symptoms_means_no_root_cause_even_with_fresh_changes() -> None:
    healthy = _symptom(severity=Severity.INFO)
    result = correlate([healthy], [_change(847, 8, patterns=True)], CATALOG)
    assert result.root_cause is None and result.culprit is None
    assert [entry.kind for entry in result.timeline] == ["change"]


@pytest.mark.parametrize(
    ("world", "number", "kind", "location"),
    [
        ("db-pool-exhaustion", 847, "query_in_loop", "orders/repository.py:49"),
        ("worker-memory-leak", 156, "client_per_call", "worker/cache.py:42"),
        ("payment-outage", 214, "endpoint_change", "config/production.yaml:13"),
    ],
)
def test_patch_patterns_in_the_bundled_worlds(world: str, number: int, kind: str, location: str) -> None:
    pr = next(p for p in load_world(world).changes.pull_requests if p.number == number)
    found = [(p.kind, p.location) for f in pr.files for p in find_patterns(f.filename, added_lines(f.patch))]
    assert (kind, location) in found


def test_harmless_patches_have_no_patterns() -> None:
    patch = "@@ -1,2 +1,3 @@\n import os\n+LOG = os.getenv('LOG')\n print(LOG)\n"
    assert find_patterns("app/main.py", added_lines(patch)) == []
    loop_in_tests = "@@ -1 +1,3 @@\n+for o in orders:\n+    db.execute('select 1')\n"
    assert find_patterns("tests/test_repo.py", added_lines(loop_in_tests)) == []

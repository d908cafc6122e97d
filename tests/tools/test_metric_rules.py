"""The metric rules on series shaped like real incidents: spikes, saturation, leaks, and calm."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tools.analyzers import metrics as rules
from tools.findings import Finding, ObjectRef, Severity

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STEP = timedelta(seconds=30)
WINDOW_START = START + timedelta(hours=1)
SERVICE = ObjectRef(kind="Service", name="orders-service", namespace="checkout")


def series(*values: float) -> list[tuple[datetime, float]]:
    return [(START + index * STEP, value) for index, value in enumerate(values)]


def stepped(before: float, after: float, *, change_at: int = 130, points: int = 240) -> list[tuple[datetime, float]]:
    """`before` for the first `change_at` points (the baseline window is the first 120), then `after`."""
    return series(*([before] * change_at + [after] * (points - change_at)))


def at(index: int) -> datetime:
    return START + index * STEP


def error_rate(points: rules.Series) -> Finding | None:
    return rules.error_rate_finding(rules.assess_error_rate(points, WINDOW_START), SERVICE)


def latency(points: rules.Series) -> Finding | None:
    return rules.latency_finding(rules.assess_latency(points, WINDOW_START), SERVICE)


def pool(points: rules.Series) -> Finding | None:
    return rules.pool_saturation_finding(rules.assess_utilization(points), SERVICE)


def memory(points: rules.Series) -> Finding | None:
    return rules.memory_finding(rules.assess_utilization(points), SERVICE)


def restarts(points: rules.Series) -> Finding | None:
    return rules.restarts_finding(rules.assess_restarts([points]), SERVICE, window_minutes=60)


def throttling(points: rules.Series) -> Finding | None:
    return rules.throttling_finding(rules.assess_throttling(points), SERVICE, cpu_limit="500m")


Rule = Callable[[rules.Series], Finding | None]


@pytest.mark.parametrize(
    ("rule", "healthy"),
    [
        (error_rate, stepped(0.002, 0.003)),
        (error_rate, stepped(0.001, 0.04)),  # 40x the baseline, but 4% is below the 5% floor
        (latency, stepped(0.2, 0.3)),  # +100 ms: below the minimum increase
        (latency, series(0.2, 0.25, 0.3)),  # no baseline window: no verdict
        (pool, stepped(0.3, 0.89)),
        (memory, series(0.4, 0.5, 0.6, 0.5)),
        (restarts, series(0, 0, 1, 1, 2)),
        (throttling, stepped(0.02, 0.12)),  # some throttling is how a CPU limit works
        (throttling, []),
        (error_rate, []),
        (pool, []),
    ],
)
def test_a_healthy_series_yields_nothing(rule: Rule, healthy: rules.Series) -> None:
    assert rule(healthy) is None


def test_an_error_rate_spike_names_the_rate_the_baseline_and_the_onset() -> None:
    found = error_rate(stepped(0.005, 0.23))
    assert found is not None
    assert found.severity is Severity.CRITICAL and found.reason == "ErrorRateSpike" and found.source == "metrics"
    assert found.summary == ("orders-service: 23% of requests fail with 5xx (baseline 0.5%) since 2026-11-20T13:05:00Z")
    assert found.since == at(130)
    assert "baseline 0.5% (median of the window before), 46x" in found.evidence
    assert found.subject == SERVICE


def test_a_moderate_spike_is_a_warning() -> None:
    found = error_rate(stepped(0.001, 0.091))
    assert found is not None and found.severity is Severity.WARNING
    assert "9.1% of requests" in found.summary


def test_an_error_rate_that_was_always_high_is_reported_without_calling_it_a_spike() -> None:
    found = error_rate(stepped(0.12, 0.13))
    assert found is not None and found.reason == "ErrorRateHigh" and found.since is None
    assert "as high as before (baseline 12%)" in found.summary


def test_a_latency_spike_quotes_both_p99s() -> None:
    found = latency(stepped(0.48, 30.0))
    assert found is not None and found.severity is Severity.CRITICAL
    assert found.summary == "orders-service: p99 latency 30.0 s (baseline 480 ms) since 2026-11-20T13:05:00Z"


def test_a_saturated_pool_reports_an_integer_percentage_the_counts_and_the_onset() -> None:
    points = stepped(0.3, 0.95)
    found = rules.pool_saturation_finding(rules.assess_utilization(points), SERVICE, in_use=57, size=60)
    assert found is not None and found.severity is Severity.CRITICAL and found.reason == "ConnectionPoolSaturated"
    assert found.summary == ("orders-service: DB connection pool at 95% (57/60 connections) since 2026-11-20T13:05:00Z")
    assert found.details["value"] == 0.95


def test_a_short_dip_under_the_threshold_does_not_move_the_onset() -> None:
    values = [0.3] * 130 + [0.95] * 20 + [0.88] + [0.95] * 89
    assert rules.assess_utilization(series(*values)).onset == at(130)


def test_a_real_recovery_restarts_the_onset() -> None:
    values = [0.3] * 130 + [0.95] * 20 + [0.5] + [0.93] * 89
    found = pool(series(*values))
    assert found is not None and found.since == at(151) and found.severity is Severity.WARNING
    assert "93%" in found.summary


def test_a_memory_leak_is_found_even_right_after_an_oom_kill() -> None:
    sawtooth = [0.35 + 0.05 * (index % 13) for index in range(240)]  # climbs to 0.95, drops back
    sawtooth[-1] = 0.4
    found = memory(series(*sawtooth))
    assert found is not None and found.reason == "MemoryNearLimit"
    assert found.summary.startswith("orders-service: memory reached 95% of its limit at ")
    assert found.summary.endswith("(now 40%)")
    assert found.since == at(11)  # 0.35 + 11 * 0.05 reaches the 90% threshold


def test_memory_at_its_limit_now() -> None:
    found = memory(stepped(0.5, 0.97))
    assert found is not None and found.summary == (
        "orders-service: memory at 97% of its limit since 2026-11-20T13:05:00Z"
    )


def test_restarts_count_across_counter_resets_and_containers() -> None:
    first = series(0, 1, 2, 0, 1)  # reset after 2: the new instance restarted once
    second = series(5, 5, 6)
    assessment = rules.assess_restarts([first, second])
    assert assessment.value == 4 and assessment.onset == at(1) and assessment.breached
    found = restarts(series(0, 0, 3))
    assert found is not None and found.summary == (
        "orders-service: 3 container restarts in the last 60 min (first at 2026-11-20T12:01:00Z)"
    )


def test_cpu_throttling_names_the_share_of_periods_and_the_limit() -> None:
    found = throttling(stepped(0.02, 0.63))
    assert found is not None and found.reason == "CPUThrottling" and found.severity is Severity.CRITICAL
    assert found.summary == (
        "orders-service: CPU throttled in 63% of CFS periods at its CPU limit of 500m since 2026-11-20T13:05:00Z"
    )
    moderate = rules.throttling_finding(rules.assess_throttling(stepped(0.02, 0.3)), SERVICE, container="api-1/api")
    assert moderate is not None and moderate.severity is Severity.WARNING
    assert "at its CPU limit (api-1/api)" in moderate.summary


@pytest.mark.parametrize(("cores", "shown"), [(0.5, "500m"), (1.0, "1"), (2.0, "2"), (1.5, "1500m"), (0.25, "250m")])
def test_cpu_limits_read_as_kubernetes_writes_them(cores: float, shown: str) -> None:
    assert rules.millicores(cores) == shown


@pytest.mark.parametrize(
    ("ratio", "whole", "shown"),
    [
        (0.95, False, "95%"),
        (0.2326, False, "23%"),
        (0.091, False, "9.1%"),
        (0.0005, False, "0.05%"),
        (0.951, True, "95%"),
    ],
)
def test_percentages_read_naturally(ratio: float, whole: bool, shown: str) -> None:
    assert rules.percent(ratio, whole=whole) == shown

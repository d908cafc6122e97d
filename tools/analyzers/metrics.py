"""Metric rules: pure functions from time series to findings about one service.

A series is a list of (timestamp, value) points, oldest first. Each rule first *assesses* a
series (its latest value, its own baseline, the level that counts as a problem, and the onset:
when the current breach began), then turns a breached assessment into a finding. The onset is
what correlation needs ("the pool filled up 6 minutes after the deploy"), so a short dip just
under the threshold does not restart it: the breach is followed back while the value stays
within HYSTERESIS of the threshold.

Baselines are the service's own: the median of the points before `baseline_until` (the window
before the one asked about), so a service that always answers 2% errors is not an incident,
and one that went from 0.5% to 23% is, whatever the absolute levels of other services.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

from tools.analyzers.kubernetes.fields import fmt_time
from tools.findings import Finding, ObjectRef, Severity

SOURCE = "metrics"
Series = Sequence[tuple[datetime, float]]

MIN_ERROR_RATE = 0.05
"""Below 5% of requests failing, an error rate is noise whatever its baseline."""
HIGH_ERROR_RATE = 0.10
"""At or above 10% an error rate is reported even without a spike (it has been bad all along)."""
CRITICAL_ERROR_RATE = 0.20
SPIKE_FACTOR = 3.0
LATENCY_FACTOR = 2.0
LATENCY_MIN_INCREASE_S = 0.25
"""A p99 going from 4 ms to 9 ms doubles, but nobody notices; it must also grow by this much."""
CRITICAL_LATENCY_FACTOR = 5.0
SATURATION = 0.90
CRITICAL_SATURATION = 0.95
MIN_RESTARTS = 3
THROTTLING = 0.25
"""A quarter of CFS periods throttled: the level at which the usual CPUThrottlingHigh alert fires."""
CRITICAL_THROTTLING = 0.50
HYSTERESIS = 0.10
"""A breach continues through points down to 10% under the threshold (relative)."""


class Assessment(BaseModel):
    """What one series says now, against its own past."""

    model_config = ConfigDict(frozen=True)

    value: float | None = None
    at: datetime | None = None
    baseline: float | None = None
    peak: float | None = None
    peak_at: datetime | None = None
    threshold: float | None = None
    onset: datetime | None = None
    first_breach: datetime | None = Field(default=None, description="first point at or above the threshold")
    breached: bool = False


def latest(series: Series) -> tuple[datetime, float] | None:
    return series[-1] if series else None


def baseline(series: Series, until: datetime) -> float | None:
    """The median of the points before `until`; None when the series starts later."""
    before = [value for moment, value in series if moment < until]
    return statistics.median(before) if before else None


def onset(series: Series, threshold: float) -> datetime | None:
    """When the breach that is still going on began: the first point at or above `threshold`
    of the trailing run of points that stay above the hysteresis floor."""
    floor = threshold * (1 - HYSTERESIS)
    began: datetime | None = None
    for moment, value in reversed(series):
        if value < floor:
            break
        if value >= threshold:
            began = moment
    return began


def _assess(series: Series, threshold: float | None, base: float | None = None) -> Assessment:
    last = latest(series)
    if last is None:
        return Assessment(baseline=base, threshold=threshold)
    moment, value = last
    breached = threshold is not None and value >= threshold
    peak_at, peak = max(series, key=lambda point: point[1])
    return Assessment(
        value=value,
        at=moment,
        baseline=base,
        peak=peak,
        peak_at=peak_at,
        threshold=threshold,
        onset=onset(series, threshold) if breached and threshold is not None else None,
        first_breach=next((t for t, v in series if v >= threshold), None) if threshold is not None else None,
        breached=breached,
    )


def assess_error_rate(series: Series, baseline_until: datetime) -> Assessment:
    """Breached at 5% of requests failing and at least SPIKE_FACTOR times the baseline."""
    base = baseline(series, baseline_until)
    threshold = max(MIN_ERROR_RATE, SPIKE_FACTOR * base) if base is not None else MIN_ERROR_RATE
    return _assess(series, threshold, base)


def assess_latency(series: Series, baseline_until: datetime) -> Assessment:
    """Breached at twice the baseline p99 and LATENCY_MIN_INCREASE_S above it; no baseline, no verdict."""
    base = baseline(series, baseline_until)
    threshold = max(base * LATENCY_FACTOR, base + LATENCY_MIN_INCREASE_S) if base is not None else None
    return _assess(series, threshold, base)


def assess_utilization(series: Series, threshold: float = SATURATION) -> Assessment:
    """For ratios of a limit (pool in use / pool size, memory / memory limit)."""
    return _assess(series, threshold)


def assess_throttling(series: Series) -> Assessment:
    """For the share of CFS periods in which a container hit its CPU quota."""
    return _assess(series, THROTTLING)


def assess_restarts(counters: Sequence[Series]) -> Assessment:
    """Restart counters (one per container): `value` is their total increase, resets included,
    and the onset the first restart seen."""
    increase = 0.0
    first: datetime | None = None
    for counter in counters:
        for (_, before), (moment, after) in pairwise(counter):
            step = after - before if after >= before else after
            if step > 0:
                increase += step
                first = moment if first is None else min(first, moment)
    ends = [counter[-1][0] for counter in counters if counter]
    return Assessment(
        value=increase if ends else None,
        at=max(ends) if ends else None,
        threshold=MIN_RESTARTS,
        onset=first,
        breached=increase >= MIN_RESTARTS,
    )


def error_rate_finding(assessment: Assessment, subject: ObjectRef) -> Finding | None:
    value, base = assessment.value, assessment.baseline
    if value is None:
        return None
    if assessment.breached:
        since = f" since {fmt_time(assessment.onset)}" if assessment.onset else ""
        compared = f" (baseline {percent(base)})" if base is not None else ""
        return _finding(
            Severity.CRITICAL if value >= CRITICAL_ERROR_RATE else Severity.WARNING,
            "ErrorRateSpike",
            subject,
            f"{subject.name}: {percent(value)} of requests fail with 5xx{compared}{since}",
            _evidence("5xx ratio", assessment, percent),
            assessment,
        )
    if value >= HIGH_ERROR_RATE:
        return _finding(
            Severity.WARNING,
            "ErrorRateHigh",
            subject,
            f"{subject.name}: {percent(value)} of requests fail with 5xx, as high as before (baseline {percent(base)})",
            _evidence("5xx ratio", assessment, percent),
            assessment,
        )
    return None


def latency_finding(assessment: Assessment, subject: ObjectRef) -> Finding | None:
    value, base = assessment.value, assessment.baseline
    if not assessment.breached or value is None or base is None:
        return None
    critical = value >= base * CRITICAL_LATENCY_FACTOR and value >= 1.0
    since = f" since {fmt_time(assessment.onset)}" if assessment.onset else ""
    return _finding(
        Severity.CRITICAL if critical else Severity.WARNING,
        "LatencySpike",
        subject,
        f"{subject.name}: p99 latency {seconds(value)} (baseline {seconds(base)}){since}",
        _evidence("p99 latency", assessment, seconds),
        assessment,
    )


def pool_saturation_finding(
    assessment: Assessment, subject: ObjectRef, *, in_use: float | None = None, size: float | None = None
) -> Finding | None:
    """`in_use`/`size`: the connection counts behind the latest ratio, quoted when known."""
    if not assessment.breached or assessment.value is None:
        return None
    counts = f" ({in_use:g}/{size:g} connections)" if in_use is not None and size else ""
    since = f" since {fmt_time(assessment.onset)}" if assessment.onset else ""
    return _finding(
        Severity.CRITICAL if assessment.value >= CRITICAL_SATURATION else Severity.WARNING,
        "ConnectionPoolSaturated",
        subject,
        f"{subject.name}: DB connection pool at {percent(assessment.value, whole=True)}{counts}{since}",
        _evidence("pool in use / pool size", assessment, lambda v: percent(v, whole=True)),
        assessment,
    )


def memory_finding(assessment: Assessment, subject: ObjectRef, *, container: str | None = None) -> Finding | None:
    """Near the limit now, or earlier in the series: a leak's sawtooth is low again right after each OOM kill.

    `container`: which pod/container is closest to its limit now, quoted when known."""
    value, peak = assessment.value, assessment.peak
    if value is None or peak is None or assessment.threshold is None or peak < assessment.threshold:
        return None
    where = f" ({container})" if container else ""
    if assessment.breached:
        since = f" since {fmt_time(assessment.onset)}" if assessment.onset else ""
        summary = f"{subject.name}: memory at {percent(value, whole=True)} of its limit{where}{since}"
    else:
        when = f" at {fmt_time(assessment.peak_at)}" if assessment.peak_at else ""
        now = percent(value, whole=True)
        summary = f"{subject.name}: memory reached {percent(peak, whole=True)} of its limit{when} (now {now})"
    return Finding(
        source=SOURCE,
        severity=Severity.CRITICAL if peak >= CRITICAL_SATURATION else Severity.WARNING,
        reason="MemoryNearLimit",
        subject=subject,
        summary=summary,
        evidence=_evidence("working set / memory limit", assessment, lambda v: percent(v, whole=True)),
        since=assessment.onset or assessment.first_breach,
        details=assessment.model_dump(mode="json"),
    )


def throttling_finding(
    assessment: Assessment, subject: ObjectRef, *, cpu_limit: str | None = None, container: str | None = None
) -> Finding | None:
    """A container spending its periods at its CPU quota waits for the next one: latency without errors.

    `cpu_limit` ("500m") and `container` (the most throttled pod/container now) are quoted when known."""
    if not assessment.breached or assessment.value is None:
        return None
    limit = f" at its CPU limit of {cpu_limit}" if cpu_limit else " at its CPU limit"
    where = f" ({container})" if container else ""
    since = f" since {fmt_time(assessment.onset)}" if assessment.onset else ""
    return _finding(
        Severity.CRITICAL if assessment.value >= CRITICAL_THROTTLING else Severity.WARNING,
        "CPUThrottling",
        subject,
        f"{subject.name}: CPU throttled in {percent(assessment.value, whole=True)} of CFS periods{limit}{where}{since}",
        _evidence("throttled / total CFS periods", assessment, lambda v: percent(v, whole=True)),
        assessment,
    )


def restarts_finding(assessment: Assessment, subject: ObjectRef, *, window_minutes: int) -> Finding | None:
    if not assessment.breached or assessment.value is None:
        return None
    first = f" (first at {fmt_time(assessment.onset)})" if assessment.onset else ""
    return _finding(
        Severity.WARNING,
        "Restarts",
        subject,
        f"{subject.name}: {assessment.value:g} container restarts in the last {window_minutes} min{first}",
        f"restart counters rose by {assessment.value:g}; threshold {MIN_RESTARTS}",
        assessment,
    )


def _evidence(label: str, assessment: Assessment, show: Callable[[float | None], str]) -> str:
    parts = [f"{label} {show(assessment.value)}" + (f" at {fmt_time(assessment.at)}" if assessment.at else "")]
    if assessment.baseline is not None:
        times = f", {assessment.value / assessment.baseline:.0f}x" if assessment.value and assessment.baseline else ""
        parts.append(f"baseline {show(assessment.baseline)} (median of the window before){times}")
    if assessment.peak is not None:
        parts.append(
            f"peak {show(assessment.peak)}" + (f" at {fmt_time(assessment.peak_at)}" if assessment.peak_at else "")
        )
    if assessment.threshold is not None:
        crossed = f" since {fmt_time(assessment.onset)}" if assessment.onset else ""
        parts.append(f"threshold {show(assessment.threshold)}" + (f", crossed{crossed}" if assessment.breached else ""))
    return "; ".join(parts)


def _finding(
    severity: Severity, reason: str, subject: ObjectRef, summary: str, evidence: str, assessment: Assessment
) -> Finding:
    return Finding(
        source=SOURCE,
        severity=severity,
        reason=reason,
        subject=subject,
        summary=summary,
        evidence=evidence,
        since=assessment.onset,
        details=assessment.model_dump(mode="json"),
    )


def percent(value: float | None, *, whole: bool = False) -> str:
    """23% for large ratios, 0.5% for small ones; `whole` always rounds to an integer percent."""
    if value is None:
        return "n/a"
    if whole or value >= 0.1:
        return f"{round(value * 100)}%"
    return f"{value * 100:.1f}%" if value >= 0.001 else f"{value * 100:.2f}%"


def seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def millicores(cores: float) -> str:
    """A CPU quantity as Kubernetes writes it: 500m, 1, 1500m."""
    milli = round(cores * 1000)
    return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli}m"

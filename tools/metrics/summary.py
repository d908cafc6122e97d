"""A service's health from its metrics, whatever the service and whoever named the metrics' labels.

Nothing here knows a world or a service by name. The service's series are discovered by the
conventions most stacks follow: RED metrics from a mesh or a client library labelled with the
service (`http_requests_total` with a `code` or `status` label, the
`http_request_duration_seconds` histogram), pool gauges (`db_pool_connections_*`), and cAdvisor
and kube-state-metrics series labelled with the service's pods (`<service>-<hash>-<id>`). Each
signal found is queried over two windows (the one asked about and the one before, its
baseline) and judged by the pure rules of tools/analyzers/metrics.py.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.analyzers import metrics as rules
from tools.analyzers.metrics import Assessment, Series
from tools.findings import Finding, ObjectRef
from tools.metrics.client import PrometheusBackend
from tools.metrics.models import ServiceSummary, Signal
from tools.tool_errors import ToolFailure

REQUESTS = "http_requests_total"
DURATION_BUCKETS = "http_request_duration_seconds_bucket"
POOL_ACTIVE = "db_pool_connections_active"
POOL_MAX = "db_pool_connections_max"
MEMORY = "container_memory_working_set_bytes"
LIMITS = "kube_pod_container_resource_limits"
RESTARTS = "kube_pod_container_status_restarts_total"
THROTTLED = "container_cpu_cfs_throttled_periods_total"
PERIODS = "container_cpu_cfs_periods_total"
WANTED = (REQUESTS, DURATION_BUCKETS, POOL_ACTIVE, POOL_MAX, MEMORY, LIMITS, RESTARTS, THROTTLED, PERIODS)
CODE_LABELS = ("code", "status_code", "status", "response_code", "http_status")
RATE_WINDOW = "5m"
POINTS_PER_SUMMARY = 240
MIN_STEP_S = 15.0
# Findings that explain the others (a full pool, a throttled CPU make requests slow and fail): listed
# first among equally severe ones, so the answer leads with the cause rather than its symptoms.
_SATURATION = frozenset({"ConnectionPoolSaturated", "CPUThrottling", "MemoryNearLimit"})
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# Pods of a Deployment (<hash>-<id>), of a StatefulSet (<ordinal>), of a DaemonSet or Job (<id>).
_POD_SUFFIX = "([0-9]+|[a-z0-9]{5}|[a-z0-9]{5,10}-[a-z0-9]{5})"


@dataclass
class _Found:
    """Which label selector finds each wanted metric for the service, and how its status code is labelled."""

    selectors: dict[str, str] = field(default_factory=dict)
    code_label: str | None = None


@dataclass(frozen=True)
class _Request:
    service: str
    namespace: str | None
    at: datetime
    window: timedelta

    @property
    def start(self) -> datetime:
        return self.at - 2 * self.window

    @property
    def step_s(self) -> float:
        return max(MIN_STEP_S, (2 * self.window).total_seconds() / POINTS_PER_SUMMARY)

    @property
    def subject(self) -> ObjectRef:
        return ObjectRef(kind="Service", name=self.service, namespace=self.namespace)


async def service_summary(
    backend: PrometheusBackend, service: str, namespace: str | None, at: datetime, window_minutes: int
) -> ServiceSummary:
    for name in (service, namespace):
        if name is not None and not _NAME.match(name):
            raise ToolFailure(f'"{name}" is not a Kubernetes name (lowercase letters, digits, "-" and ".")')
    request = _Request(service, namespace, at, timedelta(minutes=window_minutes))
    found = await _discover(backend, request)
    checks = [
        _error_rate(backend, request, found),
        _latency(backend, request, found),
        _pool(backend, request, found),
        _memory(backend, request, found),
        _restarts(backend, request, found, window_minutes),
        _throttling(backend, request, found),
    ]
    results = await asyncio.gather(*checks)
    signals = [signal for signal, _ in results if signal is not None]
    findings = [finding for _, finding in results if finding is not None]
    return ServiceSummary(
        service=service,
        namespace=namespace,
        at=at,
        window_minutes=window_minutes,
        signals=signals,
        findings=sorted(findings, key=lambda finding: (finding.severity.rank, finding.reason not in _SATURATION)),
        metrics=sorted(found.selectors),
        notes=_notes(found, service),
    )


async def _discover(backend: PrometheusBackend, request: _Request) -> _Found:
    names = "|".join(WANTED)
    scope = f',namespace="{request.namespace}"' if request.namespace else ""
    by_service = f'service="{request.service}"{scope}'
    by_pod = f'pod=~"{request.service}-{_POD_SUFFIX}"{scope}'
    matchers = [f'{{__name__=~"{names}",{by_service}}}', f'{{__name__=~"{names}",{by_pod}}}']
    found = _Found()
    for labels in await backend.series(matchers, request.start, request.at):
        name = labels.get("__name__", "")
        if labels.get("service") == request.service:
            found.selectors[name] = by_service
        else:
            found.selectors.setdefault(name, by_pod)
        if name == REQUESTS and found.code_label is None:
            found.code_label = next((label for label in CODE_LABELS if label in labels), None)
    return found


def _notes(found: _Found, service: str) -> list[str]:
    notes = []
    if REQUESTS not in found.selectors:
        notes.append(f"no {REQUESTS} series labelled with service {service} or its pods: error rate not assessed")
    elif found.code_label is None:
        notes.append(f"{REQUESTS} has none of the labels {', '.join(CODE_LABELS)}: error rate not assessed")
    if DURATION_BUCKETS not in found.selectors:
        notes.append(f"no {DURATION_BUCKETS} series: latency not assessed")
    if MEMORY in found.selectors and LIMITS not in found.selectors:
        notes.append(f"no {LIMITS} series: memory has no limit to compare with")
    return notes


_Checked = tuple[Signal | None, Finding | None]


async def _error_rate(backend: PrometheusBackend, request: _Request, found: _Found) -> _Checked:
    selector = found.selectors.get(REQUESTS)
    if selector is None or found.code_label is None:
        return None, None
    errors = f'sum(rate({REQUESTS}{{{selector},{found.code_label}=~"5.."}}[{RATE_WINDOW}]))'
    promql = f"({errors} or vector(0)) / sum(rate({REQUESTS}{{{selector}}}[{RATE_WINDOW}]))"
    series = await _single_series(backend, promql, request)
    assessment = rules.assess_error_rate(series, baseline_until=request.at - request.window)
    signal = _signal("error_rate", "ratio", rules.percent(assessment.value), promql, assessment)
    return signal, rules.error_rate_finding(assessment, request.subject)


async def _latency(backend: PrometheusBackend, request: _Request, found: _Found) -> _Checked:
    selector = found.selectors.get(DURATION_BUCKETS)
    if selector is None:
        return None, None
    promql = f"histogram_quantile(0.99, sum by (le) (rate({DURATION_BUCKETS}{{{selector}}}[{RATE_WINDOW}])))"
    series = await _single_series(backend, promql, request)
    assessment = rules.assess_latency(series, baseline_until=request.at - request.window)
    signal = _signal("latency_p99", "seconds", rules.seconds(assessment.value), promql, assessment)
    return signal, rules.latency_finding(assessment, request.subject)


async def _pool(backend: PrometheusBackend, request: _Request, found: _Found) -> _Checked:
    active_selector, max_selector = found.selectors.get(POOL_ACTIVE), found.selectors.get(POOL_MAX)
    if active_selector is None or max_selector is None:
        return None, None
    in_use_query, size_query = f"sum({POOL_ACTIVE}{{{active_selector}}})", f"sum({POOL_MAX}{{{max_selector}}})"
    in_use, size = await asyncio.gather(
        _single_series(backend, in_use_query, request), _single_series(backend, size_query, request)
    )
    sizes = dict(size)
    ratio = [(moment, used / sizes[moment]) for moment, used in in_use if sizes.get(moment)]
    assessment = rules.assess_utilization(ratio)
    latest_used, latest_size = (in_use[-1][1] if in_use else None), (size[-1][1] if size else None)
    promql = f"{in_use_query} / {size_query}"
    signal = _signal("db_pool_utilization", "ratio", rules.percent(assessment.value, whole=True), promql, assessment)
    finding = rules.pool_saturation_finding(assessment, request.subject, in_use=latest_used, size=latest_size)
    return signal, finding


async def _memory(backend: PrometheusBackend, request: _Request, found: _Found) -> _Checked:
    usage_selector, limit_selector = found.selectors.get(MEMORY), found.selectors.get(LIMITS)
    if usage_selector is None or limit_selector is None:
        return None, None
    keys = "namespace, pod, container"
    per_container = (
        f'max by ({keys}) ({MEMORY}{{{usage_selector},container!="",container!="POD"}}) / on ({keys}) '
        f'max by ({keys}) ({LIMITS}{{{limit_selector},resource="memory"}})'
    )
    promql = f"max({per_container})"
    series, worst = await asyncio.gather(
        _single_series(backend, promql, request), backend.instant(f"topk(1, {per_container})", request.at)
    )
    assessment = rules.assess_utilization(series)
    container = _pod_container(worst)
    signal = _signal("memory_utilization", "ratio", rules.percent(assessment.value, whole=True), promql, assessment)
    return signal, rules.memory_finding(assessment, request.subject, container=container)


async def _throttling(backend: PrometheusBackend, request: _Request, found: _Found) -> _Checked:
    throttled_selector, periods_selector = found.selectors.get(THROTTLED), found.selectors.get(PERIODS)
    if throttled_selector is None or periods_selector is None:
        return None, None
    keys = "namespace, pod, container"
    containers = 'container!="",container!="POD"'
    per_container = (
        f"sum by ({keys}) (rate({THROTTLED}{{{throttled_selector},{containers}}}[{RATE_WINDOW}])) / on ({keys}) "
        f"sum by ({keys}) (rate({PERIODS}{{{periods_selector},{containers}}}[{RATE_WINDOW}]))"
    )
    promql = f"max({per_container})"
    limit_selector = found.selectors.get(LIMITS)
    limit_query = f'max({LIMITS}{{{limit_selector},resource="cpu"}})' if limit_selector else None
    series, worst, limit = await asyncio.gather(
        _single_series(backend, promql, request),
        backend.instant(f"topk(1, {per_container})", request.at),
        backend.instant(limit_query, request.at) if limit_query else _nothing(),
    )
    assessment = rules.assess_throttling(series)
    container = _pod_container(worst)
    cores = _first_value(limit)
    signal = _signal("cpu_throttling", "ratio", rules.percent(assessment.value, whole=True), promql, assessment)
    cpu_limit = rules.millicores(cores) if cores else None
    return signal, rules.throttling_finding(assessment, request.subject, cpu_limit=cpu_limit, container=container)


async def _nothing() -> list[Any]:
    return []


def _pod_container(result: list[Any]) -> str | None:
    """ "pod/container" of the first sample of an instant query, when it carries both labels."""
    labels: dict[str, str] = result[0].get("metric", {}) if result and isinstance(result[0], dict) else {}
    return f"{labels['pod']}/{labels['container']}" if "pod" in labels and "container" in labels else None


def _first_value(result: list[Any]) -> float | None:
    """The value of the first sample of an instant query; None when there is none or it is not finite."""
    if not result or not isinstance(result[0], dict):
        return None
    value = float(result[0].get("value", [0, "nan"])[1])
    return value if math.isfinite(value) else None


async def _restarts(backend: PrometheusBackend, request: _Request, found: _Found, window_minutes: int) -> _Checked:
    selector = found.selectors.get(RESTARTS)
    if selector is None:
        return None, None
    promql = f"{RESTARTS}{{{selector}}}"
    window_start = request.at - request.window
    counters = [
        [(moment, value) for moment, value in _points(series) if moment >= window_start]
        for series in await backend.range(promql, request.start, request.at, request.step_s)
    ]
    assessment = rules.assess_restarts(counters)
    signal = _signal(
        "restarts", "count", f"{assessment.value or 0:g}", f"sum(increase({promql}[{window_minutes}m]))", assessment
    )
    return signal, rules.restarts_finding(assessment, request.subject, window_minutes=window_minutes)


async def _single_series(backend: PrometheusBackend, promql: str, request: _Request) -> Series:
    """The one series an aggregated query returns, finite points only (a quantile of no traffic is NaN)."""
    found = await backend.range(promql, request.start, request.at, request.step_s)
    return _points(found[0]) if found else []


def _points(series: dict[str, Any]) -> list[tuple[datetime, float]]:
    points = []
    for moment, raw in series.get("values") or []:
        value = float(raw)
        if math.isfinite(value):
            points.append((datetime.fromtimestamp(float(moment), tz=UTC), value))
    return points


def _signal(name: str, unit: str, display: str, promql: str, assessment: Assessment) -> Signal:
    return Signal(name=name, unit=unit, display=display, promql=promql, **assessment.model_dump())

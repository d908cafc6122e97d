"""The metrics specialist: error rate, latency and saturation of the services in question.

Without a named service it summarises every catalogued service in the namespaces in scope, so
"why are checkouts timing out?" still finds the one whose pool is full.
"""

from __future__ import annotations

import asyncio

from agents.answer import MetricSeries
from agents.intents import Intent
from agents.specialists.base import Investigation, Report
from tools.findings import Finding, ObjectRef, Severity
from tools.metrics.models import Alert, AlertList, RangeResult, ServiceSummary, Signal

SERVER = "metrics"
MAX_CHARTS = 2
MAX_ALERTS = 5
_ALERT_SEVERITY = {
    "critical": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "info": Severity.INFO,
}
CHART_WINDOW = "-90m"
# How a signal's unit reads on a chart axis, and the factor from the query's unit to that one.
# Saturation explains an incident better than its consequences (errors, latency), so it is drawn first.
_CHART_ORDER = {"db_pool_utilization": 0, "memory_utilization": 1, "error_rate": 2, "latency_p99": 3, "restarts": 4}
_AXIS = {"ratio": ("%", 100.0), "seconds": ("seconds", 1.0), "count": ("", 1.0)}


async def metrics_specialist(inv: Investigation) -> Report:
    services = inv.focus() or [
        service for service in inv.catalog.services if not inv.namespaces or service.namespace in inv.namespaces
    ]
    summaries, alerts = await asyncio.gather(
        asyncio.gather(
            *(
                inv.toolbox.call(
                    SERVER, "service_summary", {"service": s.name, "namespace": s.namespace}, ServiceSummary
                )
                for s in services
            )
        ),
        inv.toolbox.call(SERVER, "get_alerts", {}, AlertList),
    )
    report = Report(specialist=SERVER)
    for summary in summaries:
        report.findings.extend(summary.findings)
    if inv.plan.wants(Intent.DIAGNOSE, Intent.RESOURCES):
        report.series.extend(await _charts(inv, summaries))
    names = {service.name for service in services}
    firing = [
        alert
        for alert in alerts.alerts
        if alert.state == "firing" and (not inv.focus() or alert.labels.get("service") in names)
    ]
    report.findings.extend(_alert_finding(alert) for alert in firing[:MAX_ALERTS])
    return report


def _alert_finding(alert: Alert) -> Finding:
    """A firing alert is a symptom like any other: an answer must not call a scope healthy while one fires."""
    since = f" since {alert.active_at:%H:%M} UTC" if alert.active_at else ""
    summary = alert.annotations.get("summary")
    service = alert.labels.get("service")
    namespace = alert.labels.get("namespace")
    return Finding(
        source="alerts",
        severity=_ALERT_SEVERITY.get((alert.severity or alert.labels.get("severity") or "").lower(), Severity.WARNING),
        reason=alert.name,
        subject=ObjectRef(kind="Service", name=service, namespace=namespace) if service else None,
        summary=f"alert {alert.name} firing{since}" + (f": {summary}" if summary else ""),
        evidence=alert.annotations.get("description", ""),
        since=alert.active_at,
        details={"labels": alert.labels, "value": alert.value},
    )


async def _charts(inv: Investigation, summaries: list[ServiceSummary]) -> list[MetricSeries]:
    """The breached signals of the services with findings, over the last 90 minutes, worst first."""
    breached = [
        (summary, signal) for summary in summaries if summary.findings for signal in summary.signals if signal.breached
    ]
    wanted = sorted(breached, key=lambda pair: _CHART_ORDER.get(pair[1].name, len(_CHART_ORDER)))[:MAX_CHARTS]

    async def one(summary: ServiceSummary, signal: Signal) -> MetricSeries | None:
        result = await inv.toolbox.call(
            SERVER, "query_range", {"promql": signal.promql, "start": CHART_WINDOW}, RangeResult
        )
        if not result.series:
            return None
        unit, factor = _AXIS.get(signal.unit, (signal.unit, 1.0))
        points = [(p.timestamp, p.value * factor) for p in result.series[0].points if p.value is not None]
        title = f"{summary.service} {signal.name.replace('_', ' ')}"
        return MetricSeries(title=title, unit=unit, points=points) if len(points) >= 2 else None

    charts = await asyncio.gather(*(one(summary, signal) for summary, signal in wanted))
    return [chart for chart in charts if chart is not None]

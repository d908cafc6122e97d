"""The metrics specialist: error rate, latency and saturation of the services in question.

Without a named service it summarises every catalogued service in the namespaces in scope, so
"why are checkouts timing out?" still finds the one whose pool is full.
"""

from __future__ import annotations

import asyncio

from agents.specialists.base import Investigation, Report
from tools.metrics.models import AlertList, ServiceSummary

SERVER = "metrics"


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
    names = {service.name for service in services}
    firing = [
        alert
        for alert in alerts.alerts
        if alert.state == "firing" and (not inv.focus() or alert.labels.get("service") in names)
    ]
    report.facts.extend(
        f"alert {alert.name} firing since {alert.active_at:%H:%M} UTC"
        + (f": {alert.annotations['summary']}" if "summary" in alert.annotations else "")
        if alert.active_at
        else f"alert {alert.name} firing"
        for alert in firing[:5]
    )
    return report

"""alerts-digest: the Prometheus alerts firing now, one finding per alert instance.

An instance is the alert's name and labels (severity aside, so a warning that turns critical is
the same alert getting worse); what changed since the last digest is `dedupe`'s job. Pending
alerts are left out: they have not yet decided to fire.
"""

from __future__ import annotations

from agents.toolbox import Toolbox
from scheduled_checks.models import CheckResult
from tools.findings import Finding, ObjectRef, Severity
from tools.metrics.models import Alert, AlertList

SERVER = "metrics"
_SEVERITIES = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
}
# Labels naming the workload an alert is about, most specific owner first.
_WORKLOAD_LABELS = (("deployment", "Deployment"), ("statefulset", "StatefulSet"), ("daemonset", "DaemonSet"))
_NOT_IDENTITY = frozenset({"alertname", "severity"})


async def run(toolbox: Toolbox) -> CheckResult:
    alerts = await toolbox.call(SERVER, "get_alerts", {}, AlertList)
    firing = [alert for alert in alerts.alerts if alert.state == "firing"]
    return CheckResult(
        findings=[alert_finding(alert) for alert in firing],
        checked=f"{len(firing)} alert{'s' if len(firing) != 1 else ''} firing",
    )


def alert_finding(alert: Alert) -> Finding:
    labels = alert.labels
    namespace = labels.get("namespace")
    owner = _workload(labels, namespace)
    about = labels.get("service") or (owner.name if owner else None) or labels.get("pod") or namespace
    headline = alert.annotations.get("summary")
    summary = f"{alert.name} firing" + (f" for {about}" if about else "") + (f": {headline}" if headline else "")
    evidence = [
        *([f"firing since {alert.active_at:%Y-%m-%d %H:%M} UTC"] if alert.active_at else []),
        *([f"value: {_readable(alert.value)}"] if alert.value else []),
        *([alert.annotations["description"]] if "description" in alert.annotations else []),
        "labels: " + ", ".join(f"{name}={value}" for name, value in sorted(labels.items())),
    ]
    details: dict[str, object] = {"labels": labels}
    for field in ("service", "team"):
        if field in labels:
            details[field] = labels[field]
    if owner is not None:
        details["owner"] = owner.model_dump()
    return Finding(
        source=SERVER,
        severity=_SEVERITIES.get((alert.severity or "").lower(), Severity.INFO),
        summary=summary,
        evidence="\n".join(evidence),
        reason=alert.name,
        subject=ObjectRef(kind="Alert", name=alert.name, namespace=namespace),
        since=alert.active_at,
        details=details,
    )


def _workload(labels: dict[str, str], namespace: str | None) -> ObjectRef | None:
    for label, kind in _WORKLOAD_LABELS:
        if label in labels:
            return ObjectRef(kind=kind, name=labels[label], namespace=namespace)
    if "pod" in labels:
        return ObjectRef(kind="Pod", name=labels["pod"], namespace=namespace)
    return None


def key(finding: Finding) -> str:
    labels = finding.details.get("labels")
    identity = sorted((labels or {}).items()) if isinstance(labels, dict) else []
    return f"{finding.reason}:" + ",".join(f"{name}={value}" for name, value in identity if name not in _NOT_IDENTITY)


def question(finding: Finding, service: str | None) -> str:
    return f"Why is the {finding.reason} alert firing" + (f" for {service}?" if service else "?")


def _readable(value: str) -> str:
    """Prometheus sends alert values as Go floats ("2.2480620155038758e-01"); people read 0.225."""
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.4g}"

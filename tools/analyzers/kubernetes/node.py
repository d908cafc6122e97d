"""Node analyzer: NotReady nodes, resource pressure, cordoned nodes."""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    finding,
    flag,
    fmt_time,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, Severity

PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")


def analyze_node(node: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    ref = ref_of(node)
    found: list[Finding] = []
    ready = condition(node, "Ready")
    if ready is not None and ready.get("status") != "True":
        since = time_at(ready, "lastTransitionTime")
        status = "Unknown (the kubelet stopped reporting)" if ready.get("status") == "Unknown" else "False"
        found.append(
            finding(
                Severity.CRITICAL,
                "NodeNotReady",
                ref,
                f"Node {ref.name} is NotReady (Ready={status})" + (f" since {fmt_time(since)}" if since else ""),
                [describe_condition(ready)],
                since=since,
                details={"ready_status": ready.get("status"), "condition_reason": text(ready, "reason")},
            )
        )
    for pressure in PRESSURES:
        cond = condition(node, pressure)
        if cond is not None and cond.get("status") == "True":
            found.append(
                finding(
                    Severity.WARNING,
                    pressure,
                    ref,
                    f"Node {ref.name} reports {pressure}: {text(cond, 'message') or text(cond, 'reason')}",
                    [describe_condition(cond)],
                    since=time_at(cond, "lastTransitionTime"),
                    details={"condition_reason": text(cond, "reason")},
                )
            )
    if flag(node, "spec", "unschedulable"):
        found.append(
            finding(
                Severity.INFO,
                "NodeCordoned",
                ref,
                f"Node {ref.name} is cordoned: no new pods are scheduled on it",
                ["spec.unschedulable=true"],
            )
        )
    return found

"""Node analyzer: NotReady nodes, resource pressure, cordoned nodes.

A NotReady node is reported with the pods bound to it, split into those already being evicted
(the taint manager set a deletionTimestamp once their NoExecute toleration ran out) and those
still waiting: those pods are what the person asking actually noticed. Evicted pods stay
Terminating until the node confirms, so the pod analyzer skips them; only this finding names them.
"""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    finding,
    flag,
    fmt_time,
    items,
    name_of,
    namespace_of,
    path,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, Severity

PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
MAX_PODS_NAMED = 6


def analyze_node(node: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    ref = ref_of(node)
    found: list[Finding] = []
    ready = condition(node, "Ready")
    if ready is not None and ready.get("status") != "True":
        found.append(_not_ready(node, ready, snapshot))
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


def _not_ready(node: JsonObj, ready: JsonObj, snapshot: ClusterSnapshot) -> Finding:
    ref = ref_of(node)
    since = time_at(ready, "lastTransitionTime")
    status = "Unknown (the kubelet stopped reporting)" if ready.get("status") == "Unknown" else "False"
    on_node = [pod for pod in snapshot.pods if text(pod, "spec", "nodeName") == ref.name]
    evicted = sorted(_pod_name(pod) for pod in on_node if _being_evicted(pod))
    stranded = sorted(_pod_name(pod) for pod in on_node if not _being_evicted(pod))
    taints = [
        f"{text(taint, 'key')}:{text(taint, 'effect')}"
        for taint in items(node, "spec", "taints")
        if str(text(taint, "key")).startswith("node.kubernetes.io/")
    ]
    summary = f"Node {ref.name} is NotReady (Ready={status})" + (f" since {fmt_time(since)}" if since else "")
    if evicted:
        summary += f"; {len(evicted)} pods on it were evicted: {_names(evicted)}"
    elif stranded:
        summary += f"; {len(stranded)} pods still run on it: {_names(stranded)}"
    return finding(
        Severity.CRITICAL,
        "NodeNotReady",
        ref,
        summary,
        [
            describe_condition(ready),
            f"taints {', '.join(taints)}" if taints else "",
            f"evicted (Terminating): {_names(evicted)}" if evicted else "",
            f"still bound to the node: {_names(stranded)}" if stranded and evicted else "",
        ],
        since=since,
        details={
            "ready_status": ready.get("status"),
            "condition_reason": text(ready, "reason"),
            "evicted_pods": evicted,
            "pods_on_node": stranded,
            "owners": sorted({str(owner) for pod in on_node if (owner := snapshot.owner_of(pod))}),
        },
    )


def _being_evicted(pod: JsonObj) -> bool:
    """Deleted (by the taint manager or a drain) but not gone, or evicted by the kubelet."""
    disrupted = condition(pod, "DisruptionTarget")
    return (
        bool(path(pod, "metadata", "deletionTimestamp"))
        or (disrupted is not None and disrupted.get("status") == "True")
        or text(pod, "status", "reason") == "Evicted"
    )


def _pod_name(pod: JsonObj) -> str:
    namespace = namespace_of(pod)
    return f"{namespace}/{name_of(pod)}" if namespace else name_of(pod)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_PODS_NAMED])
    return shown + (f" and {len(names) - MAX_PODS_NAMED} more" if len(names) > MAX_PODS_NAMED else "")

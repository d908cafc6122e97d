"""The shared check of replicated workloads (Deployment, StatefulSet): fewer ready pods than wanted.

The summary says what state the missing replicas are in ("2 CreateContainerConfigError"), because
"0 of 2 ready" is what someone asking "why is it down?" already knows.
"""

from __future__ import annotations

from collections import Counter

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    earliest,
    finding,
    integer,
    items,
    labels_of,
    mapping,
    name_of,
    ref_of,
    text,
    time_at,
    unready_since,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, Severity

_STATUS_FIELDS = ("replicas", "readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas")


def replica_shortfall(workload: JsonObj, snapshot: ClusterSnapshot, *, reason: str) -> Finding | None:
    """Critical when no replica is ready (the workload is down), a warning while some still serve."""
    desired = integer(workload, "spec", "replicas", default=1)
    ready = integer(workload, "status", "readyReplicas")
    if desired == 0 or ready >= desired:
        return None
    ref = ref_of(workload)
    available = condition(workload, "Available")
    unready = [pod for pod in _selected_pods(workload, snapshot) if unready_since(pod) is not None]
    available_lost = (
        time_at(available, "lastTransitionTime") if available and available.get("status") == "False" else None
    )
    status_fields = " ".join(f"{key}={integer(workload, 'status', key)}" for key in _STATUS_FIELDS)
    states = Counter(_state_of(pod) for pod in unready)
    unready_states = ", ".join(f"{count} {state}" for state, count in sorted(states.items(), key=lambda i: -i[1]))
    return finding(
        Severity.CRITICAL if ready == 0 else Severity.WARNING,
        reason,
        ref,
        f"{ref.kind} {ref.namespace}/{ref.name} has {ready} of {desired} replicas ready"
        + (f" (not ready: {unready_states})" if unready_states else ""),
        [f"spec.replicas={desired}; status: {status_fields}", describe_condition(available)],
        since=available_lost or earliest(*(unready_since(pod) for pod in unready)),
        details={
            "desired": desired,
            "ready": ready,
            "available": integer(workload, "status", "availableReplicas"),
            "unready_pods": sorted(name_of(pod) for pod in unready),
            "unready_states": dict(states),
            "owner": ref.model_dump(),
        },
    )


def _selected_pods(workload: JsonObj, snapshot: ClusterSnapshot) -> list[JsonObj]:
    ref = ref_of(workload)
    selector = mapping(workload, "spec", "selector") or {"matchLabels": labels_of(workload)}
    return list(snapshot.pods_matching(ref.namespace, selector))


def _state_of(pod: JsonObj) -> str:
    """What `kubectl get pods` shows in STATUS for an unready pod: a container's waiting reason, else the phase."""
    for field in ("initContainerStatuses", "containerStatuses"):
        for status in items(pod, "status", field):
            if status.get("ready") is not True and (reason := text(status, "state", "waiting", "reason")):
                return reason
    scheduled = condition(pod, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        return f"Pending ({text(scheduled, 'reason') or 'not scheduled'})"
    return text(pod, "status", "phase") or "Unknown"

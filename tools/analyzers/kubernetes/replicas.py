"""The shared check of replicated workloads (Deployment, StatefulSet): fewer ready pods than wanted."""

from __future__ import annotations

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    earliest,
    finding,
    integer,
    labels_of,
    mapping,
    name_of,
    ref_of,
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
    return finding(
        Severity.CRITICAL if ready == 0 else Severity.WARNING,
        reason,
        ref,
        f"{ref.kind} {ref.namespace}/{ref.name} has {ready} of {desired} replicas ready",
        [f"spec.replicas={desired}; status: {status_fields}", describe_condition(available)],
        since=available_lost or earliest(*(unready_since(pod) for pod in unready)),
        details={
            "desired": desired,
            "ready": ready,
            "available": integer(workload, "status", "availableReplicas"),
            "unready_pods": sorted(name_of(pod) for pod in unready),
            "owner": ref.model_dump(),
        },
    )


def _selected_pods(workload: JsonObj, snapshot: ClusterSnapshot) -> list[JsonObj]:
    ref = ref_of(workload)
    selector = mapping(workload, "spec", "selector") or {"matchLabels": labels_of(workload)}
    return list(snapshot.pods_matching(ref.namespace, selector))

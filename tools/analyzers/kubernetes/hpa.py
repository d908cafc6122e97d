"""HorizontalPodAutoscaler analyzer: scaling something that does not exist, or stuck at its ceiling."""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    finding,
    integer,
    items,
    mapping,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity


def analyze_hpa(hpa: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    ref = ref_of(hpa)
    target_ref = mapping(hpa, "spec", "scaleTargetRef")
    target = ObjectRef(
        kind=text(target_ref, "kind") or "", name=text(target_ref, "name") or "", namespace=ref.namespace
    )
    missing = _missing_target(hpa, ref, target, snapshot)
    if missing is not None:
        return [missing]
    at_max = _at_max(hpa, ref, target)
    return [at_max] if at_max is not None else []


def _missing_target(hpa: JsonObj, ref: ObjectRef, target: ObjectRef, snapshot: ClusterSnapshot) -> Finding | None:
    able = condition(hpa, "AbleToScale")
    cannot_get_scale = able is not None and able.get("status") == "False" and able.get("reason") == "FailedGetScale"
    absent = snapshot.listed(target.kind) and snapshot.get(target.kind, target.namespace, target.name) is None
    if not (absent or cannot_get_scale):
        return None
    return finding(
        Severity.WARNING,
        "HPAMissingTarget",
        ref,
        f"HorizontalPodAutoscaler {ref.namespace}/{ref.name} scales {target.kind} {target.name}, which does not exist",
        [
            f"spec.scaleTargetRef: kind={target.kind} name={target.name}",
            describe_condition(able) if cannot_get_scale else "",
        ],
        since=time_at(able, "lastTransitionTime") if cannot_get_scale else None,
        details={"target": target.model_dump()},
    )


def _at_max(hpa: JsonObj, ref: ObjectRef, target: ObjectRef) -> Finding | None:
    """Pinned at maxReplicas and still wanting more: the load exceeds what the autoscaler may give."""
    maximum = integer(hpa, "spec", "maxReplicas")
    current = integer(hpa, "status", "currentReplicas")
    desired = integer(hpa, "status", "desiredReplicas")
    limited = condition(hpa, "ScalingLimited")
    if maximum == 0 or current < maximum or desired < maximum:
        return None
    pinned_since = time_at(limited, "lastTransitionTime") if limited and limited.get("status") == "True" else None
    pressure = _over_target(hpa)
    return finding(
        Severity.WARNING,
        "HPAAtMax",
        ref,
        f"HorizontalPodAutoscaler {ref.namespace}/{ref.name} is pinned at its maximum of {maximum} replicas "
        f"for {target.kind} {target.name}" + (f" ({'; '.join(pressure)})" if pressure else ""),
        [
            f"spec.maxReplicas={maximum} status.currentReplicas={current} status.desiredReplicas={desired}",
            describe_condition(limited) if pinned_since else "",
        ],
        since=pinned_since,
        details={
            "max_replicas": maximum,
            "current_replicas": current,
            "desired_replicas": desired,
            "min_replicas": integer(hpa, "spec", "minReplicas", default=1),
            "owner": target.model_dump(),
        },
    )


def _over_target(hpa: JsonObj) -> list[str]:
    """The resource metrics above their target ("cpu at 187% of request, target 70%"): how far the
    load is beyond what the ceiling allows, which is what sizing the fix needs."""
    targets = {
        text(metric, "resource", "name"): integer(metric, "resource", "target", "averageUtilization")
        for metric in items(hpa, "spec", "metrics")
        if text(metric, "type") == "Resource"
    }
    over = []
    for metric in items(hpa, "status", "currentMetrics"):
        name = text(metric, "resource", "name")
        current = integer(metric, "resource", "current", "averageUtilization")
        target = targets.get(name, 0)
        if text(metric, "type") == "Resource" and name and target and current > target:
            over.append(f"{name} at {current}% of request, target {target}%")
    return over

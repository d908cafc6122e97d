"""Service analyzer: a Service that routes nowhere, because no pod matches or none is ready.

When the selector matches nothing, the likeliest story is a relabelling (`app: x` became
`app.kubernetes.io/name: x`), so pods that carry the selector's *value* under another key are
quoted first. The Endpoints' `last-change-trigger-time` says when the routing last changed,
which is when traffic stopped: that is what lets the answer line the symptom up with a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    finding,
    fmt_time,
    labels_of,
    latest,
    namespace_of,
    ref_of,
    require_aware,
    string_map,
    text,
    time_at,
    unready_since,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity

_NEAR_MISSES = 5
_LAST_CHANGE = "endpoints.kubernetes.io/last-change-trigger-time"


def analyze_service(service: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    """Services without a selector (endpoints managed by hand) and ExternalName ones are not checked."""
    require_aware(now)
    selector = string_map(service, "spec", "selector")
    if not selector or text(service, "spec", "type") == "ExternalName":
        return []
    ref = ref_of(service)
    if snapshot.listed("Pod"):
        pods = snapshot.pods_matching(ref.namespace, {"matchLabels": selector})
        if not pods:
            return [_selects_nothing(ref, selector, snapshot, since=_routing_changed(snapshot, ref))]
    else:
        pods = []
    endpoints = snapshot.service_endpoints(ref.namespace, ref.name)
    if endpoints is None or endpoints.ready:
        return []
    owners = {owner for pod in pods if (owner := snapshot.owner_of(pod)) is not None}
    details: dict[str, Any] = {
        "selector": selector,
        "ready_endpoints": 0,
        "not_ready_endpoints": len(endpoints.not_ready),
        "not_ready_pods": sorted(endpoints.not_ready),
    }
    if len(owners) == 1:
        details["owner"] = next(iter(owners)).model_dump()
    waiting = (
        f" ({len(endpoints.not_ready)} not ready: {', '.join(sorted(endpoints.not_ready))})"
        if endpoints.not_ready
        else ""
    )
    return [
        finding(
            Severity.CRITICAL,
            "NoEndpoints",
            ref,
            f"Service {ref.namespace}/{ref.name} has no ready endpoints{waiting}",
            [
                f"selector {_selector_text(selector)} matches {len(pods)} pods"
                if pods
                else f"selector {_selector_text(selector)}",
                f"endpoints: 0 ready addresses, {len(endpoints.not_ready)} notReadyAddresses",
            ],
            since=latest(*(unready_since(pod) for pod in pods)) or _routing_changed(snapshot, ref),
            details=details,
        )
    ]


def _selects_nothing(
    ref: ObjectRef, selector: dict[str, str], snapshot: ClusterSnapshot, *, since: datetime | None
) -> Finding:
    """Quote what the namespace's pods carry instead: the selector's values under other keys, then its keys."""
    in_namespace = [pod for pod in snapshot.pods if namespace_of(pod) == ref.namespace]
    relabelled = _relabelled(selector, in_namespace)
    near = sorted(
        {f"{key}={labels_of(pod)[key]}" for pod in in_namespace for key in selector if key in labels_of(pod)}
    )[:_NEAR_MISSES]
    owners = sorted(
        {str(owner) for pod in in_namespace if _carries(pod, relabelled) and (owner := snapshot.owner_of(pod))}
    )
    return finding(
        Severity.CRITICAL,
        "SelectorMatchesNoPods",
        ref,
        f"Service {ref.namespace}/{ref.name} selects no pods ({_selector_text(selector)}), so it has no endpoints"
        + (f"; the pods are labelled {', '.join(relabelled)}" if relabelled else ""),
        [
            f"selector {_selector_text(selector)} matches none of the {len(in_namespace)} pods in {ref.namespace}",
            f"pods of {', '.join(owners)} carry {', '.join(relabelled)} instead" if relabelled else "",
            f"pods there carry {', '.join(near)}" if near else "",
            f"endpoints last changed at {fmt_time(since)}" if since else "",
        ],
        since=since,
        details={
            "selector": selector,
            "pods_in_namespace": len(in_namespace),
            "near_misses": near,
            "relabelled": relabelled,
        },
    )


def _relabelled(selector: dict[str, str], pods: Sequence[JsonObj]) -> list[str]:
    """`key=value` labels of the pods whose value is one the selector wants, under a key it does not use."""
    return sorted(
        {
            f"{key}={value}"
            for pod in pods
            for key, value in labels_of(pod).items()
            if key not in selector and value in selector.values()
        }
    )[:_NEAR_MISSES]


def _carries(pod: JsonObj, labels: list[str]) -> bool:
    return any(f"{key}={value}" in labels for key, value in labels_of(pod).items())


def _routing_changed(snapshot: ClusterSnapshot, ref: ObjectRef) -> datetime | None:
    endpoints = snapshot.get("Endpoints", ref.namespace, ref.name)
    return time_at(endpoints, "metadata", "annotations", _LAST_CHANGE) if endpoints is not None else None


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))

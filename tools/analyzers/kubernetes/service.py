"""Service analyzer: a Service that routes nowhere, because no pod matches or none is ready."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    finding,
    labels_of,
    latest,
    namespace_of,
    ref_of,
    require_aware,
    string_map,
    text,
    unready_since,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity

_NEAR_MISSES = 5


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
            return [_selects_nothing(ref, selector, snapshot)]
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
            since=latest(*(unready_since(pod) for pod in pods)),
            details=details,
        )
    ]


def _selects_nothing(ref: ObjectRef, selector: dict[str, str], snapshot: ClusterSnapshot) -> Finding:
    """Quote the values the selector's keys do have in the namespace: a typo shows at a glance."""
    in_namespace = [pod for pod in snapshot.pods if namespace_of(pod) == ref.namespace]
    near = sorted(
        {f"{key}={labels_of(pod)[key]}" for pod in in_namespace for key in selector if key in labels_of(pod)}
    )[:_NEAR_MISSES]
    return finding(
        Severity.CRITICAL,
        "SelectorMatchesNoPods",
        ref,
        f"Service {ref.namespace}/{ref.name} selects no pods ({_selector_text(selector)})",
        [
            f"selector {_selector_text(selector)} matches none of the {len(in_namespace)} pods in {ref.namespace}",
            f"pods there carry {', '.join(near)}" if near else "",
        ],
        details={"selector": selector, "pods_in_namespace": len(in_namespace), "near_misses": near},
    )


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))

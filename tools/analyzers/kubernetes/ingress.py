"""Ingress analyzer: routes to a Service that does not exist, TLS from a Secret that does not exist.

Both are checked only when Services (or Secrets) were listed: a snapshot without Secrets says
nothing about whether the TLS Secret exists. A missing backend is usually a rename, so Services
with a close name are quoted; and since the Ingress itself is what changed, the last write to
its spec (from `managedFields`) is when the route broke.
"""

from __future__ import annotations

from datetime import datetime
from difflib import get_close_matches

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    finding,
    fmt_time,
    items,
    latest,
    mapping,
    name_of,
    namespace_of,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity


def analyze_ingress(ingress: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    ref = ref_of(ingress)
    found: list[Finding] = []
    if snapshot.listed("Service"):
        existing = [name_of(svc) for svc in snapshot.services if namespace_of(svc) == ref.namespace]
        for service, routes in sorted(_backends(ingress).items()):
            if snapshot.get("Service", ref.namespace, service) is None:
                similar = get_close_matches(service, existing, n=3, cutoff=0.6)
                found.append(_missing_service(ref, service, routes, similar, _spec_changed(ingress)))
    if snapshot.listed("Secret"):
        for tls in items(ingress, "spec", "tls"):
            secret = text(tls, "secretName")
            if secret and snapshot.get("Secret", ref.namespace, secret) is None:
                found.append(_missing_secret(ref, secret, [str(host) for host in tls.get("hosts") or ()]))
    return found


def _backends(ingress: JsonObj) -> dict[str, list[str]]:
    """Service name -> the routes (host + path) sending traffic to it; `default` for the default backend."""
    routes: dict[str, list[str]] = {}
    default = _service_name(mapping(ingress, "spec", "defaultBackend") or mapping(ingress, "spec", "backend"))
    if default:
        routes.setdefault(default, []).append("default backend")
    for rule in items(ingress, "spec", "rules"):
        host = text(rule, "host") or "*"
        for http_path in items(rule, "http", "paths"):
            service = _service_name(mapping(http_path, "backend"))
            if service:
                routes.setdefault(service, []).append(f"{host}{text(http_path, 'path') or '/'}")
    return routes


def _service_name(backend: JsonObj) -> str | None:
    """networking.k8s.io/v1 nests the name under `service`; the older beta APIs used `serviceName`."""
    return text(backend, "service", "name") or text(backend, "serviceName")


def _spec_changed(ingress: JsonObj) -> datetime | None:
    """The last write to the Ingress other than its status, as the API server recorded it in managedFields."""
    return latest(
        *(
            time_at(entry, "time")
            for entry in items(ingress, "metadata", "managedFields")
            if not text(entry, "subresource")
        )
    )


def _missing_service(
    ref: ObjectRef, service: str, routes: list[str], similar: list[str], changed: datetime | None
) -> Finding:
    return finding(
        Severity.CRITICAL,
        "MissingBackendService",
        ref,
        f"Ingress {ref.namespace}/{ref.name} routes {', '.join(routes)} to Service {service}, which does not exist"
        + (f" (existing: {', '.join(similar)})" if similar else ""),
        [
            f"backend service {service!r} not found in namespace {ref.namespace}",
            f"routes: {', '.join(routes)}",
            f"Services with a similar name: {', '.join(similar)}" if similar else "",
            f"Ingress spec last changed at {fmt_time(changed)}" if changed else "",
        ],
        since=changed,
        details={"service": service, "routes": routes, "similar_services": similar},
    )


def _missing_secret(ref: ObjectRef, secret: str, hosts: list[str]) -> Finding:
    return finding(
        Severity.CRITICAL,
        "MissingTLSSecret",
        ref,
        f"Ingress {ref.namespace}/{ref.name} serves TLS for {', '.join(hosts) or 'its hosts'} "
        f"from Secret {secret}, which does not exist",
        [f"spec.tls secretName {secret!r} not found in namespace {ref.namespace}"],
        details={"secret": secret, "hosts": hosts},
    )

"""Ingress analyzer: routes to a Service that does not exist, TLS from a Secret that does not exist.

Both are checked only when Services (or Secrets) were listed: a snapshot without Secrets says
nothing about whether the TLS Secret exists.
"""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    finding,
    items,
    mapping,
    ref_of,
    require_aware,
    text,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity


def analyze_ingress(ingress: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    ref = ref_of(ingress)
    found: list[Finding] = []
    if snapshot.listed("Service"):
        for service, routes in sorted(_backends(ingress).items()):
            if snapshot.get("Service", ref.namespace, service) is None:
                found.append(_missing_service(ref, service, routes))
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


def _missing_service(ref: ObjectRef, service: str, routes: list[str]) -> Finding:
    return finding(
        Severity.CRITICAL,
        "MissingBackendService",
        ref,
        f"Ingress {ref.namespace}/{ref.name} routes {', '.join(routes)} to Service {service}, which does not exist",
        [f"backend service {service!r} not found in namespace {ref.namespace}", f"routes: {', '.join(routes)}"],
        details={"service": service, "routes": routes},
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

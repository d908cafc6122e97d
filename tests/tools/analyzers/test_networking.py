"""Service and Ingress: traffic that has nowhere to go."""

from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import (
    NS,
    Expect,
    Obj,
    ago,
    at,
    check,
    endpoint_slice,
    endpoints,
    ingress,
    pod,
    run,
    secret,
    service,
    status,
)
from tools.analyzers.kubernetes.ingress import analyze_ingress
from tools.analyzers.kubernetes.service import analyze_service
from tools.findings import Severity

READY_POD = pod()


def with_last_change(found: Obj, minutes: float) -> Obj:
    """Endpoints as the endpoints controller annotates them when their addresses change."""
    found["metadata"]["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": ago(minutes)}
    return found


def with_managed_fields(found: Obj, *, spec_minutes: float, status_minutes: float | None = None) -> Obj:
    """managedFields as the API server records writes: the status write must not count as a change."""
    fields = [{"manager": "argocd-controller", "operation": "Apply", "time": ago(spec_minutes)}]
    if status_minutes is not None:
        fields.append(
            {
                "manager": "ingress-controller",
                "operation": "Update",
                "subresource": "status",
                "time": ago(status_minutes),
            }
        )
    found["metadata"]["managedFields"] = fields
    return found


UNREADY_POD = pod(statuses=[status(ready=False)])
POD_NAME = "api-7d9f8b6c5d-x7k2p"

SERVICES: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [service(), READY_POD, endpoints(ready=[POD_NAME])], []),
    (
        "every pod behind it is unready",
        [service(), UNREADY_POD, endpoints(not_ready=[POD_NAME])],
        [
            Expect(
                "NoEndpoints",
                Severity.CRITICAL,
                summary=[f"Service shop/api has no ready endpoints (1 not ready: {POD_NAME})"],
                evidence=["selector app=api matches 1 pods", "0 ready addresses, 1 notReadyAddresses"],
                details={
                    "not_ready_pods": [POD_NAME],
                    "owner": {"kind": "Deployment", "name": "api", "namespace": NS},
                },
            )
        ],
    ),
    (
        "selector with a typo",
        [service(selector={"app": "api-server"}), READY_POD, endpoints("api-server")],
        [
            Expect(
                "SelectorMatchesNoPods",
                Severity.CRITICAL,
                summary=["selects no pods"],
                evidence=["matches none of the 1 pods in shop", "pods there carry app=api"],
            )
        ],
    ),
    (
        "EndpointSlices instead of Endpoints",
        [service(), UNREADY_POD, endpoint_slice("api", not_ready=[POD_NAME])],
        [Expect("NoEndpoints", Severity.CRITICAL)],
    ),
    (
        "relabelled pods: the selector's value sits under another key",
        [
            service(),
            pod(labels={"app.kubernetes.io/name": "api", "pod-template-hash": "7d9f8b6c5d"}),
            pod("worker-5c4d3b2a19-abcde", labels={"app": "worker"}, replicaset="worker-5c4d3b2a19"),
            with_last_change(endpoints(), minutes=42),
        ],
        [
            Expect(
                "SelectorMatchesNoPods",
                Severity.CRITICAL,
                summary=["selects no pods (app=api)", "the pods are labelled app.kubernetes.io/name=api"],
                evidence=["pods of Deployment shop/api carry app.kubernetes.io/name=api instead", "app=worker"],
                details={"relabelled": ["app.kubernetes.io/name=api"]},
                since=at(42),
            )
        ],
    ),
    (
        "unready pods: onset from the endpoints when no pod says",
        [
            service(),
            pod(statuses=[status(ready=False)], conditions=[]),
            with_last_change(endpoints(not_ready=[POD_NAME]), 9),
        ],
        [Expect("NoEndpoints", Severity.CRITICAL, since=at(9))],
    ),
    (
        "healthy, with a last-change annotation",
        [service(), READY_POD, with_last_change(endpoints(ready=[POD_NAME]), 5)],
        [],
    ),
    ("EndpointSlices with a ready endpoint", [service(), READY_POD, endpoint_slice("api", ready=[POD_NAME])], []),
    ("no selector: endpoints managed by hand", [service(selector={}), endpoints()], []),
    ("ExternalName", [service(type_="ExternalName"), endpoints()], []),
    ("neither pods nor endpoints listed", [service()], []),
]

INGRESSES: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [ingress(), service(), secret("web-tls")], []),
    (
        "backend service missing",
        [ingress(service_name="web-frontend"), service(), secret("web-tls")],
        [
            Expect(
                "MissingBackendService",
                Severity.CRITICAL,
                summary=["routes shop.example.com/ to Service web-frontend, which does not exist"],
                details={"service": "web-frontend", "routes": ["shop.example.com/"]},
            )
        ],
    ),
    (
        "TLS secret missing",
        [ingress(), service(), secret("other-tls")],
        [
            Expect(
                "MissingTLSSecret",
                Severity.CRITICAL,
                summary=["serves TLS for shop.example.com from Secret web-tls, which does not exist"],
                details={"secret": "web-tls", "hosts": ["shop.example.com"]},
            )
        ],
    ),
    (
        "backend renamed: a Service with a close name exists; onset is the last spec write",
        [
            with_managed_fields(ingress(service_name="api-v2"), spec_minutes=25, status_minutes=300),
            service(),
            service("payments"),
            secret("web-tls"),
        ],
        [
            Expect(
                "MissingBackendService",
                Severity.CRITICAL,
                summary=["to Service api-v2, which does not exist (existing: api)"],
                evidence=["Services with a similar name: api"],
                details={"similar_services": ["api"]},
                since=at(25),
            )
        ],
    ),
    (
        "healthy, with managed fields",
        [with_managed_fields(ingress(), spec_minutes=25), service(), secret("web-tls")],
        [],
    ),
    ("secrets were not listed: nothing is known about them", [ingress(), service()], []),
    ("services were not listed either", [ingress()], []),
]


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in SERVICES], ids=[c[0] for c in SERVICES])
def test_service(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_service, *objects), expected)


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in INGRESSES], ids=[c[0] for c in INGRESSES])
def test_ingress(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_ingress, *objects), expected)


def test_a_missing_default_backend_is_reported() -> None:
    target = ingress(tls_secret=None)
    target["spec"]["defaultBackend"] = {"service": {"name": "fallback", "port": {"number": 80}}}
    (found,) = run(analyze_ingress, target, service())
    assert found.details == {"service": "fallback", "routes": ["default backend"], "similar_services": []}

"""Service and Ingress: traffic that has nowhere to go."""

from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import (
    NS,
    Expect,
    Obj,
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
    assert found.details == {"service": "fallback", "routes": ["default backend"]}

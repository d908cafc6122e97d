"""PersistentVolumeClaims and Nodes."""

from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import (
    Expect,
    Obj,
    at,
    check,
    event,
    node,
    pod,
    pvc,
    run,
    storage_class,
)
from tools.analyzers.kubernetes.node import analyze_node
from tools.analyzers.kubernetes.pvc import analyze_pvc
from tools.findings import Severity


def pod_using(claim: str) -> Obj:
    consumer = pod()
    consumer["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return consumer


PROVISIONING = 'failed to provision volume with StorageClass "gp3": rpc error: UnauthorizedOperation'

CLAIMS: list[tuple[str, list[Obj], list[Expect]]] = [
    ("bound", [pvc(phase="Bound"), storage_class()], []),
    (
        "storage class missing",
        [pvc(storage_class="fast-ssd"), storage_class("gp3", default=True)],
        [
            Expect(
                "StorageClassMissing",
                Severity.CRITICAL,
                summary=["cannot bind: StorageClass fast-ssd does not exist"],
                evidence=["storage classes: gp3"],
                details={"storage_class": "fast-ssd", "available_classes": ["gp3"]},
                since=at(30),
            )
        ],
    ),
    (
        "no class named and no default",
        [pvc(storage_class=None), storage_class("gp3")],
        [Expect("StorageClassMissing", Severity.CRITICAL, summary=["no default one"])],
    ),
    (
        "no class named, the default applies",
        [pvc(storage_class=None, created=1), storage_class("gp3", default=True)],
        [],
    ),
    (
        "provisioning fails",
        [
            pvc(),
            storage_class(),
            event("PersistentVolumeClaim", "data", "ProvisioningFailed", PROVISIONING, count=7, first=25),
        ],
        [
            Expect(
                "PVCPending",
                Severity.WARNING,
                summary=["has been Pending for 30m: failed to provision volume"],
                evidence=["event ProvisioningFailed x7"],
                since=at(25),
            )
        ],
    ),
    ("storage classes not listed, pending long", [pvc()], [Expect("PVCPending", Severity.WARNING)]),
    ("just created", [pvc(created=1), storage_class()], []),
    ("waits for its first consumer", [pvc(), storage_class(binding="WaitForFirstConsumer")], []),
    (
        "waits for a consumer that exists",
        [pvc(), storage_class(binding="WaitForFirstConsumer"), pod_using("data")],
        [Expect("PVCPending", Severity.WARNING)],
    ),
]

NODES: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [node()], []),
    (
        "not ready",
        [node(ready="False")],
        [
            Expect(
                "NodeNotReady", Severity.CRITICAL, summary=["Node node-1 is NotReady (Ready=False) since"], since=at(20)
            )
        ],
    ),
    (
        "kubelet stopped reporting",
        [node(ready="Unknown")],
        [Expect("NodeNotReady", Severity.CRITICAL, summary=["Ready=Unknown"], evidence=["reason=NodeStatusUnknown"])],
    ),
    *(
        (
            pressure,
            [node(pressures={pressure: "True"})],
            [Expect(pressure, Severity.WARNING, summary=[f"reports {pressure}"])],
        )
        for pressure in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ),
    ("cordoned", [node(unschedulable=True)], [Expect("NodeCordoned", Severity.INFO)]),
]


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in CLAIMS], ids=[c[0] for c in CLAIMS])
def test_pvc(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_pvc, *objects), expected)


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in NODES], ids=[c[0] for c in NODES])
def test_node(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_node, *objects), expected)

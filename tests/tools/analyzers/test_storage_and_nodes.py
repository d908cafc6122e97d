"""PersistentVolumeClaims and Nodes."""

from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import (
    NS,
    Expect,
    Obj,
    ago,
    at,
    check,
    cond,
    event,
    node,
    owner,
    pod,
    pvc,
    run,
    storage_class,
)
from tools.analyzers.kubernetes.node import analyze_node
from tools.analyzers.kubernetes.pvc import analyze_pvc
from tools.findings import Severity


def unreachable(found: Obj) -> Obj:
    """The taints the node controller adds when a node stops reporting."""
    found["spec"]["taints"] = [
        {"key": "node.kubernetes.io/unreachable", "effect": effect, "timeAdded": ago(20)}
        for effect in ("NoSchedule", "NoExecute")
    ]
    return found


def evicted_by_taint_manager(found: Obj) -> Obj:
    """A pod deleted once its NoExecute toleration ran out: Terminating until its node confirms."""
    found["metadata"]["deletionTimestamp"] = ago(14)
    found["status"]["conditions"].append(
        cond("DisruptionTarget", "True", reason="DeletionByTaintManager", message="Taint manager: deleting", since=15)
    )
    return found


def pod_using(claim: str) -> Obj:
    consumer = pod()
    consumer["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return consumer


NO_CLASS = 'storageclass.storage.k8s.io "fast-ssd" not found'


def stateful_pod_using(claim: str) -> Obj:
    """A StatefulSet's pod: owned by the StatefulSet itself, named after it with an ordinal."""
    consumer = pod("logs-es-3", replicaset=None, phase="Pending", node=None, statuses=[])
    consumer["metadata"]["ownerReferences"] = owner("StatefulSet", "logs-es")
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
    (
        "storage classes not listed, the provisioner names the missing one",
        [
            pvc(storage_class="fast-ssd"),
            event("PersistentVolumeClaim", "data", "ProvisioningFailed", NO_CLASS, count=127, first=28),
            stateful_pod_using("data"),
        ],
        [
            Expect(
                "StorageClassMissing",
                Severity.CRITICAL,
                summary=["data (used by pod logs-es-3) cannot bind: StorageClass fast-ssd does not exist"],
                evidence=["event ProvisioningFailed x127"],
                details={
                    "storage_class": "fast-ssd",
                    "pods": ["logs-es-3"],
                    "owner": {"kind": "StatefulSet", "name": "logs-es", "namespace": NS},
                },
                since=at(28),
            )
        ],
    ),
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
    (
        "NotReady: the taint manager evicted one pod, another still waits, pods elsewhere are not named",
        [
            unreachable(node(ready="Unknown")),
            evicted_by_taint_manager(pod("api-7d9f8b6c5d-aaaaa")),
            pod("api-7d9f8b6c5d-bbbbb"),
            pod("api-7d9f8b6c5d-ccccc", node="node-2"),
        ],
        [
            Expect(
                "NodeNotReady",
                Severity.CRITICAL,
                summary=["1 pods on it were evicted: shop/api-7d9f8b6c5d-aaaaa"],
                evidence=[
                    "node.kubernetes.io/unreachable:NoExecute",
                    "evicted (Terminating): shop/api-7d9f8b6c5d-aaaaa",
                    "still bound to the node: shop/api-7d9f8b6c5d-bbbbb",
                ],
                details={
                    "evicted_pods": ["shop/api-7d9f8b6c5d-aaaaa"],
                    "pods_on_node": ["shop/api-7d9f8b6c5d-bbbbb"],
                    "owners": ["Deployment shop/api"],
                },
                since=at(20),
            )
        ],
    ),
    (
        "NotReady, nothing evicted yet",
        [node(ready="False"), pod()],
        [Expect("NodeNotReady", Severity.CRITICAL, summary=["1 pods still run on it: shop/api-7d9f8b6c5d-x7k2p"])],
    ),
    ("healthy, with pods on it", [node(), pod(), evicted_by_taint_manager(pod("api-7d9f8b6c5d-ddddd"))], []),
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

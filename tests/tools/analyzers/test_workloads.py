"""Deployment, ReplicaSet and StatefulSet: replicas that are not there, pods that cannot be made."""

from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import (
    NS,
    Expect,
    Obj,
    at,
    check,
    cond,
    deployment,
    event,
    pod,
    replicaset,
    run,
    statefulset,
    status,
    waiting,
)
from tools.analyzers.kubernetes.deployment import analyze_deployment
from tools.analyzers.kubernetes.replicaset import analyze_replicaset
from tools.analyzers.kubernetes.statefulset import analyze_statefulset
from tools.findings import Severity

QUOTA = 'pods "api-7d9f8b6c5d-" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=4, limited: cpu=4'
STUCK = cond(
    "Progressing",
    "False",
    reason="ProgressDeadlineExceeded",
    message='ReplicaSet "api-6c8d" has timed out progressing.',
    since=7,
)
UNAVAILABLE = cond("Available", "False", reason="MinimumReplicasUnavailable", since=42)

DEPLOYMENTS: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [deployment()], []),
    ("scaled to zero", [deployment(replicas=0, ready=0)], []),
    (
        "no replica ready",
        [deployment(ready=0, conditions=[UNAVAILABLE]), pod(statuses=[status(ready=False)])],
        [
            Expect(
                "DeploymentUnavailable",
                Severity.CRITICAL,
                summary=["Deployment shop/api has 0 of 2 replicas ready"],
                evidence=["readyReplicas=0", "condition Available=False reason=MinimumReplicasUnavailable"],
                details={
                    "desired": 2,
                    "ready": 0,
                    "unready_pods": ["api-7d9f8b6c5d-x7k2p"],
                    "owner": {"kind": "Deployment", "name": "api", "namespace": NS},
                },
                since=at(42),
            )
        ],
    ),
    (
        "no replica ready, the pods say why",
        [
            deployment(ready=0, conditions=[UNAVAILABLE]),
            pod(statuses=[status(ready=False, state=waiting("CreateContainerConfigError"))]),
            pod("api-7d9f8b6c5d-m2vq8", statuses=[status(ready=False, state=waiting("CreateContainerConfigError"))]),
        ],
        [
            Expect(
                "DeploymentUnavailable",
                Severity.CRITICAL,
                summary=["has 0 of 2 replicas ready (not ready: 2 CreateContainerConfigError)"],
                details={"unready_states": {"CreateContainerConfigError": 2}},
            )
        ],
    ),
    (
        "some replicas ready",
        [deployment(replicas=3, ready=1)],
        [Expect("DeploymentUnavailable", Severity.WARNING, summary=["1 of 3 replicas ready"])],
    ),
    (
        "rollout past its progress deadline",
        [deployment(conditions=[cond("Available", "True"), STUCK])],
        [
            Expect(
                "ProgressDeadlineExceeded",
                Severity.WARNING,
                summary=['rollout is stuck: ReplicaSet "api-6c8d" has timed out progressing.'],
                details={"progress_deadline_seconds": 600},
                since=at(7),
            )
        ],
    ),
]

FAILURE = cond("ReplicaFailure", "True", reason="FailedCreate", message=QUOTA, since=14)
REPLICASETS: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [replicaset()], []),
    (
        "quota refuses its pods",
        [
            replicaset(current=1, conditions=[FAILURE]),
            event("ReplicaSet", "api-7d9f8b6c5d", "FailedCreate", QUOTA, count=12, first=14),
        ],
        [
            Expect(
                "FailedCreate",
                Severity.WARNING,
                summary=["ReplicaSet shop/api-7d9f8b6c5d cannot create pods: pods", "exceeded quota"],
                evidence=["condition ReplicaFailure=True", "event FailedCreate x12"],
                details={"desired": 2, "current": 1, "owner": {"kind": "Deployment", "name": "api", "namespace": NS}},
                since=at(14),
            )
        ],
    ),
    (
        "only the event tells",
        [
            replicaset(current=0),
            event("ReplicaSet", "api-7d9f8b6c5d", "FailedCreate", 'serviceaccount "api" not found'),
        ],
        [Expect("FailedCreate", Severity.WARNING, summary=['serviceaccount "api" not found'])],
    ),
    (
        "an old event is history",
        [replicaset(), event("ReplicaSet", "api-7d9f8b6c5d", "FailedCreate", QUOTA, first=300, last=200)],
        [],
    ),
    ("scaled to zero", [replicaset(replicas=0, current=0, conditions=[FAILURE])], []),
]

STATEFULSETS: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [statefulset()], []),
    (
        "down",
        [statefulset(ready=0)],
        [
            Expect(
                "StatefulSetUnavailable",
                Severity.CRITICAL,
                summary=["StatefulSet shop/postgres has 0 of 1 replicas ready"],
            )
        ],
    ),
    ("degraded", [statefulset(replicas=3, ready=2)], [Expect("StatefulSetUnavailable", Severity.WARNING)]),
]


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in DEPLOYMENTS], ids=[c[0] for c in DEPLOYMENTS])
def test_deployment(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_deployment, *objects), expected)


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in REPLICASETS], ids=[c[0] for c in REPLICASETS])
def test_replicaset(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_replicaset, *objects), expected)


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in STATEFULSETS], ids=[c[0] for c in STATEFULSETS])
def test_statefulset(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_statefulset, *objects), expected)

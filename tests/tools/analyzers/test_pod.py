from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import (
    NS,
    Expect,
    Obj,
    at,
    check,
    cond,
    configmap,
    container,
    event,
    pod,
    pvc,
    replicaset,
    run,
    running,
    secret,
    status,
    terminated,
    waiting,
)
from tools.analyzers.kubernetes.pod import analyze_pod
from tools.findings import Severity

POD = "api-7d9f8b6c5d-x7k2p"
OWNER = {"kind": "Deployment", "name": "api", "namespace": NS}
CONFIG_MESSAGE = "a ConfigMap or Secret the container references was not found"


def crash_looping(restarts: int = 14) -> Obj:
    return pod(
        statuses=[
            status(
                ready=False,
                restarts=restarts,
                state=waiting("CrashLoopBackOff", f"back-off 5m0s restarting failed container=api pod={POD}"),
                last=terminated("Error", 1, finished=1),
            )
        ]
    )


def back_off(count: int = 23, first: float = 55) -> Obj:
    message = f"Back-off restarting failed container api in pod {POD}_shop(uid)"
    return event("Pod", POD, "BackOff", message, count=count, first=first, container_name="api")


def oom(restarts: int, finished: float, *, crash_loop: bool = False) -> Obj:
    state = waiting("CrashLoopBackOff", "back-off 40s") if crash_loop else running(started=finished - 0.5)
    return pod(
        statuses=[
            status(
                ready=not crash_loop,
                restarts=restarts,
                state=state,
                last=terminated("OOMKilled", 137, finished=finished),
            )
        ]
    )


def unready(*, unready_for: float = 1) -> Obj:
    return pod(
        statuses=[status(ready=False)],
        conditions=[
            cond("PodScheduled", "True"),
            cond("Ready", "False", reason="ContainersNotReady", since=unready_for),
        ],
    )


def readiness_failures(count: int = 87, first: float = 20, last: float = 0.5) -> Obj:
    message = "Readiness probe failed: HTTP probe failed with statuscode: 503"
    return event("Pod", POD, "Unhealthy", message, count=count, first=first, last=last, container_name="api")


def config_error(message: str) -> Obj:
    return pod(statuses=[status(ready=False, state=waiting("CreateContainerConfigError", message))])


def secret_consumer() -> Obj:
    env = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}}]
    found = config_error(CONFIG_MESSAGE)
    found["spec"]["containers"] = [container(env=env)]
    return found


NO_CLASS = 'storageclass.storage.k8s.io "fast-ssd" not found'
UNBOUND = (
    "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are "
    "available: 3 Preemption is not helpful for scheduling."
)


def with_claim(target: Obj, claim: str = "data") -> Obj:
    target["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return target


def waiting_for_claim() -> Obj:
    return with_claim(
        pod(
            phase="Pending",
            node=None,
            statuses=[],
            conditions=[cond("PodScheduled", "False", reason="Unschedulable", message=UNBOUND, since=15)],
        )
    )


CASES: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [pod()], []),
    (
        "crash loop names the last exit and the owning deployment",
        [crash_looping(), back_off()],
        [
            Expect(
                "CrashLoopBackOff",
                Severity.CRITICAL,
                summary=[f"{POD} is in CrashLoopBackOff (14 restarts; last exit: Error, code 1)"],
                evidence=["lastState.terminated: reason=Error exitCode=1", "event BackOff x23", "Back-off restarting"],
                details={"restarts": 14, "exit_code": 1, "container": "api", "owner": OWNER, "back_off_events": 23},
                since=at(55),
            )
        ],
    ),
    (
        "OOMKilled three times within the hour",
        [oom(restarts=3, finished=3)],
        [
            Expect(
                "OOMKilled",
                Severity.CRITICAL,
                summary=["was OOMKilled (3 restarts; memory limit 512Mi"],
                evidence=["reason=OOMKilled exitCode=137", "resources.limits.memory=512Mi"],
                details={"memory_limit": "512Mi", "memory_limit_bytes": 512 * 2**20, "exit_code": 137, "owner": OWNER},
                since=at(3),
            )
        ],
    ),
    (
        "OOMKilled once recently",
        [oom(restarts=1, finished=10)],
        [Expect("OOMKilled", Severity.WARNING, details={"restarts": 1})],
    ),
    ("OOMKilled days ago", [oom(restarts=1, finished=3 * 24 * 60)], [Expect("OOMKilled", Severity.INFO)]),
    (
        "OOMKilled and now crash looping",
        [oom(restarts=1, finished=1, crash_loop=True)],
        [Expect("OOMKilled", Severity.CRITICAL, summary=["OOMKilled and is in CrashLoopBackOff"])],
    ),
    (
        "image pull back-off",
        [
            pod(
                statuses=[
                    status(
                        ready=False,
                        state=waiting("ImagePullBackOff", 'Back-off pulling image "x"'),
                        image="ghcr.io/acme/api:9.9.9",
                    )
                ]
            ),
            event(
                "Pod",
                POD,
                "Failed",
                'Failed to pull image "ghcr.io/acme/api:9.9.9": not found',
                first=12,
                container_name="api",
            ),
        ],
        [
            Expect(
                "ImagePullBackOff",
                Severity.CRITICAL,
                summary=["cannot pull image ghcr.io/acme/api:9.9.9 (ImagePullBackOff)"],
                evidence=["event Failed x1", "not found"],
                since=at(12),
            )
        ],
    ),
    (
        "ErrImagePull counts as an image pull failure",
        [pod(statuses=[status(ready=False, state=waiting("ErrImagePull", "manifest unknown"))])],
        [Expect("ImagePullBackOff", Severity.CRITICAL, details={"waiting_reason": "ErrImagePull"})],
    ),
    (
        "missing secret named by the kubelet",
        [config_error('secret "db-creds" not found')],
        [
            Expect(
                "CreateContainerConfigError",
                Severity.CRITICAL,
                summary=['cannot start its container: Secret "db-creds" not found'],
                details={"missing_kind": "Secret", "missing_name": "db-creds", "missing_key": None},
            )
        ],
    ),
    (
        "missing configmap key named by the kubelet",
        [config_error("couldn't find key PASSWORD in ConfigMap shop/app-config")],
        [
            Expect(
                "CreateContainerConfigError",
                Severity.CRITICAL,
                summary=["key PASSWORD missing from ConfigMap app-config"],
                details={"missing_kind": "ConfigMap", "missing_name": "app-config", "missing_key": "PASSWORD"},
            )
        ],
    ),
    (
        "generic message: the missing secret is found from the spec and the listed secrets",
        [secret_consumer(), secret("payments-provider")],
        [Expect("CreateContainerConfigError", Severity.CRITICAL, details={"missing_name": "db-creds"})],
    ),
    (
        "generic message and no secrets listed: the message is quoted, nothing is guessed",
        [secret_consumer()],
        [
            Expect(
                "CreateContainerConfigError",
                Severity.CRITICAL,
                summary=[CONFIG_MESSAGE],
                details={"missing_name": None},
            )
        ],
    ),
    (
        "unschedulable with the scheduler's reason",
        [
            pod(
                phase="Pending",
                node=None,
                statuses=[],
                conditions=[
                    cond(
                        "PodScheduled",
                        "False",
                        reason="Unschedulable",
                        message="0/3 nodes are available: 3 Insufficient cpu.",
                        since=15,
                    )
                ],
            )
        ],
        [
            Expect(
                "Unschedulable",
                Severity.CRITICAL,
                summary=["is Pending and cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu."],
                since=at(15),
            )
        ],
    ),
    (
        "unschedulable because its claim cannot be provisioned",
        [
            waiting_for_claim(),
            pvc("data", storage_class="fast-ssd"),
            event("PersistentVolumeClaim", "data", "ProvisioningFailed", NO_CLASS, count=40, first=15),
        ],
        [
            Expect(
                "Unschedulable",
                Severity.CRITICAL,
                summary=[
                    "is Pending and cannot be scheduled: 0/3 nodes are available: pod has unbound immediate",
                    f"PersistentVolumeClaim data is Pending: {NO_CLASS}",
                ],
                evidence=["preemption: 0/3 nodes are available"],
                details={"unbound_claims": ["data"]},
            )
        ],
    ),
    (
        "unschedulable, its claim is bound: the claim is not blamed",
        [waiting_for_claim(), pvc("data", phase="Bound")],
        [Expect("Unschedulable", Severity.CRITICAL, details={"unbound_claims": []})],
    ),
    ("running with a bound claim", [with_claim(pod()), pvc("data", phase="Bound")], []),
    (
        "readiness probe failing",
        [unready(), readiness_failures()],
        [
            Expect(
                "ReadinessProbeFailed",
                Severity.WARNING,
                summary=["running but not ready: readiness probe failed 87 times since"],
                evidence=["ready=false", "event Unhealthy x87", "statuscode: 503"],
                details={"probe_failures": 87, "owner": OWNER},
                since=at(20),
            )
        ],
    ),
    ("unready for a minute without probe failures is still starting", [unready(unready_for=1)], []),
    (
        "unready for ten minutes",
        [unready(unready_for=10)],
        [Expect("ReadinessProbeFailed", Severity.WARNING, since=at(10))],
    ),
    (
        "ready, but the probe kept failing lately",
        [pod(), readiness_failures(count=61, last=2)],
        [Expect("ReadinessProbeFlapping", Severity.INFO, summary=["failed 61 times"])],
    ),
    ("ready, probe failures long past", [pod(), readiness_failures(count=5, first=300, last=200)], []),
    (
        "evicted",
        [pod(phase="Failed", statuses=[], reason="Evicted", message="The node was low on resource: memory.")],
        [Expect("Evicted", Severity.WARNING, summary=["was evicted: The node was low on resource: memory."])],
    ),
    (
        "restarted after a non-zero exit",
        [pod(statuses=[status(restarts=1, last=terminated("Error", 2, finished=8))])],
        [
            Expect(
                "NonZeroExit",
                Severity.WARNING,
                summary=["exited with code 2 (Error), restarted 1 times"],
                details={"exit_code": 2},
                since=at(8),
            )
        ],
    ),
    (
        "a non-zero exit days ago is only notable",
        [pod(statuses=[status(restarts=1, last=terminated("Error", 2, finished=5000))])],
        [Expect("NonZeroExit", Severity.INFO)],
    ),
    (
        "failed run-to-completion pod",
        [
            pod(
                phase="Failed",
                replicaset=None,
                statuses=[status(ready=False, state=terminated("Error", 3, finished=2))],
            )
        ],
        [Expect("NonZeroExit", Severity.WARNING, evidence=["state.terminated: reason=Error exitCode=3"])],
    ),
    ("succeeded pod", [pod(phase="Succeeded", statuses=[status(ready=False, state=terminated("Completed", 0))])], []),
    (
        "stuck creating with a mount failure",
        [
            pod(phase="Pending", created=25, statuses=[status(ready=False, state=waiting("ContainerCreating"))]),
            event("Pod", POD, "FailedMount", 'MountVolume.SetUp failed for volume "certs"', count=9),
        ],
        [Expect("PodPending", Severity.WARNING, summary=["Pending for 25m: FailedMount"])],
    ),
    (
        "creating for two minutes",
        [pod(phase="Pending", created=2, statuses=[status(ready=False, state=waiting("ContainerCreating"))])],
        [],
    ),
    (
        "other waiting reasons are quoted",
        [pod(statuses=[status(ready=False, state=waiting("RunContainerError", "exec: not found"))])],
        [Expect("RunContainerError", Severity.WARNING, summary=["waiting: RunContainerError (exec: not found)"])],
    ),
]


@pytest.mark.parametrize(("objects", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_pod(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_pod, *objects), expected)


def test_a_crashing_init_container_and_a_sidecar_are_named() -> None:
    sidecar = status("proxy", ready=False, restarts=4, state=waiting("CrashLoopBackOff"), last=terminated("Error", 1))
    init = status("migrate", ready=False, restarts=2, state=waiting("CrashLoopBackOff"), last=terminated("Error", 1))
    target = pod(
        statuses=[status(), sidecar], containers=[container(), container("proxy")], initContainerStatuses=[init]
    )
    summaries = [found.summary for found in run(analyze_pod, target)]
    assert summaries == [
        f"{POD} (init container migrate) is in CrashLoopBackOff (2 restarts; last exit: Error, code 1)",
        f"{POD} (container proxy) is in CrashLoopBackOff (4 restarts; last exit: Error, code 1)",
    ]


def test_a_terminating_pod_is_left_alone() -> None:
    target = crash_looping()
    target["metadata"]["deletionTimestamp"] = "2026-11-20T13:59:00Z"
    assert run(analyze_pod, target) == []


def test_the_owner_comes_from_the_replicaset_when_it_was_listed() -> None:
    """A ReplicaSet renamed by hand is not `<deployment>-<hash>`: the snapshot's ReplicaSet knows better."""
    (found,) = run(analyze_pod, crash_looping(), replicaset("api-7d9f8b6c5d", deployment_name="api-canary"))
    assert found.details["owner"] == {"kind": "Deployment", "name": "api-canary", "namespace": NS}


def test_a_configmap_without_the_key_is_named() -> None:
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "MODE"}}}]
    target = config_error(CONFIG_MESSAGE)
    target["spec"]["containers"] = [container(env=env)]
    (found,) = run(analyze_pod, target, configmap("app-config", OTHER="1"))
    assert "key MODE missing from ConfigMap app-config" in found.summary

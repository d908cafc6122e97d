"""The sandbox Kubernetes API, driven only through the official Python client and kubectl.

The world under test is written here (not a bundled one) so these tests do not move when the
bundled worlds are edited: shop/payment-service runs revision 2 (image 1.4.2) with one pod
crash-looping after 14 restarts and one healthy; revision 1 (image 1.4.1) is scaled to 0;
shop/audit-worker-0 is a two-container pod. It was recorded at 10:00:00; the crash log ends at
09:59:50 and starts at 09:58:00.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from sandbox.kube_api import KubeApiServer
from sandbox.world import BUNDLED_WORLDS, WorldError, load_world
from tests.conftest import skip_or_fail

NAMESPACE = "shop"
CURRENT_RS = "payment-service-7c9bd6f4d8"
OLD_RS = "payment-service-5f6d8b9c47"
CRASHING_POD = f"{CURRENT_RS}-x2v9k"
HEALTHY_POD = f"{CURRENT_RS}-q8mzt"
SECRET_VALUE = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"
OUTCOME_PLACEHOLDER = "OUTCOME_ANNOTATION"

WORLD_YAML = "name: shop-test\nrecorded_at: '2026-11-05T10:00:00Z'\n"

CLUSTER_YAML = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
status: {phase: Active}
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {kubernetes.io/hostname: node-a, node-role.kubernetes.io/worker: ""}
spec: {}
status:
  conditions: [{type: Ready, status: "True", reason: KubeletReady}]
  addresses: [{type: InternalIP, address: 10.0.0.11}]
  capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  allocatable: {cpu: 3800m, memory: 15Gi, pods: "110"}
  nodeInfo: {kubeletVersion: v1.31.4, osImage: Debian GNU/Linux 12 (bookworm), kernelVersion: 6.1.0-18-amd64,
             containerRuntimeVersion: containerd://1.7.13, architecture: amd64, operatingSystem: linux,
             bootID: "", kubeProxyVersion: "", machineID: "", systemUUID: ""}
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  labels: {kubernetes.io/hostname: node-b, node-role.kubernetes.io/worker: ""}
spec: {}
status:
  conditions: [{type: Ready, status: "True", reason: KubeletReady}]
  addresses: [{type: InternalIP, address: 10.0.0.12}]
  capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  allocatable: {cpu: 3800m, memory: 15Gi, pods: "110"}
  nodeInfo: {kubeletVersion: v1.31.4, osImage: Debian GNU/Linux 12 (bookworm), kernelVersion: 6.1.0-18-amd64,
             containerRuntimeVersion: containerd://1.7.13, architecture: amd64, operatingSystem: linux,
             bootID: "", kubeProxyVersion: "", machineID: "", systemUUID: ""}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment-service
  namespace: shop
  generation: 3
  labels: {app: payment-service}
  annotations: {deployment.kubernetes.io/revision: "2"OUTCOME_ANNOTATION}
spec:
  replicas: 2
  selector: {matchLabels: {app: payment-service}}
  template:
    metadata: {labels: {app: payment-service}}
    spec:
      containers:
        - name: app
          image: registry.example.com/payment-service:1.4.2
          ports: [{name: http, containerPort: 8080}]
status:
  observedGeneration: 3
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 1
  availableReplicas: 1
  unavailableReplicas: 1
  conditions:
    - {type: Available, status: "False", reason: MinimumReplicasUnavailable}
    - {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: payment-service-7c9bd6f4d8
  namespace: shop
  creationTimestamp: "2026-11-05T09:30:00Z"
  labels: {app: payment-service, pod-template-hash: 7c9bd6f4d8}
  annotations: {deployment.kubernetes.io/revision: "2"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: payment-service, controller: true}]
spec:
  replicas: 2
  selector: {matchLabels: {app: payment-service, pod-template-hash: 7c9bd6f4d8}}
  template:
    metadata: {labels: {app: payment-service, pod-template-hash: 7c9bd6f4d8}}
    spec:
      containers:
        - name: app
          image: registry.example.com/payment-service:1.4.2
          ports: [{name: http, containerPort: 8080}]
status: {replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: payment-service-5f6d8b9c47
  namespace: shop
  creationTimestamp: "2026-10-20T08:00:00Z"
  labels: {app: payment-service, pod-template-hash: 5f6d8b9c47}
  annotations: {deployment.kubernetes.io/revision: "1"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: payment-service, controller: true}]
spec:
  replicas: 0
  selector: {matchLabels: {app: payment-service, pod-template-hash: 5f6d8b9c47}}
  template:
    metadata: {labels: {app: payment-service, pod-template-hash: 5f6d8b9c47}}
    spec:
      containers:
        - name: app
          image: registry.example.com/payment-service:1.4.1
          ports: [{name: http, containerPort: 8080}]
status: {replicas: 0, observedGeneration: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: payment-service-7c9bd6f4d8-x2v9k
  namespace: shop
  labels: {app: payment-service, pod-template-hash: 7c9bd6f4d8}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: payment-service-7c9bd6f4d8, controller: true}]
spec:
  nodeName: node-a
  containers:
    - name: app
      image: registry.example.com/payment-service:1.4.2
      ports: [{name: http, containerPort: 8080}]
status:
  phase: Running
  podIP: 10.244.1.5
  hostIP: 10.0.0.11
  startTime: "2026-11-05T09:30:00Z"
  conditions:
    - {type: Ready, status: "False", reason: ContainersNotReady}
    - {type: PodScheduled, status: "True"}
  containerStatuses:
    - name: app
      image: registry.example.com/payment-service:1.4.2
      imageID: registry.example.com/payment-service@sha256:9f2c4e6a
      ready: false
      started: false
      restartCount: 14
      state: {waiting: {reason: CrashLoopBackOff, message: back-off 5m0s restarting failed container}}
      lastState:
        terminated: {exitCode: 1, reason: Error, startedAt: "2026-11-05T09:59:40Z", finishedAt: "2026-11-05T09:59:50Z"}
---
apiVersion: v1
kind: Pod
metadata:
  name: payment-service-7c9bd6f4d8-q8mzt
  namespace: shop
  labels: {app: payment-service, pod-template-hash: 7c9bd6f4d8}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: payment-service-7c9bd6f4d8, controller: true}]
spec:
  nodeName: node-b
  containers:
    - name: app
      image: registry.example.com/payment-service:1.4.2
      ports: [{name: http, containerPort: 8080}]
status:
  phase: Running
  podIP: 10.244.2.6
  hostIP: 10.0.0.12
  startTime: "2026-11-05T09:30:00Z"
  conditions:
    - {type: Ready, status: "True"}
    - {type: PodScheduled, status: "True"}
  containerStatuses:
    - name: app
      image: registry.example.com/payment-service:1.4.2
      imageID: registry.example.com/payment-service@sha256:9f2c4e6a
      ready: true
      started: true
      restartCount: 0
      state: {running: {startedAt: "2026-11-05T09:30:05Z"}}
      lastState: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: audit-worker-0
  namespace: shop
  labels: {app: audit-worker}
spec:
  nodeName: node-b
  containers:
    - {name: worker, image: "audit:2"}
    - {name: log-shipper, image: "fluent-bit:3"}
status: {phase: Running, podIP: 10.244.2.7}
---
apiVersion: v1
kind: Service
metadata: {name: payment-service, namespace: shop}
spec:
  clusterIP: 10.96.12.34
  selector: {app: payment-service}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: payment-service, namespace: shop}
subsets:
  - addresses: [{ip: 10.244.2.6, nodeName: node-b}]
    notReadyAddresses: [{ip: 10.244.1.5, nodeName: node-a}]
    ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Secret
metadata: {name: payment-db, namespace: shop}
type: Opaque
data: {password: c3VwZXItc2VjcmV0LXBhc3N3b3Jk}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: payment-service, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: payment-service}
  minReplicas: 2
  maxReplicas: 6
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]
status:
  currentReplicas: 2
  desiredReplicas: 2
  currentMetrics: [{type: Resource, resource: {name: cpu, current: {averageUtilization: 85}}}]
---
apiVersion: v1
kind: Event
metadata: {name: payment-service-7c9bd6f4d8-x2v9k.1, namespace: shop}
involvedObject: {apiVersion: v1, kind: Pod, namespace: shop, name: payment-service-7c9bd6f4d8-x2v9k}
reason: BackOff
message: Back-off restarting failed container app in pod payment-service-7c9bd6f4d8-x2v9k
type: Warning
count: 40
source: {component: kubelet, host: node-a}
firstTimestamp: "2026-11-05T09:31:00Z"
lastTimestamp: "2026-11-05T09:59:50Z"
---
apiVersion: v1
kind: Event
metadata: {name: payment-service-7c9bd6f4d8-q8mzt.1, namespace: shop}
involvedObject: {apiVersion: v1, kind: Pod, namespace: shop, name: payment-service-7c9bd6f4d8-q8mzt}
reason: Started
message: Started container app
type: Normal
count: 1
source: {component: kubelet, host: node-b}
firstTimestamp: "2026-11-05T09:30:05Z"
lastTimestamp: "2026-11-05T09:30:05Z"
"""

LOGS = {
    f"{CRASHING_POD}/app.log": (
        "2026-11-05T09:58:00Z INFO payment-service 1.4.2 starting\n"
        "2026-11-05T09:58:01Z INFO connecting to https://gateway.example.com\n"
        "2026-11-05T09:59:50Z ERROR gateway timed out after 5s\n"
        "Traceback (most recent call last):\n"
        "TimeoutError: gateway timed out\n"
    ),
    f"{CRASHING_POD}/app.previous.log": "2026-11-05T09:54:50Z ERROR previous instance: gateway timed out\n",
    f"{HEALTHY_POD}/app.log": "2026-11-05T09:30:01Z INFO listening on :8080\n",
    "audit-worker-0/worker.log": "2026-11-05T09:00:00Z audit batch done\n",
}


def write_world(root: Path, *, outcome: str | None = None) -> Path:
    annotation = f", sandbox.infrawhisperer.dev/restart-outcome: {outcome}" if outcome else ""
    files = {"world.yaml": WORLD_YAML, "cluster/shop.yaml": CLUSTER_YAML.replace(OUTCOME_PLACEHOLDER, annotation)}
    files.update({f"logs/{NAMESPACE}/{name}": text for name, text in LOGS.items()})
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The official client blocks; the server shares this event loop, so the client runs in a thread.

    Answers are Any: the tests read the client's models as a user's code would, field by field."""
    return await asyncio.to_thread(function, *args, **kwargs)


class Cluster:
    """A running server for one test plus the official clients pointed at it through its kubeconfig."""

    def __init__(self, server: KubeApiServer, kubeconfig: Path, cache: Path) -> None:
        self.server = server
        self.kubeconfig = kubeconfig
        self.cache = cache
        self.api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)

    async def pods(self, selector: str = "app=payment-service") -> list[Any]:
        return list((await call(self.core.list_namespaced_pod, NAMESPACE, label_selector=selector)).items)

    async def deployment(self) -> Any:
        return await call(self.apps.read_namespaced_deployment, "payment-service", NAMESPACE)

    async def kubectl(self, *args: str) -> str:
        binary = shutil.which("kubectl")
        if binary is None:
            skip_or_fail("kubectl is not installed")
        assert binary is not None
        process = await asyncio.create_subprocess_exec(
            binary,
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.cache),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, f"kubectl {' '.join(args)} failed: {err.decode()}"
        return out.decode()


async def start_cluster(tmp_path: Path, *, outcome: str | None = None) -> tuple[KubeApiServer, Cluster]:
    server = KubeApiServer(load_world(write_world(tmp_path / "world", outcome=outcome)))
    await server.start()
    return server, Cluster(server, server.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "kube-cache")


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    server, running = await start_cluster(tmp_path)
    yield running
    running.api_client.close()
    await server.stop()


def api_error(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(exc.value.body or "null")
    assert status["kind"] == "Status" and status["code"] == exc.value.status
    return status


# Reading ----------------------------------------------------------------------------------


async def test_lists_pods_across_all_namespaces_and_in_one(cluster: Cluster) -> None:
    everywhere = await call(cluster.core.list_pod_for_all_namespaces)
    in_shop = await call(cluster.core.list_namespaced_pod, NAMESPACE, limit=1)
    in_default = await call(cluster.core.list_namespaced_pod, "default")

    expected = {"audit-worker-0", CRASHING_POD, HEALTHY_POD}
    assert everywhere.kind == "PodList"
    assert {pod.metadata.name for pod in everywhere.items} == expected
    assert {pod.metadata.name for pod in in_shop.items} == expected
    assert in_default.items == []
    crashing = next(pod for pod in everywhere.items if pod.metadata.name == CRASHING_POD)
    status = crashing.status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.restart_count == 14
    assert status.last_state.terminated.reason == "Error"
    assert crashing.metadata.uid and crashing.metadata.resource_version and crashing.metadata.creation_timestamp


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=payment-service", {CRASHING_POD, HEALTHY_POD}),
        ("app==audit-worker", {"audit-worker-0"}),
        ("app!=payment-service", {"audit-worker-0"}),
        ("app in (audit-worker, other)", {"audit-worker-0"}),
        ("app notin (audit-worker)", {CRASHING_POD, HEALTHY_POD}),
        ("pod-template-hash", {CRASHING_POD, HEALTHY_POD}),
        ("!pod-template-hash", {"audit-worker-0"}),
        ("app=payment-service,pod-template-hash=nope", set()),
    ],
)
async def test_label_selectors_pick_pods(cluster: Cluster, selector: str, expected: set[str]) -> None:
    assert {pod.metadata.name for pod in await cluster.pods(selector)} == expected


async def test_field_selectors_pick_events_and_pods(cluster: Cluster) -> None:
    events = await call(
        cluster.core.list_namespaced_event, NAMESPACE, field_selector=f"involvedObject.name={CRASHING_POD}"
    )
    warnings = await call(cluster.core.list_event_for_all_namespaces, field_selector="type=Warning,reason=BackOff")
    on_node_b = await call(cluster.core.list_pod_for_all_namespaces, field_selector="spec.nodeName=node-b")
    not_running = await call(cluster.core.list_pod_for_all_namespaces, field_selector="status.phase!=Running")

    assert [event.reason for event in events.items] == ["BackOff"]
    assert events.items[0].count == 40
    assert [event.involved_object.name for event in warnings.items] == [CRASHING_POD]
    assert {pod.metadata.name for pod in on_node_b.items} == {"audit-worker-0", HEALTHY_POD}
    assert not_running.items == []
    with pytest.raises(ApiException) as exc:
        await call(cluster.core.list_namespaced_pod, NAMESPACE, field_selector="spec.image=x")
    assert exc.value.status == 400
    assert api_error(exc)["message"] == "field label not supported: spec.image"


async def test_a_missing_pod_is_a_not_found_status(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as exc:
        await call(cluster.core.read_namespaced_pod, "no-such-pod", NAMESPACE)

    status = api_error(exc)
    assert exc.value.status == 404
    assert status["reason"] == "NotFound"
    assert status["message"] == 'pods "no-such-pod" not found'
    assert status["details"] == {"name": "no-such-pod", "kind": "pods"}


async def test_secrets_are_listed_and_read_without_their_data(cluster: Cluster) -> None:
    listed = await call(cluster.core.list_namespaced_secret, NAMESPACE)
    read = await call(cluster.core.read_namespaced_secret, "payment-db", NAMESPACE)
    raw = await call(cluster.core.list_secret_for_all_namespaces, _preload_content=False)

    assert [secret.metadata.name for secret in listed.items] == ["payment-db"]
    assert read.type == "Opaque" and read.data is None and read.string_data is None
    assert SECRET_VALUE not in raw.data.decode()


async def test_hpa_is_served_as_v2_and_as_v1(cluster: Cluster) -> None:
    v2 = await call(
        client.AutoscalingV2Api(cluster.api_client).read_namespaced_horizontal_pod_autoscaler,
        "payment-service",
        NAMESPACE,
    )
    v1 = await call(client.AutoscalingV1Api(cluster.api_client).list_namespaced_horizontal_pod_autoscaler, NAMESPACE)

    assert v2.spec.metrics[0].resource.target.average_utilization == 70
    assert v1.items[0].spec.target_cpu_utilization_percentage == 70
    assert v1.items[0].status.current_cpu_utilization_percentage == 85


# Logs -------------------------------------------------------------------------------------


async def test_logs_current_previous_tail_and_since(cluster: Cluster) -> None:
    read_log = cluster.core.read_namespaced_pod_log
    current = await call(read_log, CRASHING_POD, NAMESPACE)
    previous = await call(read_log, CRASHING_POD, NAMESPACE, previous=True)
    tail = await call(read_log, CRASHING_POD, NAMESPACE, tail_lines=2)
    recent = await call(read_log, CRASHING_POD, NAMESPACE, since_seconds=60)
    stamped = await call(read_log, HEALTHY_POD, NAMESPACE, container="app", timestamps=True)

    assert "ERROR gateway timed out after 5s" in current and "starting" in current
    assert "previous instance" in previous and "previous instance" not in current
    assert tail == "Traceback (most recent call last):\nTimeoutError: gateway timed out\n"
    assert recent.splitlines()[0].endswith("ERROR gateway timed out after 5s")
    assert "starting" not in recent and recent.endswith("TimeoutError: gateway timed out\n")
    moment, _, line = stamped.partition(" ")
    assert moment.endswith("Z") and moment[:4].isdigit() and line.startswith(moment[:10])


async def test_log_requests_the_api_refuses(cluster: Cluster) -> None:
    read_log = cluster.core.read_namespaced_pod_log
    with pytest.raises(ApiException) as no_previous:
        await call(read_log, HEALTHY_POD, NAMESPACE, previous=True)
    with pytest.raises(ApiException) as no_container:
        await call(read_log, "audit-worker-0", NAMESPACE)
    with pytest.raises(ApiException) as wrong_container:
        await call(read_log, "audit-worker-0", NAMESPACE, container="nope")

    assert no_previous.value.status == no_container.value.status == wrong_container.value.status == 400
    assert api_error(no_previous)["message"] == (
        f'previous terminated container "app" in pod "{HEALTHY_POD}" not found'
    )
    assert api_error(no_container)["message"] == (
        "a container name must be specified for pod audit-worker-0, choose one of: [worker log-shipper]"
    )
    assert api_error(wrong_container)["message"] == "container nope is not valid for pod audit-worker-0"
    assert await call(read_log, "audit-worker-0", NAMESPACE, container="log-shipper") == ""


# Writes -----------------------------------------------------------------------------------


def restart_patch() -> dict[str, Any]:
    annotations = {"kubectl.kubernetes.io/restartedAt": "2026-11-05T10:05:00Z"}
    return {"spec": {"template": {"metadata": {"annotations": annotations}}}}


async def test_restart_replaces_crash_looping_pods_with_healthy_ones(cluster: Cluster) -> None:
    before = await cluster.deployment()
    await call(cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, restart_patch())

    pods = await cluster.pods()
    deployment = await cluster.deployment()
    replica_sets = (await call(cluster.apps.list_namespaced_replica_set, NAMESPACE)).items
    events = (await call(cluster.core.list_namespaced_event, NAMESPACE)).items

    assert len(pods) == 2
    for pod in pods:
        status = pod.status.container_statuses[0]
        assert not pod.metadata.name.startswith(CURRENT_RS)
        assert pod.status.phase == "Running"
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
        assert status.ready and status.restart_count == 0 and status.state.running.started_at is not None
        assert pod.metadata.annotations["kubectl.kubernetes.io/restartedAt"] == "2026-11-05T10:05:00Z"
    with pytest.raises(ApiException) as gone:
        await call(cluster.core.read_namespaced_pod, CRASHING_POD, NAMESPACE)
    assert gone.value.status == 404
    new_rs = next(rs for rs in replica_sets if rs.spec.replicas == 2)
    assert pods[0].metadata.owner_references[0].name == new_rs.metadata.name
    assert new_rs.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert {rs.metadata.name: rs.spec.replicas for rs in replica_sets if rs is not new_rs} == {CURRENT_RS: 0, OLD_RS: 0}
    assert deployment.metadata.generation == before.metadata.generation + 1
    assert deployment.status.observed_generation == deployment.metadata.generation
    assert (deployment.status.ready_replicas, deployment.status.available_replicas) == (2, 2)
    assert deployment.status.unavailable_replicas is None
    assert {c.type: c.status for c in deployment.status.conditions} == {"Available": "True", "Progressing": "True"}
    reasons = {(event.involved_object.name, event.reason) for event in events}
    assert ("payment-service", "ScalingReplicaSet") in reasons
    assert (CRASHING_POD, "Killing") not in reasons  # a container waiting in back-off has nothing to stop
    assert (HEALTHY_POD, "Killing") in reasons
    assert {(pod.metadata.name, "Started") for pod in pods} <= reasons
    new_log = await call(cluster.core.read_namespaced_pod_log, pods[0].metadata.name, NAMESPACE)
    assert "gateway" not in new_log and "starting app" in new_log
    endpoints = await call(cluster.core.read_namespaced_endpoints, "payment-service", NAMESPACE)
    assert sorted(a.ip for a in endpoints.subsets[0].addresses) == sorted(p.status.pod_ip for p in pods)
    assert endpoints.subsets[0].not_ready_addresses is None


async def test_a_restart_of_a_deployment_whose_crash_is_not_transient_crash_loops_again(tmp_path: Path) -> None:
    server, cluster = await start_cluster(tmp_path, outcome="CrashLoopBackOff")
    try:
        await call(cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, restart_patch())
        pods = await cluster.pods()
        deployment = await cluster.deployment()
        previous = await call(cluster.core.read_namespaced_pod_log, pods[0].metadata.name, NAMESPACE, previous=True)
    finally:
        cluster.api_client.close()
        await server.stop()

    assert len(pods) == 2 and not any(pod.metadata.name.startswith(CURRENT_RS) for pod in pods)
    for pod in pods:
        status = pod.status.container_statuses[0]
        assert status.state.waiting.reason == "CrashLoopBackOff"
        assert (status.ready, status.restart_count) == (False, 1)
        assert status.last_state.terminated.reason == "Error"
    assert deployment.status.available_replicas is None and deployment.status.unavailable_replicas == 2
    assert "gateway timed out" in previous


async def test_unknown_restart_outcome_is_a_world_error(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match=r"unknown sandbox\.infrawhisperer\.dev/restart-outcome 'Sleepy'"):
        KubeApiServer(load_world(write_world(tmp_path, outcome="Sleepy")))


async def test_dry_run_answers_with_the_would_be_object_and_changes_nothing(cluster: Cluster) -> None:
    before = await cluster.deployment()
    pods_before = {pod.metadata.name for pod in await cluster.pods()}

    dry = await call(
        cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, {"spec": {"replicas": 5}}, dry_run="All"
    )
    await call(cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, restart_patch(), dry_run="All")
    await call(cluster.core.delete_namespaced_pod, CRASHING_POD, NAMESPACE, dry_run="All")

    after = await cluster.deployment()
    assert dry.spec.replicas == 5
    assert after.spec.replicas == 2
    assert after.metadata.resource_version == before.metadata.resource_version
    assert {pod.metadata.name for pod in await cluster.pods()} == pods_before


async def test_scale_subresource_changes_the_pod_count(cluster: Cluster) -> None:
    scaled = await call(
        cluster.apps.patch_namespaced_deployment_scale, "payment-service", NAMESPACE, {"spec": {"replicas": 3}}
    )
    pods = await cluster.pods()
    scale = await call(cluster.apps.read_namespaced_deployment_scale, "payment-service", NAMESPACE)

    assert scaled.spec.replicas == 3 and scale.spec.replicas == 3
    assert scale.status.replicas == 3 and scale.status.selector == "app=payment-service"
    assert len(pods) == 3 and all(pod.metadata.name.startswith(CURRENT_RS) for pod in pods)
    assert (await cluster.deployment()).status.replicas == 3

    await call(cluster.apps.patch_namespaced_deployment_scale, "payment-service", NAMESPACE, {"spec": {"replicas": 1}})
    remaining = await cluster.pods()
    assert [pod.metadata.name for pod in remaining] == [HEALTHY_POD]  # the crash-looping pod goes first


async def test_strategic_merge_of_a_container_keeps_its_other_fields(cluster: Cluster) -> None:
    image = "registry.example.com/payment-service:1.4.3"
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    await call(cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, patch)

    deployment = await cluster.deployment()
    pods = await cluster.pods()
    container = deployment.spec.template.spec.containers[0]
    assert (container.image, container.ports[0].container_port) == (image, 8080)
    assert len(pods) == 2 and all(pod.spec.containers[0].image == image for pod in pods)


async def test_deleting_a_pod_gets_it_replaced(cluster: Cluster) -> None:
    deleted = await call(cluster.core.delete_namespaced_pod, CRASHING_POD, NAMESPACE)
    pods = await cluster.pods()

    assert deleted.metadata.deletion_timestamp is not None
    assert len(pods) == 2 and CRASHING_POD not in {pod.metadata.name for pod in pods}
    assert all(pod.metadata.name.startswith(CURRENT_RS) for pod in pods)
    assert (await cluster.deployment()).status.ready_replicas == 2


async def test_refused_writes_are_shaped_like_the_real_api(cluster: Cluster) -> None:
    with pytest.raises(ApiException) as forbidden:
        await call(cluster.apps.delete_namespaced_deployment, "payment-service", NAMESPACE)
    with pytest.raises(ApiException) as invalid:
        await call(cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, {"spec": {"replicas": -1}})
    stale = await cluster.deployment()
    await call(cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, restart_patch())
    stale.spec.replicas = 4
    with pytest.raises(ApiException) as conflict:
        await call(cluster.apps.replace_namespaced_deployment, "payment-service", NAMESPACE, stale)

    assert (forbidden.value.status, api_error(forbidden)["reason"]) == (403, "Forbidden")
    assert api_error(forbidden)["message"] == (
        'deployments.apps "payment-service" is forbidden: User "infrawhisperer" cannot delete resource '
        '"deployments" in API group "apps" in the namespace "shop"'
    )
    assert (invalid.value.status, api_error(invalid)["reason"]) == (422, "Invalid")
    assert api_error(invalid)["details"]["causes"][0]["field"] == "spec.replicas"
    assert (conflict.value.status, api_error(conflict)["reason"]) == (409, "Conflict")
    assert (await cluster.deployment()).spec.replicas == 2


async def test_cordon_marks_the_node_unschedulable(cluster: Cluster) -> None:
    await call(cluster.core.patch_node, "node-a", {"spec": {"unschedulable": True}})
    node = await call(cluster.core.read_node, "node-a")

    assert node.spec.unschedulable is True
    assert [taint.key for taint in node.spec.taints] == ["node.kubernetes.io/unschedulable"]
    await call(cluster.apps.patch_namespaced_deployment, "payment-service", NAMESPACE, restart_patch())
    assert {pod.spec.node_name for pod in await cluster.pods()} == {"node-b"}


async def test_concurrent_writes_leave_a_consistent_cluster(cluster: Cluster) -> None:
    patch = cluster.apps.patch_namespaced_deployment
    writes = [call(patch, "payment-service", NAMESPACE, restart_patch()) for _ in range(4)]
    writes += [call(patch, "payment-service", NAMESPACE, {"spec": {"replicas": n}}) for n in (1, 3, 4, 2)]
    await asyncio.gather(*writes)

    deployment = await cluster.deployment()
    replica_sets = (await call(cluster.apps.list_namespaced_replica_set, NAMESPACE)).items
    active = [rs for rs in replica_sets if rs.spec.replicas]
    pods = await cluster.pods()
    assert len(active) == 1 and active[0].spec.replicas == deployment.spec.replicas == len(pods)
    assert {pod.metadata.owner_references[0].name for pod in pods} == {active[0].metadata.name}


async def test_watch_streams_the_replacement_of_a_deleted_pod(cluster: Cluster) -> None:
    listed = await call(cluster.core.list_namespaced_pod, NAMESPACE)
    watcher = watch.Watch()  # type: ignore[no-untyped-call]
    seen: list[tuple[str, str]] = []

    def follow() -> None:
        stream = watcher.stream(  # type: ignore[no-untyped-call]
            cluster.core.list_namespaced_pod,
            NAMESPACE,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=10,
        )
        for event in stream:
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "ADDED":
                watcher.stop()  # type: ignore[no-untyped-call]

    following = asyncio.create_task(call(follow))
    await asyncio.sleep(0.2)
    await call(cluster.core.delete_namespaced_pod, CRASHING_POD, NAMESPACE)
    await asyncio.wait_for(following, timeout=10)

    assert ("DELETED", CRASHING_POD) in seen
    assert seen[-1][0] == "ADDED" and seen[-1][1].startswith(CURRENT_RS)


# Authentication, lifecycle, speed ---------------------------------------------------------


async def test_requests_without_the_kubeconfig_token_are_unauthorized(cluster: Cluster) -> None:
    context = ssl.create_default_context(cadata=cluster.server.ca_pem.decode())
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with session.get(f"{cluster.server.url}/api/v1/pods", headers=headers, ssl=context) as response:
                status = await response.json()
                assert response.status == 401
                assert (status["kind"], status["reason"]) == ("Status", "Unauthorized")


async def test_stop_frees_the_port(tmp_path: Path) -> None:
    server, cluster = await start_cluster(tmp_path)
    await call(cluster.core.list_namespaced_pod, NAMESPACE)
    port = int(server.url.rsplit(":", 1)[1])
    cluster.api_client.close()
    await server.stop()

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


async def test_a_pod_list_through_the_official_client_is_fast(cluster: Cluster) -> None:
    def timed() -> float:
        started = time.perf_counter()
        cluster.core.list_pod_for_all_namespaces()
        return time.perf_counter() - started

    await call(timed)
    durations = [await call(timed) for _ in range(20)]
    assert statistics.median(durations) < 0.020


# kubectl ----------------------------------------------------------------------------------


async def test_kubectl_reads_the_cluster(cluster: Cluster) -> None:
    pods = await cluster.kubectl("get", "pods", "-A")
    describe = await cluster.kubectl("describe", "pod", CRASHING_POD, "-n", NAMESPACE)
    previous = await cluster.kubectl("logs", CRASHING_POD, "-n", NAMESPACE, "--previous")
    deployments = json.loads(await cluster.kubectl("get", "deploy", "-n", NAMESPACE, "-o", "json"))
    events = await cluster.kubectl(
        "get", "events", "-n", NAMESPACE, "--field-selector", f"involvedObject.name={CRASHING_POD}"
    )

    crashing_row = next(line.split() for line in pods.splitlines() if CRASHING_POD in line)
    assert crashing_row[:5] == [NAMESPACE, CRASHING_POD, "0/1", "CrashLoopBackOff", "14"]
    assert "Restart Count:  14" in describe and "Back-off restarting failed container app" in describe
    assert "previous instance: gateway timed out" in previous
    assert [item["spec"]["replicas"] for item in deployments["items"]] == [2]
    assert "BackOff" in events and "Started" not in events


async def test_kubectl_restarts_scales_and_rolls_back(cluster: Cluster) -> None:
    await cluster.kubectl("rollout", "restart", "deployment/payment-service", "-n", NAMESPACE)
    restarted = await cluster.pods()
    await cluster.kubectl("scale", "deployment", "payment-service", "--replicas=3", "-n", NAMESPACE)
    scaled = await cluster.pods()
    await cluster.kubectl("rollout", "undo", "deployment/payment-service", "--to-revision=1", "-n", NAMESPACE)
    rolled_back = await cluster.pods()
    status = await cluster.kubectl("rollout", "status", "deployment/payment-service", "-n", NAMESPACE)

    assert len(restarted) == 2 and not any(p.metadata.name.startswith(CURRENT_RS) for p in restarted)
    assert all(p.status.container_statuses[0].ready for p in restarted)
    assert len(scaled) == 3
    assert len(rolled_back) == 3 and all(p.metadata.name.startswith(OLD_RS) for p in rolled_back)
    assert {p.spec.containers[0].image for p in rolled_back} == {"registry.example.com/payment-service:1.4.1"}
    old_rs = await call(cluster.apps.read_namespaced_replica_set, OLD_RS, NAMESPACE)
    assert old_rs.metadata.annotations["deployment.kubernetes.io/revision"] == "4"
    assert old_rs.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert 'deployment "payment-service" successfully rolled out' in status


async def test_kubectl_cordons_a_node(cluster: Cluster) -> None:
    await cluster.kubectl("cordon", "node-b")
    nodes = await cluster.kubectl("get", "nodes")

    assert (
        next(line for line in nodes.splitlines() if line.startswith("node-b")).split()[1] == "Ready,SchedulingDisabled"
    )


# The bundled flagship world ---------------------------------------------------------------


async def test_the_bundled_payment_outage_world_serves_its_pods(tmp_path: Path) -> None:
    if not (BUNDLED_WORLDS / "payment-outage" / "world.yaml").is_file():
        pytest.skip("the bundled payment-outage world is not there yet")
    async with KubeApiServer(load_world("payment-outage")) as server:
        kubeconfig = str(server.write_kubeconfig(tmp_path / "kubeconfig"))
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        try:
            pods = await call(client.CoreV1Api(api).list_pod_for_all_namespaces)
        finally:
            api.close()
    assert pods.items and all(pod.metadata.uid and pod.metadata.resource_version for pod in pods.items)

"""Small Kubernetes objects as the API returns them, with just the fields a test varies.

Every factory returns a plain dict (the analyzers' input) and takes times as "minutes before
NOW", so a table row reads like the story it tells: crashed 5 minutes ago, pending for 20.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.analyzers.kubernetes import ClusterSnapshot
from tools.analyzers.kubernetes.cluster import Analyzer
from tools.findings import Finding, Severity

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
NS = "shop"

Obj = dict[str, Any]


def ago(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def meta(name: str, *, namespace: str | None = NS, **extra: Any) -> Obj:
    return {"name": name, **({"namespace": namespace} if namespace else {}), "creationTimestamp": ago(600), **extra}


def owner(kind: str, name: str) -> list[Obj]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": f"uid-{name}", "controller": True}]


def cond(kind: str, status: str, *, reason: str | None = None, message: str | None = None, since: float = 60) -> Obj:
    found: Obj = {"type": kind, "status": status, "lastTransitionTime": ago(since)}
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    return found


# Pods -------------------------------------------------------------------------------------------


def running(started: float = 60) -> Obj:
    return {"running": {"startedAt": ago(started)}}


def waiting(reason: str, message: str = "") -> Obj:
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def terminated(reason: str, code: int, *, finished: float = 5, started: float | None = None) -> Obj:
    return {
        "terminated": {
            "reason": reason,
            "exitCode": code,
            "startedAt": ago(started if started is not None else finished + 10),
            "finishedAt": ago(finished),
        }
    }


def status(
    name: str = "api",
    *,
    ready: bool = True,
    restarts: int = 0,
    state: Obj | None = None,
    last: Obj | None = None,
    image: str = "ghcr.io/acme/api:1.4.2",
) -> Obj:
    return {
        "name": name,
        "image": image,
        "ready": ready,
        "started": ready,
        "restartCount": restarts,
        "state": state if state is not None else running(),
        "lastState": last or {},
    }


def container(name: str = "api", *, memory_limit: str = "512Mi", **extra: Any) -> Obj:
    return {
        "name": name,
        "image": "ghcr.io/acme/api:1.4.2",
        "resources": {"limits": {"memory": memory_limit}, "requests": {"cpu": "100m", "memory": "256Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5, "failureThreshold": 3},
        **extra,
    }


def pod(
    name: str = "api-7d9f8b6c5d-x7k2p",
    *,
    statuses: Sequence[Obj] | None = None,
    containers: Sequence[Obj] | None = None,
    phase: str = "Running",
    conditions: Sequence[Obj] | None = None,
    replicaset: str | None = "api-7d9f8b6c5d",
    labels: Mapping[str, str] | None = None,
    created: float = 120,
    node: str | None = "node-1",
    **status_extra: Any,
) -> Obj:
    statuses = list(statuses) if statuses is not None else [status()]
    all_ready = all(item.get("ready") for item in statuses)
    pod_labels = dict(labels) if labels is not None else {"app": "api", "pod-template-hash": "7d9f8b6c5d"}
    metadata = meta(name, labels=pod_labels, creationTimestamp=ago(created))
    if replicaset:
        metadata["ownerReferences"] = owner("ReplicaSet", replicaset)
    default_conditions = [
        cond("PodScheduled", "True", since=created),
        cond("Ready", "True" if all_ready else "False", since=30, reason=None if all_ready else "ContainersNotReady"),
    ]
    spec: Obj = {"containers": list(containers) if containers is not None else [container()]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "phase": phase,
            "startTime": ago(created),
            "conditions": list(conditions) if conditions is not None else default_conditions,
            "containerStatuses": statuses,
            **status_extra,
        },
    }


def event(
    kind: str,
    name: str,
    reason: str,
    message: str,
    *,
    count: int = 1,
    first: float = 30,
    last: float = 1,
    type_: str = "Warning",
    container_name: str | None = None,
    namespace: str | None = NS,
) -> Obj:
    involved: Obj = {"kind": kind, "name": name, **({"namespace": namespace} if namespace else {})}
    if container_name:
        involved["fieldPath"] = f"spec.containers{{{container_name}}}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta(f"{name}.{reason.lower()}", namespace=namespace or "default"),
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": type_,
        "count": count,
        "firstTimestamp": ago(first),
        "lastTimestamp": ago(last),
    }


# Workloads --------------------------------------------------------------------------------------


def deployment(name: str = "api", *, replicas: int = 2, ready: int = 2, conditions: Sequence[Obj] | None = None) -> Obj:
    default_conditions = [
        cond("Available", "True" if ready >= replicas else "False", reason="MinimumReplicasAvailable", since=90),
        cond("Progressing", "True", reason="NewReplicaSetAvailable", since=95),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, labels={"app": name}),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "progressDeadlineSeconds": 600},
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "updatedReplicas": replicas,
            "conditions": list(conditions) if conditions is not None else default_conditions,
        },
    }


def replicaset(
    name: str = "api-7d9f8b6c5d",
    *,
    replicas: int = 2,
    current: int = 2,
    deployment_name: str | None = "api",
    conditions: Sequence[Obj] = (),
) -> Obj:
    metadata = meta(name, labels={"app": "api", "pod-template-hash": name.rsplit("-", 1)[-1]})
    if deployment_name:
        metadata["ownerReferences"] = owner("Deployment", deployment_name)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata,
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "api"}}},
        "status": {"replicas": current, "readyReplicas": current, "conditions": list(conditions)},
    }


def statefulset(name: str = "postgres", *, replicas: int = 1, ready: int = 1) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name, labels={"app": name}),
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}}},
        "status": {"replicas": replicas, "readyReplicas": ready, "currentReplicas": replicas},
    }


def job(name: str, *, conditions: Sequence[Obj] = (), cronjob: str | None = None, failed: int = 0) -> Obj:
    metadata = meta(name)
    if cronjob:
        metadata["ownerReferences"] = owner("CronJob", cronjob)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {"backoffLimit": 3},
        "status": {"failed": failed, "conditions": list(conditions)},
    }


def cronjob(name: str = "nightly-report", *, suspend: bool = False) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(name),
        "spec": {"schedule": "0 2 * * *", "suspend": suspend, "jobTemplate": {"spec": {}}},
        "status": {"lastScheduleTime": ago(120)},
    }


def hpa(
    name: str = "api",
    *,
    target: str = "api",
    maximum: int = 10,
    current: int = 3,
    desired: int = 3,
    conditions: Sequence[Obj] = (),
) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 2,
            "maxReplicas": maximum,
        },
        "status": {"currentReplicas": current, "desiredReplicas": desired, "conditions": list(conditions)},
    }


# Networking, storage, nodes, config -------------------------------------------------------------


def service(name: str = "api", *, selector: Mapping[str, str] | None = None, type_: str = "ClusterIP") -> Obj:
    spec: Obj = {"type": type_, "ports": [{"port": 80, "targetPort": 8080}]}
    chosen = {"app": name} if selector is None else dict(selector)
    if chosen:
        spec["selector"] = chosen
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name), "spec": spec}


def endpoints(name: str = "api", *, ready: Sequence[str] = (), not_ready: Sequence[str] = ()) -> Obj:
    subset: Obj = {"ports": [{"port": 8080}]}
    if ready:
        subset["addresses"] = [
            {"ip": f"10.0.0.{i}", "targetRef": {"kind": "Pod", "name": n}} for i, n in enumerate(ready)
        ]
    if not_ready:
        subset["notReadyAddresses"] = [
            {"ip": f"10.0.1.{i}", "targetRef": {"kind": "Pod", "name": n}} for i, n in enumerate(not_ready)
        ]
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(name), "subsets": [subset]}


def endpoint_slice(service_name: str, *, ready: Sequence[str] = (), not_ready: Sequence[str] = ()) -> Obj:
    entries = [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "targetRef": {"name": n}} for n in ready]
    entries += [
        {"addresses": ["10.0.1.1"], "conditions": {"ready": False}, "targetRef": {"name": n}} for n in not_ready
    ]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta(f"{service_name}-abcde", labels={"kubernetes.io/service-name": service_name}),
        "endpoints": entries,
    }


def ingress(
    name: str = "web", *, service_name: str = "api", tls_secret: str | None = "web-tls", host: str = "shop.example.com"
) -> Obj:
    spec: Obj = {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": service_name, "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    }
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(name), "spec": spec}


def secret(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name), "type": "Opaque", "data": {"k": "c2VjcmV0"}}


def configmap(name: str, **data: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name), "data": data}


def pvc(name: str = "data", *, phase: str = "Pending", storage_class: str | None = "gp3", created: float = 30) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(name, creationTimestamp=ago(created)),
        "spec": spec,
        "status": {"phase": phase},
    }


def storage_class(name: str = "gp3", *, default: bool = False, binding: str = "Immediate") -> Obj:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": meta(name, namespace=None, annotations=annotations),
        "provisioner": "ebs.csi.aws.com",
        "volumeBindingMode": binding,
    }


def node(
    name: str = "node-1",
    *,
    ready: str = "True",
    unschedulable: bool = False,
    pressures: Mapping[str, str] | None = None,
) -> Obj:
    """A node whose pressure conditions are all False unless `pressures` says otherwise ({"DiskPressure": "True"})."""
    pressures = pressures or {}
    conditions = [
        cond(kind, pressures.get(kind, "False"), reason=f"Kubelet{kind}", message=f"kubelet reports {kind}")
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    conditions.append(cond("Ready", ready, reason="KubeletReady" if ready == "True" else "NodeStatusUnknown", since=20))
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(name, namespace=None),
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"conditions": conditions},
    }


# Running analyzers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What one finding must say; summary and evidence fragments are matched as substrings."""

    reason: str
    severity: Severity
    summary: Sequence[str] = ()
    evidence: Sequence[str] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    since: datetime | None = None


def run(analyzer: Analyzer, target: Obj, *related: Obj, now: datetime = NOW) -> list[Finding]:
    """The analyzer on `target`, with the target and its related objects as the snapshot."""
    return analyzer(target, ClusterSnapshot.from_objects([target, *related]), now=now)


def check(findings: list[Finding], expected: Sequence[Expect]) -> None:
    assert [(f.reason, f.severity) for f in findings] == [(e.reason, e.severity) for e in expected], findings
    for found, wanted in zip(findings, expected, strict=True):
        for fragment in wanted.summary:
            assert fragment in found.summary, (fragment, found.summary)
        for fragment in wanted.evidence:
            assert fragment in found.evidence, (fragment, found.evidence)
        for key, value in wanted.details.items():
            assert found.details.get(key) == value, (key, found.details)
        if wanted.since is not None:
            assert found.since == wanted.since, (found.since, wanted.since)
        assert found.source == "kubernetes"
        assert found.subject is not None

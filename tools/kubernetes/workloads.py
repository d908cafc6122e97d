"""Deployments, their rollouts and nodes, turned from API JSON into the servers' typed answers.

`rollout_view` follows `kubectl rollout status` to the word, because remediation verifies a
restart or a rollback with it and reports its message in the thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    controller_ref,
    integer,
    items,
    labels_of,
    path,
    string_map,
    text,
    time_at,
)
from tools.kubernetes.models import Condition, Deployment, Node, RolloutPod, RolloutStatus
from tools.kubernetes.views import age, conditions_of, pod_status

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
_ROLE_LABEL = "node-role.kubernetes.io/"
_PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def desired_replicas(deployment: JsonObj) -> int:
    """spec.replicas, which the API defaults to 1 when it is left out."""
    replicas = path(deployment, "spec", "replicas")
    return replicas if isinstance(replicas, int) else 1


def match_label_selector(workload: JsonObj) -> str | None:
    """The workload's matchLabels as a labelSelector query, to narrow a list to its ReplicaSets and pods.

    matchExpressions are left out: callers filter by owner reference, the selector only narrows."""
    labels = string_map(workload, "spec", "selector", "matchLabels")
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items())) or None


def template_images(workload: JsonObj) -> list[str]:
    return [text(spec, "image") or "" for spec in items(workload, "spec", "template", "spec", "containers")]


def revision_of(workload: JsonObj) -> int | None:
    value = text(workload, "metadata", "annotations", REVISION_ANNOTATION)
    return int(value) if value and value.isdigit() else None


def deployment_view(deployment: JsonObj, now: datetime) -> Deployment:
    created = time_at(deployment, "metadata", "creationTimestamp")
    return Deployment(
        name=text(deployment, "metadata", "name") or "",
        namespace=text(deployment, "metadata", "namespace") or "",
        desired=desired_replicas(deployment),
        ready=integer(deployment, "status", "readyReplicas"),
        available=integer(deployment, "status", "availableReplicas"),
        updated=integer(deployment, "status", "updatedReplicas"),
        unavailable=integer(deployment, "status", "unavailableReplicas"),
        images=template_images(deployment),
        revision=text(deployment, "metadata", "annotations", REVISION_ANNOTATION),
        paused=path(deployment, "spec", "paused") is True,
        strategy=text(deployment, "spec", "strategy", "type"),
        selector=string_map(deployment, "spec", "selector", "matchLabels"),
        labels=labels_of(deployment),
        conditions=conditions_of(deployment),
        created_at=created,
        age=age(created, now),
    )


def owned_by(obj: JsonObj, owner: JsonObj) -> bool:
    reference = controller_ref(obj)
    return reference is not None and reference.get("uid") == path(owner, "metadata", "uid")


def current_replicaset(deployment: JsonObj, replicasets: Sequence[JsonObj]) -> JsonObj | None:
    """The ReplicaSet of the deployment's revision (the controller stamps both), else its newest one."""
    owned = [replicaset for replicaset in replicasets if owned_by(replicaset, deployment)]
    wanted = revision_of(deployment)
    matching = [replicaset for replicaset in owned if wanted is not None and revision_of(replicaset) == wanted]
    return (matching or sorted(owned, key=lambda replicaset: revision_of(replicaset) or 0))[-1] if owned else None


def rollout_view(deployment: JsonObj, replicasets: Sequence[JsonObj], pods: Sequence[JsonObj]) -> RolloutStatus:
    name = text(deployment, "metadata", "name") or ""
    generation = integer(deployment, "metadata", "generation")
    observed = integer(deployment, "status", "observedGeneration")
    desired = desired_replicas(deployment)
    updated = integer(deployment, "status", "updatedReplicas")
    total = integer(deployment, "status", "replicas")
    available = integer(deployment, "status", "availableReplicas")
    current = current_replicaset(deployment, replicasets)
    complete, message = _rollout_message(deployment, name, generation, observed, desired, updated, total, available)
    current_pods = [pod for pod in pods if current is not None and owned_by(pod, current)]
    return RolloutStatus(
        namespace=text(deployment, "metadata", "namespace") or "",
        name=name,
        generation=generation,
        observed_generation=observed,
        desired=desired,
        updated=updated,
        ready=integer(deployment, "status", "readyReplicas"),
        available=available,
        total=total,
        complete=complete,
        message=message,
        revision=text(deployment, "metadata", "annotations", REVISION_ANNOTATION),
        replicaset=text(current, "metadata", "name") if current else None,
        images=template_images(deployment),
        pods=[
            RolloutPod(
                name=text(pod, "metadata", "name") or "",
                ready=(condition(pod, "Ready") or {}).get("status") == "True",
                status=pod_status(pod),
                restarts=sum(integer(status, "restartCount") for status in items(pod, "status", "containerStatuses")),
                created_at=time_at(pod, "metadata", "creationTimestamp"),
            )
            for pod in current_pods
        ],
    )


def _rollout_message(
    deployment: JsonObj,
    name: str,
    generation: int,
    observed: int,
    desired: int,
    updated: int,
    total: int,
    available: int,
) -> tuple[bool, str]:
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if generation > observed:
        return False, "Waiting for deployment spec update to be observed..."
    progressing = condition(deployment, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, f'deployment "{name}" exceeded its progress deadline'
    if updated < desired:
        return False, f"{waiting}{updated} out of {desired} new replicas have been updated..."
    if total > updated:
        return False, f"{waiting}{total - updated} old replicas are pending termination..."
    if available < updated:
        return False, f"{waiting}{available} of {updated} updated replicas are available..."
    return True, f'deployment "{name}" successfully rolled out'


def node_view(node: JsonObj, now: datetime) -> Node:
    ready = condition(node, "Ready")
    status = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    unschedulable = path(node, "spec", "unschedulable") is True
    created = time_at(node, "metadata", "creationTimestamp")
    labels = labels_of(node)
    roles = sorted(key.removeprefix(_ROLE_LABEL) for key in labels if key.startswith(_ROLE_LABEL))
    if "kubernetes.io/role" in labels:
        roles.append(labels["kubernetes.io/role"])
    return Node(
        name=text(node, "metadata", "name") or "",
        status=f"{status},SchedulingDisabled" if unschedulable else status,
        roles=roles,
        unschedulable=unschedulable,
        kubelet_version=text(node, "status", "nodeInfo", "kubeletVersion"),
        internal_ip=next(
            (
                text(address, "address")
                for address in items(node, "status", "addresses")
                if address.get("type") == "InternalIP"
            ),
            None,
        ),
        created_at=created,
        age=age(created, now),
        taints=[
            f"{text(taint, 'key')}"
            + (f"={text(taint, 'value')}" if text(taint, "value") else "")
            + f":{text(taint, 'effect')}"
            for taint in items(node, "spec", "taints")
        ],
        problems=[cond for cond in conditions_of(node) if _unhealthy(cond)],
        capacity=string_map(node, "status", "capacity"),
        allocatable=string_map(node, "status", "allocatable"),
    )


def _unhealthy(cond: Condition) -> bool:
    if cond.type == "Ready":
        return cond.status != "True"
    return cond.type in _PRESSURE_CONDITIONS and cond.status == "True"

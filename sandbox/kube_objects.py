"""Kubernetes objects as plain dicts: how writes change them and how controllers build them.

Pure functions, no state: the patch formats clients send, the validation the API server applies
to a write, and the shapes the deployment, replicaset and endpoints controllers and the kubelet
give the objects they create (pods, their statuses, Endpoints, Deployment status). Keeping them
apart from `kube_state` leaves that module with the bookkeeping only: which object is where.

Patches: clients pick the format. The Python client sends a dict as a strategic merge patch and a
list as a JSON patch, `kubectl scale` sends a merge patch, `kubectl rollout undo` a JSON patch,
`kubectl rollout restart` and `kubectl cordon` strategic merge patches. Strategic merge needs to
know which lists merge by which key; the table below holds the keys of the fields remediation
touches (containers, env, volumes, ports, ...), and every other list is replaced, as the API does
for lists without a patch strategy.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from sandbox.kube_resources import (
    JsonObj,
    KubeStatusError,
    ResourceType,
    bad_request,
    conflict,
    invalid,
    label_selector_text,
    selector_predicate,
)
from sandbox.timeshift import parse_time
from sandbox.world import ContainerLogs

OUTCOME_ANNOTATION = "sandbox.infrawhisperer.dev/restart-outcome"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class EventTemplate:
    """An event a controller or the kubelet records, its message a format string."""

    type: str
    reason: str
    message: str
    component: str


SCHEDULED = EventTemplate(
    "Normal", "Scheduled", "Successfully assigned {namespace}/{pod} to {node}", "default-scheduler"
)
_PULLED = EventTemplate("Normal", "Pulled", 'Container image "{image}" already present on machine', "kubelet")
_CREATED = EventTemplate("Normal", "Created", "Created container: {container}", "kubelet")
_STARTED = EventTemplate("Normal", "Started", "Started container {container}", "kubelet")
_BACKOFF = EventTemplate(
    "Warning", "BackOff", "Back-off restarting failed container {container} in pod {pod}_{namespace}({uid})", "kubelet"
)
_PULLING = EventTemplate("Normal", "Pulling", 'Pulling image "{image}"', "kubelet")
_PULL_FAILED = EventTemplate(
    "Warning",
    "Failed",
    'Failed to pull image "{image}": rpc error: code = NotFound desc = '
    'failed to pull and unpack image "{image}": not found',
    "kubelet",
)
_PULL_BACKOFF = EventTemplate("Warning", "BackOff", 'Back-off pulling image "{image}"', "kubelet")
_CONFIG_FAILED = EventTemplate(
    "Warning", "Failed", "Error: a ConfigMap or Secret the container references was not found", "kubelet"
)
KILLING = EventTemplate("Normal", "Killing", "Stopping container {container}", "kubelet")


@dataclass(frozen=True)
class Outcome:
    """The state a new pod's first container comes up in."""

    waiting: str | None = None
    waiting_message: str = ""
    terminated: str | None = None
    exit_code: int = 0
    events: tuple[EventTemplate, ...] = (_PULLED, _CREATED, _STARTED)

    @property
    def crashed(self) -> bool:
        return self.terminated is not None

    @property
    def pending(self) -> bool:
        return self.waiting is not None and not self.crashed


HEALTHY = Outcome()
_CRASH_MESSAGE = "back-off 10s restarting failed container={container} pod={pod}_{namespace}({uid})"
_CRASH_EVENTS = (_PULLED, _CREATED, _STARTED, _BACKOFF)
OUTCOMES: dict[str, Outcome] = {
    "Running": HEALTHY,
    "CrashLoopBackOff": Outcome("CrashLoopBackOff", _CRASH_MESSAGE, "Error", 1, _CRASH_EVENTS),
    "Error": Outcome("CrashLoopBackOff", _CRASH_MESSAGE, "Error", 1, _CRASH_EVENTS),
    "OOMKilled": Outcome("CrashLoopBackOff", _CRASH_MESSAGE, "OOMKilled", 137, _CRASH_EVENTS),
    "ImagePullBackOff": Outcome(
        "ImagePullBackOff", 'Back-off pulling image "{image}"', events=(_PULLING, _PULL_FAILED, _PULL_BACKOFF)
    ),
    "ErrImagePull": Outcome(
        "ErrImagePull", 'failed to pull and unpack image "{image}": not found', events=(_PULLING, _PULL_FAILED)
    ),
    "CreateContainerConfigError": Outcome(
        "CreateContainerConfigError",
        "a ConfigMap or Secret the container references was not found",
        events=(
            _PULLED,
            _CONFIG_FAILED,
        ),
    ),
    "ContainerCreating": Outcome("ContainerCreating", events=()),
}
_WAITING_LOG_REASONS = {
    "ImagePullBackOff": "trying and failing to pull image",
    "ErrImagePull": "trying and failing to pull image",
}


class LogRequest(BaseModel):
    """The query of a pod log request, as `PodLogOptions` names it."""

    model_config = ConfigDict(frozen=True)

    container: str | None = None
    previous: bool = False
    tail_lines: int | None = None
    since: datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


# Objects --------------------------------------------------------------------------------------

_LINE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)


def object_key(obj: JsonObj) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def apply_defaults(resource: ResourceType, obj: JsonObj) -> None:
    """What defaulting and admission would have added to an object a world wrote down by hand.

    A world's objects are meant to be "as the API returns them", but people leave out defaults;
    clients (and `kubectl describe`) show them, and the strict Python client refuses a label
    that YAML turned into a number."""
    meta = obj.setdefault("metadata", {})
    if resource.namespaced:
        meta.setdefault("namespace", "default")
    else:
        meta.pop("namespace", None)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        _stringify_labels(meta)
        return
    template = spec.get("template") if resource.kind != "CronJob" else _get_path(spec, "jobTemplate.spec.template")
    for holder in (meta, (template or {}).get("metadata")):
        _stringify_labels(holder)
    if resource.group:
        meta.setdefault("generation", 1)
    if resource.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        spec.setdefault("replicas", 1)
    if isinstance(template, dict):
        _default_pod_spec(template.setdefault("spec", {}))
    if resource.kind == "Pod":
        _default_pod_spec(spec)
        _admit_pod_spec(spec)
    elif resource.kind == "Deployment":
        _default_deployment_spec(spec)
    elif resource.kind == "Service":
        _default_service_spec(spec)


def _get_path(obj: JsonObj, path: str) -> Any:
    current: Any = obj
    for key in path.split("."):
        current = current.get(key) if isinstance(current, dict) else None
    return current


def _stringify_labels(holder: Any) -> None:
    for field in ("labels", "annotations"):
        if isinstance(holder, dict) and isinstance(holder.get(field), dict):
            holder[field] = {str(k): _label_text(v) for k, v in holder[field].items()}


def _default_pod_spec(spec: JsonObj) -> None:
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        image = str(container.get("image", ""))
        tagged = ":" in image.rpartition("/")[2] and not image.endswith(":latest")
        container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
    defaults = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    }
    for key, value in defaults.items():
        spec.setdefault(key, value)


def _admit_pod_spec(spec: JsonObj) -> None:
    """What admission plugins add to every pod (not to templates)."""
    tolerations = [
        {"key": f"node.kubernetes.io/{taint}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        for taint in ("not-ready", "unreachable")
    ]
    defaults: JsonObj = {
        "serviceAccountName": "default",
        "serviceAccount": spec.get("serviceAccountName", "default"),
        "tolerations": tolerations,
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    for key, value in defaults.items():
        spec.setdefault(key, value)


def _default_deployment_spec(spec: JsonObj) -> None:
    spec.setdefault("strategy", {"type": "RollingUpdate"})
    if spec["strategy"].get("type", "RollingUpdate") == "RollingUpdate":
        spec["strategy"].setdefault("type", "RollingUpdate")
        spec["strategy"].setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)


def _default_service_spec(spec: JsonObj) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if spec.get("clusterIP"):
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


def align_with_deployment(replicaset: JsonObj, deployment: JsonObj) -> None:
    """Makes a world's current ReplicaSet run exactly its Deployment's template and carry its
    restart outcome, as the deployment controller keeps it. Without this, a hand-written template
    that differs in one default would make a mere scale look like a new rollout."""
    template = replicaset.get("spec", {}).get("template") or {}
    wanted = deployment.get("spec", {}).get("template") or {}
    if template_key(template) != template_key(wanted):
        aligned = copy.deepcopy(wanted)
        pod_hash = (template.get("metadata") or {}).get("labels", {}).get(HASH_LABEL)
        if pod_hash is not None:
            aligned.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        replicaset["spec"]["template"] = aligned
    outcome = deployment["metadata"].get("annotations", {}).get(OUTCOME_ANNOTATION)
    if outcome is not None:
        replicaset["metadata"].setdefault("annotations", {}).setdefault(OUTCOME_ANNOTATION, outcome)


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def first_seen(obj: JsonObj) -> str | None:
    """When an object without a creationTimestamp evidently existed first (events and pods say so)."""
    for value in (obj.get("status", {}).get("startTime"), obj.get("firstTimestamp"), obj.get("eventTime")):
        if isinstance(value, str) and value:
            return value
    last = obj.get("lastTimestamp")
    return last if isinstance(last, str) else None


def revision_of(replicaset: JsonObj) -> int:
    value = str(replicaset["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0"))
    return int(value) if value.isdigit() else 0


def replicas_of(obj: JsonObj) -> int:
    value = obj.get("spec", {}).get("replicas", 1)
    return value if isinstance(value, int) else 1


def _pruned(value: Any) -> Any:
    """A template as Go would round-trip it: nulls, empty maps and empty lists carry no meaning."""
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def template_key(template: JsonObj) -> str:
    """A pod template's identity, ignoring the hash label its ReplicaSet adds: the deployment
    controller's test for "this ReplicaSet already runs that template" (how rollback finds it)."""
    template = copy.deepcopy(template)
    labels = template.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return json.dumps(_pruned(template), sort_keys=True)


def template_hash(template: JsonObj, collisions: int) -> str:
    """pod-template-hash as the controller writes it: FNV-1a 32 of the template, its decimal digits
    mapped through the API machinery's safe alphabet."""
    value = 0x811C9DC5
    for byte in (template_key(template) + (str(collisions) if collisions else "")).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[ord(digit) % len(SAFE_ALPHABET)] for digit in str(value))


def controller_ref(owner: JsonObj) -> JsonObj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def max_surge(deployment: JsonObj) -> int:
    return _rolling_value(deployment, "maxSurge", round_up=True)


def _max_unavailable(deployment: JsonObj) -> int:
    if deployment["spec"].get("strategy", {}).get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    return _rolling_value(deployment, "maxUnavailable", round_up=False)


def _rolling_value(deployment: JsonObj, field: str, *, round_up: bool) -> int:
    value = deployment["spec"].get("strategy", {}).get("rollingUpdate", {}).get(field, "25%")
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%") or 0) * replicas_of(deployment)
    return -(-percent // 100) if round_up else percent // 100


def pod_ready(pod: JsonObj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions") or []
    )


def node_ready(node: JsonObj) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    ready = [c for c in conditions if c.get("type") == "Ready"]
    return not ready or ready[0].get("status") == "True"


def node_ip(node: JsonObj) -> str:
    for address in node.get("status", {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address["address"])
    return "10.0.0.10"


def labels_match(selector: dict[str, str], pod: JsonObj) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def deletion_rank(pod: JsonObj) -> tuple[bool, int, bool, int, float]:
    """The replicaset controller deletes unscheduled, then pending, then unready, then younger pods first."""
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.get("status", {}).get("phase", ""), 2)
    restarts = sum(s.get("restartCount", 0) for s in pod.get("status", {}).get("containerStatuses") or [])
    age = -parse_time(pod["metadata"]["creationTimestamp"]).timestamp()
    return (bool(pod.get("spec", {}).get("nodeName")), phase, pod_ready(pod), -restarts, age)


def deployment_status(
    deployment: JsonObj, current: JsonObj | None, pods: list[JsonObj], updated: list[JsonObj], now: str
) -> JsonObj:
    desired = replicas_of(deployment)
    ready = sum(pod_ready(pod) for pod in pods)
    previous = deployment.get("status", {})
    status: JsonObj = {"observedGeneration": deployment["metadata"].get("generation", 1)}
    counts = {
        "replicas": len(pods),
        "updatedReplicas": len(updated),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": max(desired - ready, 0),
    }
    status.update({key: value for key, value in counts.items() if value})
    available = ready >= desired - _max_unavailable(deployment)
    name = current["metadata"]["name"] if current is not None else deployment["metadata"]["name"]
    complete = len(updated) == desired == ready == len(pods)
    if deployment["spec"].get("paused"):
        progressing = ("Unknown", "DeploymentPaused", "Deployment is paused")
    elif complete:
        progressing = ("True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.')
    else:
        progressing = ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.')
    wanted = [
        ("Available", "True" if available else "False")
        + (
            ("MinimumReplicasAvailable", "Deployment has minimum availability.")
            if available
            else ("MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        ),
        ("Progressing", *progressing),
    ]
    old = {c.get("type"): c for c in previous.get("conditions") or []}
    conditions = []
    for kind, value, reason, message in wanted:
        before = old.get(kind, {})
        since = before.get("lastTransitionTime") if before.get("status") == value else None
        conditions.append(
            {
                "type": kind,
                "status": value,
                "lastUpdateTime": now,
                "lastTransitionTime": since or now,
                "reason": reason,
                "message": message,
            }
        )
    status["conditions"] = conditions
    if "collisionCount" in previous:
        status["collisionCount"] = previous["collisionCount"]
    return status


def scale_of(deployment: JsonObj) -> JsonObj:
    meta = deployment["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
        "spec": {"replicas": replicas_of(deployment)},
        "status": {
            "replicas": deployment.get("status", {}).get("replicas", 0),
            "selector": label_selector_text(deployment["spec"].get("selector") or {}),
        },
    }


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def require_int(value: Any, kind: str, field: str) -> int:
    """The value of an int32 field, or the decoding error the API server answers a mistyped one with."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise _undecodable(value, kind, field, "int32")
    return value


def require_bool(value: Any, kind: str, field: str) -> bool:
    if not isinstance(value, bool):
        raise _undecodable(value, kind, field, "bool")
    return value


def _undecodable(value: Any, kind: str, field: str, go_type: str) -> KubeStatusError:
    return bad_request(
        f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal {_go_type(value)} '
        f"into Go struct field {field} of type {go_type}"
    )


def validate_deployment(resource: ResourceType, current: JsonObj, deployment: JsonObj) -> None:
    name = deployment["metadata"]["name"]
    spec = deployment.get("spec")
    if not isinstance(spec, dict):
        raise invalid(resource, name, [("spec", "Required value")])
    replicas = require_int(spec.setdefault("replicas", 1), "Deployment", "DeploymentSpec.spec.replicas")
    causes: list[tuple[str, str]] = []
    if replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    selector = spec.get("selector") or {}
    if _pruned(selector) != _pruned(current["spec"].get("selector") or {}):
        causes.append(("spec.selector", f"Invalid value: {json.dumps(selector)}: field is immutable"))
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector_predicate(selector)(labels):
        message = f"Invalid value: {json.dumps(labels)}: `selector` does not match template `labels`"
        causes.append(("spec.template.metadata.labels", message))
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        causes.append(("spec.template.spec.containers", "Required value"))
    for index, container in enumerate(containers):
        for field in ("name", "image"):
            if not isinstance(container, dict) or not container.get(field):
                causes.append((f"spec.template.spec.containers[{index}].{field}", "Required value"))
    if causes:
        raise invalid(resource, name, causes)


def check_preconditions(resource: ResourceType, obj: JsonObj, preconditions: JsonObj) -> None:
    meta = obj["metadata"]
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = preconditions.get(field)
        if wanted and wanted != meta.get(field):
            why = f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {meta.get(field)}"
            raise conflict(resource, meta["name"], why)


def pod_spec(template_spec: JsonObj, node: JsonObj | None) -> JsonObj:
    """The template's spec with what defaulting and admission add to every pod."""
    spec = copy.deepcopy(template_spec)
    _default_pod_spec(spec)
    _admit_pod_spec(spec)
    if node is not None:
        spec["nodeName"] = node["metadata"]["name"]
    return spec


def pod_condition(kind: str, ok: bool, now: str, not_ready: list[str] | None = None) -> JsonObj:
    condition: JsonObj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
    condition["lastTransitionTime"] = now
    if not ok and not_ready:
        condition["reason"] = "ContainersNotReady"
        condition["message"] = f"containers with unready status: [{' '.join(not_ready)}]"
    return condition


def unscheduled_status(why: str, now: str) -> JsonObj:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
        "reason": "Unschedulable",
        "message": why,
    }
    return {"phase": "Pending", "conditions": [condition], "qosClass": "BestEffort"}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _image_id(image: str) -> str:
    repository = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.rpartition("/")[2] else image.split("@")[0]
    return f"{repository}@sha256:{_digest(image)}"


def container_status_for(pod: JsonObj, container: JsonObj, outcome: Outcome, now: str) -> JsonObj:
    image = str(container.get("image", ""))
    name = container["name"]
    meta = pod["metadata"]
    container_id = f"containerd://{_digest(meta['uid'] + name)}"
    status: JsonObj = {"name": name, "state": {"running": {"startedAt": now}}, "lastState": {}}
    if outcome.waiting is not None:
        values = {"container": name, "pod": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]}
        waiting: JsonObj = {"reason": outcome.waiting}
        if outcome.waiting_message:
            waiting["message"] = outcome.waiting_message.format(**values, image=image)
        status["state"] = {"waiting": waiting}
    if outcome.terminated is not None:
        status["lastState"] = {
            "terminated": {
                "exitCode": outcome.exit_code,
                "reason": outcome.terminated,
                "startedAt": now,
                "finishedAt": now,
                "containerID": container_id,
            }
        }
    status.update(
        {
            "ready": outcome.waiting is None,
            "restartCount": 1 if outcome.crashed else 0,
            "image": image,
            "imageID": "" if outcome.pending else _image_id(image),
            "started": outcome.waiting is None,
        }
    )
    if not outcome.pending:
        status["containerID"] = container_id
    return status


def completed_init_status(pod: JsonObj, container: JsonObj, now: str) -> JsonObj:
    image = str(container.get("image", ""))
    container_id = f"containerd://{_digest(pod['metadata']['uid'] + container['name'])}"
    terminated = {
        "exitCode": 0,
        "reason": "Completed",
        "startedAt": now,
        "finishedAt": now,
        "containerID": container_id,
    }
    return {
        "name": container["name"],
        "state": {"terminated": terminated},
        "lastState": {},
        "ready": True,
        "restartCount": 0,
        "image": image,
        "imageID": _image_id(image),
        "containerID": container_id,
        "started": False,
    }


def qos_class(containers: list[JsonObj]) -> str:
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(kind)
        and (r.get("requests") or r.get("limits") or {}).get(kind) == (r.get("limits") or {}).get(kind)
        for r in resources
        for kind in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def endpoints_for(service: JsonObj, pods: list[JsonObj], existing: JsonObj | None, now: str) -> JsonObj:
    ready: list[JsonObj] = []
    not_ready: list[JsonObj] = []
    for pod in sorted(pods, key=lambda p: str(p.get("status", {}).get("podIP", ""))):
        ip = pod.get("status", {}).get("podIP")
        if not ip or "deletionTimestamp" in pod["metadata"]:
            continue
        address: JsonObj = {"ip": ip}
        if pod["spec"].get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        meta = pod["metadata"]
        address["targetRef"] = {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}
        (ready if pod_ready(pod) else not_ready).append(address)
    ports = [_endpoint_port(port, pods) for port in service.get("spec", {}).get("ports") or []]
    subset: JsonObj = {}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    meta = service["metadata"]
    endpoints: JsonObj = (
        copy.deepcopy(existing)
        if existing is not None
        else {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now,
                "labels": dict(meta.get("labels") or {}),
            },
        }
    )
    endpoints["metadata"].setdefault("annotations", {})["endpoints.kubernetes.io/last-change-trigger-time"] = now
    if subset:
        subset["ports"] = ports
        endpoints["subsets"] = [subset]
    else:
        endpoints.pop("subsets", None)
    return endpoints


def endpoint_slice_for(endpoints: JsonObj, service: JsonObj | None, existing: JsonObj | None, uid: str) -> JsonObj:
    """The EndpointSlice the endpointslice controller keeps for a Service, mirroring its Endpoints."""
    meta = endpoints["metadata"]
    found: list[JsonObj] = []
    ports: list[JsonObj] = []
    for subset in endpoints.get("subsets") or []:
        ports = ports or [dict(port) for port in subset.get("ports") or []]
        for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
            for address in subset.get(key) or []:
                endpoint: JsonObj = {
                    "addresses": [address["ip"]],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                }
                for field in ("nodeName", "targetRef"):
                    if address.get(field):
                        endpoint[field] = address[field]
                found.append(endpoint)
    service_name = meta["name"]
    metadata: JsonObj = {
        "name": existing["metadata"]["name"] if existing else f"{service_name}-{_digest(uid)[:5]}",
        "generateName": f"{service_name}-",
        "namespace": meta["namespace"],
        "uid": existing["metadata"]["uid"] if existing else uid,
        "creationTimestamp": existing["metadata"]["creationTimestamp"] if existing else meta["creationTimestamp"],
        "labels": {
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            SERVICE_NAME_LABEL: service_name,
        },
    }
    if existing and "resourceVersion" in existing["metadata"]:
        metadata["resourceVersion"] = existing["metadata"]["resourceVersion"]
    if service is not None:
        metadata["ownerReferences"] = [controller_ref(service)]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata,
        "addressType": "IPv4",
        "endpoints": found,
        "ports": ports,
    }


def _endpoint_port(port: JsonObj, pods: list[JsonObj]) -> JsonObj:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, str):
        named = [
            p.get("containerPort")
            for pod in pods
            for c in pod.get("spec", {}).get("containers") or []
            for p in c.get("ports") or []
            if p.get("name") == target
        ]
        target = named[0] if named else port.get("port")
    result: JsonObj = {"port": target, "protocol": port.get("protocol", "TCP")}
    if port.get("name"):
        result = {"name": port["name"], **result}
    return result


def read_log(pod: JsonObj, container: str, logs: ContainerLogs | None, request: LogRequest) -> str:
    """A container's log as kubelet serves it, with its refusals: no previous instance, still waiting."""
    name = pod["metadata"]["name"]
    if not pod.get("spec", {}).get("nodeName"):
        raise bad_request(f"pod {name} does not have a host assigned")
    status = _container_status(pod, container)
    terminated = (status.get("lastState") or {}).get("terminated")
    if request.previous:
        if logs is None or logs.previous is None:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return _filter_log(logs.previous, request, (terminated or {}).get("startedAt"))
    state = status.get("state") or {}
    waiting = state.get("waiting")
    if logs is None and waiting and not terminated:
        reason = waiting.get("reason", "ContainerCreating")
        why = _WAITING_LOG_REASONS.get(reason, reason)
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {why}')
    started = (state.get("running") or {}).get("startedAt") or pod["metadata"]["creationTimestamp"]
    return _filter_log(logs.current if logs else "", request, started)


def log_container(pod: JsonObj, requested: str | None) -> str:
    spec = pod.get("spec", {})
    names = [str(c["name"]) for c in spec.get("containers") or []]
    init = [str(c["name"]) for c in spec.get("initContainers") or []]
    ephemeral = [str(c["name"]) for c in spec.get("ephemeralContainers") or []]
    name = pod["metadata"]["name"]
    if requested is None:
        if len(names) == 1:
            return names[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        raise bad_request(message)
    if requested not in (*names, *init, *ephemeral):
        raise bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def _container_status(pod: JsonObj, container: str) -> JsonObj:
    status = pod.get("status", {})
    for status_list in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(status_list) or []:
            if entry.get("name") == container:
                return dict(entry)
    return {}


def _line_time(line: str) -> datetime | None:
    """The first RFC 3339 time near the start of a log line: the app's own timestamp."""
    match = _LINE_TIME.search(line, 0, 64)
    if match is None:
        return None
    frac = (match["frac"] or "")[:7]
    tz = match["tz"] or "Z"
    if tz != "Z" and ":" not in tz:
        tz = f"{tz[:3]}:{tz[3:]}"
    try:
        return parse_time(f"{match['date']}T{match['time']}{frac}{tz}")
    except ValueError:
        return None


def restamped(line: str, now: str) -> str:
    """A log line with its first timestamp moved to `now`: a crash repeating itself, happening again."""
    return _LINE_TIME.sub(now, line, count=1)


def _rfc3339_nano(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _filter_log(text: str, request: LogRequest, started: str | None) -> str:
    """sinceSeconds/sinceTime, tailLines, timestamps and limitBytes, as kubelet applies them.

    Kubelet knows when each line was written; a world's log only knows what the line says, so a
    line is as old as the last timestamp at or before it (stack traces follow their error line).
    """
    moment = parse_time(started) if started else None
    kept: list[str] = []
    for line in text.splitlines(keepends=True):
        moment = _line_time(line) or moment
        if request.since is not None and moment is not None and moment < request.since:
            continue
        if request.timestamps and moment is not None:
            line = f"{_rfc3339_nano(moment)} {line}"
        kept.append(line)
    if request.tail_lines is not None:
        kept = kept[len(kept) - request.tail_lines :] if request.tail_lines > 0 else []
    result = "".join(kept)
    if request.limit_bytes is not None:
        result = result.encode()[: request.limit_bytes].decode(errors="ignore")
    return result


# Patches --------------------------------------------------------------------------------------

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "resourceClaims": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "addresses": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
_MERGED_PRIMITIVE_LISTS = {"finalizers"}


def apply_patch(target: JsonObj, media_type: str, body: bytes) -> JsonObj:
    """The object after the patch; `target` itself is left untouched."""
    document = _decode(media_type, body)
    original = copy.deepcopy(target)
    if media_type == JSON_PATCH:
        if not isinstance(document, list):
            raise bad_request("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")
        patched: Any = _json_patch(original, document)
    elif not isinstance(document, dict):
        raise bad_request(f"error decoding patch: expected a JSON object, got {type(document).__name__}")
    elif media_type == MERGE_PATCH:
        patched = merge_patch(original, document)
    else:
        patched = _strategic_merge(original, document)
    if not isinstance(patched, dict):
        raise _rejected("the patch replaced the whole object with a non-object")
    return patched


def _decode(media_type: str, body: bytes) -> Any:
    try:
        if media_type == APPLY_PATCH:
            return yaml.safe_load(body.decode("utf-8"))
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"error decoding patch: {exc}") from exc


def _rejected(why: str) -> KubeStatusError:
    return KubeStatusError(422, "Invalid", why)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge, null deletes, everything else (lists included) replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _strategic_merge(original: JsonObj, patch: JsonObj) -> JsonObj | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: _without_directives(v) for k, v in patch.items() if not k.startswith("$")}
    result = dict(original)
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.partition("/")[2]
            result[name] = [item for item in result.get(name) or [] if item not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _strategic_merge_list(key, result.get(key), value)
        elif isinstance(value, dict):
            existing = result.get(key)
            merged = _strategic_merge(existing if isinstance(existing, dict) else {}, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {key: value for key, value in result.items() if key in retain}
    return result


def _strategic_merge_list(key: str, original: Any, patch: list[Any]) -> list[Any]:
    current = list(original) if isinstance(original, list) else []
    if key in _MERGED_PRIMITIVE_LISTS:
        return current + [item for item in patch if item not in current]
    items = [item for item in patch if item != {"$patch": "replace"}]
    dict_items = all(isinstance(item, dict) for item in items)
    if len(items) != len(patch) or not dict_items or (key not in _MERGE_KEYS and key != "ports"):
        return [_without_directives(item) for item in items]
    for item in items:
        merge_key = _MERGE_KEYS.get(key) or ("containerPort" if "containerPort" in item else "port")
        index = next(
            (i for i, old in enumerate(current) if isinstance(old, dict) and old.get(merge_key) == item.get(merge_key)),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del current[index]
        elif index is None:
            current.append(_without_directives(item))
        else:
            merged = _strategic_merge(current[index], item)
            if merged is None:
                del current[index]
            else:
                current[index] = merged
    return current


def _without_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_without_directives(item) for item in value]
    return value


def _json_patch(document: Any, operations: list[Any]) -> Any:
    """RFC 6902 over JSON pointers (RFC 6901)."""
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise bad_request(f"invalid JSON patch operation: {json.dumps(operation)}")
        op, path = operation["op"], operation["path"]
        if op == "test":
            if _pointer_get(document, path) != operation.get("value"):
                raise _rejected(f"testing value {path} failed: test failed")
        elif op == "remove":
            document = _pointer_remove(document, path)
        elif op in ("add", "replace"):
            if op == "replace":
                _pointer_get(document, path)
            document = _pointer_add(document, path, copy.deepcopy(operation.get("value")), replace=op == "replace")
        elif op in ("move", "copy"):
            value = copy.deepcopy(_pointer_get(document, operation.get("from", "")))
            if op == "move":
                document = _pointer_remove(document, operation["from"])
            document = _pointer_add(document, path, value, replace=False)
        else:
            raise bad_request(f"Unexpected kind: {op}")
    return document


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _rejected(f"invalid JSON pointer {path!r}: must start with '/'")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _child(container: Any, token: str, path: str) -> Any:
    if isinstance(container, dict) and token in container:
        return container[token]
    if isinstance(container, list) and token.isdigit() and int(token) < len(container):
        return container[int(token)]
    raise _rejected(f"jsonpatch: doc is missing path: {path}")


def _pointer_get(document: Any, path: str) -> Any:
    current = document
    for token in _tokens(path):
        current = _child(current, token, path)
    return current


def _pointer_parent(document: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise _rejected("jsonpatch: the whole document cannot be removed")
    parent = document
    for token in tokens[:-1]:
        parent = _child(parent, token, path)
    return parent, tokens[-1]


def _pointer_add(document: Any, path: str, value: Any, *, replace: bool) -> Any:
    if path == "":
        return value
    parent, last = _pointer_parent(document, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and last == "-":
        parent.append(value)
    elif isinstance(parent, list) and last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
        if replace:
            parent[int(last)] = value
        else:
            parent.insert(int(last), value)
    else:
        raise _rejected(f"jsonpatch: doc is missing path: {path}")
    return document


def _pointer_remove(document: Any, path: str) -> Any:
    parent, last = _pointer_parent(document, path)
    _child(parent, last, path)
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return document

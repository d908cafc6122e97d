"""The vocabulary of the sandbox Kubernetes API: resource types, selectors, failure Statuses, and
the columns kubectl prints for each resource.

Clients (the official Python client, kubectl) discover resources, build URLs and interpret
errors exactly as a real API server teaches them to, so every name, short name, message and
Status shape here copies what kube-apiserver says. A world may also hold kinds this catalog
does not know (custom resources); they are served under a plural guessed the way the API
machinery guesses it, so nothing a world author writes is silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.timeshift import parse_time

JsonObj = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class ResourceType:
    """One REST resource; `versions[0]` is the preferred version and the one objects are stored in."""

    group: str
    versions: tuple[str, ...]
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()

    @property
    def key(self) -> str:
        """The name RBAC and error messages use: `pods`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        chosen = version or self.version
        return f"{self.group}/{chosen}" if self.group else chosen

    def subresource(self, name: str) -> Subresource | None:
        return next((sub for sub in self.subresources if sub.name == name), None)


_STATUS = Subresource("status", "", ("get", "patch", "update"))
_SCALE = Subresource("scale", "Scale", ("get", "patch", "update"), group="autoscaling", version="v1")

KNOWN_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "namespaces", "Namespace", False, ("ns",), (), (_STATUS,)),
    ResourceType("", ("v1",), "nodes", "Node", False, ("no",), (), (_STATUS,)),
    ResourceType(
        "",
        ("v1",),
        "pods",
        "Pod",
        True,
        ("po",),
        ("all",),
        (
            Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
            Subresource("log", "Pod", ("get",)),
            _STATUS,
        ),
    ),
    ResourceType("", ("v1",), "services", "Service", True, ("svc",), ("all",), (_STATUS,)),
    ResourceType("", ("v1",), "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", ("v1",), "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", ("v1",), "secrets", "Secret", True),
    ResourceType("", ("v1",), "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", ("v1",), "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), (), (_STATUS,)),
    ResourceType("", ("v1",), "persistentvolumes", "PersistentVolume", False, ("pv",), (), (_STATUS,)),
    ResourceType("", ("v1",), "events", "Event", True, ("ev",)),
    ResourceType("discovery.k8s.io", ("v1",), "endpointslices", "EndpointSlice", True),
    ResourceType("apps", ("v1",), "deployments", "Deployment", True, ("deploy",), ("all",), (_SCALE, _STATUS)),
    ResourceType("apps", ("v1",), "replicasets", "ReplicaSet", True, ("rs",), ("all",), (_STATUS,)),
    ResourceType("apps", ("v1",), "statefulsets", "StatefulSet", True, ("sts",), ("all",), (_STATUS,)),
    ResourceType("apps", ("v1",), "daemonsets", "DaemonSet", True, ("ds",), ("all",), (_STATUS,)),
    ResourceType("batch", ("v1",), "jobs", "Job", True, (), ("all",), (_STATUS,)),
    ResourceType("batch", ("v1",), "cronjobs", "CronJob", True, ("cj",), ("all",), (_STATUS,)),
    ResourceType("networking.k8s.io", ("v1",), "ingresses", "Ingress", True, ("ing",), (), (_STATUS,)),
    ResourceType("networking.k8s.io", ("v1",), "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    ResourceType(
        "autoscaling",
        ("v2", "v1"),
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        ("all",),
        (_STATUS,),
    ),
    ResourceType("policy", ("v1",), "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), (), (_STATUS,)),
)


class ResourceCatalog:
    """Every resource the server serves: the known built-ins plus any other kind a world holds."""

    def __init__(self, resources: Iterable[ResourceType]) -> None:
        self.resources = list(resources)
        self._by_kind = {(r.group, r.kind): r for r in self.resources}
        self._by_path = {(r.group, version, r.plural): r for r in self.resources for version in r.versions}

    @classmethod
    def for_objects(cls, objects: Iterable[Mapping[str, Any]]) -> ResourceCatalog:
        resources = list(KNOWN_RESOURCES)
        known = {(r.group, r.kind) for r in resources}
        for obj in objects:
            group, _, version = str(obj["apiVersion"]).rpartition("/")
            if (group, obj["kind"]) in known:
                continue
            known.add((group, obj["kind"]))
            namespaced = bool(obj.get("metadata", {}).get("namespace"))
            resources.append(ResourceType(group, (version,), guess_plural(obj["kind"]), obj["kind"], namespaced))
        return cls(resources)

    def for_object(self, obj: Mapping[str, Any]) -> ResourceType:
        group = str(obj["apiVersion"]).rpartition("/")[0]
        return self._by_kind[(group, obj["kind"])]

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, kind))

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def group_versions(self) -> dict[str, list[str]]:
        """Groups in the order the API lists them, each with its versions, preferred first."""
        groups: dict[str, list[str]] = {}
        for resource in self.resources:
            versions = groups.setdefault(resource.group, [])
            versions.extend(v for v in resource.versions if v not in versions)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [r for r in self.resources if r.group == group and version in r.versions]


def guess_plural(kind: str) -> str:
    """The plural kube's RESTMapper guesses for a kind it has no discovery information for."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


# Failures ---------------------------------------------------------------------------------


@dataclass
class KubeStatusError(Exception):
    """A failure the server answers with a `Status` object; `message` is the one line users see."""

    code: int
    reason: str
    message: str
    details: JsonObj = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def status(self) -> JsonObj:
        body: JsonObj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(resource: ResourceType, name: str | None) -> JsonObj:
    details: JsonObj = {"name": name} if name else {}
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.plural
    return details


def not_found(resource: ResourceType, name: str) -> KubeStatusError:
    return KubeStatusError(404, "NotFound", f'{resource.key} "{name}" not found', _details(resource, name))


def path_not_found() -> KubeStatusError:
    return KubeStatusError(404, "NotFound", "the server could not find the requested resource", {})


def forbidden(
    resource: ResourceType, verb: str, user: str, namespace: str | None, name: str | None, subresource: str | None
) -> KubeStatusError:
    target = f'{resource.key} "{name}"' if name else resource.key
    plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{target} is forbidden: User "{user}" cannot {verb} resource "{plural}" in API group "{resource.group}"{where}'
    )
    return KubeStatusError(403, "Forbidden", message, _details(resource, name))


def bad_request(message: str) -> KubeStatusError:
    return KubeStatusError(400, "BadRequest", message)


def conflict(resource: ResourceType, name: str, why: str) -> KubeStatusError:
    message = f'Operation cannot be fulfilled on {resource.key} "{name}": {why}'
    return KubeStatusError(409, "Conflict", message, _details(resource, name))


def invalid(resource: ResourceType, name: str, causes: list[tuple[str, str]]) -> KubeStatusError:
    """422 Invalid; `causes` are (field path, "Invalid value: ...: why") pairs as field validation writes them."""
    listed = ", ".join(f"{path}: {why}" for path, why in causes)
    qualified = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    details: JsonObj = {"name": name, "kind": resource.kind}
    if resource.group:
        details["group"] = resource.group
    details["causes"] = [{"reason": _cause_reason(why), "message": why, "field": path} for path, why in causes]
    return KubeStatusError(422, "Invalid", f'{qualified} "{name}" is invalid: {listed}', details)


def _cause_reason(why: str) -> str:
    if why.startswith("Required value"):
        return "FieldValueRequired"
    if why.startswith("Unsupported value"):
        return "FieldValueNotSupported"
    return "FieldValueInvalid"


def unauthorized() -> KubeStatusError:
    return KubeStatusError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(why: str) -> KubeStatusError:
    return KubeStatusError(405, "MethodNotAllowed", why)


def unsupported_media_type(supported: Iterable[str]) -> KubeStatusError:
    listed = ", ".join(supported)
    message = f"the body of the request was in an unknown format - accepted media types include: {listed}"
    return KubeStatusError(415, "UnsupportedMediaType", message)


# Selectors --------------------------------------------------------------------------------

ObjectPredicate = Callable[[Mapping[str, Any]], bool]
LabelPredicate = Callable[[Mapping[str, str]], bool]

_LABEL_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|=|!=|\s+in\s+|\s+notin\s+)\s*(?P<value>\([^)]*\)|[-A-Za-z0-9_.]*))?\s*$"
)


def parse_label_selector(text: str) -> LabelPredicate:
    """A `labelSelector` query value (=, ==, !=, in, notin, exists, !exists), as kube's labels.Parse reads it."""
    checks = [_label_requirement(part) for part in _split_outside_parentheses(text) if part.strip()]
    return lambda labels: all(check(labels) for check in checks)


def _split_outside_parentheses(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _label_requirement(part: str) -> LabelPredicate:
    match = _LABEL_REQUIREMENT.match(part)
    if match is None or (match["neg"] and match["op"]):
        raise bad_request(f"unable to parse requirement: found '{part.strip()}', expected a label requirement")
    key, op = match["key"], (match["op"] or "").strip()
    raw_value = match["value"] or ""
    if op in ("in", "notin"):
        if not raw_value.startswith("("):
            raise bad_request(f"unable to parse requirement: found '{raw_value}', expected: '('")
        values = {item.strip() for item in raw_value[1:-1].split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if op in ("=", "=="):
        return lambda labels: labels.get(key) == raw_value
    if op == "!=":
        return lambda labels: labels.get(key) != raw_value
    if match["neg"]:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def selector_predicate(selector: Mapping[str, Any] | None) -> LabelPredicate:
    """A structured LabelSelector (matchLabels + matchExpressions); an empty one matches everything."""
    text = label_selector_text(selector or {})
    return parse_label_selector(text)


def label_selector_text(selector: Mapping[str, Any]) -> str:
    """The string form kubectl and the Scale subresource show for a structured LabelSelector."""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = ",".join(sorted(expression.get("values") or []))
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(operator, f"!{key}")
        )
    return ",".join(parts)


_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Node": ("spec.unschedulable",),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "ReplicaSet": ("status.replicas",),
    "Job": ("status.successful",),
}
_FIELD_ALIASES = {"source": "source.component"}
_FIELD_REQUIREMENT = re.compile(r"^(?P<field>[A-Za-z.]+)\s*(?P<op>==|=|!=)\s*(?P<value>.*)$")


def parse_field_selector(text: str, resource: ResourceType) -> ObjectPredicate:
    """A `fieldSelector` query value over the fields kube-apiserver indexes for the resource's kind."""
    supported = set(_COMMON_FIELDS) | set(_FIELDS_BY_KIND.get(resource.kind, ()))
    checks: list[ObjectPredicate] = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _FIELD_REQUIREMENT.match(part.strip())
        if match is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name, value = match["field"], match["value"].strip()
        if name not in supported:
            raise bad_request(f"field label not supported: {name}")
        checks.append(_field_check(_FIELD_ALIASES.get(name, name), value, negate=match["op"] == "!="))
    return lambda obj: all(check(obj) for check in checks)


def _field_check(path: str, value: str, *, negate: bool) -> ObjectPredicate:
    return lambda obj: (_field_text(_get(obj, path)) == value) != negate


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# Versions ---------------------------------------------------------------------------------


def convert(obj: JsonObj, resource: ResourceType, version: str) -> JsonObj:
    """The object as `version` of its resource shows it; only HorizontalPodAutoscaler has two versions."""
    stored = str(obj["apiVersion"]).rpartition("/")[2]
    if stored == version or resource.kind != "HorizontalPodAutoscaler":
        return obj
    return _hpa_to_v1(obj) if version == "v1" else _hpa_to_v2(obj)


def _cpu_metric(metrics: list[JsonObj], part: str) -> Any:
    for metric in metrics:
        source = metric.get("resource") or {}
        if metric.get("type") == "Resource" and source.get("name") == "cpu":
            return (source.get(part) or {}).get("averageUtilization")
    return None


def _hpa_to_v1(obj: JsonObj) -> JsonObj:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    v1_spec = {key: spec[key] for key in ("scaleTargetRef", "minReplicas", "maxReplicas") if key in spec}
    target = _cpu_metric(spec.get("metrics") or [], "target")
    if target is not None:
        v1_spec["targetCPUUtilizationPercentage"] = target
    v1_status: JsonObj = {key: status[key] for key in ("observedGeneration", "lastScaleTime") if key in status}
    v1_status["currentReplicas"] = status.get("currentReplicas", 0)
    v1_status["desiredReplicas"] = status.get("desiredReplicas", 0)
    current = _cpu_metric(status.get("currentMetrics") or [], "current")
    if current is not None:
        v1_status["currentCPUUtilizationPercentage"] = current
    return {**obj, "apiVersion": "autoscaling/v1", "spec": v1_spec, "status": v1_status}


def _hpa_to_v2(obj: JsonObj) -> JsonObj:
    spec, status = dict(obj.get("spec") or {}), dict(obj.get("status") or {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        resource = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}
        spec["metrics"] = [{"type": "Resource", "resource": resource}]
    current = status.pop("currentCPUUtilizationPercentage", None)
    if current is not None:
        resource = {"name": "cpu", "current": {"averageUtilization": current}}
        status["currentMetrics"] = [{"type": "Resource", "resource": resource}]
    status.setdefault("desiredReplicas", status.get("currentReplicas", 0))
    return {**obj, "apiVersion": "autoscaling/v2", "spec": spec, "status": status}


# Tables: the columns kubectl prints ---------------------------------------------------------

Cell = Callable[[JsonObj, datetime], Any]


@dataclass(frozen=True)
class _Column:
    name: str
    cell: Cell
    type: str = "string"
    priority: int = 0
    format: str = ""


def table_for(
    resource: ResourceType, items: list[JsonObj], now: datetime, resource_version: str, objects: list[JsonObj] | None
) -> JsonObj:
    """A meta.k8s.io/v1 Table with the columns kube-apiserver's printers give the resource.

    `objects` are the row objects the client asked for (includeObject), None for none."""
    columns = _COLUMNS.get(resource.key, _DEFAULT_COLUMNS)
    definitions = [
        {"name": c.name, "type": c.type, "format": c.format, "description": c.name, "priority": c.priority}
        for c in columns
    ]
    rows: list[JsonObj] = []
    for index, obj in enumerate(items):
        row: JsonObj = {"cells": [column.cell(obj, now) for column in columns]}
        if objects is not None:
            row["object"] = objects[index]
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }


def human_duration(delta: timedelta) -> str:
    """k8s.io/apimachinery's duration.HumanDuration, the AGE column's format."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _since(value: Any, now: datetime, missing: str = "<unknown>") -> str:
    if not value:
        return missing
    return human_duration(now - parse_time(str(value)))


def _get(obj: Mapping[str, Any], path: str, default: Any = None) -> Any:
    current: Any = obj
    for key in path.split("."):
        current = current.get(key) if isinstance(current, Mapping) else None
    return default if current is None else current


def _field(path: str, default: Any = "<none>") -> Cell:
    return lambda obj, _now: _get(obj, path, default)


def _or_none(values: Iterable[str]) -> str:
    return ",".join(values) or "<none>"


_NAME = _Column("Name", _field("metadata.name"), format="name")
_AGE = _Column("Age", lambda obj, now: _since(_get(obj, "metadata.creationTimestamp"), now))
_DEFAULT_COLUMNS = (_NAME, _AGE)


def _template_columns(template_path: str) -> tuple[_Column, ...]:
    def containers(obj: JsonObj) -> list[JsonObj]:
        return list(_get(obj, f"{template_path}.containers", []))

    return (
        _Column("Containers", lambda obj, _n: _or_none(c["name"] for c in containers(obj)), priority=1),
        _Column("Images", lambda obj, _n: _or_none(str(c.get("image", "")) for c in containers(obj)), priority=1),
        _Column(
            "Selector", lambda obj, _n: label_selector_text(_get(obj, "spec.selector", {})) or "<none>", priority=1
        ),
    )


def _pod_status(pod: JsonObj, _now: datetime) -> str:
    """kubectl's STATUS: the most telling container reason, else the phase."""
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    init_total = len(_get(pod, "spec.initContainers", []))
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting") or {}
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + str(terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{init_total}"
        break
    else:
        running = False
        for container in reversed(status.get("containerStatuses") or []):
            state = container.get("state") or {}
            terminated, waiting = state.get("terminated"), state.get("waiting") or {}
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated:
                signal = terminated.get("signal")
                reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode')}"
            elif container.get("ready") and "running" in state:
                running = True
        if reason == "Completed" and running:
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            reason = "Running" if ready else "NotReady"
    if _get(pod, "metadata.deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_ready(pod: JsonObj, _now: datetime) -> str:
    statuses = _get(pod, "status.containerStatuses", [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(_get(pod, 'spec.containers', []))}"


def _pod_restarts(pod: JsonObj, now: datetime) -> str:
    statuses = _get(pod, "status.containerStatuses", [])
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    finished = [_get(s, "lastState.terminated.finishedAt") for s in statuses]
    last = max((str(f) for f in finished if f), default=None)
    return f"{restarts} ({_since(last, now)} ago)" if restarts and last else str(restarts)


def _node_status(node: JsonObj, _now: datetime) -> str:
    ready = [c for c in _get(node, "status.conditions", []) if c.get("type") == "Ready"]
    status = {"True": "Ready", "False": "NotReady"}.get(ready[0].get("status") if ready else "", "Unknown")
    return status + (",SchedulingDisabled" if _get(node, "spec.unschedulable") else "")


def _node_roles(node: JsonObj, _now: datetime) -> str:
    labels = _get(node, "metadata.labels", {})
    roles = {k.partition("/")[2] for k in labels if k.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return _or_none(sorted(r for r in roles if r))


def _node_address(kind: str) -> Cell:
    def cell(node: JsonObj, _now: datetime) -> str:
        return _or_none(a["address"] for a in _get(node, "status.addresses", []) if a.get("type") == kind)

    return cell


def _service_external(service: JsonObj, _now: datetime) -> str:
    kind = _get(service, "spec.type", "ClusterIP")
    if kind == "ExternalName":
        return str(_get(service, "spec.externalName", "<none>"))
    ingress = [i.get("ip") or i.get("hostname") for i in _get(service, "status.loadBalancer.ingress", [])]
    addresses = [*_get(service, "spec.externalIPs", []), *ingress]
    if kind == "LoadBalancer" and not addresses:
        return "<pending>"
    return _or_none(addresses)


def _service_ports(service: JsonObj, _now: datetime) -> str:
    ports = _get(service, "spec.ports", [])
    return _or_none(
        f"{p['port']}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort")
        else f"{p['port']}/{p.get('protocol', 'TCP')}"
        for p in ports
    )


def _map_text(path: str) -> Cell:
    return lambda obj, _now: _or_none(f"{k}={v}" for k, v in sorted(_get(obj, path, {}).items()))


def _endpoint_list(endpoints: JsonObj, _now: datetime) -> str:
    pairs = [
        f"{address['ip']}:{port['port']}"
        for subset in endpoints.get("subsets") or []
        for port in subset.get("ports") or [{"port": ""}]
        for address in subset.get("addresses") or []
    ]
    if len(pairs) > 3:
        return ",".join(pairs[:3]) + f" + {len(pairs) - 3} more..."
    return _or_none(pairs)


def _event_first(event: JsonObj, now: datetime) -> str:
    return _since(event.get("firstTimestamp") or event.get("eventTime"), now)


def _event_last(event: JsonObj, now: datetime) -> str:
    last = _since(event["lastTimestamp"], now) if event.get("lastTimestamp") else _event_first(event, now)
    count = int(event.get("count") or 1)
    return f"{last} (x{count} over {_event_first(event, now)})" if count > 1 else last


def _event_source(event: JsonObj, _now: datetime) -> str:
    component = _get(event, "source.component") or event.get("reportingComponent") or ""
    host = _get(event, "source.host") or event.get("reportingInstance") or ""
    return ", ".join(part for part in (component, host) if part) or "<none>"


def _job_status(job: JsonObj, _now: datetime) -> str:
    for condition in _get(job, "status.conditions", []):
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed", "Suspended"):
            return str(condition["type"])
    return "Running"


def _job_duration(job: JsonObj, now: datetime) -> str:
    start = _get(job, "status.startTime")
    if not start:
        return ""
    end = _get(job, "status.completionTime")
    return human_duration((parse_time(str(end)) if end else now) - parse_time(str(start)))


def _hpa_targets(hpa: JsonObj, _now: datetime) -> str:
    current = {m.get("resource", {}).get("name"): m for m in _get(hpa, "status.currentMetrics", [])}
    shown = []
    for metric in _get(hpa, "spec.metrics", []):
        resource = metric.get("resource") or {}
        target = resource.get("target") or {}
        now_value = _get(current.get(resource.get("name"), {}), "resource.current.averageUtilization")
        shown.append(
            f"{resource.get('name')}: {f'{now_value}%' if now_value is not None else '<unknown>'}"
            f"/{target.get('averageUtilization', '?')}%"
        )
    return ", ".join(shown) or "<none>"


def _access_modes(path: str) -> Cell:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return lambda obj, _now: ",".join(short.get(m, m) for m in _get(obj, path, []))


def _ingress_hosts(ingress: JsonObj, _now: datetime) -> str:
    return ",".join(r.get("host", "*") for r in _get(ingress, "spec.rules", [])) or "*"


def _ingress_address(ingress: JsonObj, _now: datetime) -> str:
    return ",".join(i.get("ip") or i.get("hostname") or "" for i in _get(ingress, "status.loadBalancer.ingress", []))


def _ready_of(ready: str, desired: str) -> Cell:
    return lambda obj, _now: f"{_get(obj, ready, 0)}/{_get(obj, desired, 0)}"


_INT = "integer"
_COLUMNS: dict[str, tuple[_Column, ...]] = {
    "pods": (
        _NAME,
        _Column("Ready", _pod_ready),
        _Column("Status", _pod_status),
        _Column("Restarts", _pod_restarts),
        _AGE,
        _Column("IP", _field("status.podIP"), priority=1),
        _Column("Node", _field("spec.nodeName"), priority=1),
        _Column("Nominated Node", _field("status.nominatedNodeName"), priority=1),
        _Column("Readiness Gates", lambda _o, _n: "<none>", priority=1),
    ),
    "deployments.apps": (
        _NAME,
        _Column("Ready", _ready_of("status.readyReplicas", "spec.replicas")),
        _Column("Up-to-date", _field("status.updatedReplicas", 0), _INT),
        _Column("Available", _field("status.availableReplicas", 0), _INT),
        _AGE,
        *_template_columns("spec.template.spec"),
    ),
    "replicasets.apps": (
        _NAME,
        _Column("Desired", _field("spec.replicas", 0), _INT),
        _Column("Current", _field("status.replicas", 0), _INT),
        _Column("Ready", _field("status.readyReplicas", 0), _INT),
        _AGE,
        *_template_columns("spec.template.spec"),
    ),
    "statefulsets.apps": (
        _NAME,
        _Column("Ready", _ready_of("status.readyReplicas", "spec.replicas")),
        _AGE,
        *_template_columns("spec.template.spec")[:2],
    ),
    "daemonsets.apps": (
        _NAME,
        _Column("Desired", _field("status.desiredNumberScheduled", 0), _INT),
        _Column("Current", _field("status.currentNumberScheduled", 0), _INT),
        _Column("Ready", _field("status.numberReady", 0), _INT),
        _Column("Up-to-date", _field("status.updatedNumberScheduled", 0), _INT),
        _Column("Available", _field("status.numberAvailable", 0), _INT),
        _Column("Node Selector", _map_text("spec.template.spec.nodeSelector")),
        _AGE,
        *_template_columns("spec.template.spec"),
    ),
    "services": (
        _NAME,
        _Column("Type", _field("spec.type", "ClusterIP")),
        _Column("Cluster-IP", _field("spec.clusterIP")),
        _Column("External-IP", _service_external),
        _Column("Port(s)", _service_ports),
        _AGE,
        _Column("Selector", _map_text("spec.selector"), priority=1),
    ),
    "endpoints": (_NAME, _Column("Endpoints", _endpoint_list), _AGE),
    "endpointslices.discovery.k8s.io": (
        _NAME,
        _Column("AddressType", _field("addressType", "")),
        _Column("Ports", lambda e, _n: _or_none(str(p.get("port")) for p in e.get("ports") or [])),
        _Column("Endpoints", lambda e, _n: _or_none(a for ep in e.get("endpoints") or [] for a in ep["addresses"])),
        _AGE,
    ),
    "nodes": (
        _NAME,
        _Column("Status", _node_status),
        _Column("Roles", _node_roles),
        _AGE,
        _Column("Version", _field("status.nodeInfo.kubeletVersion", "")),
        _Column("Internal-IP", _node_address("InternalIP"), priority=1),
        _Column("External-IP", _node_address("ExternalIP"), priority=1),
        _Column("OS-Image", _field("status.nodeInfo.osImage", "<unknown>"), priority=1),
        _Column("Kernel-Version", _field("status.nodeInfo.kernelVersion", "<unknown>"), priority=1),
        _Column("Container-Runtime", _field("status.nodeInfo.containerRuntimeVersion", "<unknown>"), priority=1),
    ),
    "events": (
        _Column("Last Seen", _event_last),
        _Column("Type", _field("type", "")),
        _Column("Reason", _field("reason", "")),
        _Column(
            "Object",
            lambda e, _n: f"{str(_get(e, 'involvedObject.kind', '')).lower()}/{_get(e, 'involvedObject.name', '')}",
        ),
        _Column("Subobject", _field("involvedObject.fieldPath", ""), priority=1),
        _Column("Source", _event_source, priority=1),
        _Column("Message", lambda e, _n: str(e.get("message", "")).strip()),
        _Column("First Seen", _event_first, priority=1),
        _Column("Count", _field("count", 1), _INT, priority=1),
        _Column("Name", _field("metadata.name"), priority=1),
    ),
    "namespaces": (_NAME, _Column("Status", _field("status.phase", "Active")), _AGE),
    "configmaps": (
        _NAME,
        _Column("Data", lambda c, _n: len(c.get("data") or {}) + len(c.get("binaryData") or {}), _INT),
        _AGE,
    ),
    "secrets": (
        _NAME,
        _Column("Type", _field("type", "Opaque")),
        _Column("Data", lambda s, _n: len(s.get("data") or {}) + len(s.get("stringData") or {}), _INT),
        _AGE,
    ),
    "jobs.batch": (
        _NAME,
        _Column("Status", _job_status),
        _Column("Completions", _ready_of("status.succeeded", "spec.completions")),
        _Column("Duration", _job_duration),
        _AGE,
        *_template_columns("spec.template.spec"),
    ),
    "cronjobs.batch": (
        _NAME,
        _Column("Schedule", _field("spec.schedule", "")),
        _Column("Timezone", _field("spec.timeZone")),
        _Column("Suspend", lambda c, _n: bool(_get(c, "spec.suspend", False)), "boolean"),
        _Column("Active", lambda c, _n: len(_get(c, "status.active", [])), _INT),
        _Column(
            "Last Schedule",
            lambda c, now: _since(_get(c, "status.lastScheduleTime"), now).replace("<unknown>", "<none>"),
        ),
        _AGE,
        *_template_columns("spec.jobTemplate.spec.template.spec"),
    ),
    "horizontalpodautoscalers.autoscaling": (
        _NAME,
        _Column(
            "Reference", lambda h, _n: f"{_get(h, 'spec.scaleTargetRef.kind')}/{_get(h, 'spec.scaleTargetRef.name')}"
        ),
        _Column("Targets", _hpa_targets),
        _Column("MinPods", _field("spec.minReplicas", 1), _INT),
        _Column("MaxPods", _field("spec.maxReplicas", 0), _INT),
        _Column("Replicas", _field("status.currentReplicas", 0), _INT),
        _AGE,
    ),
    "ingresses.networking.k8s.io": (
        _NAME,
        _Column("Class", _field("spec.ingressClassName")),
        _Column("Hosts", _ingress_hosts),
        _Column("Address", _ingress_address),
        _Column("Ports", lambda i, _n: "80, 443" if _get(i, "spec.tls") else "80"),
        _AGE,
    ),
    "persistentvolumeclaims": (
        _NAME,
        _Column("Status", _field("status.phase", "")),
        _Column("Volume", _field("spec.volumeName", "")),
        _Column("Capacity", _field("status.capacity.storage", "")),
        _Column("Access Modes", _access_modes("status.accessModes")),
        _Column("StorageClass", _field("spec.storageClassName", "<unset>")),
        _Column("VolumeAttributesClass", _field("spec.volumeAttributesClassName", "<unset>")),
        _AGE,
        _Column("VolumeMode", _field("spec.volumeMode", "Filesystem"), priority=1),
    ),
    "persistentvolumes": (
        _NAME,
        _Column("Capacity", _field("spec.capacity.storage", "")),
        _Column("Access Modes", _access_modes("spec.accessModes")),
        _Column("Reclaim Policy", _field("spec.persistentVolumeReclaimPolicy", "")),
        _Column("Status", _field("status.phase", "")),
        _Column(
            "Claim",
            lambda p, _n: (
                f"{_get(p, 'spec.claimRef.namespace')}/{_get(p, 'spec.claimRef.name')}"
                if _get(p, "spec.claimRef")
                else ""
            ),
        ),
        _Column("StorageClass", _field("spec.storageClassName", "")),
        _Column("VolumeAttributesClass", _field("spec.volumeAttributesClassName", "<unset>")),
        _Column("Reason", _field("status.reason", "")),
        _AGE,
        _Column("VolumeMode", _field("spec.volumeMode", "Filesystem"), priority=1),
    ),
}

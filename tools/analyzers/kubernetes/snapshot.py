"""Everything the analyzers may look at, held by kind, with the lookups they share.

A missing object only means something when its kind was listed: a Service whose pods we never
fetched is not a Service without pods. So the snapshot remembers which kinds were listed
(`listed_kinds`), and analyzers check a reference against a kind only when it was. By default
the kinds present in the objects count as listed; a caller that listed a kind and found none
says so explicitly, or passes the API's `...List` object, whose kind names what was listed even
when it holds no items. A listed kind is taken to cover the namespaces of the objects analyzed:
list pods of every namespace whose Services you analyze.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.analyzers.kubernetes.event_records import EventRecord
from tools.analyzers.kubernetes.fields import (
    AnalyzerInputError,
    JsonObj,
    controller_ref,
    items,
    kind_of,
    labels_of,
    name_of,
    namespace_of,
    path,
    selector_matches,
    text,
)
from tools.findings import ObjectRef

KIND_FIELDS: dict[str, str] = {
    "Pod": "pods",
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "HorizontalPodAutoscaler": "hpas",
    "Service": "services",
    "Endpoints": "endpoints",
    "EndpointSlice": "endpoint_slices",
    "Ingress": "ingresses",
    "PersistentVolumeClaim": "pvcs",
    "StorageClass": "storage_classes",
    "Node": "nodes",
    "Secret": "secrets",
    "ConfigMap": "configmaps",
    "Event": "events",
}
_SECRET_VALUES = ("data", "stringData")
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_HASH_LABEL = "pod-template-hash"

_Key = tuple[str, str, str]


class EndpointState(BaseModel):
    """The pods (or addresses) behind a Service, split as kube-proxy sees them."""

    model_config = ConfigDict(frozen=True)

    ready: list[str]
    not_ready: list[str]


class ClusterSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    pods: list[dict[str, Any]] = Field(default_factory=list)
    deployments: list[dict[str, Any]] = Field(default_factory=list)
    replicasets: list[dict[str, Any]] = Field(default_factory=list)
    statefulsets: list[dict[str, Any]] = Field(default_factory=list)
    jobs: list[dict[str, Any]] = Field(default_factory=list)
    cronjobs: list[dict[str, Any]] = Field(default_factory=list)
    hpas: list[dict[str, Any]] = Field(default_factory=list)
    services: list[dict[str, Any]] = Field(default_factory=list)
    endpoints: list[dict[str, Any]] = Field(default_factory=list)
    endpoint_slices: list[dict[str, Any]] = Field(default_factory=list)
    ingresses: list[dict[str, Any]] = Field(default_factory=list)
    pvcs: list[dict[str, Any]] = Field(default_factory=list)
    storage_classes: list[dict[str, Any]] = Field(default_factory=list)
    nodes: list[dict[str, Any]] = Field(default_factory=list)
    secrets: list[dict[str, Any]] = Field(default_factory=list, description="metadata and type only, never values")
    configmaps: list[dict[str, Any]] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    listed_kinds: frozenset[str] = frozenset()

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]], *, listed_kinds: Iterable[str] = ()) -> ClusterSnapshot:
        """Objects of any kinds (and `...List` objects) sorted into a snapshot; other kinds are dropped."""
        by_field: dict[str, list[dict[str, Any]]] = {field: [] for field in KIND_FIELDS.values()}
        listed = set(listed_kinds)
        for number, obj in enumerate(objects, start=1):
            for item in _expanded(obj, number, listed):
                kind = kind_of(item)
                listed.add(kind)
                if kind in KIND_FIELDS:
                    by_field[KIND_FIELDS[kind]].append(_without_secret_values(item))
        return cls(**by_field, listed_kinds=frozenset(listed))

    def listed(self, kind: str) -> bool:
        return kind in self.listed_kinds

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        field = KIND_FIELDS.get(kind)
        objects: list[dict[str, Any]] = getattr(self, field) if field else []
        return objects

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._index.get((kind, namespace or "", name))

    def events_for(self, kind: str, namespace: str | None, name: str) -> list[EventRecord]:
        """Events about one object; cluster-scoped objects (namespace None) match in any namespace."""
        return [
            event
            for event in self._events_by_target.get((kind, name), [])
            if namespace is None or event.namespace in (None, namespace)
        ]

    @cached_property
    def event_records(self) -> list[EventRecord]:
        return [EventRecord.from_object(event) for event in self.events]

    def pods_matching(self, namespace: str | None, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Pods in the namespace selected by a LabelSelector; an empty selector selects none."""
        if not selector:
            return []
        return [
            pod for pod in self.pods if namespace_of(pod) == namespace and selector_matches(selector, labels_of(pod))
        ]

    def pods_using_claim(self, namespace: str | None, claim: str) -> list[dict[str, Any]]:
        return [
            pod
            for pod in self.pods
            if namespace_of(pod) == namespace
            and any(
                text(volume, "persistentVolumeClaim", "claimName") == claim for volume in items(pod, "spec", "volumes")
            )
        ]

    def service_endpoints(self, namespace: str | None, service: str) -> EndpointState | None:
        """Ready and not-ready targets of a Service, from Endpoints or else EndpointSlices; None if neither listed."""
        if self.listed("Endpoints"):
            found = self.get("Endpoints", namespace, service) or {}
            subsets = items(found, "subsets")
            return EndpointState(
                ready=[_target(address) for subset in subsets for address in items(subset, "addresses")],
                not_ready=[_target(address) for subset in subsets for address in items(subset, "notReadyAddresses")],
            )
        if self.listed("EndpointSlice"):
            ready: list[str] = []
            not_ready: list[str] = []
            for endpoint_slice in self.endpoint_slices:
                if (
                    namespace_of(endpoint_slice) != namespace
                    or labels_of(endpoint_slice).get(_SERVICE_NAME_LABEL) != service
                ):
                    continue
                for endpoint in items(endpoint_slice, "endpoints"):
                    ready_flag = path(endpoint, "conditions", "ready")
                    (not_ready if ready_flag is False else ready).append(_target(endpoint))
            return EndpointState(ready=ready, not_ready=not_ready)
        return None

    def owner_of(self, obj: Mapping[str, Any]) -> ObjectRef | None:
        """The workload a person would act on: a pod's Deployment (through its ReplicaSet), a Job's CronJob.

        When the ReplicaSet was not fetched, its name minus the pod-template-hash names the
        Deployment, which is how the deployment controller names ReplicaSets."""
        owner = controller_ref(obj)
        if owner is None:
            return None
        kind, name, namespace = text(owner, "kind") or "", text(owner, "name") or "", namespace_of(obj)
        if kind == "ReplicaSet":
            replicaset = self.get("ReplicaSet", namespace, name)
            if replicaset is not None:
                parent = controller_ref(replicaset)
                if parent is not None and text(parent, "kind") == "Deployment":
                    return ObjectRef(kind="Deployment", name=text(parent, "name") or "", namespace=namespace)
                return ObjectRef(kind="ReplicaSet", name=name, namespace=namespace)
            template_hash = labels_of(obj).get(_HASH_LABEL)
            if template_hash and name.endswith(f"-{template_hash}"):
                return ObjectRef(kind="Deployment", name=name.removesuffix(f"-{template_hash}"), namespace=namespace)
        if kind == "Job":
            job = self.get("Job", namespace, name)
            parent = controller_ref(job) if job is not None else None
            if parent is not None and text(parent, "kind") == "CronJob":
                return ObjectRef(kind="CronJob", name=text(parent, "name") or "", namespace=namespace)
        return ObjectRef(kind=kind, name=name, namespace=namespace)

    @cached_property
    def _index(self) -> dict[_Key, dict[str, Any]]:
        return {
            (kind, namespace_of(obj) or "", name_of(obj)): obj for kind in KIND_FIELDS for obj in self.of_kind(kind)
        }

    @cached_property
    def _events_by_target(self) -> dict[tuple[str, str], list[EventRecord]]:
        grouped: dict[tuple[str, str], list[EventRecord]] = {}
        for event in self.event_records:
            grouped.setdefault((event.kind, event.name), []).append(event)
        return grouped


def _expanded(obj: Mapping[str, Any], number: int, listed: set[str]) -> list[JsonObj]:
    """A List object's items with their kind filled in (the API leaves it out of items)."""
    if not isinstance(obj, Mapping):
        raise AnalyzerInputError(f"object {number} is a {type(obj).__name__}, not a Kubernetes object (a mapping)")
    kind = kind_of(obj)
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        item_kind = kind.removesuffix("List")
        listed.add(item_kind)
        return [
            _checked({**item, "kind": item.get("kind") or item_kind}, number)
            for item in obj["items"]
            if isinstance(item, Mapping)
        ]
    return [_checked(obj, number)]


def _checked(obj: JsonObj, number: int) -> JsonObj:
    if not kind_of(obj):
        raise AnalyzerInputError(f"object {number} has no kind: expected Kubernetes API JSON with kind and metadata")
    if not name_of(obj):
        raise AnalyzerInputError(f"object {number} ({kind_of(obj)}) has no metadata.name")
    return obj


def _without_secret_values(obj: JsonObj) -> dict[str, Any]:
    if kind_of(obj) != "Secret":
        return dict(obj)
    return {key: value for key, value in obj.items() if key not in _SECRET_VALUES}


def _target(address: JsonObj) -> str:
    return (
        text(address, "targetRef", "name")
        or text(address, "ip")
        or next((str(ip) for ip in path(address, "addresses") or ()), "")
    )

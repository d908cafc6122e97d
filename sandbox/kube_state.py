"""The mutable cluster behind the sandbox Kubernetes API, with just enough controllers.

Verification after a remediation has to be real: after a restart the next GET must show new
pods of a new ReplicaSet, after scaling the pod count must change, after a rollback the old
ReplicaSet must be the current one again. So writes run a compressed version of what the
deployment, replicaset, endpoints and node controllers and the kubelet would do, at once.

Whether a restart cures a crash loop is the world's call: pods come up healthy unless their
ReplicaSet (a new one inherits it from its Deployment) carries the annotation
`sandbox.infrawhisperer.dev/restart-outcome` naming the state they come up in instead.

Every mutation is a plain synchronous method. The server runs on one event loop and never
awaits inside one, so each request's change is atomic. Stored objects are never changed in
place: a write stores a new dict, so a response being serialized cannot change under it, and a
write answers with the object as written, before the controllers reacted (as the real API does).
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandbox.kube_objects import (
    HASH_LABEL,
    HEALTHY,
    KILLING,
    OUTCOME_ANNOTATION,
    OUTCOMES,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    SAFE_ALPHABET,
    SCHEDULED,
    SERVICE_NAME_LABEL,
    UNSCHEDULABLE_TAINT,
    LogRequest,
    Outcome,
    align_with_deployment,
    apply_defaults,
    apply_patch,
    check_preconditions,
    completed_init_status,
    container_status_for,
    controller_ref,
    deletion_rank,
    deployment_status,
    endpoint_slice_for,
    endpoints_for,
    first_seen,
    labels_match,
    log_container,
    max_surge,
    node_ip,
    node_ready,
    object_key,
    pod_condition,
    pod_ready,
    pod_spec,
    qos_class,
    read_log,
    replicas_of,
    require_bool,
    require_int,
    restamped,
    revision_of,
    scale_of,
    template_hash,
    template_key,
    unscheduled_status,
    validate_deployment,
)
from sandbox.kube_resources import (
    JsonObj,
    LabelPredicate,
    ObjectPredicate,
    ResourceCatalog,
    ResourceType,
    bad_request,
    conflict,
    convert,
    invalid,
    not_found,
)
from sandbox.timeshift import format_time
from sandbox.world import ContainerLogs, World, WorldError

_NOT_COPIED_TO_REPLICASETS = {
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
}
_CLUSTER_AGE = timedelta(days=30)
_SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
_HISTORY_LENGTH = 10_000
_SCALE_TYPE = ResourceType("autoscaling", ("v1",), "scale", "Scale", True)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Change:
    """One stored change, as a watch reports it."""

    revision: int
    type: str
    resource: str
    object: JsonObj


class KubeState:
    """The world's objects and logs, readable by resource and changed by remediation writes."""

    def __init__(self, world: World, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.world_name = world.name
        self._clock = clock
        objects = copy.deepcopy(world.objects)
        self.catalog = ResourceCatalog.for_objects(objects)
        self._store: dict[str, dict[tuple[str, str], JsonObj]] = {r.key: {} for r in self.catalog.resources}
        self._logs: dict[tuple[str, str, str], ContainerLogs] = dict(world.logs)
        self._revision = 0
        self._counter = 0
        self._touched_pods: list[JsonObj] = []
        self._history: deque[Change] = deque(maxlen=_HISTORY_LENGTH)
        self._listeners: set[Callable[[], None]] = set()
        self.pod_type = self._builtin("", "Pod")
        self.event_type = self._builtin("", "Event")
        self.node_type = self._builtin("", "Node")
        self.deployment_type = self._builtin("apps", "Deployment")
        self.replicaset_type = self._builtin("apps", "ReplicaSet")
        self.slice_type = self._builtin("discovery.k8s.io", "EndpointSlice")
        self._load(objects, world.now)
        self._used_ips = {str(p.get("status", {}).get("podIP")) for p in self._bucket(self.pod_type).values()}

    def _builtin(self, group: str, kind: str) -> ResourceType:
        resource = self.catalog.by_kind(group, kind)
        assert resource is not None, f"{kind} is a built-in resource"
        return resource

    # Loading --------------------------------------------------------------------------------

    def _load(self, objects: list[JsonObj], world_now: datetime) -> None:
        """Gives every object what the API server would have: namespace, uid, creation time, resourceVersion."""
        typed: list[tuple[ResourceType, JsonObj]] = []
        for obj in objects:
            resource = self.catalog.for_object(obj)
            obj = convert(obj, resource, resource.version)
            apply_defaults(resource, obj)
            typed.append((resource, obj))
        claimed = self._claimed_uids(typed)
        birth = format_time(world_now - _CLUSTER_AGE)
        for resource, obj in typed:
            meta = obj["metadata"]
            ref = (obj["kind"], meta.get("namespace", ""), meta["name"])
            meta.setdefault("uid", claimed.get(ref) or self._stable_uid(resource, ref))
            meta.setdefault("creationTimestamp", first_seen(obj) or birth)
        uids = {
            (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"]["uid"]
            for _, o in typed
        }
        numbered = [int(rv) for _, o in typed if str(rv := o["metadata"].get("resourceVersion", "")).isdigit()]
        self._revision = max(numbered, default=0)
        for resource, obj in typed:
            self._link_references(resource, obj, uids)
            obj["metadata"].setdefault("resourceVersion", self._next_revision())
            self._bucket(resource)[object_key(obj)] = obj
        self._add_missing_namespaces(birth)
        self._add_missing_slices()
        for deployment in list(self._bucket(self.deployment_type).values()):
            self._check_outcome(deployment)
            current = self._current_replicaset(deployment)
            if current is not None:
                align_with_deployment(current, deployment)
        for replicaset in self._bucket(self.replicaset_type).values():
            self._check_outcome(replicaset)

    def _stable_uid(self, resource: ResourceType, ref: tuple[str, str, str]) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.world_name}/{resource.key}/{ref[1]}/{ref[2]}"))

    def _reference_key(self, api_version: str, kind: str, namespace: str, name: str) -> tuple[str, str, str]:
        target = self.catalog.by_kind(api_version.rpartition("/")[0], kind)
        return (kind, namespace if target is None or target.namespaced else "", name)

    def _references(self, obj: JsonObj) -> list[JsonObj]:
        """The ownerReferences and event subjects of an object: the places that name another object's uid."""
        refs = list(obj["metadata"].get("ownerReferences") or [])
        if obj["kind"] == "Event" and isinstance(obj.get("involvedObject"), dict):
            refs.append(obj["involvedObject"])
        return refs

    def _reference_target(self, obj: JsonObj, ref: JsonObj) -> tuple[str, str, str]:
        namespace = ref.get("namespace") or obj["metadata"].get("namespace", "")
        return self._reference_key(
            str(ref.get("apiVersion", "v1")), str(ref.get("kind")), namespace, str(ref.get("name"))
        )

    def _claimed_uids(self, typed: list[tuple[ResourceType, JsonObj]]) -> dict[tuple[str, str, str], str]:
        """Uids that references already give objects which lack their own: the world author meant those."""
        claimed: dict[tuple[str, str, str], str] = {}
        for _, obj in typed:
            for ref in self._references(obj):
                if ref.get("uid"):
                    claimed.setdefault(self._reference_target(obj, ref), str(ref["uid"]))
        return claimed

    def _link_references(self, resource: ResourceType, obj: JsonObj, uids: dict[tuple[str, str, str], str]) -> None:
        for ref in self._references(obj):
            uid = uids.get(self._reference_target(obj, ref))
            if uid is not None:
                ref.setdefault("uid", uid)
        if resource.kind == "Event":
            involved = obj["involvedObject"]
            subject = self.catalog.by_kind(
                str(involved.get("apiVersion", "v1")).rpartition("/")[0], involved.get("kind")
            )
            if subject is not None and subject.namespaced:
                involved.setdefault("namespace", obj["metadata"]["namespace"])

    def _add_missing_namespaces(self, birth: str) -> None:
        """A real cluster lists every namespace its objects live in, plus the system ones."""
        namespace_type = self._builtin("", "Namespace")
        bucket = self._bucket(namespace_type)
        used = {ns for r in self.catalog.resources if r.namespaced for ns, _ in self._bucket(r)}
        for name in sorted(used.union(_SYSTEM_NAMESPACES)):
            if ("", name) in bucket:
                continue
            namespace = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": self._stable_uid(namespace_type, ("Namespace", "", name)),
                    "resourceVersion": self._next_revision(),
                    "creationTimestamp": birth,
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            bucket[("", name)] = namespace

    def _add_missing_slices(self) -> None:
        """A real cluster mirrors every Service's Endpoints into an EndpointSlice (kubectl describe reads those)."""
        sliced = {
            (s["metadata"]["namespace"], s["metadata"].get("labels", {}).get(SERVICE_NAME_LABEL))
            for s in self._bucket(self.slice_type).values()
        }
        for endpoints in self.list_objects(self._builtin("", "Endpoints")):
            if object_key(endpoints) not in sliced:
                self._mirror_to_slice(
                    endpoints, self._stable_uid(self.slice_type, ("EndpointSlice", *object_key(endpoints)))
                )

    def _check_outcome(self, obj: JsonObj) -> None:
        outcome = obj["metadata"].get("annotations", {}).get(OUTCOME_ANNOTATION)
        if outcome is not None and outcome not in OUTCOMES:
            where = f"{obj['kind']} {obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
            allowed = ", ".join(OUTCOMES)
            raise WorldError(
                f"world {self.world_name}: {where}: unknown {OUTCOME_ANNOTATION} {outcome!r} (one of: {allowed})"
            )

    # Reading --------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        return str(self._revision)

    def _bucket(self, resource: ResourceType) -> dict[tuple[str, str], JsonObj]:
        return self._store[resource.key]

    def list_objects(
        self,
        resource: ResourceType,
        namespace: str | None = None,
        *,
        labels: LabelPredicate | None = None,
        fields: ObjectPredicate | None = None,
    ) -> list[JsonObj]:
        """Objects in etcd's order (namespace, then name), the order the real API lists them in."""
        items = [obj for (ns, _), obj in sorted(self._bucket(resource).items()) if namespace in (None, ns)]
        if labels is not None:
            items = [obj for obj in items if labels(obj["metadata"].get("labels") or {})]
        if fields is not None:
            items = [obj for obj in items if fields(obj)]
        return items

    def get_object(self, resource: ResourceType, namespace: str | None, name: str) -> JsonObj:
        obj = self._bucket(resource).get((namespace or "", name))
        if obj is None:
            raise not_found(resource, name)
        return obj

    def objects(self, kind: str, namespace: str | None = None) -> list[JsonObj]:
        """The stored objects of a kind, for tests and the demo to look at without a client."""
        resource = next((r for r in self.catalog.resources if r.kind == kind), None)
        if resource is None:
            raise KeyError(f"no resource of kind {kind!r} in this cluster")
        return self.list_objects(resource, namespace)

    def pod_log(self, namespace: str, name: str, request: LogRequest) -> str:
        pod = self.get_object(self.pod_type, namespace, name)
        container = log_container(pod, request.container)
        return read_log(pod, container, self._logs.get((namespace, name, container)), request)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls `listener` after every change (watches wake on it); returns the unsubscriber."""
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    def changes_since(self, revision: int) -> list[Change] | None:
        """Changes after `revision`, oldest first; None when they are no longer all remembered."""
        if self._history and revision < self._history[0].revision - 1:
            return None
        if not self._history and revision < self._revision:
            return None
        return [change for change in self._history if change.revision > revision]

    # Writing --------------------------------------------------------------------------------

    def patch(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        media_type: str,
        body: bytes,
        *,
        dry_run: bool = False,
    ) -> JsonObj:
        return self._update(resource, namespace, name, lambda current: apply_patch(current, media_type, body), dry_run)

    def replace(
        self, resource: ResourceType, namespace: str | None, name: str, body: JsonObj, *, dry_run: bool = False
    ) -> JsonObj:
        current = self.get_object(resource, namespace, name)
        for key in ("apiVersion", "kind"):
            if body.get(key) not in (None, current[key]):
                raise bad_request(
                    f"the {key} in the data ({body[key]}) does not match the expected {key} ({current[key]})"
                )
        return self._update(resource, namespace, name, lambda _current: copy.deepcopy(body), dry_run)

    def get_scale(self, namespace: str, name: str) -> JsonObj:
        return scale_of(self.get_object(self.deployment_type, namespace, name))

    def patch_scale(self, namespace: str, name: str, media_type: str, body: bytes, *, dry_run: bool = False) -> JsonObj:
        return self._write_scale(
            namespace, name, apply_patch(self.get_scale(namespace, name), media_type, body), dry_run
        )

    def replace_scale(self, namespace: str, name: str, body: JsonObj, *, dry_run: bool = False) -> JsonObj:
        return self._write_scale(namespace, name, body, dry_run)

    def _write_scale(self, namespace: str, name: str, scale: JsonObj, dry_run: bool) -> JsonObj:
        replicas = require_int((scale.get("spec") or {}).get("replicas"), "Scale", "ScaleSpec.spec.replicas")
        if replicas < 0:
            raise invalid(
                _SCALE_TYPE, name, [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")]
            )
        given = (scale.get("metadata") or {}).get("resourceVersion")

        def set_replicas(deployment: JsonObj) -> JsonObj:
            changed = copy.deepcopy(deployment)
            changed["spec"]["replicas"] = replicas
            if given:
                changed["metadata"]["resourceVersion"] = given
            return changed

        return scale_of(self._update(self.deployment_type, namespace, name, set_replicas, dry_run))

    def delete_pod(
        self, namespace: str, name: str, *, dry_run: bool = False, options: JsonObj | None = None
    ) -> JsonObj:
        """Deletes a pod as kubelet and the pod's controller would: it goes, and a replacement comes."""
        pod = self.get_object(self.pod_type, namespace, name)
        options = options or {}
        check_preconditions(self.pod_type, pod, options.get("preconditions") or {})
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        deleted = copy.deepcopy(pod)
        deleted["metadata"]["deletionTimestamp"] = format_time(self._clock() + timedelta(seconds=grace))
        deleted["metadata"]["deletionGracePeriodSeconds"] = grace
        if dry_run:
            return deleted
        self._remove_pod(pod)
        self._replace_pod(pod)
        self._sync_endpoints()
        return deleted

    def _update(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        change: Callable[[JsonObj], JsonObj],
        dry_run: bool,
    ) -> JsonObj:
        current = self.get_object(resource, namespace, name)
        proposed = self._admit(resource, current, change(current), name)
        if dry_run or proposed == current:
            return proposed
        stored = self._put(resource, proposed)
        if resource.kind == "Deployment":
            self._rollout(stored)
        elif resource.kind == "Node":
            self._node_changed(current, stored)
        self._sync_endpoints()
        return stored

    def _admit(self, resource: ResourceType, current: JsonObj, proposed: JsonObj, name: str) -> JsonObj:
        """What the API server keeps of a write: identity and status stay, the spec is validated."""
        meta = proposed.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        if meta.get("name", name) != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        old_meta = current["metadata"]
        if meta.get("resourceVersion") not in (None, "", old_meta["resourceVersion"]):
            raise conflict(
                resource,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        identity = ("name", "namespace", "uid", "creationTimestamp", "resourceVersion", "generation")
        new_meta = {**meta, **{key: old_meta[key] for key in identity if key in old_meta}}
        admitted = {**proposed, "apiVersion": current["apiVersion"], "kind": current["kind"], "metadata": new_meta}
        admitted.pop("status", None)
        if "status" in current:
            admitted["status"] = current["status"]
        if resource.kind == "Deployment":
            validate_deployment(resource, current, admitted)
        elif resource.kind == "Node":
            require_bool(admitted.get("spec", {}).get("unschedulable", False), "Node", "NodeSpec.spec.unschedulable")
        if "generation" in old_meta and admitted.get("spec") != current.get("spec"):
            new_meta["generation"] = old_meta["generation"] + 1
        return admitted

    # Controllers ----------------------------------------------------------------------------

    def _now(self) -> str:
        return format_time(self._clock())

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _put(self, resource: ResourceType, obj: JsonObj) -> JsonObj:
        obj["metadata"]["resourceVersion"] = self._next_revision()
        bucket = self._bucket(resource)
        kind = "MODIFIED" if object_key(obj) in bucket else "ADDED"
        bucket[object_key(obj)] = obj
        self._changed(Change(revision=self._revision, type=kind, resource=resource.key, object=obj))
        return obj

    def _delete(self, resource: ResourceType, obj: JsonObj) -> None:
        del self._bucket(resource)[object_key(obj)]
        gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": self._next_revision()}}
        self._changed(Change(revision=self._revision, type="DELETED", resource=resource.key, object=gone))

    def _changed(self, change: Change) -> None:
        self._history.append(change)
        for listener in list(self._listeners):
            listener()

    def _put_if_changed(self, resource: ResourceType, obj: JsonObj) -> None:
        if obj != self._bucket(resource).get(object_key(obj)):
            self._put(resource, obj)

    def _fresh(self, resource: ResourceType, obj: JsonObj) -> JsonObj:
        """A private copy of the stored version of `obj`, to change and `_put` back."""
        return copy.deepcopy(self.get_object(resource, obj["metadata"].get("namespace"), obj["metadata"]["name"]))

    def _controlled_by(self, resource: ResourceType, owner: JsonObj) -> list[JsonObj]:
        uid = owner["metadata"]["uid"]
        return [
            obj
            for obj in self.list_objects(resource, owner["metadata"].get("namespace"))
            if any(
                ref.get("controller") and ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []
            )
        ]

    def _live_pods(self, owner: JsonObj) -> list[JsonObj]:
        return [pod for pod in self._controlled_by(self.pod_type, owner) if "deletionTimestamp" not in pod["metadata"]]

    def _current_replicaset(self, deployment: JsonObj) -> JsonObj | None:
        """The ReplicaSet running the deployment's template, else the newest one."""
        owned = self._controlled_by(self.replicaset_type, deployment)
        wanted = template_key(deployment["spec"].get("template") or {})
        matching = [rs for rs in owned if template_key(rs["spec"].get("template") or {}) == wanted]
        return max(matching or owned, key=revision_of, default=None)

    def _rollout(self, deployment: JsonObj) -> None:
        """The deployment controller's reaction to a spec change, completed at once."""
        owned = self._controlled_by(self.replicaset_type, deployment)
        wanted = template_key(deployment["spec"].get("template") or {})
        current = next((rs for rs in owned if template_key(rs["spec"].get("template") or {}) == wanted), None)
        newest = max((revision_of(rs) for rs in owned), default=0)
        paused = bool(deployment["spec"].get("paused"))
        if paused:
            current = current or max(owned, key=revision_of, default=None)
        elif current is None:
            current = self._new_replicaset(deployment, newest + 1)
        elif revision_of(current) < newest:
            current = self._reactivate(current, newest + 1)
        if current is not None:
            self._scale_replicaset(deployment, current, replicas_of(deployment))
        if not paused:
            for old in owned:
                if current is None or old["metadata"]["uid"] != current["metadata"]["uid"]:
                    self._scale_replicaset(deployment, old, 0)
        self._refresh_deployment(deployment)

    def _new_replicaset(self, deployment: JsonObj, revision: int) -> JsonObj:
        meta, spec = deployment["metadata"], deployment["spec"]
        template = copy.deepcopy(spec.get("template") or {})
        collisions = int(deployment.get("status", {}).get("collisionCount", 0))
        bucket = self._bucket(self.replicaset_type)
        while (meta["namespace"], f"{meta['name']}-{template_hash(template, collisions)}") in bucket:
            collisions += 1
        pod_hash = template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        desired = replicas_of(deployment)
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _NOT_COPIED_TO_REPLICASETS}
        annotations["deployment.kubernetes.io/desired-replicas"] = str(desired)
        annotations["deployment.kubernetes.io/max-replicas"] = str(desired + max_surge(deployment))
        annotations[REVISION_ANNOTATION] = str(revision)
        replicaset_spec: JsonObj = {"replicas": 0, "selector": selector, "template": template}
        if "minReadySeconds" in spec:
            replicaset_spec["minReadySeconds"] = spec["minReadySeconds"]
        replicaset = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": meta["namespace"],
                "uid": str(uuid.uuid4()),
                "generation": 1,
                "creationTimestamp": self._now(),
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [controller_ref(deployment)],
            },
            "spec": replicaset_spec,
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        return self._put(self.replicaset_type, replicaset)

    def _reactivate(self, replicaset: JsonObj, revision: int) -> JsonObj:
        """Rollback: an older ReplicaSet becomes the newest revision, its old number kept in the history."""
        changed = self._fresh(self.replicaset_type, replicaset)
        annotations = changed["metadata"].setdefault("annotations", {})
        old = annotations.get(REVISION_ANNOTATION)
        if old:
            history = [h for h in annotations.get(REVISION_HISTORY_ANNOTATION, "").split(",") if h]
            annotations[REVISION_HISTORY_ANNOTATION] = ",".join([*history, old])
        annotations[REVISION_ANNOTATION] = str(revision)
        return self._put(self.replicaset_type, changed)

    def _scale_replicaset(self, deployment: JsonObj, replicaset: JsonObj, replicas: int) -> None:
        changed = self._fresh(self.replicaset_type, replicaset)
        name = changed["metadata"]["name"]
        previous = replicas_of(changed)
        if previous != replicas:
            direction = "up" if replicas > previous else "down"
            message = f"Scaled {direction} replica set {name} from {previous} to {replicas}"
            self._record(deployment, "ScalingReplicaSet", message, "deployment-controller")
            changed["spec"]["replicas"] = replicas
            changed["metadata"]["generation"] = changed["metadata"].get("generation", 1) + 1
        pods = self._live_pods(changed)
        for pod in sorted(pods, key=deletion_rank)[: max(len(pods) - replicas, 0)]:
            self._remove_pod(pod)
            self._record(
                changed, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", "replicaset-controller"
            )
        for _ in range(replicas - len(pods)):
            pod = self._create_pod(changed, self._generated_name(changed))
            self._record(
                changed, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", "replicaset-controller"
            )
        self._put_if_changed(self.replicaset_type, self._with_replicaset_status(changed))

    def _with_replicaset_status(self, replicaset: JsonObj) -> JsonObj:
        pods = self._live_pods(replicaset)
        ready = sum(pod_ready(pod) for pod in pods)
        status: JsonObj = {"replicas": len(pods)}
        for key, value in (("fullyLabeledReplicas", len(pods)), ("readyReplicas", ready), ("availableReplicas", ready)):
            if value:
                status[key] = value
        status["observedGeneration"] = replicaset["metadata"].get("generation", 1)
        replicaset["status"] = status
        return replicaset

    def _refresh_deployment(self, deployment: JsonObj) -> None:
        changed = self._fresh(self.deployment_type, deployment)
        current = self._current_replicaset(changed)
        owned = self._controlled_by(self.replicaset_type, changed)
        pods = [pod for rs in owned for pod in self._live_pods(rs)]
        updated = self._live_pods(current) if current is not None else []
        changed["status"] = deployment_status(changed, current, pods, updated, self._now())
        if current is not None and REVISION_ANNOTATION in current["metadata"].get("annotations", {}):
            revision = current["metadata"]["annotations"][REVISION_ANNOTATION]
            changed["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = revision
        self._put(self.deployment_type, changed)

    def _generated_name(self, owner: JsonObj) -> str:
        prefix = owner["metadata"]["name"]
        while True:
            self._counter += 1
            digest = hashlib.sha256(f"{self.world_name}/{prefix}/{self._counter}".encode()).digest()
            name = f"{prefix}-{''.join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:5])}"
            if (owner["metadata"]["namespace"], name) not in self._bucket(self.pod_type):
                return name

    def _next_ip(self) -> str:
        while True:
            self._counter += 1
            ip = f"10.244.{(self._counter // 250) % 250}.{self._counter % 250 + 2}"
            if ip not in self._used_ips:
                self._used_ips.add(ip)
                return ip

    def _schedule(self) -> tuple[JsonObj | None, str | None]:
        """The node a new pod lands on (fewest pods first), or why none fits, as the scheduler says it."""
        nodes = self.list_objects(self.node_type)
        pods = self.list_objects(self.pod_type)
        load: dict[str, int] = {}
        for pod in pods:
            node_name = pod.get("spec", {}).get("nodeName")
            if node_name:
                load[node_name] = load.get(node_name, 0) + 1
        if not nodes:
            name = min(load, key=lambda n: (load[n], n), default="sandbox-node")
            return {"metadata": {"name": name}, "status": {}}, None
        cordoned = [n for n in nodes if n.get("spec", {}).get("unschedulable")]
        not_ready = [n for n in nodes if n not in cordoned and not node_ready(n)]
        fitting = [n for n in nodes if n not in cordoned and n not in not_ready]
        if fitting:
            return min(fitting, key=lambda n: (load.get(n["metadata"]["name"], 0), n["metadata"]["name"])), None
        reasons = []
        if cordoned:
            reasons.append(f"{len(cordoned)} node(s) were unschedulable")
        if not_ready:
            reasons.append(f"{len(not_ready)} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}")
        total = len(nodes)
        why = f"0/{total} nodes are available: {', '.join(reasons)}. preemption: 0/{total} nodes are available: "
        return None, why + f"{total} Preemption is not helpful for scheduling."

    def _create_pod(self, owner: JsonObj, name: str, node: JsonObj | None = None) -> JsonObj:
        """A new pod of `owner`'s template, in the state the owner's restart-outcome annotation names."""
        template = owner["spec"].get("template") or {}
        outcome = OUTCOMES[owner["metadata"].get("annotations", {}).get(OUTCOME_ANNOTATION, "Running")]
        namespace = owner["metadata"]["namespace"]
        unschedulable = None
        if node is None:
            node, unschedulable = self._schedule()
        now = self._now()
        template_meta = template.get("metadata") or {}
        metadata: JsonObj = {
            "name": name,
            "generateName": f"{owner['metadata']['name']}-",
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now,
            "labels": dict(template_meta.get("labels") or {}),
        }
        if template_meta.get("annotations"):
            metadata["annotations"] = dict(template_meta["annotations"])
        metadata["ownerReferences"] = [controller_ref(owner)]
        pod: JsonObj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": pod_spec(template.get("spec") or {}, node),
        }
        if node is None:
            pod["status"] = unscheduled_status(unschedulable or "", now)
            self._put(self.pod_type, pod)
            self._record(pod, "FailedScheduling", unschedulable or "", "default-scheduler", kind="Warning")
        else:
            pod["status"] = self._scheduled_status(pod, node, outcome, now)
            self._put(self.pod_type, pod)
            self._record_start(pod, node, outcome)
            self._write_new_logs(owner, pod, outcome, now)
        self._touched_pods.append(pod)
        return pod

    def _scheduled_status(self, pod: JsonObj, node: JsonObj, outcome: Outcome, now: str) -> JsonObj:
        containers = pod["spec"].get("containers") or []
        statuses = [
            container_status_for(pod, container, outcome if index == 0 else HEALTHY, now)
            for index, container in enumerate(containers)
        ]
        ready = all(status["ready"] for status in statuses)
        not_ready = [status["name"] for status in statuses if not status["ready"]]
        host_ip = node_ip(node)
        pod_ip = self._next_ip()
        conditions = [
            pod_condition("PodReadyToStartContainers", True, now),
            pod_condition("Initialized", True, now),
            pod_condition("Ready", ready, now, not_ready),
            pod_condition("ContainersReady", ready, now, not_ready),
            pod_condition("PodScheduled", True, now),
        ]
        status: JsonObj = {
            "phase": "Pending" if outcome.pending else "Running",
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": now,
        }
        init = pod["spec"].get("initContainers") or []
        if init:
            status["initContainerStatuses"] = [completed_init_status(pod, container, now) for container in init]
        status["containerStatuses"] = statuses
        status["qosClass"] = qos_class(containers)
        return status

    def _record_start(self, pod: JsonObj, node: JsonObj, outcome: Outcome) -> None:
        node_name = node["metadata"]["name"]
        values = {"namespace": pod["metadata"]["namespace"], "pod": pod["metadata"]["name"], "node": node_name}
        values["uid"] = pod["metadata"]["uid"]
        self._record(pod, SCHEDULED.reason, SCHEDULED.message.format(**values), SCHEDULED.component)
        for index, container in enumerate(pod["spec"].get("containers") or []):
            events = (outcome if index == 0 else HEALTHY).events
            for event in events:
                message = event.message.format(**values, container=container["name"], image=container.get("image", ""))
                field_path = f"spec.containers{{{container['name']}}}"
                self._record(
                    pod, event.reason, message, event.component, kind=event.type, host=node_name, field_path=field_path
                )

    def _write_new_logs(self, owner: JsonObj, pod: JsonObj, outcome: Outcome, now: str) -> None:
        """A startup line; a crashing container also repeats the last lines its predecessors died with."""
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        for index, container in enumerate(pod["spec"].get("containers") or []):
            if index == 0 and outcome.pending:
                continue
            startup = f"{now} INFO starting {container['name']} ({container.get('image', '')})\n"
            if index == 0 and outcome.crashed:
                crash = startup + self._crash_tail(owner, container["name"], now)
                self._logs[(namespace, name, container["name"])] = ContainerLogs(current=crash, previous=crash)
            else:
                self._logs[(namespace, name, container["name"])] = ContainerLogs(current=startup)

    def _crash_tail(self, owner: JsonObj, container: str, now: str) -> str:
        labels = owner["spec"].get("template", {}).get("metadata", {}).get("labels") or {}
        app = {k: v for k, v in labels.items() if k != HASH_LABEL}
        for (namespace, pod, name), logs in sorted(self._logs.items()):
            if namespace != owner["metadata"]["namespace"] or name != container or not logs.previous:
                continue
            stored = self._bucket(self.pod_type).get((namespace, pod))
            pod_labels = (stored or {}).get("metadata", {}).get("labels") or {}
            if stored is None or any(pod_labels.get(k) != v for k, v in app.items()):
                continue
            lines = logs.previous.splitlines()[-5:]
            return "".join(f"{restamped(line, now)}\n" for line in lines)
        return f"{now} ERROR {container} exited\n"

    def _remove_pod(self, pod: JsonObj) -> None:
        meta = pod["metadata"]
        node = pod.get("spec", {}).get("nodeName")
        running = [
            s["name"]
            for s in pod.get("status", {}).get("containerStatuses") or []
            if "running" in (s.get("state") or {})
        ]
        for container in running:
            message = KILLING.message.format(container=container)
            field_path = f"spec.containers{{{container}}}"
            self._record(pod, KILLING.reason, message, KILLING.component, host=node, field_path=field_path)
        self._delete(self.pod_type, pod)
        for key in [key for key in self._logs if key[:2] == (meta["namespace"], meta["name"])]:
            del self._logs[key]
        self._touched_pods.append(pod)

    def _replace_pod(self, pod: JsonObj) -> None:
        """What the pod's controller does about a deleted pod: a ReplicaSet makes up the count, a
        StatefulSet recreates the same name, a DaemonSet recreates it on the same node."""
        controller = next((ref for ref in pod["metadata"].get("ownerReferences") or [] if ref.get("controller")), None)
        if controller is None:
            return
        owner_type = self.catalog.by_kind(str(controller.get("apiVersion", "")).rpartition("/")[0], controller["kind"])
        if owner_type is None or owner_type.kind not in ("ReplicaSet", "StatefulSet", "DaemonSet"):
            return
        owner = self._bucket(owner_type).get((pod["metadata"]["namespace"], controller["name"]))
        if owner is None:
            return
        if owner_type.kind == "ReplicaSet":
            if len(self._live_pods(owner)) < replicas_of(owner):
                created = self._create_pod(owner, self._generated_name(owner))
                self._record(
                    owner, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", "replicaset-controller"
                )
            self._put(self.replicaset_type, self._with_replicaset_status(self._fresh(self.replicaset_type, owner)))
            deployment = self._owning_deployment(owner)
            if deployment is not None:
                self._refresh_deployment(deployment)
            return
        if owner_type.kind == "StatefulSet":
            created = self._create_pod(owner, pod["metadata"]["name"])
        else:
            node = self._bucket(self.node_type).get(("", pod["spec"].get("nodeName", "")))
            created = self._create_pod(owner, self._generated_name(owner), node)
        component = "statefulset-controller" if owner_type.kind == "StatefulSet" else "daemonset-controller"
        message = (
            f"create Pod {created['metadata']['name']} in {owner_type.kind} {owner['metadata']['name']} successful"
        )
        self._record(owner, "SuccessfulCreate", message, component)
        self._put(owner_type, self._with_workload_status(owner_type, copy.deepcopy(owner)))

    def _with_workload_status(self, owner_type: ResourceType, owner: JsonObj) -> JsonObj:
        pods = self._live_pods(owner)
        ready = sum(pod_ready(pod) for pod in pods)
        status = owner.setdefault("status", {})
        if owner_type.kind == "StatefulSet":
            counts = {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready}
        else:
            desired = status.get("desiredNumberScheduled", len(pods))
            counts = {"numberReady": ready, "numberAvailable": ready, "numberUnavailable": max(desired - ready, 0)}
        for key, value in counts.items():
            if value or key == "replicas":
                status[key] = value
            else:
                status.pop(key, None)
        return owner

    def _owning_deployment(self, replicaset: JsonObj) -> JsonObj | None:
        for ref in replicaset["metadata"].get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "Deployment":
                return self._bucket(self.deployment_type).get((replicaset["metadata"]["namespace"], ref["name"]))
        return None

    def _node_changed(self, before: JsonObj, node: JsonObj) -> None:
        """Cordoning taints the node, as the node lifecycle controller does, and kubelet reports it."""
        cordoned = bool(node.get("spec", {}).get("unschedulable"))
        if cordoned == bool(before.get("spec", {}).get("unschedulable")):
            return
        changed = copy.deepcopy(node)
        spec = changed.setdefault("spec", {})
        taints = [taint for taint in spec.get("taints") or [] if taint.get("key") != UNSCHEDULABLE_TAINT]
        if cordoned:
            taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": self._now()})
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
        self._put(self.node_type, changed)
        state = "NodeNotSchedulable" if cordoned else "NodeSchedulable"
        name = node["metadata"]["name"]
        self._record(changed, state, f"Node {name} status is now: {state}", "kubelet", host=name)

    def _sync_endpoints(self) -> None:
        """The endpoints controller: Services selecting a pod that came or went get fresh Endpoints."""
        touched, self._touched_pods = self._touched_pods, []
        service_type, endpoints_type = self._builtin("", "Service"), self._builtin("", "Endpoints")
        namespaces = {pod["metadata"]["namespace"] for pod in touched}
        for namespace in sorted(namespaces):
            for service in self.list_objects(service_type, namespace):
                selector = service.get("spec", {}).get("selector") or {}
                if not selector or not any(labels_match(selector, pod) for pod in touched):
                    continue
                pods = [pod for pod in self.list_objects(self.pod_type, namespace) if labels_match(selector, pod)]
                existing = self._bucket(endpoints_type).get((namespace, service["metadata"]["name"]))
                endpoints = self._put(endpoints_type, endpoints_for(service, pods, existing, self._now()))
                self._mirror_to_slice(endpoints, str(uuid.uuid4()))

    def _mirror_to_slice(self, endpoints: JsonObj, uid: str) -> None:
        meta = endpoints["metadata"]
        service = self._bucket(self._builtin("", "Service")).get((meta["namespace"], meta["name"]))
        slices = self.list_objects(self.slice_type, meta["namespace"])
        existing = next(
            (s for s in slices if s["metadata"].get("labels", {}).get(SERVICE_NAME_LABEL) == meta["name"]), None
        )
        self._put(self.slice_type, endpoint_slice_for(endpoints, service, existing, uid))

    def _record(
        self,
        involved: JsonObj,
        reason: str,
        message: str,
        component: str,
        *,
        kind: str = "Normal",
        host: str | None = None,
        field_path: str | None = None,
    ) -> None:
        """Appends a core/v1 Event as the component that did the thing would."""
        meta = involved["metadata"]
        self._counter += 1
        moment = self._clock()
        now = format_time(moment)
        nanos = int(moment.timestamp() * 1_000_000) * 1000 + self._counter
        namespace = meta.get("namespace", "default")
        reference: JsonObj = {"kind": involved["kind"]}
        if "namespace" in meta:
            reference["namespace"] = meta["namespace"]
        reference.update(
            name=meta["name"],
            uid=meta["uid"],
            apiVersion=involved["apiVersion"],
            resourceVersion=meta["resourceVersion"],
        )
        if field_path:
            reference["fieldPath"] = field_path
        source: JsonObj = {"component": component}
        if host:
            source["host"] = host
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{nanos:x}",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now,
            },
            "involvedObject": reference,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": kind,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        self._put(self.event_type, event)

"""The remediation writes, each made the way kubectl makes it, each able to run as a server-side dry run.

A dry run goes to the API server with `dryRun=All`: admission, validation and RBAC all run, so a
dry run that succeeds means the real call would be accepted, and a refused one says why. What
cannot be done (no earlier revision to roll back to, a node already cordoned) is an answer with
`ok=False` or a note, not an error; an API failure (missing object, forbidden, unreachable)
is raised and reaches the caller as a one-line tool error.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from tools.analyzers.kubernetes.fields import JsonObj, integer, path, text
from tools.findings import ObjectRef
from tools.kubernetes.client import JSON_PATCH, MERGE_PATCH, KubeBackend
from tools.kubernetes.models import ActionResult
from tools.kubernetes.workloads import (
    current_replicaset,
    desired_replicas,
    match_label_selector,
    owned_by,
    revision_of,
    template_images,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_HASH_LABEL = "pod-template-hash"


def _result(
    action: str, target: ObjectRef, dry_run: bool, done: str, *, ok: bool = True, **details: Any
) -> ActionResult:
    """`done` is phrased as done ("restarted ..."); a dry run reports it as what would be done."""
    message = f"dry run: would have {done}" if dry_run and ok else done
    return ActionResult(action=action, target=target, dry_run=dry_run, ok=ok, message=message, details=details)


async def restart_deployment(
    backend: KubeBackend, namespace: str, name: str, *, dry_run: bool, now: datetime | None = None
) -> ActionResult:
    """`kubectl rollout restart`: a new template annotation makes the controller replace every pod."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    patched = await backend.patch("Deployment", namespace, name, body, dry_run=dry_run)
    replicas = desired_replicas(patched)
    return _result(
        "restart_deployment",
        ObjectRef(kind="Deployment", namespace=namespace, name=name),
        dry_run,
        f"restarted deployment {namespace}/{name}: its {replicas} pods are replaced one by one",
        restarted_at=stamp,
        replicas=replicas,
        generation=integer(patched, "metadata", "generation"),
    )


async def scale_deployment(
    backend: KubeBackend, namespace: str, name: str, replicas: int, *, dry_run: bool
) -> ActionResult:
    """`kubectl scale`: through the scale subresource, the one HPA and RBAC rules know."""
    target = ObjectRef(kind="Deployment", namespace=namespace, name=name)
    current = desired_replicas(await backend.get("Deployment", namespace, name))
    if current == replicas:
        return _result(
            "scale_deployment",
            target,
            dry_run,
            f"left {namespace}/{name} at {replicas} replicas (no change)",
            replicas=replicas,
            previous_replicas=current,
        )
    scale = await backend.patch(
        "Deployment",
        namespace,
        name,
        {"spec": {"replicas": replicas}},
        dry_run=dry_run,
        subresource="scale",
        content_type=MERGE_PATCH,
    )
    return _result(
        "scale_deployment",
        target,
        dry_run,
        f"scaled deployment {namespace}/{name} from {current} to {integer(scale, 'spec', 'replicas')} replicas",
        replicas=integer(scale, "spec", "replicas"),
        previous_replicas=current,
    )


async def rollback_deployment(
    backend: KubeBackend, namespace: str, name: str, *, dry_run: bool, to_revision: int | None = None
) -> ActionResult:
    """`kubectl rollout undo`: the deployment's template becomes that of an earlier ReplicaSet again."""
    target = ObjectRef(kind="Deployment", namespace=namespace, name=name)
    deployment = await backend.get("Deployment", namespace, name)
    replicasets = [
        replicaset
        for replicaset in await backend.list_objects(
            "ReplicaSet", namespace, label_selector=match_label_selector(deployment)
        )
        if owned_by(replicaset, deployment)
    ]
    current = current_replicaset(deployment, replicasets)
    current_revision = revision_of(current) if current else revision_of(deployment)
    revisions = {revision: rs for rs in replicasets if (revision := revision_of(rs)) is not None}
    if to_revision is None:
        to_revision = max((r for r in revisions if current_revision is None or r < current_revision), default=None)
        if to_revision is None:
            return _result(
                "rollback_deployment",
                target,
                dry_run,
                f"no earlier revision of deployment {namespace}/{name} to roll back to",
                ok=False,
                from_revision=current_revision,
            )
    chosen = revisions.get(to_revision)
    if chosen is None or to_revision == current_revision:
        known = ", ".join(str(revision) for revision in sorted(revisions))
        why = "is the current one" if to_revision == current_revision else f"does not exist (known: {known})"
        return _result(
            "rollback_deployment",
            target,
            dry_run,
            f"revision {to_revision} of deployment {namespace}/{name} {why}",
            ok=False,
            from_revision=current_revision,
            to_revision=to_revision,
        )
    template = _template_of(chosen)
    await backend.patch(
        "Deployment",
        namespace,
        name,
        [{"op": "replace", "path": "/spec/template", "value": template}],
        dry_run=dry_run,
        content_type=JSON_PATCH,
    )
    before, after = template_images(deployment), template_images(chosen)
    return _result(
        "rollback_deployment",
        target,
        dry_run,
        f"rolled back deployment {namespace}/{name} from revision {current_revision} ({', '.join(before)}) "
        f"to revision {to_revision} ({', '.join(after)})",
        from_revision=current_revision,
        to_revision=to_revision,
        from_images=before,
        to_images=after,
        replicaset=text(chosen, "metadata", "name"),
    )


def _template_of(replicaset: JsonObj) -> JsonObj:
    """The ReplicaSet's pod template without the hash label its controller added."""
    template: JsonObj = copy.deepcopy(dict(path(replicaset, "spec", "template") or {}))
    labels = template.get("metadata", {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(_HASH_LABEL, None)
    return template


async def delete_pod(backend: KubeBackend, namespace: str, name: str, *, dry_run: bool) -> ActionResult:
    target = ObjectRef(kind="Pod", namespace=namespace, name=name)
    pod = await backend.get("Pod", namespace, name)
    await backend.delete("Pod", namespace, name, dry_run=dry_run)
    owners = path(pod, "metadata", "ownerReferences") or []
    controller = next((owner for owner in owners if owner.get("controller")), None)
    fate = (
        f"its {controller.get('kind')} {controller.get('name')} will create a replacement"
        if controller
        else "it has no controller, so nothing will replace it"
    )
    return _result(
        "delete_pod",
        target,
        dry_run,
        f"deleted pod {namespace}/{name}: {fate}",
        node=text(pod, "spec", "nodeName"),
        owner=controller.get("name") if controller else None,
    )


async def cordon_node(backend: KubeBackend, name: str, *, dry_run: bool) -> ActionResult:
    """`kubectl cordon`: no new pods land on the node; the ones running there stay."""
    target = ObjectRef(kind="Node", name=name)
    node = await backend.get("Node", None, name)
    if path(node, "spec", "unschedulable") is True:
        return _result(
            "cordon_node", target, dry_run, f"node {name} was already cordoned (no change)", unschedulable=True
        )
    await backend.patch("Node", None, name, {"spec": {"unschedulable": True}}, dry_run=dry_run)
    return _result(
        "cordon_node",
        target,
        dry_run,
        f"cordoned node {name}: new pods will not be scheduled there, running pods stay",
        unschedulable=True,
    )

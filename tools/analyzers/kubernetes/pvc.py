"""PersistentVolumeClaim analyzer: claims that stay Pending, often because their StorageClass is missing.

Every finding names the workload of the pod waiting for the claim in `details["owner"]`: a claim
named `data-logs-es-3` belongs to StatefulSet logs-es, and a question about logs-es must find it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tools.analyzers.kubernetes.event_records import EventRecord, first_seen
from tools.analyzers.kubernetes.fields import (
    JsonObj,
    finding,
    fmt_duration,
    name_of,
    path,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity

PENDING_GRACE = timedelta(minutes=5)
"""Provisioning a cloud volume takes a minute or two; a claim pending longer is stuck."""
_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
_WAIT_FOR_CONSUMER = "WaitForFirstConsumer"
_CLASS_NOT_FOUND = re.compile(r'storageclass(?:\.storage\.k8s\.io)? "([^"]+)" not found', re.IGNORECASE)
"""What the persistentvolume-controller says when the claim names a class that does not exist."""


def analyze_pvc(claim: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    now = require_aware(now)
    if text(claim, "status", "phase") != "Pending":
        return []
    ref = ref_of(claim)
    created = time_at(claim, "metadata", "creationTimestamp")
    class_name = path(claim, "spec", "storageClassName")
    consumers = snapshot.pods_using_claim(ref.namespace, ref.name)
    context = _consumer_details(consumers, snapshot)
    if snapshot.listed("StorageClass") and class_name != "":
        missing = _missing_class(ref, class_name if isinstance(class_name, str) else None, snapshot, created, context)
        if missing is not None:
            return [missing]
    events = snapshot.events_for("PersistentVolumeClaim", ref.namespace, ref.name)
    storage_class = snapshot.get("StorageClass", None, class_name) if isinstance(class_name, str) else None
    waits_for_pod = text(storage_class, "volumeBindingMode") == _WAIT_FOR_CONSUMER or any(
        event.reason == _WAIT_FOR_CONSUMER for event in events
    )
    if waits_for_pod and not consumers:
        return []
    warnings = sorted((event for event in events if event.is_warning), key=lambda event: -event.count)
    if reported := _class_reported_missing(ref, warnings, context):
        return [reported]
    if not warnings and (created is None or now - created < PENDING_GRACE):
        return []
    age = f" for {fmt_duration(now - created)}" if created else ""
    cause = f": {warnings[0].message}" if warnings else ""
    return [
        finding(
            Severity.WARNING,
            "PVCPending",
            ref,
            f"PersistentVolumeClaim {ref.namespace}/{ref.name}{_used_by(context)} has been Pending{age}{cause}",
            [f"status.phase=Pending storageClassName={class_name}", *(event.describe() for event in warnings[:2])],
            since=first_seen(warnings) or created,
            details={
                "storage_class": class_name,
                "requested": text(claim, "spec", "resources", "requests", "storage"),
                **context,
            },
        )
    ]


def _consumer_details(consumers: Sequence[JsonObj], snapshot: ClusterSnapshot) -> dict[str, Any]:
    """The pods that wait for the claim, and the workload a person would act on."""
    if not consumers:
        return {}
    owner = snapshot.owner_of(consumers[0])
    details: dict[str, Any] = {"pods": sorted(name_of(pod) for pod in consumers)}
    if owner is not None:
        details["owner"] = owner.model_dump()
    return details


def _used_by(context: dict[str, Any]) -> str:
    pods = context.get("pods") or []
    return f" (used by pod {', '.join(pods)})" if pods else ""


def _class_reported_missing(ref: ObjectRef, warnings: list[EventRecord], context: dict[str, Any]) -> Finding | None:
    """Without the StorageClass list, the provisioning events still say which class is missing."""
    for event in warnings:
        if match := _CLASS_NOT_FOUND.search(event.message):
            class_name = match.group(1)
            return finding(
                Severity.CRITICAL,
                "StorageClassMissing",
                ref,
                f"PersistentVolumeClaim {ref.namespace}/{ref.name}{_used_by(context)} cannot bind: "
                f"StorageClass {class_name} does not exist ({event.message})",
                [f"spec.storageClassName={class_name}", event.describe()],
                since=event.first,
                details={"storage_class": class_name, **context},
            )
    return None


def _missing_class(
    ref: ObjectRef, class_name: str | None, snapshot: ClusterSnapshot, created: datetime | None, context: dict[str, Any]
) -> Finding | None:
    """A named class that does not exist, or no class named and no default class to fall back on."""
    if class_name is not None:
        if snapshot.get("StorageClass", None, class_name) is not None:
            return None
        problem = f"StorageClass {class_name} does not exist"
    else:
        if any(text(sc, "metadata", "annotations", _DEFAULT_CLASS) == "true" for sc in snapshot.storage_classes):
            return None
        problem = "it names no StorageClass and the cluster has no default one"
    known = sorted(str(path(sc, "metadata", "name")) for sc in snapshot.storage_classes)
    return finding(
        Severity.CRITICAL,
        "StorageClassMissing",
        ref,
        f"PersistentVolumeClaim {ref.namespace}/{ref.name}{_used_by(context)} cannot bind: {problem}",
        [f"spec.storageClassName={class_name}", f"storage classes: {', '.join(known) or 'none'}"],
        since=created,
        details={"storage_class": class_name, "available_classes": known, **context},
    )

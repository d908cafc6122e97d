"""PersistentVolumeClaim analyzer: claims that stay Pending, often because their StorageClass is missing."""

from __future__ import annotations

from datetime import datetime, timedelta

from tools.analyzers.kubernetes.event_records import first_seen
from tools.analyzers.kubernetes.fields import (
    JsonObj,
    finding,
    fmt_duration,
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


def analyze_pvc(claim: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    now = require_aware(now)
    if text(claim, "status", "phase") != "Pending":
        return []
    ref = ref_of(claim)
    created = time_at(claim, "metadata", "creationTimestamp")
    class_name = path(claim, "spec", "storageClassName")
    if snapshot.listed("StorageClass") and class_name != "":
        missing = _missing_class(ref, class_name if isinstance(class_name, str) else None, snapshot, created)
        if missing is not None:
            return [missing]
    events = snapshot.events_for("PersistentVolumeClaim", ref.namespace, ref.name)
    storage_class = snapshot.get("StorageClass", None, class_name) if isinstance(class_name, str) else None
    waits_for_pod = text(storage_class, "volumeBindingMode") == _WAIT_FOR_CONSUMER or any(
        event.reason == _WAIT_FOR_CONSUMER for event in events
    )
    if waits_for_pod and not snapshot.pods_using_claim(ref.namespace, ref.name):
        return []
    warnings = sorted((event for event in events if event.is_warning), key=lambda event: -event.count)
    if not warnings and (created is None or now - created < PENDING_GRACE):
        return []
    age = f" for {fmt_duration(now - created)}" if created else ""
    cause = f": {warnings[0].message}" if warnings else ""
    return [
        finding(
            Severity.WARNING,
            "PVCPending",
            ref,
            f"PersistentVolumeClaim {ref.namespace}/{ref.name} has been Pending{age}{cause}",
            [f"status.phase=Pending storageClassName={class_name}", *(event.describe() for event in warnings[:2])],
            since=first_seen(warnings) or created,
            details={"storage_class": class_name, "requested": text(claim, "spec", "resources", "requests", "storage")},
        )
    ]


def _missing_class(
    ref: ObjectRef, class_name: str | None, snapshot: ClusterSnapshot, created: datetime | None
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
        f"PersistentVolumeClaim {ref.namespace}/{ref.name} cannot bind: {problem}",
        [f"spec.storageClassName={class_name}", f"storage classes: {', '.join(known) or 'none'}"],
        since=created,
        details={"storage_class": class_name, "available_classes": known},
    )

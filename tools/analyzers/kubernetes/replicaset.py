"""ReplicaSet analyzer: pods that cannot even be created (quota, admission webhooks, missing service account)."""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.event_records import first_seen, last_seen, total_count
from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    earliest,
    finding,
    integer,
    is_recent,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, Severity


def analyze_replicaset(replicaset: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    now = require_aware(now)
    desired = integer(replicaset, "spec", "replicas", default=1)
    if desired == 0:
        return []
    ref = ref_of(replicaset)
    failure = condition(replicaset, "ReplicaFailure")
    failing = failure is not None and failure.get("status") == "True"
    events = [
        event
        for event in snapshot.events_for("ReplicaSet", ref.namespace, ref.name)
        if event.is_warning and event.reason == "FailedCreate"
    ]
    if not failing and not is_recent(last_seen(events), now):
        return []
    latest = max(events, key=lambda event: event.last or now, default=None)
    message = text(failure, "message") if failing else None
    message = message or (latest.message if latest else "pod creation failed")
    owner = snapshot.owner_of(replicaset)
    return [
        finding(
            Severity.WARNING,
            "FailedCreate",
            ref,
            f"ReplicaSet {ref.namespace}/{ref.name} cannot create pods: {message}",
            [describe_condition(failure) if failing else "", *(event.describe() for event in events[:2])],
            since=earliest(first_seen(events), time_at(failure, "lastTransitionTime") if failing else None),
            details={
                "desired": desired,
                "current": integer(replicaset, "status", "replicas"),
                "failed_create_events": total_count(events),
                "message": message,
                **({"owner": owner.model_dump()} if owner else {}),
            },
        )
    ]

"""StatefulSet analyzer: fewer ready replicas than wanted (no Available condition exists for it)."""

from __future__ import annotations

from datetime import datetime

from agents.analyzers.kubernetes.fields import JsonObj, require_aware
from agents.analyzers.kubernetes.replicas import replica_shortfall
from agents.analyzers.kubernetes.snapshot import ClusterSnapshot
from agents.findings import Finding


def analyze_statefulset(statefulset: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    shortfall = replica_shortfall(statefulset, snapshot, reason="StatefulSetUnavailable")
    return [shortfall] if shortfall is not None else []

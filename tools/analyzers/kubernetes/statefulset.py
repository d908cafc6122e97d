"""StatefulSet analyzer: fewer ready replicas than wanted (no Available condition exists for it)."""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.fields import JsonObj, require_aware
from tools.analyzers.kubernetes.replicas import replica_shortfall
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding


def analyze_statefulset(statefulset: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    shortfall = replica_shortfall(statefulset, snapshot, reason="StatefulSetUnavailable")
    return [shortfall] if shortfall is not None else []

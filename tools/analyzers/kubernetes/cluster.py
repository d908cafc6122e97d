"""Every analyzer, by kind, and the one call that runs them all over a snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from tools.analyzers.kubernetes.cronjob import analyze_cronjob
from tools.analyzers.kubernetes.deployment import analyze_deployment
from tools.analyzers.kubernetes.fields import JsonObj, require_aware
from tools.analyzers.kubernetes.hpa import analyze_hpa
from tools.analyzers.kubernetes.ingress import analyze_ingress
from tools.analyzers.kubernetes.job import analyze_job
from tools.analyzers.kubernetes.node import analyze_node
from tools.analyzers.kubernetes.pod import analyze_pod
from tools.analyzers.kubernetes.pvc import analyze_pvc
from tools.analyzers.kubernetes.replicaset import analyze_replicaset
from tools.analyzers.kubernetes.service import analyze_service
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.analyzers.kubernetes.statefulset import analyze_statefulset
from tools.analyzers.kubernetes.warning_events import analyze_uncovered_events
from tools.findings import Finding


class Analyzer(Protocol):
    def __call__(self, obj: JsonObj, snapshot: ClusterSnapshot, /, *, now: datetime) -> list[Finding]: ...


ANALYZERS: Mapping[str, Analyzer] = {
    "Pod": analyze_pod,
    "Deployment": analyze_deployment,
    "ReplicaSet": analyze_replicaset,
    "StatefulSet": analyze_statefulset,
    "Service": analyze_service,
    "Ingress": analyze_ingress,
    "PersistentVolumeClaim": analyze_pvc,
    "Node": analyze_node,
    "Job": analyze_job,
    "CronJob": analyze_cronjob,
    "HorizontalPodAutoscaler": analyze_hpa,
}


def analyze_cluster(snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    """All findings, critical first, then by subject (kind, namespace, name) so output is stable."""
    now = require_aware(now)
    found = [
        result
        for kind, analyze in ANALYZERS.items()
        for obj in snapshot.of_kind(kind)
        for result in analyze(obj, snapshot, now=now)
    ]
    found.extend(analyze_uncovered_events(snapshot, now=now, covered_kinds=ANALYZERS.keys()))
    return sorted(found, key=sort_key)


def sort_key(finding: Finding) -> tuple[int, str, str, str, str, str]:
    subject = finding.subject
    return (
        finding.severity.rank,
        subject.kind if subject else "",
        (subject.namespace or "") if subject else "",
        subject.name if subject else "",
        finding.reason,
        finding.summary,
    )

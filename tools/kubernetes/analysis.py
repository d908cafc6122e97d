"""A namespace's (or the cluster's) findings: every analyzed kind listed at once, plus crash logs.

The analyzers say *that* a pod crashes; the previous instance's log usually says *why* ("gateway
timed out"). So for each workload with crashed containers the log of its most-restarted pod's
previous instance is read, its error lines grouped, and the top ones quoted in the crash
finding's evidence as well as reported as log findings. One pod per workload is enough: its
replicas run the same code and crash the same way, and reading every pod's log would make the
answer slower, not better.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tools.analyzers.kubernetes import ClusterSnapshot, analyze_cluster
from tools.analyzers.kubernetes.cluster import sort_key
from tools.analyzers.kubernetes.fields import (
    JsonObj,
    fmt_time,
    integer,
    is_recent,
    items,
    mapping,
    ref_of,
    text,
    time_at,
)
from tools.analyzers.logs import LogSummary, analyze_log, log_findings
from tools.findings import Finding, ObjectRef
from tools.kubernetes.client import KubeBackend, KubeError, KubeUnreachable
from tools.kubernetes.models import ClusterAnalysis

ANALYZED_KINDS = (
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "Service",
    "Endpoints",
    "Ingress",
    "PersistentVolumeClaim",
    "Node",
    "Event",
)
CRASH_REASONS = frozenset({"CrashLoopBackOff", "OOMKilled", "NonZeroExit"})
LOG_TAIL_LINES = 500
MAX_LOGS_READ = 10
LOG_EVIDENCE_GROUPS = 2


async def analyze_objects(backend: KubeBackend, namespace: str | None, now: datetime | None = None) -> ClusterAnalysis:
    """Lists every analyzed kind concurrently; a kind we may not list is skipped and named, not fatal."""
    now = now or datetime.now(UTC)
    listed = await asyncio.gather(
        *(backend.list_objects(kind, namespace) for kind in ANALYZED_KINDS), return_exceptions=True
    )
    objects: list[JsonObj] = []
    counts: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for kind, result in zip(ANALYZED_KINDS, listed, strict=True):
        if isinstance(result, KubeUnreachable):
            raise result
        if isinstance(result, KubeError):
            skipped[kind] = str(result)
        elif isinstance(result, BaseException):
            raise result
        else:
            objects.extend(result)
            counts[kind] = len(result)
    snapshot = ClusterSnapshot.from_objects(objects, listed_kinds=counts.keys())
    findings = analyze_cluster(snapshot, now=now)
    findings = await _with_crash_logs(backend, snapshot, findings, now)
    return ClusterAnalysis(namespace=namespace, analyzed_at=now, findings=findings, objects=counts, skipped=skipped)


async def _with_crash_logs(
    backend: KubeBackend, snapshot: ClusterSnapshot, findings: list[Finding], now: datetime
) -> list[Finding]:
    crashed = _crashed_containers(snapshot, now)
    summaries = await asyncio.gather(
        *(_previous_log(backend, pod, container) for pod, container in crashed), return_exceptions=True
    )
    read: dict[tuple[ObjectRef, str], LogSummary] = {}
    for (pod, container), summary in zip(crashed, summaries, strict=True):
        if isinstance(summary, BaseException) and not isinstance(summary, KubeError):
            raise summary
        if isinstance(summary, LogSummary) and summary.total_lines:
            read[(ref_of(pod), container)] = summary
    enriched = [_quote_log(finding, read) for finding in findings]
    for (ref, _container), summary in read.items():
        enriched.extend(log_findings(summary, ref))
    return sorted(enriched, key=sort_key)


def _crashed_containers(snapshot: ClusterSnapshot, now: datetime) -> list[tuple[JsonObj, str]]:
    """(pod, container) of the most-restarted recently crashed pod of each workload, at most MAX_LOGS_READ."""
    chosen: dict[tuple[str, str, str | None], tuple[int, JsonObj, str]] = {}
    for pod in snapshot.pods:
        for status in items(pod, "status", "containerStatuses"):
            if not _crashed(status, now):
                continue
            owner = snapshot.owner_of(pod) or ref_of(pod)
            key = (owner.kind, owner.name, owner.namespace)
            restarts = integer(status, "restartCount")
            if key not in chosen or restarts > chosen[key][0]:
                chosen[key] = (restarts, pod, text(status, "name") or "")
    ranked = sorted(chosen.values(), key=lambda entry: -entry[0])
    return [(pod, container) for _restarts, pod, container in ranked[:MAX_LOGS_READ]]


def _crashed(status: JsonObj, now: datetime) -> bool:
    """A container whose previous instance died lately: its log explains the crash (an old one's, nothing now)."""
    last = mapping(status, "lastState", "terminated")
    failed = integer(last, "exitCode") != 0 or text(last, "reason") == "OOMKilled"
    return bool(last) and failed and is_recent(time_at(last, "finishedAt"), now)


async def _previous_log(backend: KubeBackend, pod: JsonObj, container: str) -> LogSummary:
    ref = ref_of(pod)
    text_ = await backend.log(
        ref.namespace or "", ref.name, container=container, previous=True, tail_lines=LOG_TAIL_LINES
    )
    return analyze_log(text_, source_name=f"{ref.name}/{container} (previous)")


def _quote_log(finding: Finding, read: dict[tuple[ObjectRef, str], LogSummary]) -> Finding:
    """The crash finding of a pod whose previous log was read, with that log's top error lines in its evidence."""
    if finding.subject is None or finding.reason not in CRASH_REASONS:
        return finding
    container = str(finding.details.get("container", ""))
    summary = read.get((finding.subject, container))
    if summary is None or not summary.top_errors:
        return finding
    quoted = "; ".join(
        f"x{group.count} {group.example}" + (f" (first {fmt_time(group.first_seen)})" if group.first_seen else "")
        for group in summary.top_errors[:LOG_EVIDENCE_GROUPS]
    )
    evidence = "; ".join(part for part in (finding.evidence, f"previous log: {quoted}") if part)
    details = {
        **finding.details,
        "previous_log_errors": [group.model_dump(mode="json") for group in summary.top_errors],
    }
    return finding.model_copy(update={"evidence": evidence, "details": details})

"""workload-health: what the Kubernetes analyzers flag, narrowed to what a team must fix.

Crash-looping and unschedulable pods, failing Jobs and CronJobs, Deployments and StatefulSets
short of replicas, nodes under pressure and stuck claims come from the `analyze` tool, the same
analyzers a question in a thread uses; warning events about other kinds are left to questions.
Volumes close to full come from kubelet metrics, when a Prometheus is configured.
"""

from __future__ import annotations

import logging

from agents.toolbox import Toolbox, ToolError
from scheduled_checks.models import CheckResult
from tools.findings import Finding, ObjectRef, Severity
from tools.kubernetes.models import ClusterAnalysis
from tools.metrics.models import QueryResult

log = logging.getLogger(__name__)

KUBERNETES = "kubernetes"
METRICS = "metrics"
WATCHED_KINDS = frozenset(
    {"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Node", "PersistentVolumeClaim"}
)
VOLUME_WARN = 0.85
VOLUME_CRITICAL = 0.95
VOLUME_USAGE = (
    "max by (namespace, persistentvolumeclaim) "
    f"(kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes) > {VOLUME_WARN}"
)


async def run(toolbox: Toolbox) -> CheckResult:
    analysis = await toolbox.call(KUBERNETES, "analyze", {}, ClusterAnalysis)
    findings = [finding for finding in analysis.findings if _watched(finding)]
    if toolbox.available(METRICS):
        findings += await _full_volumes(toolbox)
    findings.sort(key=lambda finding: finding.severity.rank)
    examined = sum(analysis.objects.values())
    return CheckResult(findings=findings, checked=f"{examined} objects analyzed")


def _watched(finding: Finding) -> bool:
    return (
        finding.source == KUBERNETES
        and finding.severity is not Severity.INFO
        and finding.subject is not None
        and finding.subject.kind in WATCHED_KINDS
    )


async def _full_volumes(toolbox: Toolbox) -> list[Finding]:
    """Claims above the usage threshold; a failing query costs this part only, never the check."""
    try:
        result = await toolbox.call(METRICS, "query", {"promql": VOLUME_USAGE}, QueryResult)
    except ToolError as error:
        log.warning("workload-health: volume usage not assessed: %s", error)
        return []
    found = []
    for sample in result.samples:
        claim, namespace = sample.labels.get("persistentvolumeclaim"), sample.labels.get("namespace")
        if claim is None or sample.value is None:
            continue
        subject = ObjectRef(kind="PersistentVolumeClaim", name=claim, namespace=namespace)
        found.append(
            Finding(
                source=METRICS,
                severity=Severity.CRITICAL if sample.value >= VOLUME_CRITICAL else Severity.WARNING,
                summary=f"{subject} is {sample.value:.0%} full",
                evidence=f"kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes = {sample.value:.3f}",
                reason="VolumeNearlyFull",
                subject=subject,
                details={"usage": round(sample.value, 4)},
            )
        )
    return found


def key(finding: Finding) -> str:
    return f"{finding.reason}:{finding.subject}"


def question(finding: Finding, service: str | None) -> str:
    if service is not None:
        return f"Why is {service} failing?"
    return f"What is wrong with {finding.subject}?" if finding.subject else finding.summary

"""The Kubernetes specialist: what runs, what is broken and why, from the cluster's own objects.

The `analyze` tool does the diagnosis (one analyzer per kind); this specialist decides what to
ask for, narrows the findings to the services the question is about, and adds the previous
log of a crashed container when the analyzers had no log evidence for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from agents.catalog import Service
from agents.intents import Intent
from agents.specialists.base import Investigation, Report
from guardrails.proposals import Target
from tools.findings import Finding
from tools.kubernetes.models import ClusterAnalysis, DeploymentList, Pod, PodList, PodLogs

SERVER = "kubernetes"
MAX_PODS_SHOWN = 30
_CRASHED = {"CrashLoopBackOff", "Error", "OOMKilled", "NonZeroExit"}


def _belongs(name: str, services: Iterable[Service]) -> bool:
    return any(name == service.name or name.startswith(f"{service.name}-") for service in services)


def _about(finding: Finding, services: list[Service]) -> bool:
    if not services:
        return True
    owner = finding.details.get("owner")
    if isinstance(owner, dict) and isinstance(owner.get("name"), str):
        return _belongs(owner["name"], services)
    return finding.subject is not None and _belongs(finding.subject.name, services)


def _pod_line(pod: Pod) -> str:
    restarts = f", {pod.restarts} restarts" if pod.restarts else ""
    return f"{pod.namespace}/{pod.name}: {pod.status} ({pod.ready} ready{restarts}, age {pod.age})"


def _resource_line(pod: Pod) -> str:
    parts = []
    for container in pod.containers:
        limits = ", ".join(f"{key} limit {value}" for key, value in sorted(container.resources.limits.items()))
        requests = ", ".join(f"{key} request {value}" for key, value in sorted(container.resources.requests.items()))
        last = container.last_termination.reason if container.last_termination else None
        detail = "; ".join(part for part in (limits, requests) if part) or "no limits set"
        ended = f"; last terminated: {last}" if last else ""
        parts.append(f"{container.name}: {detail}{ended}")
    return f"{pod.name}: " + " | ".join(parts)


async def kubernetes_specialist(inv: Investigation) -> Report:
    namespaces: list[str | None] = list(inv.namespaces) or [None]
    focus = inv.focus()
    plan = inv.plan
    report = Report(specialist=SERVER)

    async def analyze(namespace: str | None) -> ClusterAnalysis:
        return await inv.toolbox.call(SERVER, "analyze", {"namespace": namespace}, ClusterAnalysis)

    async def pods(namespace: str | None) -> PodList:
        return await inv.toolbox.call(SERVER, "list_pods", {"namespace": namespace}, PodList)

    async def deployments(namespace: str | None) -> DeploymentList:
        return await inv.toolbox.call(SERVER, "list_deployments", {"namespace": namespace}, DeploymentList)

    analyses, pod_lists, deployment_lists = await asyncio.gather(
        asyncio.gather(*(analyze(ns) for ns in namespaces)),
        asyncio.gather(*(pods(ns) for ns in namespaces)),
        asyncio.gather(*(deployments(ns) for ns in namespaces)),
    )
    all_pods = [pod for listing in pod_lists for pod in listing.pods]
    findings = [finding for analysis in analyses for finding in analysis.findings if _about(finding, focus)]
    findings += await _crash_logs(inv, findings, all_pods)
    report.findings.extend(findings)

    shown = [pod for pod in all_pods if not focus or _belongs(pod.name, focus)]
    report.headline = _headline(shown, namespaces)
    if plan.wants(Intent.STATUS) or (plan.wants(Intent.RESOURCES) and shown):
        report.facts.extend(_pod_line(pod) for pod in shown[:MAX_PODS_SHOWN])
        if len(shown) > MAX_PODS_SHOWN:
            report.facts.append(f"… and {len(shown) - MAX_PODS_SHOWN} more pods")
    if plan.wants(Intent.RESOURCES):
        report.facts.extend(_resource_line(pod) for pod in shown[:5])
    report.targets.extend(
        Target(kind="Deployment", namespace=deployment.namespace, name=deployment.name)
        for listing in deployment_lists
        for deployment in listing.deployments
    )
    return report


def _headline(pods: list[Pod], namespaces: list[str | None]) -> str:
    where = ", ".join(ns for ns in namespaces if ns) or "all namespaces"
    by_status: dict[str, list[str]] = {}
    for pod in pods:
        owner = pod.owner.name if pod.owner else pod.name
        by_status.setdefault(pod.status, [])
        if owner not in by_status[pod.status]:
            by_status[pod.status].append(owner)
    counts = {status: sum(1 for pod in pods if pod.status == status) for status in by_status}
    parts = [
        f"{counts[status]} {status}" + ("" if status in ("Running", "Completed") else f" ({', '.join(owners[:3])})")
        for status, owners in sorted(by_status.items(), key=lambda item: (item[0] != "Running", item[0]))
    ]
    return f"{len(pods)} pods in {where}: " + ", ".join(parts) if pods else f"No pods in {where}."


async def _crash_logs(inv: Investigation, findings: list[Finding], pods: list[Pod]) -> list[Finding]:
    """Log findings from the previous instance of one crashed pod per workload, unless already present."""
    if any(finding.source == "logs" for finding in findings):
        return []
    crashed = {
        finding.subject.name
        for finding in findings
        if finding.subject is not None and finding.subject.kind == "Pod" and finding.reason in _CRASHED
    }
    by_owner: dict[str, Pod] = {}
    for pod in pods:
        if pod.name in crashed:
            owner = pod.owner.name if pod.owner else pod.name
            by_owner.setdefault(owner, pod)

    async def previous_log(pod: Pod) -> list[Finding]:
        container = next((c.name for c in pod.containers if not c.init), None)
        logs = await inv.toolbox.call(
            SERVER,
            "get_pod_logs",
            {"namespace": pod.namespace, "pod": pod.name, "container": container, "previous": True, "tail_lines": 500},
            PodLogs,
        )
        return list(logs.findings)

    results = await asyncio.gather(*(previous_log(pod) for pod in by_owner.values()), return_exceptions=True)
    return [finding for result in results if isinstance(result, list) for finding in result]

"""The read-only Kubernetes MCP server: what runs, how it is doing, and why it is failing.

It never writes: the write tools live on a separate server (actions_server.py) built with a
different identity, so no model-visible tool list can ever contain a write. Every failure
(a missing object, an unreachable API server) comes back as a tool error of one line.

Run standalone: `python -m tools.kubernetes.server --kubeconfig PATH [--context C] [--transport http]`.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from tools.analyzers.kubernetes import ClusterSnapshot
from tools.analyzers.kubernetes.fields import text, time_at
from tools.analyzers.logs import analyze_log, log_findings
from tools.findings import ObjectRef
from tools.health import Health
from tools.kubernetes.analysis import analyze_objects
from tools.kubernetes.client import KubeBackend, api_health
from tools.kubernetes.models import (
    ClusterAnalysis,
    DeploymentList,
    EventList,
    NodeList,
    PodDetail,
    PodList,
    PodLogs,
    RolloutStatus,
)
from tools.kubernetes.standalone import kube_backend, kube_options
from tools.kubernetes.views import conditions_of, event_view, newest_first, pod_view
from tools.kubernetes.workloads import deployment_view, match_label_selector, node_view, rollout_view
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import one_line_errors

SOURCE = "kubernetes"
MAX_PODS = 500
MAX_EVENTS = 200
MAX_LOG_LINES = 2000
MAX_LINE_LENGTH = 2000

Namespace = Annotated[str | None, Field(description="namespace; omit for all namespaces")]
RequiredNamespace = Annotated[str, Field(description="namespace of the object")]


def build_server(backend: KubeBackend) -> MCPServer:
    server = MCPServer(
        "kubernetes",
        instructions=(
            "Read-only view of a Kubernetes cluster. Start with `analyze` for a namespace to get findings "
            "(crash loops, OOM kills, unready pods, failing rollouts, with the crash logs' top errors), "
            "then drill into pods, logs, events and rollouts."
        ),
    )

    @server.tool(description="Whether the Kubernetes API server answers, its version and the round-trip time.")
    async def health() -> Health:
        return await api_health(backend, SOURCE)

    @server.tool(
        description=(
            "List pods with their status as `kubectl get pods` shows it (Running, CrashLoopBackOff, OOMKilled, "
            "Pending, ImagePullBackOff, Completed...), ready containers, restarts, node, age, owning workload "
            "(Deployment resolved through its ReplicaSet), labels, and per container: image, state, last "
            "termination (reason, exit code, time) and resource limits/requests."
        )
    )
    @one_line_errors
    async def list_pods(
        namespace: Namespace = None,
        label_selector: Annotated[str | None, Field(description="e.g. app=payment-service,tier!=db")] = None,
    ) -> PodList:
        pods = await backend.list_objects("Pod", namespace, label_selector=label_selector)
        now = datetime.now(UTC)
        snapshot = ClusterSnapshot.from_objects(pods, listed_kinds=["Pod"])
        views = sorted((pod_view(pod, snapshot, now) for pod in pods), key=lambda pod: (pod.namespace, pod.name))
        return PodList(
            namespace=namespace,
            label_selector=label_selector,
            total=len(views),
            truncated=len(views) > MAX_PODS,
            pods=views[:MAX_PODS],
        )

    @server.tool(
        description=(
            "One pod in detail, like `kubectl describe pod`: status, containers (state, last termination, "
            "restarts, limits), conditions, QoS class, and the events about the pod, most recent first."
        )
    )
    @one_line_errors
    async def describe_pod(
        namespace: RequiredNamespace, name: Annotated[str, Field(description="pod name")]
    ) -> PodDetail:
        pod, events = await asyncio.gather(
            backend.get("Pod", namespace, name),
            backend.list_objects(
                "Event", namespace, field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}"
            ),
        )
        now = datetime.now(UTC)
        return PodDetail(
            pod=pod_view(pod, ClusterSnapshot.from_objects([pod]), now),
            qos_class=text(pod, "status", "qosClass"),
            service_account=text(pod, "spec", "serviceAccountName"),
            start_time=time_at(pod, "status", "startTime"),
            conditions=conditions_of(pod),
            events=newest_first([event_view(event) for event in events])[:MAX_EVENTS],
        )

    @server.tool(
        description=(
            "A container's log lines (the newest `tail_lines`), and a summary of its error patterns: top error "
            "lines grouped with counts and first/last occurrence, timeouts, refused connections, OOM, panics. "
            "Use previous=true for the log of the instance that crashed before the current one."
        )
    )
    @one_line_errors
    async def get_pod_logs(
        namespace: RequiredNamespace,
        pod: Annotated[str, Field(description="pod name")],
        container: Annotated[str | None, Field(description="required when the pod has several containers")] = None,
        previous: Annotated[bool, Field(description="log of the previous (crashed) instance")] = False,
        tail_lines: Annotated[int, Field(ge=1, le=MAX_LOG_LINES, description="newest lines to return")] = 200,
        since_seconds: Annotated[int | None, Field(ge=1, description="only lines of the last N seconds")] = None,
    ) -> PodLogs:
        log_text = await backend.log(
            namespace,
            pod,
            container=container,
            previous=previous,
            tail_lines=tail_lines + 1,
            since_seconds=since_seconds,
        )
        lines = log_text.splitlines()
        kept = [line[:MAX_LINE_LENGTH] for line in lines[-tail_lines:]]
        label = f"{pod}/{container}" if container else pod
        summary = analyze_log("\n".join(kept), source_name=label + (" (previous)" if previous else ""))
        return PodLogs(
            namespace=namespace,
            pod=pod,
            container=container,
            previous=previous,
            lines=kept,
            truncated=len(lines) > tail_lines,
            summary=summary,
            findings=log_findings(summary, ObjectRef(kind="Pod", name=pod, namespace=namespace)),
        )

    @server.tool(
        description=(
            "List deployments: desired/ready/available/updated replicas, images, revision, rollout strategy, "
            "selector, labels and conditions (Available, Progressing)."
        )
    )
    @one_line_errors
    async def list_deployments(namespace: Namespace = None) -> DeploymentList:
        deployments = await backend.list_objects("Deployment", namespace)
        now = datetime.now(UTC)
        views = sorted(
            (deployment_view(deployment, now) for deployment in deployments), key=lambda d: (d.namespace, d.name)
        )
        return DeploymentList(namespace=namespace, total=len(views), deployments=views)

    @server.tool(
        description=(
            "Kubernetes events, most recent first: scheduling failures, back-offs, probe failures, OOM kills, "
            "scaling. Narrow to one object by name, or to warnings only."
        )
    )
    @one_line_errors
    async def get_events(
        namespace: Namespace = None,
        object_name: Annotated[str | None, Field(description="only events about the object of this name")] = None,
        warnings_only: bool = False,
    ) -> EventList:
        selectors = [
            f"involvedObject.name={object_name}" if object_name else "",
            "type=Warning" if warnings_only else "",
        ]
        events = await backend.list_objects(
            "Event", namespace, field_selector=",".join(s for s in selectors if s) or None
        )
        views = newest_first([event_view(event) for event in events])
        return EventList(
            namespace=namespace,
            object_name=object_name,
            warnings_only=warnings_only,
            total=len(views),
            truncated=len(views) > MAX_EVENTS,
            events=views[:MAX_EVENTS],
        )

    @server.tool(
        description=(
            "List nodes: Ready/NotReady/SchedulingDisabled, roles, kubelet version, internal IP, taints, "
            "pressure conditions, capacity and allocatable resources."
        )
    )
    @one_line_errors
    async def list_nodes() -> NodeList:
        nodes = await backend.list_objects("Node")
        now = datetime.now(UTC)
        views = sorted((node_view(node, now) for node in nodes), key=lambda node: node.name)
        return NodeList(total=len(views), nodes=views)

    @server.tool(
        description=(
            "A deployment's rollout, like `kubectl rollout status`: observed generation, updated/ready/available "
            "vs desired replicas, whether the rollout is complete, and the pods of the current ReplicaSet with "
            "their readiness. Use it to verify a restart or a rollback."
        )
    )
    @one_line_errors
    async def rollout_status(
        namespace: RequiredNamespace, name: Annotated[str, Field(description="deployment name")]
    ) -> RolloutStatus:
        deployment = await backend.get("Deployment", namespace, name)
        selector = match_label_selector(deployment)
        replicasets, pods = await asyncio.gather(
            backend.list_objects("ReplicaSet", namespace, label_selector=selector),
            backend.list_objects("Pod", namespace, label_selector=selector),
        )
        return rollout_view(deployment, replicasets, pods)

    @server.tool(
        description=(
            "Findings for a namespace (or the whole cluster): crash loops with restarts and last exit, OOM kills, "
            "image pull failures, unschedulable or unready pods, deployments short of replicas, services without "
            "endpoints, failing jobs, node problems, warning events, and for crashed containers the top error "
            "lines of their previous log. Critical findings first."
        )
    )
    @one_line_errors
    async def analyze(namespace: Namespace = None) -> ClusterAnalysis:
        return await analyze_objects(backend, namespace)

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[kube_options(), transport_options()])
    args = parse_args(parser, argv)
    asyncio.run(serve_from_args(build_server(kube_backend(args)), args))


if __name__ == "__main__":
    main()

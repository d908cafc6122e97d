"""The read-only Kubernetes MCP server, through real MCP sessions against the payment-outage sandbox."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client
from mcp.server.mcpserver import MCPServer

from sandbox.up import Sandbox
from tests.tools.conftest import call_error, call_ok
from tests.tools.mcp_helpers import stdio_server
from tools.kubernetes.client import KubeBackend
from tools.kubernetes.server import build_server
from tools.serving import http_endpoint

READ_TOOLS = {
    "health",
    "list_pods",
    "describe_pod",
    "get_pod_logs",
    "list_deployments",
    "get_events",
    "list_nodes",
    "rollout_status",
    "analyze",
}
WRITE_TOOLS = {"restart_deployment", "scale_deployment", "rollback_deployment", "delete_pod", "cordon_node"}
CRASHING = "payment-service-6f9d7c8b54-x7k2p"


@pytest.fixture(scope="module")
def kube_read_server(payment_sandbox: Sandbox) -> Iterator[MCPServer]:
    assert payment_sandbox.endpoints is not None
    backend = KubeBackend.from_kubeconfig(payment_sandbox.endpoints.kubeconfig)
    yield build_server(backend)
    backend.close()


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


async def test_the_read_server_lists_only_read_tools_each_with_an_output_schema(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        tools = (await client.list_tools()).tools
    assert {tool.name for tool in tools} == READ_TOOLS
    assert not WRITE_TOOLS & {tool.name for tool in tools}
    assert all(tool.description and tool.output_schema for tool in tools)


async def test_health_names_the_api_server_and_its_version(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        health = await call_ok(client, "health")
    assert health["ok"] is True and health["source"] == "kubernetes"
    assert health["detail"].startswith("Kubernetes v1.") and health["latency_ms"] > 0


async def test_list_pods_shows_crash_loops_as_kubectl_does(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        listed = await call_ok(client, "list_pods", namespace="shop")
        everywhere = await call_ok(client, "list_pods")
        selected = await call_ok(
            client, "list_pods", namespace="shop", label_selector="app.kubernetes.io/name=frontend"
        )
    pod = by_name(listed["pods"], CRASHING)
    assert (pod["status"], pod["ready"], pod["restarts"], pod["phase"]) == ("CrashLoopBackOff", "0/1", 14, "Running")
    assert pod["owner"] == {"kind": "Deployment", "name": "payment-service"}
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/acme/payment-service:2.14.0"
    assert container["reason"] == "CrashLoopBackOff" and container["state"] == "waiting"
    assert container["last_termination"]["reason"] == "Error" and container["last_termination"]["exit_code"] == 1
    assert container["resources"]["limits"] == {"memory": "512Mi"}
    assert pod["last_restart_at"] == container["last_termination"]["finished_at"]
    assert by_name(listed["pods"], "postgres-0")["owner"] == {"kind": "StatefulSet", "name": "postgres"}
    assert {p["status"] for p in listed["pods"] if not p["name"].startswith("payment-service")} == {"Running"}
    assert everywhere["namespace"] is None and everywhere["total"] == listed["total"] == 9
    assert [p["name"] for p in selected["pods"]] == ["frontend-7b9c5d8f46-2fhtw", "frontend-7b9c5d8f46-k8ncs"]


async def test_describe_pod_adds_conditions_and_the_pods_own_events(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        detail = await call_ok(client, "describe_pod", namespace="shop", name=CRASHING)
    assert detail["pod"]["status"] == "CrashLoopBackOff"
    ready = by_type(detail["conditions"], "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert {event["object"] for event in detail["events"]} == {f"Pod/{CRASHING}"}
    newest = detail["events"][0]
    assert (newest["type"], newest["reason"], newest["count"]) == ("Warning", "BackOff", 268)
    assert detail["qos_class"] == "Burstable"


def by_type(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(condition for condition in conditions if condition["type"] == kind)


async def test_previous_log_comes_with_its_error_patterns(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        logs = await call_ok(client, "get_pod_logs", namespace="shop", pod=CRASHING, previous=True)
        tail = await call_ok(client, "get_pod_logs", namespace="shop", pod=CRASHING, previous=True, tail_lines=3)
    assert len(logs["lines"]) == 22 and logs["truncated"] is False
    top = logs["summary"]["top_errors"][0]
    assert top["template"] == "upstream gateway timed out after <n>s" and top["count"] == 3
    assert logs["summary"]["fatal_lines"] == 1
    assert {finding["reason"] for finding in logs["findings"]} >= {"LogErrors", "Timeout"}
    assert len(tail["lines"]) == 3 and tail["truncated"] is True
    assert "payment gateway unreachable, exiting" in tail["lines"][-1]


async def test_deployments_show_replicas_images_and_revision(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        listed = await call_ok(client, "list_deployments", namespace="shop")
    payment = by_name(listed["deployments"], "payment-service")
    assert (payment["desired"], payment["ready"], payment["available"], payment["updated"]) == (2, 0, 0, 2)
    assert payment["images"] == ["ghcr.io/acme/payment-service:2.14.0"] and payment["revision"] == "23"
    assert payment["selector"] == {"app.kubernetes.io/name": "payment-service"}
    assert by_type(payment["conditions"], "Available")["status"] == "False"
    assert by_name(listed["deployments"], "frontend")["ready"] == 2


async def test_events_narrow_to_one_object_and_to_warnings(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        everything = await call_ok(client, "get_events", namespace="shop")
        warnings = await call_ok(client, "get_events", namespace="shop", warnings_only=True)
        about_one = await call_ok(client, "get_events", object_name=CRASHING)
    assert warnings["total"] < everything["total"]
    assert {event["type"] for event in warnings["events"]} == {"Warning"}
    assert {event["object"] for event in about_one["events"]} == {f"Pod/{CRASHING}"}
    seen = [event["last_seen"] for event in everything["events"]]
    assert seen == sorted(seen, reverse=True)


async def test_nodes_are_listed_with_their_state(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        nodes = await call_ok(client, "list_nodes")
    assert nodes["total"] == 3
    assert {node["status"] for node in nodes["nodes"]} == {"Ready"}
    assert all(node["internal_ip"] and node["kubelet_version"] for node in nodes["nodes"])


async def test_rollout_status_says_whether_a_rollout_is_complete(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        broken = await call_ok(client, "rollout_status", namespace="shop", name="payment-service")
        healthy = await call_ok(client, "rollout_status", namespace="shop", name="cart-service")
    assert broken["complete"] is False
    assert broken["message"] == (
        'Waiting for deployment "payment-service" rollout to finish: 0 of 2 updated replicas are available...'
    )
    assert broken["replicaset"] == "payment-service-6f9d7c8b54"
    assert {(pod["status"], pod["ready"]) for pod in broken["pods"]} == {("CrashLoopBackOff", False)}
    assert healthy["complete"] is True and healthy["message"] == 'deployment "cart-service" successfully rolled out'


async def test_analyze_finds_the_crash_loop_and_quotes_the_crash_log(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        analysis = await call_ok(client, "analyze", namespace="shop")
    findings = analysis["findings"]
    assert findings[0]["severity"] == "critical"
    crash = next(f for f in findings if f["reason"] == "CrashLoopBackOff" and f["subject"]["name"] == CRASHING)
    assert crash["summary"] == f"{CRASHING} is in CrashLoopBackOff (14 restarts; last exit: Error, code 1)"
    assert (
        "previous log: x3 ERROR internal/gateway/client.go:131 upstream gateway timed out after 30s"
        in crash["evidence"]
    )
    assert crash["details"]["owner"] == {"kind": "Deployment", "name": "payment-service", "namespace": "shop"}
    logs = [f for f in findings if f["source"] == "logs"]
    assert logs and all(f["subject"]["name"] == CRASHING for f in logs)
    assert any("Payment gateway timeout" in f["evidence"] for f in logs)
    assert {f["subject"]["name"] for f in findings if f["reason"] == "NoEndpoints"} == {"payment-service"}
    assert analysis["skipped"] == {} and analysis["objects"]["Pod"] == 9


async def test_a_missing_object_is_a_one_line_error(kube_read_server: MCPServer) -> None:
    async with Client(kube_read_server) as client:
        assert await call_error(client, "describe_pod", namespace="shop", name="nope") == 'pods "nope" not found'
        assert await call_error(client, "rollout_status", namespace="shop", name="nope") == (
            'deployments.apps "nope" not found'
        )
        missing_log = await call_error(client, "get_pod_logs", namespace="shop", pod="nope")
    assert missing_log == 'pods "nope" not found'


@pytest.fixture
def unreachable_kubeconfig(payment_sandbox: Sandbox, tmp_path: Path) -> str:
    assert payment_sandbox.endpoints is not None
    config = yaml.safe_load(Path(payment_sandbox.endpoints.kubeconfig).read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


async def test_an_unreachable_api_server_is_reported_in_one_line_without_credentials(
    unreachable_kubeconfig: str, payment_sandbox: Sandbox
) -> None:
    token = yaml.safe_load(Path(unreachable_kubeconfig).read_text())["users"][0]["user"]["token"]
    async with Client(build_server(KubeBackend.from_kubeconfig(unreachable_kubeconfig))) as client:
        health = await call_ok(client, "health")
        error = await call_error(client, "analyze", namespace="shop")
    assert health["ok"] is False and "unreachable" in health["detail"]
    assert error.startswith("Kubernetes API https://127.0.0.1:") and "unreachable" in error
    assert token not in error and token not in health["detail"]


async def test_over_stdio_as_an_mcp_host_starts_it(payment_sandbox: Sandbox) -> None:
    assert payment_sandbox.endpoints is not None
    params = stdio_server("tools.kubernetes.server", "--kubeconfig", payment_sandbox.endpoints.kubeconfig)
    async with Client(params) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == READ_TOOLS
        pods = await call_ok(client, "list_pods", namespace="shop")
        started = time.perf_counter()
        for _ in range(10):
            await call_ok(client, "health")
        per_call = (time.perf_counter() - started) / 10
    assert by_name(pods["pods"], CRASHING)["status"] == "CrashLoopBackOff"
    assert per_call < 0.5


async def test_over_http(kube_read_server: MCPServer) -> None:
    async with http_endpoint(kube_read_server) as url, Client(url) as client:
        status = await call_ok(client, "rollout_status", namespace="shop", name="payment-service")
        error = await call_error(client, "describe_pod", namespace="shop", name="nope")
    assert status["complete"] is False and error == 'pods "nope" not found'

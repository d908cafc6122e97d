"""The Kubernetes write server against a payment-outage sandbox of its own (these tests change the world).

Every change is checked the way remediation verifies it: through the read server's tools.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from sandbox.up import Sandbox
from tests.tools.conftest import call_error, call_ok, started_sandbox
from tests.tools.mcp_helpers import stdio_server
from tools.kubernetes.actions_server import build_actions_server
from tools.kubernetes.client import KubeBackend
from tools.kubernetes.server import build_server
from tools.serving import http_endpoint

ACTIONS = {"health", "restart_deployment", "scale_deployment", "rollback_deployment", "delete_pod", "cordon_node"}
OUTCOME_ANNOTATION = "sandbox.infrawhisperer.dev/restart-outcome"


@pytest.fixture(scope="module")
def mutable_sandbox() -> Iterator[Sandbox]:
    yield from started_sandbox("payment-outage", prefer_real_prometheus=False)


@pytest.fixture(scope="module")
def write_backend(mutable_sandbox: Sandbox) -> Iterator[KubeBackend]:
    assert mutable_sandbox.endpoints is not None
    backend = KubeBackend.from_kubeconfig(mutable_sandbox.endpoints.kubeconfig)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def servers(write_backend: KubeBackend) -> tuple[MCPServer, MCPServer]:
    """(read server, actions server): the sandbox has one identity, so both use the same kubeconfig."""
    return build_server(write_backend), build_actions_server(write_backend)


async def state(read: Client, namespace: str, name: str) -> dict[str, Any]:
    return await call_ok(read, "rollout_status", namespace=namespace, name=name)


async def test_the_write_server_holds_the_actions_the_read_server_lacks(servers: tuple[MCPServer, MCPServer]) -> None:
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        read_tools = {tool.name for tool in (await read.list_tools()).tools}
        write_tools = (await write.list_tools()).tools
    assert {tool.name for tool in write_tools} == ACTIONS
    assert read_tools & ACTIONS == {"health"}
    dry_run = [tool for tool in write_tools if tool.name != "health"]
    assert all("dry_run" in tool.input_schema["properties"] and tool.output_schema for tool in dry_run)


async def test_dry_runs_are_checked_by_the_server_and_change_nothing(servers: tuple[MCPServer, MCPServer]) -> None:
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        before = await state(read, "shop", "payment-service")
        pods_before = await call_ok(read, "list_pods", namespace="shop")
        pod = pods_before["pods"][0]
        results = [
            await call_ok(write, "restart_deployment", namespace="shop", name="payment-service", dry_run=True),
            await call_ok(
                write, "scale_deployment", namespace="shop", name="payment-service", replicas=4, dry_run=True
            ),
            await call_ok(write, "rollback_deployment", namespace="shop", name="payment-service", dry_run=True),
            await call_ok(write, "delete_pod", namespace="shop", name=pod["name"], dry_run=True),
            await call_ok(write, "cordon_node", name=pod["node"], dry_run=True),
        ]
        after = await state(read, "shop", "payment-service")
        pods_after = await call_ok(read, "list_pods", namespace="shop")
        nodes = await call_ok(read, "list_nodes")
    assert all(result["dry_run"] and result["ok"] for result in results)
    assert all(result["message"].startswith("dry run: would have ") for result in results)
    assert results[1]["message"] == "dry run: would have scaled deployment shop/payment-service from 2 to 4 replicas"
    assert results[2]["target"] == {"kind": "Deployment", "namespace": "shop", "name": "payment-service"}
    assert after == before
    assert [p["name"] for p in pods_after["pods"]] == [p["name"] for p in pods_before["pods"]]
    assert {node["status"] for node in nodes["nodes"]} == {"Ready"}


async def test_rollback_returns_to_the_previous_revision_and_its_image(servers: tuple[MCPServer, MCPServer]) -> None:
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        result = await call_ok(write, "rollback_deployment", namespace="shop", name="payment-service")
        after = await state(read, "shop", "payment-service")
        nothing_earlier = await call_ok(write, "rollback_deployment", namespace="shop", name="cart-service")
    assert result["ok"] and not result["dry_run"]
    assert result["message"] == (
        "rolled back deployment shop/payment-service from revision 23 (ghcr.io/acme/payment-service:2.14.0) "
        "to revision 22 (ghcr.io/acme/payment-service:2.13.2)"
    )
    assert after["complete"] is True and after["replicaset"] == "payment-service-5b8d4c7f9c"
    assert after["images"] == ["ghcr.io/acme/payment-service:2.13.2"] and after["revision"] == "24"
    assert {(pod["status"], pod["ready"]) for pod in after["pods"]} == {("Running", True)}
    assert nothing_earlier["ok"] is False
    assert nothing_earlier["message"] == "no earlier revision of deployment shop/cart-service to roll back to"


async def test_a_restart_replaces_every_pod_and_the_rollout_completes(servers: tuple[MCPServer, MCPServer]) -> None:
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        before = await state(read, "shop", "frontend")
        result = await call_ok(write, "restart_deployment", namespace="shop", name="frontend")
        after = await state(read, "shop", "frontend")
    assert (
        result["ok"] and result["message"] == "restarted deployment shop/frontend: its 2 pods are replaced one by one"
    )
    assert after["complete"] is True and after["replicaset"] != before["replicaset"]
    assert len(after["pods"]) == 2 and not {p["name"] for p in after["pods"]} & {p["name"] for p in before["pods"]}
    assert all(pod["ready"] for pod in after["pods"])


async def test_verification_sees_a_restart_that_did_not_cure_the_crash(
    servers: tuple[MCPServer, MCPServer], write_backend: KubeBackend
) -> None:
    annotation = {"metadata": {"annotations": {OUTCOME_ANNOTATION: "CrashLoopBackOff"}}}
    await write_backend.patch("Deployment", "shop", "orders-service", annotation, dry_run=False)
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        await call_ok(write, "restart_deployment", namespace="shop", name="orders-service")
        after = await state(read, "shop", "orders-service")
    assert after["complete"] is False and after["available"] == 0
    assert {(pod["status"], pod["ready"]) for pod in after["pods"]} == {("CrashLoopBackOff", False)}


async def test_scale_changes_the_pod_count(servers: tuple[MCPServer, MCPServer]) -> None:
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        result = await call_ok(write, "scale_deployment", namespace="shop", name="cart-service", replicas=3)
        again = await call_ok(write, "scale_deployment", namespace="shop", name="cart-service", replicas=3)
        after = await state(read, "shop", "cart-service")
    assert result["message"] == "scaled deployment shop/cart-service from 2 to 3 replicas"
    assert result["details"] == {"replicas": 3, "previous_replicas": 2}
    assert again["message"] == "left shop/cart-service at 3 replicas (no change)"
    assert after["desired"] == 3 and len(after["pods"]) == 3 and after["complete"] is True


async def test_a_deleted_pod_is_replaced_by_its_controller(servers: tuple[MCPServer, MCPServer]) -> None:
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        before = await call_ok(read, "list_pods", namespace="shop", label_selector="app.kubernetes.io/name=frontend")
        victim = before["pods"][0]["name"]
        result = await call_ok(write, "delete_pod", namespace="shop", name=victim)
        after = await call_ok(read, "list_pods", namespace="shop", label_selector="app.kubernetes.io/name=frontend")
        gone = await call_error(read, "describe_pod", namespace="shop", name=victim)
    assert result["message"].startswith(f"deleted pod shop/{victim}: its ReplicaSet frontend-")
    assert gone == f'pods "{victim}" not found'
    assert after["total"] == 2 and victim not in {pod["name"] for pod in after["pods"]}


async def test_a_cordoned_node_takes_no_new_pods(servers: tuple[MCPServer, MCPServer]) -> None:
    read_server, actions_server = servers
    async with Client(read_server) as read, Client(actions_server) as write:
        node = (await call_ok(read, "list_nodes"))["nodes"][0]["name"]
        result = await call_ok(write, "cordon_node", name=node)
        again = await call_ok(write, "cordon_node", name=node)
        after = by_name((await call_ok(read, "list_nodes"))["nodes"], node)
    assert result["message"] == f"cordoned node {node}: new pods will not be scheduled there, running pods stay"
    assert again["message"] == f"node {node} was already cordoned (no change)"
    assert after["status"] == "Ready,SchedulingDisabled" and after["unschedulable"] is True


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


async def test_refusals_are_one_line(servers: tuple[MCPServer, MCPServer]) -> None:
    async with Client(servers[1]) as write:
        missing = await call_error(write, "restart_deployment", namespace="shop", name="nope", dry_run=True)
        negative = await write.call_tool("scale_deployment", {"namespace": "shop", "name": "frontend", "replicas": -1})
    assert missing == 'deployments.apps "nope" not found'
    assert negative.is_error and "replicas" in str(negative.content)  # refused by the input schema, before any call


async def test_the_actions_server_over_stdio_and_http(
    mutable_sandbox: Sandbox, servers: tuple[MCPServer, MCPServer]
) -> None:
    assert mutable_sandbox.endpoints is not None
    params = stdio_server("tools.kubernetes.actions_server", "--kubeconfig", mutable_sandbox.endpoints.kubeconfig)
    async with Client(params) as client:
        over_stdio = await call_ok(client, "restart_deployment", namespace="shop", name="frontend", dry_run=True)
    async with http_endpoint(servers[1]) as url, Client(url) as client:
        over_http = await call_ok(
            client, "scale_deployment", namespace="shop", name="frontend", replicas=1, dry_run=True
        )
    assert over_stdio["dry_run"] and over_stdio["message"].startswith("dry run: would have restarted")
    assert over_http["message"] == "dry run: would have scaled deployment shop/frontend from 2 to 1 replicas"

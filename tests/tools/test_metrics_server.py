"""The metrics MCP server, through real MCP sessions against the sandbox worlds' real Prometheus.

A sandbox's samples end at the world's moment (`world.now`), so queries pass that moment
explicitly: the answers then hold however long the test session has been running.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from sandbox.prometheus import real_prometheus_available
from sandbox.up import Sandbox
from tests.conftest import skip_or_fail
from tests.tools.conftest import call_error, call_ok, started_sandbox
from tests.tools.mcp_helpers import stdio_server
from tools.metrics.client import PrometheusBackend
from tools.metrics.server import build_server
from tools.serving import http_endpoint

TOOLS = {"health", "query", "query_range", "get_alerts", "get_targets", "service_summary"}


@pytest.fixture(scope="module", autouse=True)
def real_prometheus() -> None:
    if not real_prometheus_available():
        skip_or_fail("Debian's prometheus and promtool are not installed (make test installs them where apt is)")


def metrics_server(sandbox: Sandbox) -> MCPServer:
    assert sandbox.endpoints is not None
    return build_server(PrometheusBackend(sandbox.endpoints.prometheus))


@pytest.fixture(scope="module")
def payment_metrics(payment_sandbox: Sandbox) -> MCPServer:
    return metrics_server(payment_sandbox)


@pytest.fixture(scope="module")
def pool_sandbox() -> Iterator[Sandbox]:
    yield from started_sandbox("db-pool-exhaustion")


@pytest.fixture(scope="module")
def healthy_sandbox() -> Iterator[Sandbox]:
    yield from started_sandbox("healthy")


def moment(sandbox: Sandbox) -> str:
    return sandbox.world.now.isoformat()


async def test_tools_are_listed_with_output_schemas(payment_metrics: MCPServer) -> None:
    async with Client(payment_metrics) as client:
        tools = (await client.list_tools()).tools
        health = await call_ok(client, "health")
    assert {tool.name for tool in tools} == TOOLS and all(tool.output_schema for tool in tools)
    assert health["ok"] is True and health["detail"].startswith("Prometheus 2.")


async def test_payment_service_summary_reports_the_5xx_spike_with_its_onset(
    payment_metrics: MCPServer, payment_sandbox: Sandbox
) -> None:
    async with Client(payment_metrics) as client:
        summary = await call_ok(
            client, "service_summary", service="payment-service", namespace="shop", at=moment(payment_sandbox)
        )
    spike = next(f for f in summary["findings"] if f["reason"] == "ErrorRateSpike")
    assert spike["source"] == "metrics" and spike["severity"] == "critical"
    assert spike["summary"].startswith("payment-service: 23% of requests fail with 5xx (baseline 0.5%) since ")
    deploy = payment_sandbox.world.now - timedelta(hours=1)  # payment-service 2.14.0 rolled out at 13:00 of 14:00
    assert timedelta(0) <= datetime.fromisoformat(spike["since"]) - deploy <= timedelta(minutes=5)
    signals = {signal["name"]: signal for signal in summary["signals"]}
    assert signals["error_rate"]["display"] == "23%" and 0.22 < signals["error_rate"]["value"] < 0.24
    assert signals["restarts"]["value"] == 27
    assert {f["reason"] for f in summary["findings"]} == {"ErrorRateSpike", "LatencySpike", "Restarts"}
    assert summary["findings"][0]["severity"] == "critical"


async def test_orders_service_pool_reached_95_percent_and_says_when(pool_sandbox: Sandbox) -> None:
    async with Client(metrics_server(pool_sandbox)) as client:
        summary = await call_ok(client, "service_summary", service="orders-service", at=moment(pool_sandbox))
    pool = next(f for f in summary["findings"] if f["reason"] == "ConnectionPoolSaturated")
    saturated_at = pool_sandbox.world.now - timedelta(minutes=20, seconds=30)  # 13:39:30 of 14:00
    assert pool["summary"] == (
        "orders-service: DB connection pool at 95% (57/60 connections) since "
        + saturated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert pool["severity"] == "critical" and "peak 98%" in pool["evidence"]
    assert "db_pool_connections_active" in summary["metrics"]
    errors = next(f for f in summary["findings"] if f["reason"] == "ErrorRateSpike")
    assert "9.1% of requests fail with 5xx" in errors["summary"]


async def test_a_healthy_world_has_no_metric_findings(healthy_sandbox: Sandbox) -> None:
    async with Client(metrics_server(healthy_sandbox)) as client:
        summaries = [
            await call_ok(
                client, "service_summary", service=service.name, namespace=service.namespace, at=moment(healthy_sandbox)
            )
            for service in healthy_sandbox.world.meta.services
        ]
    assert all(summary["findings"] == [] for summary in summaries)
    assert all(any(signal["name"] == "error_rate" for signal in summary["signals"]) for summary in summaries)


async def test_instant_queries_return_typed_series(payment_metrics: MCPServer, payment_sandbox: Sandbox) -> None:
    at = moment(payment_sandbox)
    async with Client(payment_metrics) as client:
        vector = await call_ok(client, "query", promql="sum by (service) (rate(http_requests_total[5m]))", time=at)
        scalar = await call_ok(client, "query", promql="scalar(count(up == 0))", time=at)
        nan = await call_ok(client, "query", promql="0 / 0", time=at)
    assert vector["result_type"] == "vector" and vector["total"] == 4
    assert {sample["labels"]["service"] for sample in vector["samples"]} >= {"payment-service", "frontend"}
    assert all(sample["value"] > 0 for sample in vector["samples"])
    assert scalar["result_type"] == "scalar" and scalar["samples"][0]["value"] == 2
    assert nan["samples"][0]["value"] is None


async def test_range_queries_cap_their_points(payment_metrics: MCPServer, payment_sandbox: Sandbox) -> None:
    end = payment_sandbox.world.now
    start = (end - timedelta(hours=2)).isoformat()
    async with Client(payment_metrics) as client:
        capped = await call_ok(client, "query_range", promql="sum(up)", start=start, end=end.isoformat(), step="1s")
        relative = await call_ok(client, "query_range", promql="sum(up)", start="-10m", step="1m")
    assert capped["step_seconds"] == 15 and len(capped["series"][0]["points"]) <= 500
    assert relative["step_seconds"] == 60 and relative["total"] == 1


async def test_bad_promql_and_bad_times_are_one_line_errors(payment_metrics: MCPServer) -> None:
    async with Client(payment_metrics) as client:
        syntax = await call_error(client, "query", promql="sum(rate(http_requests_total[5m])")
        when = await call_error(client, "query", promql="up", time="yesterday-ish")
        backwards = await call_error(client, "query_range", promql="up", start="-5m", end="-10m")
        injected = await call_error(client, "service_summary", service='x"} or up{a="')
    assert syntax.startswith("Prometheus refused the request: ") and "parse error" in syntax
    assert when.startswith('"yesterday-ish" is not a time')
    assert "must be before end" in backwards
    assert "is not a Kubernetes name" in injected


async def test_alerts_firing_with_severity_and_annotations(payment_metrics: MCPServer) -> None:
    async with Client(payment_metrics) as client:
        alerts = await call_ok(client, "get_alerts")
    names = [alert["name"] for alert in alerts["alerts"]]
    assert alerts["firing"] >= 5 and "PaymentServiceHighErrorRate" in names
    error_rate = next(alert for alert in alerts["alerts"] if alert["name"] == "PaymentServiceHighErrorRate")
    assert error_rate["state"] == "firing" and error_rate["severity"] == "critical"
    assert error_rate["annotations"]["runbook"] == "high-error-rate-after-deploy"
    assert error_rate["active_at"] is not None
    severities = [alert["severity"] for alert in alerts["alerts"]]
    assert severities.index("critical") < severities.index("warning")


async def test_targets_fall_back_to_up_series(payment_metrics: MCPServer, payment_sandbox: Sandbox) -> None:
    async with Client(payment_metrics) as client:
        targets = await call_ok(client, "get_targets", time=moment(payment_sandbox))
    assert targets["source"] == "up series" and targets["down"] == 2
    assert {t["labels"]["pod"] for t in targets["targets"] if t["health"] == "down"} == {
        "payment-service-6f9d7c8b54-x7k2p",
        "payment-service-6f9d7c8b54-q9m4t",
    }


async def test_an_unreachable_prometheus_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with Client(build_server(PrometheusBackend(f"http://127.0.0.1:{port}"))) as client:
        health = await call_ok(client, "health")
        error = await call_error(client, "service_summary", service="payment-service")
    assert health["ok"] is False
    assert error.startswith(f"Prometheus http://127.0.0.1:{port} unreachable: ") and "refused" in error


async def test_over_stdio_and_http(payment_metrics: MCPServer, payment_sandbox: Sandbox) -> None:
    assert payment_sandbox.endpoints is not None
    async with Client(stdio_server("tools.metrics.server", "--url", payment_sandbox.endpoints.prometheus)) as client:
        over_stdio = await call_ok(client, "service_summary", service="payment-service", at=moment(payment_sandbox))
        started = time.perf_counter()
        for _ in range(10):
            await call_ok(client, "health")
        per_call = (time.perf_counter() - started) / 10
    async with http_endpoint(payment_metrics) as url, Client(url) as client:
        over_http = await call_ok(client, "get_alerts")
    assert any(f["reason"] == "ErrorRateSpike" for f in over_stdio["findings"])
    assert over_http["firing"] >= 5 and per_call < 0.5

"""The incidents MCP server through real MCP client sessions: runbooks from the project and a world,
incidents in a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp.server.mcpserver import MCPServer

from sandbox.world import load_world
from store import IncidentStatus, Store, open_store
from tests.tools.mcp_helpers import call, error_line, error_text, stdio_server, structured
from tools.incidents.server import PROJECT_RUNBOOKS, build_server
from tools.serving import http_endpoint

WORLD_RUNBOOKS = load_world("payment-outage").root / "runbooks"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await open_store(f"sqlite:///{tmp_path / 'whisperer.db'}") as opened:
        yield opened


@pytest.fixture
def server(store: Store) -> MCPServer:
    return build_server([PROJECT_RUNBOOKS, WORLD_RUNBOOKS], store)


async def test_search_finds_the_runbook_for_a_symptom(server: MCPServer) -> None:
    answer = await structured(server, "search_runbooks", query="runbook for CrashLoopBackOff", limit=3)
    first = answer["hits"][0]
    assert first["title"] == "Pod in CrashLoopBackOff"
    assert first["path"] == str(PROJECT_RUNBOOKS / "crashloopbackoff.md")
    assert "**CrashLoopBackOff**" in first["snippet"]
    assert len(answer["hits"]) <= 3


async def test_search_includes_the_worlds_own_runbooks(server: MCPServer) -> None:
    answer = await structured(server, "search_runbooks", query="PaymentGatewayTimeouts alert firing")
    assert answer["hits"][0]["title"] == "payment-service: payment gateway timeouts"
    assert answer["hits"][0]["path"] == str(WORLD_RUNBOOKS / "payment-gateway-timeouts.md")


async def test_search_with_query_syntax_does_not_fail(server: MCPServer) -> None:
    answer = await structured(server, "search_runbooks", query='"OOMKilled" OR (title:* AND NEAR(')
    assert answer["hits"][0]["title"] == "Container OOMKilled"
    line = await error_line(server, "search_runbooks", query="pods", limit=0)
    assert line == "limit must be between 1 and 20"


async def test_get_runbook_returns_the_whole_markdown(server: MCPServer) -> None:
    hit = (await structured(server, "search_runbooks", query="connection pool exhaustion"))["hits"][0]
    runbook = await structured(server, "get_runbook", path_or_title=hit["path"])
    assert runbook["title"] == "Database connection pool exhaustion"
    assert (
        runbook["markdown"] == (PROJECT_RUNBOOKS / "db-connection-pool-exhaustion.md").read_text().split("---\n", 2)[2]
    )
    assert "could not obtain connection from pool" in runbook["matches"]
    by_title = await structured(server, "get_runbook", path_or_title="Pod in CrashLoopBackOff")
    assert by_title["path"].endswith("crashloopbackoff.md")


@pytest.mark.parametrize("path", ["/etc/passwd", str(PROJECT_RUNBOOKS / ".." / "pyproject.toml")])
async def test_get_runbook_refuses_paths_outside_the_runbook_directories(server: MCPServer, path: str) -> None:
    line = await error_line(server, "get_runbook", path_or_title=path)
    assert line == f"refused: {path} is outside the runbook directories"


async def test_incidents_are_logged_listed_and_read_back(server: MCPServer, store: Store) -> None:
    logged = await structured(
        server,
        "log_incident",
        title="payment-service in CrashLoopBackOff",
        service="payment-service",
        severity="critical",
        summary="Gateway calls time out since the 2.14.0 rollout; token xoxb-1234567890-abcdefghij leaked in logs",
        channel="#incident-payments",
        thread_ts="1763646000.000100",
    )
    assert logged["status"] == "open" and logged["severity"] == "critical"
    assert "xoxb-" not in logged["summary"] and "<SLACK_TOKEN>" in logged["summary"]
    stored = await store.get_incident(logged["id"])
    assert stored is not None and stored.channel == "#incident-payments" and stored.thread_ts == "1763646000.000100"

    await structured(server, "log_incident", title="cart latency", service="cart-service", severity="warning")
    resolved = await store.update_incident(stored.model_copy(update={"status": IncidentStatus.RESOLVED}))
    listed = await structured(server, "list_incidents")
    assert [incident["title"] for incident in listed["incidents"]] == [
        "cart latency",
        "payment-service in CrashLoopBackOff",
    ]
    open_only = await structured(server, "list_incidents", status="open")
    assert [incident["service"] for incident in open_only["incidents"]] == ["cart-service"]
    fetched = await structured(server, "get_incident", id=resolved.id)
    assert fetched["status"] == "resolved" and fetched["summary"] == logged["summary"]


async def test_bad_incident_input_is_one_line(server: MCPServer) -> None:
    assert await error_line(server, "get_incident", id="nope") == "no incident with id 'nope'"
    # the input schema lists the severities; the SDK rejects others before the tool runs
    rejected = await call(server, "log_incident", title="x", service="y", severity="sev1")
    assert rejected.is_error and "severity" in error_text(rejected)
    assert await error_line(server, "log_incident", title=" ", service="y", severity="info") == (
        "an incident needs a title and a service"
    )


async def test_health_counts_runbooks_and_checks_the_store(server: MCPServer) -> None:
    health = await structured(server, "health")
    assert health == health | {"source": "incidents", "ok": True, "detail": "9 runbooks indexed; store answers"}


async def test_no_runbooks_is_unhealthy(store: Store, tmp_path: Path) -> None:
    health = await structured(build_server([tmp_path], store), "health")
    assert health["ok"] is False and health["detail"] == "no runbooks found"


async def test_over_stdio_incidents_persist_in_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    process = stdio_server("tools.incidents.server", "--runbooks", str(WORLD_RUNBOOKS), "--store", url)
    hits = await structured(process, "search_runbooks", query="payment gateway unreachable")
    assert [hit["title"] for hit in hits["hits"]] == ["payment-service: payment gateway timeouts"]
    logged = await structured(process, "log_incident", title="gateway down", service="payment-service", severity="info")
    async with await open_store(url) as store:
        incident = await store.get_incident(logged["id"])
    assert incident is not None and incident.title == "gateway down"
    result = await call(process, "get_runbook", path_or_title=str(PROJECT_RUNBOOKS / "oomkilled.md"))
    assert result.is_error


async def test_over_http(server: MCPServer) -> None:
    async with http_endpoint(server) as url:
        answer = await structured(url, "search_runbooks", query="runbook for OOMKilled")
        assert answer["hits"][0]["title"] == "Container OOMKilled"

"""The changes MCP server against the sandbox's GitHub REST stand-in, through real MCP client sessions,
and the patch reader it uses, pinned down by tables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from mcp.server.mcpserver import MCPServer

from sandbox.up import Sandbox
from tests.tools.conftest import started_sandbox
from tests.tools.mcp_helpers import call, error_line, everything_sent, stdio_server, structured
from tools.changes.models import GithubTarget
from tools.changes.patches import PatchLines, parse_patch
from tools.changes.server import build_server
from tools.serving import http_endpoint

TOKEN = "ghp_" + "Q" * 36

# fmt: off
PATCHES = [
    pytest.param(
        "@@ -10,7 +10,8 @@ class Pool:\n-    max_connections = 50\n+    max_connections = 5\n+    timeout_seconds = 1\n"
        "     def acquire(self):\n",
        PatchLines(added=[(10, "    max_connections = 5"), (11, "    timeout_seconds = 1")],
                   removed=[(10, "    max_connections = 50")]),
        id="replace-and-add",
    ),
    pytest.param(
        "@@ -0,0 +1,2 @@\n+# Pool\n+Five connections.\n",
        PatchLines(added=[(1, "# Pool"), (2, "Five connections.")], removed=[]),
        id="new-file",
    ),
    pytest.param(
        "@@ -1,2 +0,0 @@\n-gone\n-too\n",
        PatchLines(added=[], removed=[(1, "gone"), (2, "too")]),
        id="deleted-file",
    ),
    pytest.param(
        "@@ -1 +1 @@\n-client==1.0\n+client==1.1\n",
        PatchLines(added=[(1, "client==1.1")], removed=[(1, "client==1.0")]),
        id="counts-omitted",
    ),
    pytest.param(
        "@@ -3,3 +3,4 @@ def a():\n     x = 1\n+    y = 2\n     return x\n \n"
        "@@ -40,3 +41,3 @@ def b():\n     for i in items:\n-        slow(i)\n+        fast(i)\n     done()\n",
        PatchLines(added=[(4, "    y = 2"), (42, "        fast(i)")], removed=[(41, "        slow(i)")]),
        id="two-hunks",
    ),
    pytest.param(
        "@@ -1,2 +1,2 @@\n keep\n-old\n\\ No newline at end of file\n+new\n\\ No newline at end of file\n",
        PatchLines(added=[(2, "new")], removed=[(2, "old")]),
        id="no-newline-marker",
    ),
    pytest.param(
        "@@ -1,2 +1,3 @@\n a\n+++ counter\n+-- comment\n b\n",
        PatchLines(added=[(2, "++ counter"), (3, "-- comment")], removed=[]),
        id="added-lines-that-look-like-headers",
    ),
    pytest.param(
        "diff --git a/w/cache.py b/w/cache.py\nindex 1..2 100644\n--- a/w/cache.py\n+++ b/w/cache.py\n"
        "@@ -41,2 +41,3 @@\n def warm():\n+    for key in keys: db.get(key)\n     pass\n"
        "diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1 @@\n-a\n+b\n",
        PatchLines(added=[(42, "    for key in keys: db.get(key)"), (1, "b")], removed=[(1, "a")]),
        id="whole-git-diff",
    ),
    pytest.param(
        "@@ -5,4 +5,4 @@\n a\n\n-b\n+c\n",
        PatchLines(added=[(7, "c")], removed=[(7, "b")]),
        id="blank-context-line-without-its-space",
    ),
    pytest.param("", PatchLines(added=[], removed=[]), id="empty"),
    pytest.param("Binary files differ\n", PatchLines(added=[], removed=[]), id="no-hunks"),
]
# fmt: on


@pytest.mark.parametrize(("patch", "expected"), PATCHES)
def test_patches_are_read_as_numbered_added_and_removed_lines(patch: str, expected: PatchLines) -> None:
    assert parse_patch(patch) == expected


def services_of(sandbox: Sandbox) -> dict[str, str]:
    return {service.name: service.repo for service in sandbox.world.meta.services}


def changes_server(sandbox: Sandbox, repos: list[str] | None = None) -> MCPServer:
    assert sandbox.endpoints is not None
    target = GithubTarget(base_url=sandbox.endpoints.github, token=TOKEN)
    return build_server(target, repos or [], services_of(sandbox))


@pytest.fixture(scope="module")
def shop(payment_sandbox: Sandbox) -> MCPServer:
    return changes_server(payment_sandbox)


@pytest.fixture(scope="module")
def orders_sandbox() -> Iterator[Sandbox]:
    yield from started_sandbox("db-pool-exhaustion", prefer_real_prometheus=False)


async def test_recent_changes_shows_what_was_merged_and_deployed_today(shop: MCPServer) -> None:
    answer = await structured(shop, "recent_changes")
    assert sorted(answer["repos"]) == [
        "acme/cart-service",
        "acme/frontend",
        "acme/orders-service",
        "acme/payment-service",
    ]
    [pull] = answer["pull_requests"]  # the others were merged more than 24 hours ago
    assert (pull["repo"], pull["number"], pull["author"]) == ("acme/payment-service", 214, "dkowalski")
    assert pull["url"] == "https://github.com/acme/payment-service/pull/214"
    config = next(file for file in pull["files"] if file["filename"] == "config/production.yaml")
    assert {"line": 13, "text": "  base_url: https://gateway.payments-provider.example:8443/v3"} in config["added"]
    assert {"line": 15, "text": "  request_timeout: 10s"} in config["removed"]
    assert (config["additions"], config["deletions"]) == (4, 3)
    [deploy] = answer["deploys"]
    assert deploy == deploy | {
        "repo": "acme/payment-service",
        "service": "payment-service",
        "namespace": "shop",
        "image": "ghcr.io/acme/payment-service:2.14.0",
        "pull_request": 214,
        "state": "success",
    }
    merged_at = datetime.fromisoformat(pull["merged_at"])
    deployed_at = datetime.fromisoformat(deploy["at"])
    assert timedelta(minutes=3) < deployed_at - merged_at < timedelta(minutes=4)
    assert timedelta(minutes=55) < datetime.now(UTC) - merged_at < timedelta(minutes=70)


async def test_a_service_narrows_to_its_repository_and_deploys(shop: MCPServer) -> None:
    answer = await structured(shop, "recent_changes", service="payment-service", since_hours=24 * 7)
    assert answer["repos"] == ["acme/payment-service"]
    assert [pull["number"] for pull in answer["pull_requests"]] == [214, 209]
    assert [deploy["image"] for deploy in answer["deploys"]] == [
        "ghcr.io/acme/payment-service:2.14.0",
        "ghcr.io/acme/payment-service:2.13.2",
    ]


async def test_the_window_can_end_in_the_past(shop: MCPServer) -> None:
    until = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    answer = await structured(shop, "recent_changes", since_hours=30, until=until)
    assert [pull["number"] for pull in answer["pull_requests"]] == [839]
    assert [deploy["service"] for deploy in answer["deploys"]] == ["orders-service"]


async def test_get_pull_request_reads_one_in_full(shop: MCPServer) -> None:
    pull = await structured(shop, "get_pull_request", repo="ACME/Payment-Service", number=209)
    assert pull["state"] == "closed" and pull["merged_at"] is not None
    assert pull["title"] == "Send idempotency keys with refund requests"
    [file] = pull["files"]
    assert file["added"] == [
        {"line": 48, "text": '\treq.IdempotencyKey = fmt.Sprintf("refund-%s-%d", p.ID, body.Attempt)'}
    ]


@pytest.mark.parametrize(
    ("tool", "arguments", "line"),
    [
        ("get_pull_request", {"repo": "acme/payment-service", "number": 999},
         "pull request acme/payment-service#999 not found on GitHub (or the token cannot see it)"),
        ("get_pull_request", {"repo": "evil/elsewhere", "number": 1},
         "repository 'evil/elsewhere' is not configured; configured: acme/payment-service, acme/orders-service, "
         "acme/cart-service, acme/frontend"),
        ("recent_changes", {"service": "billing"},
         "unknown service 'billing'; known services: payment-service, orders-service, cart-service, frontend"),
        ("recent_changes", {"since_hours": 0}, "since_hours must be above 0 and at most 2160"),
        ("recent_changes", {"until": "yesterday"},
         "until must be an ISO 8601 time such as 2026-11-20T14:00:00Z, not 'yesterday'"),
    ],
)  # fmt: skip
async def test_mistakes_are_one_clear_line(shop: MCPServer, tool: str, arguments: dict[str, object], line: str) -> None:
    assert await error_line(shop, tool, **arguments) == line


async def test_an_unreadable_repository_is_named_and_the_others_still_answer(payment_sandbox: Sandbox) -> None:
    server = changes_server(payment_sandbox, ["acme/ghost"])
    answer = await structured(server, "recent_changes")
    assert answer["failed_repos"] == {
        "acme/ghost": "pull requests of acme/ghost not found on GitHub (or the token cannot see it)"
    }
    assert [pull["number"] for pull in answer["pull_requests"]] == [214]
    assert await error_line(server, "recent_changes", repo="acme/ghost") == (
        "pull requests of acme/ghost not found on GitHub (or the token cannot see it)"
    )
    health = await structured(server, "health")
    assert health["ok"] is False and "repository acme/ghost not found" in health["detail"]


async def test_health_says_github_answers(shop: MCPServer) -> None:
    health = await structured(shop, "health")
    assert health["ok"] is True
    assert health["detail"].startswith("GitHub answers (") and health["detail"].endswith("4 repositories readable")


async def test_unreachable_github_is_reported_without_the_token() -> None:
    server = build_server(GithubTarget(base_url="http://127.0.0.1:1/api/v3", token=TOKEN), ["acme/payments"])
    health = await call(server, "health")
    assert health.structured_content is not None and health.structured_content["ok"] is False
    assert health.structured_content["detail"].startswith("cannot reach GitHub for the rate limit")
    line = await error_line(server, "recent_changes")
    assert line.startswith("cannot reach GitHub for pull requests of acme/payments")
    assert TOKEN not in everything_sent(health) + line


async def test_a_query_inside_a_loop_is_visible_line_by_line(orders_sandbox: Sandbox) -> None:
    answer = await structured(changes_server(orders_sandbox), "recent_changes", service="orders-service")
    [pull] = answer["pull_requests"]
    assert pull["number"] == 847
    repository = next(file for file in pull["files"] if file["filename"] == "orders/repository.py")
    added = {line["line"]: line["text"] for line in repository["added"]}
    assert added[6] == "from orders.models import LineItem, Order"
    assert added[48] == "            for order in orders:"
    assert added[49] == "                items = conn.execute("
    assert added[50].strip() == '"SELECT sku, name, quantity, unit_price_cents FROM order_line_items"'
    [deploy] = answer["deploys"]
    assert (deploy["service"], deploy["namespace"], deploy["pull_request"]) == ("orders-service", "checkout", 847)


async def test_over_stdio_with_the_token_from_the_environment(payment_sandbox: Sandbox) -> None:
    assert payment_sandbox.endpoints is not None
    process = stdio_server(
        "tools.changes.server",
        "--github-url",
        payment_sandbox.endpoints.github,
        "--service",
        "payment-service=acme/payment-service",
        env={"GITHUB_TOKEN": TOKEN},
    )
    answer = await structured(process, "recent_changes", service="payment-service")
    assert [pull["number"] for pull in answer["pull_requests"]] == [214]
    assert (await structured(process, "health"))["ok"] is True


async def test_over_http(shop: MCPServer) -> None:
    async with http_endpoint(shop) as url:
        pull = await structured(url, "get_pull_request", repo="acme/frontend", number=1187)
        assert pull["files"][0]["filename"] == "src/components/CartSummary.tsx"

"""External MCP servers from the config file, in a world's runtime: catalog, calls, health, failure.

One stdio server (a child process started as the config says) and one streamable-HTTP server
are configured next to a server whose command does not exist; the healthy world supplies our
own servers, so the test also sees that the catalog mixes both and never offers a write tool.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from agents.question import Question
from agents.toolbox import Toolbox
from bot.config import ConfigError, load_config
from bot.runtime import Runtime
from bot.session import command_runtime
from tests.bot.fixtures.notes_mcp_server import Echoed, EnvironmentValue, build_server
from tools.kubernetes.actions_server import build_actions_server
from tools.kubernetes.client import KubeBackend
from tools.serving import http_endpoint

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOTES_SCRIPT = Path(__file__).resolve().parent / "fixtures" / "notes_mcp_server.py"
GREETING = "hello from the operator"
BOT_SECRET = "WHISPERER_TEST_BOT_SECRET"


async def _serve_runtime(folder: Path, opened: asyncio.Future[Runtime], stop: asyncio.Event) -> None:
    """Opens and closes the runtime in one task: MCP sessions must be exited by the task that entered them."""
    async with http_endpoint(build_server("wiki")) as wiki_url:
        config = {
            "mcp": {
                "external": [
                    {
                        "name": "notes",
                        "command": [sys.executable, str(NOTES_SCRIPT)],
                        "env": {"GREETING": "${WHISPERER_TEST_GREETING}"},
                    },
                    {"name": "wiki", "url": wiki_url},
                    {"name": "broken", "command": [str(folder / "no-such-mcp-server")]},
                ]
            }
        }
        path = folder / "whisperer.yaml"
        path.write_text(yaml.safe_dump(config))
        async with command_runtime(str(path), "healthy") as runtime:
            opened.set_result(runtime)
            await stop.wait()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def runtime(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    opened: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("WHISPERER_TEST_GREETING", GREETING)
        environment.setenv(BOT_SECRET, "the bot's own credential")
        serving = asyncio.create_task(_serve_runtime(tmp_path_factory.mktemp("external-mcp"), opened, stop))
        either: list[asyncio.Future[Any]] = [opened, serving]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()
        try:
            yield opened.result()
        finally:
            stop.set()
            await serving


async def test_external_tools_join_the_catalog_with_their_schemas(runtime: Runtime) -> None:
    catalog = await runtime.toolbox.catalog()
    by_server: dict[str, set[str]] = {}
    for spec in catalog:
        by_server.setdefault(spec.server, set()).add(spec.name)

    assert by_server["notes"] == by_server["wiki"] == {"echo", "environment"}
    assert {"list_pods", "analyze"} <= by_server["kubernetes"], "our own servers are in the same catalog"
    echo = next(spec for spec in catalog if (spec.server, spec.name) == ("wiki", "echo"))
    assert echo.description == "Echo the text back, saying which server answered."
    assert echo.input_schema["properties"]["text"]["type"] == "string"
    assert echo.input_schema["required"] == ["text"]


async def test_calls_reach_the_external_servers(runtime: Runtime) -> None:
    over_stdio = await runtime.toolbox.call("notes", "echo", {"text": "ping"}, Echoed)
    over_http = await runtime.toolbox.call("wiki", "echo", {"text": "pong"}, Echoed)

    assert over_stdio == Echoed(text="ping", server="notes")
    assert over_http == Echoed(text="pong", server="wiki")


async def test_a_stdio_server_gets_its_configured_environment_and_not_the_bots(runtime: Runtime) -> None:
    greeting = await runtime.toolbox.call("notes", "environment", {"variable": "GREETING"}, EnvironmentValue)
    secret = await runtime.toolbox.call("notes", "environment", {"variable": BOT_SECRET}, EnvironmentValue)

    assert greeting.value == GREETING, "${WHISPERER_TEST_GREETING} in the config is resolved from the environment"
    assert secret.value is None


async def test_health_shows_external_servers_and_the_unreachable_one(runtime: Runtime) -> None:
    health = {entry.source: entry for entry in await runtime.toolbox.health()}

    assert (health["notes"].ok, health["notes"].detail) == (True, "reachable, 2 tools")
    assert (health["wiki"].ok, health["wiki"].detail) == (True, "reachable, 2 tools")
    assert health["broken"].ok is False
    assert "No such file or directory" in health["broken"].detail
    assert health["kubernetes"].ok and health["kubernetes"].detail.startswith("Kubernetes v"), (
        "a server with its own health tool still answers with it"
    )


async def test_an_unreachable_server_is_unavailable_and_ask_still_answers(runtime: Runtime) -> None:
    assert set(runtime.toolbox.unavailable()) == {"broken"}
    assert "broken" not in {spec.server for spec in await runtime.toolbox.catalog()}

    answer = await runtime.assistant.ask(Question(text="Is anything wrong in prod?", via="ask"))

    assert answer.refused is None
    assert "healthy" in answer.text.lower()
    assert not answer.sources_failed


async def test_the_catalog_never_offers_the_write_server(runtime: Runtime) -> None:
    assert runtime.sources.write_kubeconfig is not None
    async with Client(build_actions_server(KubeBackend.from_kubeconfig(runtime.sources.write_kubeconfig))) as writes:
        write_tools = {tool.name for tool in (await writes.list_tools()).tools} - {"health"}
    assert {"restart_deployment", "scale_deployment"} <= write_tools

    catalog = await runtime.toolbox.catalog()

    assert "kubernetes-actions" not in runtime.toolbox.servers
    assert "kubernetes-actions" not in {spec.server for spec in catalog}
    assert not write_tools & {spec.name for spec in catalog}


async def test_a_server_that_never_answers_does_not_hold_up_start_up() -> None:
    silent = StdioServerParameters(command=sys.executable, args=["-c", "import sys; sys.stdin.read()"])
    started = time.perf_counter()
    async with Toolbox({"silent": silent}, connect_timeout_s=0.5) as toolbox:
        assert toolbox.unavailable() == {"silent": "no answer within 0.5 s"}
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (
            [{"name": "kubernetes-actions", "url": "http://127.0.0.1:1/mcp"}],
            "mcp.external.0.name: 'kubernetes-actions' is the name of one of InfraWhisperer's own MCP servers; "
            "choose another",
        ),
        (
            [{"name": "wiki", "url": "http://a/mcp"}, {"name": "wiki", "command": ["wiki-mcp"]}],
            "mcp.external: more than one external server is named 'wiki'",
        ),
    ],
)
async def test_a_name_that_is_taken_is_a_one_line_config_error(
    tmp_path: Path, servers: list[dict[str, object]], expected: str
) -> None:
    path = tmp_path / "whisperer.yaml"
    path.write_text(yaml.safe_dump({"mcp": {"external": servers}}))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: {expected}"

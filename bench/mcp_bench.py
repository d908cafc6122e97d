"""What MCP costs per tool call: the same Kubernetes tool called directly, in process, over stdio and over HTTP.

"Direct" is the work the tool wraps (`analyze_objects`, and for `list_pods` the API list behind it)
with no MCP at all; the other three are the same read-only server (tools/kubernetes/server.py)
behind a client session: in memory (how the runtime talks to its own servers), as a child process
on stdio (how an MCP host runs `python -m tools.kubernetes.server`), and over streamable HTTP
(`tools.serving.http_endpoint`, as `whisperer mcp serve --transport http` serves it). All four talk
to one sandbox API server, and the calls are taken in turns, so a slow moment of the sandbox falls
on every path alike. An investigation makes a dozen or so calls, so overhead is budgeted per call.
Over stdio the tool's work runs in another process, on another core, so for a tool heavy on CPU
(`analyze`) the overhead can come out near zero or even below.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from bench.report import Figure, median
from sandbox.up import Sandbox
from sandbox.world import load_world
from tools.kubernetes.analysis import analyze_objects
from tools.kubernetes.client import KubeBackend
from tools.kubernetes.server import build_server
from tools.serving import http_endpoint

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "shop"
WARM_UPS = 3
CALLS = 40
# Overhead budget per call over the direct call, by transport.
OVERHEAD_TARGET_MS = {"in-process": 5.0, "stdio": 10.0, "http": 15.0}

Call = Callable[[], Awaitable[object]]


def _via(client: Client, tool: str) -> Call:
    async def call() -> object:
        result = await client.call_tool(tool, {"namespace": NAMESPACE})
        assert not result.is_error, f"{tool} failed: {result.content}"
        return result.structured_content

    return call


async def _medians(paths: dict[str, Call]) -> dict[str, float]:
    """Median ms per path, the paths called in turns so that they share the sandbox's good and bad moments."""
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for round_number in range(WARM_UPS + CALLS):
        for name, call in paths.items():
            started = time.perf_counter()
            await call()
            if round_number >= WARM_UPS:
                samples[name].append((time.perf_counter() - started) * 1000)
    return {name: median(taken) for name, taken in samples.items()}


def _figures(tool: str, medians: dict[str, float]) -> list[Figure]:
    direct = medians.pop("direct")
    figures = [Figure(f"mcp {tool} direct, median", direct, "ms")]
    for transport, took in medians.items():
        figures += [
            Figure(f"mcp {tool} {transport}, median", took, "ms"),
            Figure(f"  {transport} overhead vs direct", took - direct, "ms", OVERHEAD_TARGET_MS[transport]),
        ]
    return figures


async def run() -> list[Figure]:
    with TemporaryDirectory() as tmp:
        async with Sandbox(load_world("payment-outage"), Path(tmp)) as sandbox, AsyncExitStack() as stack:
            assert sandbox.endpoints is not None
            kubeconfig = sandbox.endpoints.kubeconfig
            backend = KubeBackend.from_kubeconfig(kubeconfig)
            server = build_server(backend)
            stdio = StdioServerParameters(
                command=sys.executable, args=["-m", "tools.kubernetes.server", "--kubeconfig", kubeconfig], cwd=REPO
            )
            clients = {
                "in-process": await stack.enter_async_context(Client(server)),
                "stdio": await stack.enter_async_context(Client(stdio)),
                "http": await stack.enter_async_context(Client(await stack.enter_async_context(http_endpoint(server)))),
            }
            direct: dict[str, Call] = {
                "list_pods": lambda: backend.list_objects("Pod", NAMESPACE),
                "analyze": lambda: analyze_objects(backend, NAMESPACE),
            }
            figures: list[Figure] = []
            for tool, call in direct.items():
                paths: dict[str, Call] = {"direct": call} | {name: _via(c, tool) for name, c in clients.items()}
                figures += _figures(tool, await _medians(paths))
            return figures

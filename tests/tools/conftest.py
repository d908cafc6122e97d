"""Sandbox fixtures for the MCP tool servers' tests.

A sandbox serves its endpoints from the event loop that started it. Each test runs on its own
loop, so a sandbox shared across tests runs on a loop of its own in a background thread: any
test, on any loop, reaches its endpoints over the network like a real client would, and the
endpoints are started once per session instead of once per test.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from mcp import Client

from sandbox.up import Sandbox
from sandbox.world import load_world
from tests.tools.mcp_helpers import error_text

_T = TypeVar("_T")
_START_TIMEOUT_S = 120.0


class SandboxThread:
    """Runs one world's `Sandbox` on a private event loop until `stop()`.

    The thread lives as long as the sandbox: Prometheus is killed by the kernel when the thread
    that started it ends, so the thread must not end early.
    """

    def __init__(self, world_name: str, *, prefer_real_prometheus: bool = True) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"sandbox-{world_name}", daemon=True)
        self.sandbox = Sandbox(load_world(world_name), prefer_real_prometheus=prefer_real_prometheus)

    def start(self) -> Sandbox:
        self._thread.start()
        try:
            self.run(self.sandbox.__aenter__(), timeout=_START_TIMEOUT_S)
        except BaseException:
            self._stop_loop()
            raise
        return self.sandbox

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        """Runs a coroutine on the sandbox's loop (e.g. to inspect its state) and returns its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        try:
            self.run(self.sandbox.__aexit__(None, None, None), timeout=_START_TIMEOUT_S)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def started_sandbox(world_name: str, *, prefer_real_prometheus: bool = True) -> Iterator[Sandbox]:
    """A started sandbox of a bundled world for the duration of a fixture (`yield from` it).

    Tests that need no metrics pass `prefer_real_prometheus=False`: the in-process stand-in
    starts at once, where a real Prometheus first imports the world's samples.
    """
    running = SandboxThread(world_name, prefer_real_prometheus=prefer_real_prometheus)
    running.start()
    try:
        yield running.sandbox
    finally:
        running.stop()


@pytest.fixture(scope="session")
def payment_sandbox() -> Iterator[Sandbox]:
    """The payment-outage world's endpoints, shared read-only by every tools test of the session.

    Tests that change the world (remediation actions) must start their own sandbox instead.
    """
    yield from started_sandbox("payment-outage")


async def call_ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured answer within an open session (tests/tools/mcp_helpers.py opens one per call)."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, error_text(result)
    answer: dict[str, Any] | None = result.structured_content
    assert answer is not None
    return answer


async def call_error(client: Client, tool: str, **arguments: Any) -> str:
    """The text of a tool's error within an open session: always exactly one line, never a traceback."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    text = error_text(result)
    assert text and "\n" not in text and "Traceback" not in text, text
    return text

"""The agents' only way to their systems: named MCP client sessions, one per tool server.

Every call goes through `Toolbox.call`, which gives each source a time limit, turns any failure
into a `ToolError` naming the source (so the answer can list it in `sources_failed`), parses the
structured result into the tool's pydantic model, and writes the call to the audit log.

The servers are ours or an operator's (external servers from the config). External ones rarely
have our `health` tool, so their health is whether they answer a tool listing; `catalog` is what
a model may be offered, and holds only what this toolbox was given: the write server lives in a
toolbox of its own and can never appear in it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self, TypeVar

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.server.mcpserver import MCPServer
from mcp_types import Tool
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardrails.secret_patterns import scrub_secrets
from store.base import Store
from store.models import AuditEvent, AuditKind
from tools.health import Health

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

ClientTarget = MCPServer | StdioServerParameters | str
M = TypeVar("M", bound=BaseModel)
DEFAULT_TIMEOUT_S = 10.0
HEALTH_TIMEOUT_S = 5.0
# A server that neither answers nor fails (a hung process, a black-holed URL) must not hold up
# start-up: after this long it is kept as unavailable like one that refused.
CONNECT_TIMEOUT_S = 15.0
HEALTH_TOOL = "health"
# A misbehaving server could page forever; no real catalog comes close to this many pages.
MAX_TOOL_PAGES = 50


class ToolError(Exception):
    """A tool call that produced no usable result; str() is one line safe to show in Slack."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class ToolSpec(BaseModel):
    """One tool as a model would be offered it: where it lives, what it does, what it takes."""

    model_config = ConfigDict(frozen=True)

    server: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no detail"
    return scrub_secrets(line)[0][:300]


def _reason(error: BaseException) -> str:
    """One line for a failure; transports wrap the real cause in exception groups, so unwrap it first."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return _first_line(str(error)) if str(error).strip() else type(error).__name__


def _redaction_counts(structured: Any) -> Mapping[str, int]:
    """What a tool that redacts its own output (the database server) says it replaced, by kind."""
    counts = structured.get("redactions") if isinstance(structured, dict) else None
    if not isinstance(counts, dict):
        return {}
    return {str(kind): count for kind, count in counts.items() if isinstance(count, int)}


class Toolbox:
    """Opens a session per server on entry and closes them all on exit.

    A server that cannot be reached is kept as unavailable with its error rather than failing the
    whole toolbox: the answer must still give what the other sources found.
    """

    def __init__(
        self,
        servers: Mapping[str, ClientTarget],
        *,
        store: Store | None = None,
        timeouts: Mapping[str, float] | None = None,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self._targets = dict(servers)
        self._connect_timeout_s = connect_timeout_s
        self._store = store
        self._timeouts = dict(timeouts or {})
        self._default_timeout_s = default_timeout_s
        self._clients: dict[str, Client] = {}
        self._unavailable: dict[str, str] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        # Sessions are entered one by one in this task: anyio cancel scopes must be exited by
        # the task that entered them.
        for name, target in self._targets.items():
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    self._clients[name] = await self._stack.enter_async_context(Client(target))
            except TimeoutError:
                self._mark_unavailable(name, f"no answer within {self._connect_timeout_s:g} s")
            except Exception as error:
                self._mark_unavailable(name, _reason(error))
        return self

    def _mark_unavailable(self, name: str, reason: str) -> None:
        log.warning("tool server %s unavailable: %s", name, reason)
        self._unavailable[name] = reason

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    @property
    def servers(self) -> list[str]:
        return list(self._targets)

    def available(self, server: str) -> bool:
        return server in self._clients

    def unavailable(self) -> dict[str, str]:
        return dict(self._unavailable)

    async def health(self) -> list[Health]:
        """Every server's own health check; an unreachable or failing one is reported, not raised.

        A server without a `health` tool (most external ones) is healthy when it answers a fresh
        tool listing: that is all the bot can know about it.
        """

        async def one(server: str) -> Health:
            started = time.perf_counter()
            try:
                tools = await self.list_tools(server, fresh=True, timeout_s=HEALTH_TIMEOUT_S)
                if any(tool.name == HEALTH_TOOL for tool in tools):
                    return await self.call(server, HEALTH_TOOL, {}, Health, timeout_s=HEALTH_TIMEOUT_S)
            except ToolError as error:
                return Health(source=server, ok=False, detail=error.message)
            return Health(
                source=server,
                ok=True,
                detail=f"reachable, {len(tools)} tool{'' if len(tools) == 1 else 's'}",
                latency_ms=round((time.perf_counter() - started) * 1000, 1),
            )

        return list(await asyncio.gather(*(one(server) for server in self._targets)))

    async def list_tools(self, server: str, *, fresh: bool = False, timeout_s: float | None = None) -> list[Tool]:
        """Every page of a server's tool listing; `fresh` skips the client's cache, to prove the server answers."""
        client = self._client(server)
        limit = timeout_s or self._timeouts.get(server, self._default_timeout_s)
        tools: list[Tool] = []
        cursor: str | None = None
        try:
            async with asyncio.timeout(limit):
                for _ in range(MAX_TOOL_PAGES):
                    page = await client.list_tools(cursor=cursor, cache_mode="refresh" if fresh else "use")
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
        except TimeoutError:
            raise ToolError(server, f"listing tools gave no answer within {limit:g} s") from None
        except Exception as failure:
            raise ToolError(server, f"listing tools failed: {_reason(failure)}") from None
        return tools

    async def catalog(self) -> list[ToolSpec]:
        """The tools of every reachable server, as a model would be offered them; a failing server is left out."""

        async def one(server: str) -> list[ToolSpec]:
            try:
                tools = await self.list_tools(server)
            except ToolError as error:
                log.warning("tools of %s left out of the catalog: %s", server, error.message)
                return []
            return [
                ToolSpec(
                    server=server, name=tool.name, description=tool.description or "", input_schema=tool.input_schema
                )
                for tool in tools
            ]

        listed = await asyncio.gather(*(one(server) for server in self._clients))
        return [spec for specs in listed for spec in specs]

    async def call(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        result_type: type[M],
        *,
        actor: str = "bot",
        timeout_s: float | None = None,
    ) -> M:
        client = self._client(server)
        limit = timeout_s or self._timeouts.get(server, self._default_timeout_s)
        started = time.perf_counter()
        error: str | None = None
        redactions: Mapping[str, int] = {}
        span = tracer.start_span("tool_call", attributes={"whisperer.server": server, "whisperer.tool": tool})
        try:
            try:
                result = await asyncio.wait_for(client.call_tool(tool, dict(arguments)), limit)
            except TimeoutError:
                raise ToolError(server, f"{tool} gave no answer within {limit:g} s") from None
            except Exception as failure:
                raise ToolError(server, f"{tool} failed: {_reason(failure)}") from None
            if result.is_error:
                text = " ".join(getattr(part, "text", "") for part in result.content)
                raise ToolError(server, _first_line(text))
            redactions = _redaction_counts(result.structured_content)
            try:
                return result_type.model_validate(result.structured_content or {})
            except ValidationError as invalid:
                raise ToolError(server, f"{tool} returned an unexpected shape: {invalid.errors()[0]['msg']}") from None
        except ToolError as failed:
            error = failed.message
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            span.set_attributes({"whisperer.ok": error is None, "whisperer.duration_ms": round(elapsed_ms, 1)})
            span.end()
            await self._audit(server, tool, arguments, actor, elapsed_ms, error, redactions)

    def _client(self, server: str) -> Client:
        if server in self._clients:
            return self._clients[server]
        if server in self._unavailable:
            raise ToolError(server, self._unavailable[server])
        raise ToolError(server, "no such tool server is configured")

    async def _audit(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        actor: str,
        elapsed_ms: float,
        error: str | None,
        redactions: Mapping[str, int],
    ) -> None:
        if self._store is None:
            return
        detail: dict[str, Any] = {
            "server": server,
            "tool": tool,
            "arguments": {key: scrub_secrets(str(value))[0] for key, value in arguments.items()},
            "duration_ms": round(elapsed_ms, 1),
            "ok": error is None,
        }
        if error is not None:
            detail["error"] = error
        if redactions:
            detail["redactions"] = dict(redactions)
        try:
            await self._store.record_audit(
                AuditEvent(kind=AuditKind.TOOL_CALL, actor=actor, subject=f"{server}.{tool}", detail=detail)
            )
        except Exception:
            log.exception("could not audit the call to %s.%s", server, tool)

"""Calling our MCP servers the way the agents do: through a real MCP client session.

In-process for most assertions, over stdio (a real child process started as an MCP host starts
it) and over streamable HTTP for the transport tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent

REPO_ROOT = Path(__file__).resolve().parents[2]
ClientTarget = MCPServer | StdioServerParameters | str


async def call(target: ClientTarget, tool: str, **arguments: Any) -> CallToolResult:
    """One tool call in a fresh session."""
    async with Client(target) as client:
        return await client.call_tool(tool, arguments)


async def structured(target: ClientTarget, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured result of a call that must succeed."""
    result = await call(target, tool, **arguments)
    assert not result.is_error, error_text(result)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


def error_text(result: CallToolResult) -> str:
    return "".join(part.text for part in result.content if isinstance(part, TextContent))


async def error_line(target: ClientTarget, tool: str, **arguments: Any) -> str:
    """The text of a call that must fail; it must be one line, as the agents show it."""
    result = await call(target, tool, **arguments)
    assert result.is_error, result.structured_content
    text = error_text(result)
    assert "\n" not in text.strip() and "Traceback" not in text, text
    return text


def everything_sent(result: CallToolResult) -> str:
    """All a client receives from a call: text blocks and structured content, as one string."""
    return error_text(result) + json.dumps(result.structured_content or {})


def stdio_server(module: str, *args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    """`python -m MODULE ARGS` as an MCP host would start it, with this interpreter."""
    return StdioServerParameters(command=sys.executable, args=["-m", module, *args], cwd=REPO_ROOT, env=env)

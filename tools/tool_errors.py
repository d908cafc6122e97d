"""Anticipated tool failures, reported to the model as exactly one line of their own.

MCPServer turns an exception raised in a tool into an error result, but prefixes it with
"Error executing tool NAME:". A guardrail's refusal must reach the agent as a line that starts
with "refused:" (the agent and `whisperer ask` tell a refusal from an outage by that word), and
every other failure is clearer without the prefix too. So tools raise `ToolFailure`, and
`one_line_errors` returns it as an error result whose text is the failure's line and nothing
else. Anything else a tool raises is left to MCPServer, which keeps a crash's details on the
server and sends the client a generic line: no traceback or credential ever reaches a client.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp_types import CallToolResult, TextContent

from guardrails.secret_patterns import scrub_secrets

P = ParamSpec("P")
T = TypeVar("T")
MAX_LINE_CHARS = 500


class ToolFailure(Exception):
    """A failure the tool anticipated; str() is one line fit for a model and a Slack thread.

    The line is cut at its first line break and scrubbed of anything shaped like a credential,
    because messages of drivers and HTTP clients are built from text the tool does not control.
    """

    def __init__(self, line: str) -> None:
        first = next((part.strip() for part in line.splitlines() if part.strip()), "failed without a message")
        super().__init__(scrub_secrets(first)[0][:MAX_LINE_CHARS])


def one_line_errors(tool: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T | CallToolResult]]:
    """Wraps a tool function so that a `ToolFailure` becomes an error result holding just its line.

    MCPServer passes a returned `CallToolResult` through, and it reads the tool's signature
    (arguments and output schema) through `functools.wraps`, so the wrapped tool keeps both.
    """

    @functools.wraps(tool)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T | CallToolResult:
        try:
            return await tool(*args, **kwargs)
        except ToolFailure as failure:
            return CallToolResult(content=[TextContent(type="text", text=str(failure))], is_error=True)

    return wrapper

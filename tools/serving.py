"""Running one of our MCP servers on a real transport: stdio for a parent process, or HTTP.

`whisperer mcp serve` and the tests use the same code, so what the tests exercise over a socket is
what an operator runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Callable
from typing import Literal

import uvicorn
from mcp.server.mcpserver import MCPServer

Transport = Literal["stdio", "http"]
MCP_PATH = "/mcp"


def _bound_socket(host: str, port: int) -> socket.socket:
    """A listening socket whose accepted connections get TCP_NODELAY.

    asyncio turns Nagle's algorithm off only for sockets created with proto IPPROTO_TCP; with the
    default proto 0 every small response waited for the client's delayed ACK (about 40 ms a call).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def http_endpoint(server: MCPServer, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `server` over streamable HTTP for the duration of the block; yields its URL.

    The socket is bound before uvicorn starts so that port 0 works and the URL is known at once.
    """
    sock = _bound_socket(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(server.streamable_http_app(host=host), log_level="warning", lifespan="on")
    http = uvicorn.Server(config)
    task = asyncio.create_task(http.serve(sockets=[sock]))
    try:
        while not http.started:
            if task.done():
                task.result()
                raise RuntimeError("the MCP HTTP server stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{bound_port}{MCP_PATH}"
    finally:
        http.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


async def serve(
    server: MCPServer,
    transport: Transport,
    host: str = "127.0.0.1",
    port: int = 0,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve until the client closes stdin (stdio) or the process is stopped (http).

    For HTTP the URL is announced (on stderr by default) because port 0 picks a free port.
    """
    if transport == "stdio":
        await server.run_stdio_async()
        return
    say = announce or (lambda url: print(url, file=sys.stderr, flush=True))
    async with http_endpoint(server, host, port) as url:
        say(url)
        await asyncio.Event().wait()

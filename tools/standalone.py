"""The command line every tool server shares when it runs as its own process.

`python -m tools.X.server` is how an MCP host (or `whisperer mcp serve`) starts one server; the
transport options are the same for all of them, so they are declared once here.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import cast

from mcp.server.mcpserver import MCPServer

from tools.serving import Transport, serve


def transport_options() -> argparse.ArgumentParser:
    """A parent parser with --transport, --host and --port, for `ArgumentParser(parents=[...])`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP only; default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="HTTP only; default: a free port, printed on stderr")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parses argv and sends logs to stderr: on stdio, stdout carries the protocol and nothing else."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args


async def serve_from_args(server: MCPServer, args: argparse.Namespace) -> None:
    """Serves `server` on the transport chosen on the command line until the client or a signal ends it."""
    await serve(server, cast(Transport, args.transport), args.host, args.port)

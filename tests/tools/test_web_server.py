"""The web MCP server rendering a real page (served by aiohttp in the test) with Debian's chromium."""

from __future__ import annotations

import asyncio
import base64
import io
import shutil
import socket
import struct
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ImageContent
from PIL import Image

from tests.conftest import skip_or_fail
from tests.tools.mcp_helpers import call, error_line, stdio_server, structured
from tools.serving import http_endpoint
from tools.web.server import DEFAULT_CHROMIUM, build_server

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DASHBOARD = """<!doctype html>
<html><head><title>Payments dashboard</title>
<style>html, body { margin: 0; background: rgb(200, 30, 40); }</style></head>
<body><h1 style="color: white">p99 latency</h1></body></html>"""


@pytest.fixture
def server() -> MCPServer:
    if shutil.which(DEFAULT_CHROMIUM) is None:
        skip_or_fail(f"chromium is not installed at {DEFAULT_CHROMIUM} (apt-get install chromium)")
    return build_server()


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A local dashboard: `/` renders red with a title, `/old` redirects to it, `/missing` is a 404."""

    async def dashboard(request: web.Request) -> web.Response:
        return web.Response(text=DASHBOARD, content_type="text/html")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    async def hanging(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", dashboard)
    app.router.add_get("/old", moved)
    app.router.add_get("/hang", hanging)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    listener = web.TCPSite(runner, "127.0.0.1", 0)
    await listener.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def png_of(result: CallToolResult) -> bytes:
    [image] = [part for part in result.content if isinstance(part, ImageContent)]
    assert image.mime_type == "image/png"
    return base64.b64decode(image.data)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_snapshot_is_a_png_of_the_rendered_page(server: MCPServer, site: str) -> None:
    result = await call(server, "snapshot", url=f"{site}/", width=800, height=600, wait_ms=0)
    assert not result.is_error
    png = png_of(result)
    assert png_size(png) == (800, 600)
    # the page really rendered: its background colour fills the bottom-right corner
    assert Image.open(io.BytesIO(png)).convert("RGB").getpixel((790, 590)) == (200, 30, 40)
    assert result.structured_content == result.structured_content | {
        "url": f"{site}/",
        "final_url": f"{site}/",
        "title": "Payments dashboard",
        "status": 200,
        "width": 800,
        "height": 600,
        "png_bytes": len(png),
    }


async def test_snapshot_follows_redirects_and_reports_where_it_ended(server: MCPServer, site: str) -> None:
    snapshot = await structured(server, "snapshot", url=f"{site}/old", width=320, height=240, wait_ms=0)
    assert (snapshot["final_url"], snapshot["title"], snapshot["status"]) == (f"{site}/", "Payments dashboard", 200)


async def test_an_error_page_is_still_pictured_with_its_status(server: MCPServer, site: str) -> None:
    snapshot = await structured(server, "snapshot", url=f"{site}/missing", width=320, height=240, wait_ms=0)
    assert snapshot["status"] == 404


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("file:///etc/passwd", "refused: only http and https URLs can be snapshotted, not file: URLs"),
        ("javascript:alert(1)", "refused: only http and https URLs can be snapshotted, not javascript: URLs"),
        ("data:text/html,<h1>hi</h1>", "refused: only http and https URLs can be snapshotted, not data: URLs"),
        ("chrome://version", "refused: only http and https URLs can be snapshotted, not chrome: URLs"),
        ("/etc/passwd", "refused: only http and https URLs can be snapshotted, not URLs without a scheme"),
        ("http:///etc/passwd", "refused: only http and https URLs can be snapshotted, not http: URLs"),
    ],
)
async def test_non_web_urls_are_refused_in_one_line(server: MCPServer, url: str, line: str) -> None:
    assert await error_line(server, "snapshot", url=url) == line


async def test_unreachable_pages_and_bad_sizes_are_one_line(server: MCPServer, site: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}"  # nothing listens once it is closed
    assert await error_line(server, "snapshot", url=f"{closed}/", wait_ms=0) == (
        f"cannot load {closed}/: net::ERR_CONNECTION_REFUSED"
    )
    assert await error_line(server, "snapshot", url=site, width=10) == (
        "width must be 200-3840 and height 200-2160 pixels"
    )
    assert await error_line(server, "snapshot", url=site, wait_ms=-1) == "wait_ms must be between 0 and 30000"


async def test_credentials_in_a_url_are_not_echoed(server: MCPServer, site: str) -> None:
    host = site.removeprefix("http://")
    snapshot = await structured(server, "snapshot", url=f"http://ops:hunter2secret@{host}/", width=320, height=240)
    assert "hunter2secret" not in str(snapshot)


async def test_health_reports_the_browser_version(server: MCPServer) -> None:
    health = await structured(server, "health")
    assert health["ok"] is True and health["detail"].startswith("chromium ")
    missing = build_server("/nonexistent/chromium")
    health = await structured(missing, "health")
    assert health == health | {
        "ok": False,
        "detail": "chromium not found at /nonexistent/chromium; install Debian's chromium package",
    }
    assert await error_line(missing, "snapshot", url="http://127.0.0.1/") == health["detail"]


async def test_over_stdio(server: MCPServer, site: str) -> None:
    result = await call(stdio_server("tools.web.server"), "snapshot", url=site, width=640, height=360, wait_ms=0)
    assert png_size(png_of(result)) == (640, 360)


async def test_over_http(server: MCPServer, site: str) -> None:
    async with http_endpoint(server) as url:
        result = await call(url, "snapshot", url=site, width=400, height=300, wait_ms=0)
        assert png_size(png_of(result)) == (400, 300)
        assert result.structured_content is not None and result.structured_content["title"] == "Payments dashboard"

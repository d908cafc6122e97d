"""The web MCP server: a picture of a dashboard, so a thread can show what an SRE would look at.

Chromium renders the page headless through Playwright. The browser is the machine's own
(Debian's `chromium`): Playwright's browser download is not available everywhere we run, and
one browser patched by the distribution is one less thing to keep current. Each snapshot runs in
a fresh browser, so nothing (cookies, a half-loaded page, a crashed renderer) leaks between
snapshots. Only http and https URLs are opened; the browser must never read the server's files.

Run standalone: `python -m tools.web.server [--chromium /usr/bin/chromium]`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlsplit

from mcp.server.mcpserver import Image, MCPServer
from mcp_types import CallToolResult, TextContent
from playwright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from guardrails.secret_patterns import scrub_secrets
from tools.health import Health
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import ToolFailure, one_line_errors
from tools.web.models import Snapshot

DEFAULT_CHROMIUM: Final = "/usr/bin/chromium"
# --headless comes from Playwright's launch(headless=True); the rest keep a root, GPU-less,
# offline-ish container happy and stop the browser phoning home.
CHROMIUM_ARGS: Final = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")
ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
MIN_SIDE, MAX_WIDTH, MAX_HEIGHT = 200, 3840, 2160
MAX_WAIT_MS: Final = 30_000
NAVIGATION_TIMEOUT_MS: Final = 20_000
# Chromium is heavy; two at a time keeps a small bot host responsive.
MAX_CONCURRENT_SNAPSHOTS: Final = 2
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")
INSTRUCTIONS = (
    "Screenshots of web pages, for dashboards (Grafana, status pages) an answer should show. snapshot returns a "
    "PNG and the page's title and HTTP status; only http and https URLs."
)


# A browser that started recently still starts: its health is not re-checked more often than this.
HEALTHY_FOR_S = 300.0


def build_server(chromium_path: str = DEFAULT_CHROMIUM) -> MCPServer:
    """An MCP server named "web" that renders pages with the chromium at `chromium_path`."""
    server = MCPServer("web", instructions=INSTRUCTIONS)
    capacity = asyncio.Semaphore(MAX_CONCURRENT_SNAPSHOTS)

    async def launch(playwright: Playwright) -> Browser:
        if shutil.which(chromium_path) is None:
            raise ToolFailure(f"chromium not found at {chromium_path}; install Debian's chromium package")
        try:
            return await playwright.chromium.launch(
                executable_path=chromium_path, args=list(CHROMIUM_ARGS), headless=True
            )
        except PlaywrightError as error:
            raise ToolFailure(f"cannot start chromium at {chromium_path}: {_first_line(error)}") from None

    healthy: list[tuple[float, Health]] = []

    @server.tool(description="Whether chromium is installed and starts, and which version it is.")
    @one_line_errors
    async def health() -> Health:
        # Starting a browser costs about a second of CPU; App Home asks on every visit.
        if healthy and time.monotonic() - healthy[0][0] < HEALTHY_FOR_S:
            return healthy[0][1]
        started = time.perf_counter()
        try:
            async with async_playwright() as playwright:
                browser = await launch(playwright)
                version = browser.version
                await browser.close()
        except ToolFailure as failure:
            return Health(source="web", ok=False, detail=str(failure))
        good = Health(
            source="web",
            ok=True,
            detail=f"chromium {version} at {chromium_path}",
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        healthy[:] = [(time.monotonic(), good)]
        return good

    @server.tool(
        description=(
            "A PNG screenshot of a web page (the visible viewport, width x height pixels) with its title, final URL "
            "and HTTP status. `wait_ms` gives charts time to draw after the page loaded (dashboards usually need "
            "1000-3000). Only http(s) URLs; file:, data:, javascript: and others are refused."
        )
    )
    @one_line_errors
    async def snapshot(
        url: str, width: int = 1280, height: int = 800, wait_ms: int = 1000
    ) -> Annotated[CallToolResult, Snapshot]:
        _check_url(url)
        if not (MIN_SIDE <= width <= MAX_WIDTH and MIN_SIDE <= height <= MAX_HEIGHT):
            raise ToolFailure(f"width must be {MIN_SIDE}-{MAX_WIDTH} and height {MIN_SIDE}-{MAX_HEIGHT} pixels")
        if not 0 <= wait_ms <= MAX_WAIT_MS:
            raise ToolFailure(f"wait_ms must be between 0 and {MAX_WAIT_MS}")
        started = time.perf_counter()
        async with capacity, async_playwright() as playwright:
            browser = await launch(playwright)
            try:
                page = await browser.new_page(viewport={"width": width, "height": height})
                response = await page.goto(url, wait_until="load", timeout=NAVIGATION_TIMEOUT_MS)
                await page.wait_for_timeout(wait_ms)
                png = await page.screenshot(type="png")
                title, final_url = await page.title(), page.url
            except PlaywrightTimeout:
                raise ToolFailure(f"{url} did not finish loading within {NAVIGATION_TIMEOUT_MS // 1000} s") from None
            except PlaywrightError as error:
                reason = _NET_ERROR.search(str(error))
                raise ToolFailure(f"cannot load {url}: {reason.group(0) if reason else _first_line(error)}") from None
            finally:
                await browser.close()
        result = Snapshot(
            url=scrub_secrets(url)[0],
            final_url=scrub_secrets(final_url)[0],
            title=scrub_secrets(title)[0],
            status=response.status if response is not None else None,
            width=width,
            height=height,
            png_bytes=len(png),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return CallToolResult(
            content=[
                Image(data=png, format="png").to_image_content(),
                TextContent(type="text", text=result.model_dump_json()),
            ],
            structured_content=result.model_dump(mode="json"),
        )

    return server


def _check_url(url: str) -> None:
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme not in ALLOWED_SCHEMES or not urlsplit(url.strip()).netloc:
        shown = f"{scheme}: URLs" if scheme else "URLs without a scheme"
        raise ToolFailure(f"refused: only http and https URLs can be snapshotted, not {shown}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.web.server", description=__doc__, parents=[transport_options()]
    )
    parser.add_argument("--chromium", type=Path, default=Path(DEFAULT_CHROMIUM), help=f"default: {DEFAULT_CHROMIUM}")
    args = parse_args(parser, argv)
    asyncio.run(serve_from_args(build_server(str(args.chromium)), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The bot's own HTTP port: `/metrics` for Prometheus, `/healthz` and `/readyz` for Kubernetes probes.

`/healthz` only says the process and its event loop are alive (a failing liveness probe restarts
the pod, which does not fix a Slack outage); `/readyz` says whether this replica can serve now.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.observability.metrics import BotMetrics

ReadinessProbe = Callable[[], Awaitable[str | None]]


class MetricsPortError(Exception):
    """The port cannot be served (taken, or a host this machine does not have); str() is one line."""


def metrics_app(metrics: BotMetrics, ready: ReadinessProbe) -> web.Application:
    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def alive(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readiness(_: web.Request) -> web.Response:
        problem = await ready()
        if problem is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=json.dumps({"ready": False, "reason": problem}) + "\n")

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", alive)
    app.router.add_get("/readyz", readiness)
    return app


@contextlib.asynccontextmanager
async def serving_metrics(metrics: BotMetrics, ready: ReadinessProbe, host: str, port: int) -> AsyncIterator[str]:
    """Serve the port while the block runs; yields its base URL (port 0 picks a free one)."""
    runner = web.AppRunner(metrics_app(metrics, ready), access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise MetricsPortError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()

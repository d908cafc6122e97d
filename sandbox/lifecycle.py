"""The one lifecycle every sandbox endpoint shares: start, stop, and `async with` for both.

Tests and `sandbox up` rely on `async with` to stop an endpoint whatever happens inside, so the
pairing lives here once instead of in every endpoint.
"""

from __future__ import annotations

import ssl
from typing import Self

from aiohttp import web

LOOPBACK = "127.0.0.1"


class SandboxService:
    async def start(self) -> object:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()


async def listen(
    app: web.Application,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 1.0,
) -> tuple[web.AppRunner, int]:
    """Serves an aiohttp app (port 0: one the OS picks); returns its runner and the bound port.

    Signal handling stays with the process that owns the event loop, and a short shutdown
    timeout keeps test teardown fast; a failed bind leaves nothing running.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])

"""One world served as live endpoints: everything `whisperer sandbox up`, the demo and the tests need.

The pieces start concurrently (Prometheus's backfill dominates start-up, so nothing waits on it
needlessly) and stop in reverse order whatever happens, because a Prometheus or a database left
behind by a failed test run poisons the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

from pydantic import BaseModel

from sandbox.database import WorldDatabase
from sandbox.dns_server import DnsServer
from sandbox.github_api import GithubApi
from sandbox.kube_api import KubeApiServer
from sandbox.prometheus import start_prometheus
from sandbox.tls_endpoints import TlsEndpoints
from sandbox.world import World

_T = TypeVar("_T", covariant=True)


class _Endpoint(Protocol[_T]):
    """A SandboxService whose start() returns what clients need to reach it."""

    async def start(self) -> _T: ...

    async def stop(self) -> None: ...


class SandboxEndpoints(BaseModel):
    """The contract's first line of `whisperer sandbox up`, plus what clients need to trust it."""

    kubernetes: str
    kubeconfig: str
    prometheus: str
    database: str | None
    tls: dict[str, str]
    github: str
    dns: str
    ca: str


class Sandbox:
    """Starts every endpoint of a world; `async with` guarantees they all stop."""

    def __init__(self, world: World, workdir: Path | None = None, *, prefer_real_prometheus: bool = True) -> None:
        self.world = world
        self._workdir = workdir
        self._prefer_real_prometheus = prefer_real_prometheus
        self._stack = AsyncExitStack()
        self.kube = KubeApiServer(world)
        self.endpoints: SandboxEndpoints | None = None

    async def __aenter__(self) -> Self:
        try:
            self.endpoints = await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> SandboxEndpoints:
        workdir = self._workdir
        if workdir is None:
            workdir = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="whisperer-sandbox-")))
        workdir.mkdir(parents=True, exist_ok=True)
        tls = TlsEndpoints(self.world, workdir)
        dns = DnsServer(self.world)
        github = GithubApi(self.world)
        database = WorldDatabase(self.world, sqlite_dir=workdir)

        kube_url, tls_map, dns_addr, github_url, dsn, prometheus = await asyncio.gather(
            self._enter(self.kube),
            self._enter(tls),
            self._enter(dns),
            self._enter(github),
            self._enter(database),
            start_prometheus(self.world, workdir / "prometheus", prefer_real=self._prefer_real_prometheus),
        )
        self._stack.push_async_callback(prometheus.stop)
        if prometheus.url is None:
            raise RuntimeError("Prometheus reported ready without a URL")
        return SandboxEndpoints(
            kubernetes=kube_url,
            kubeconfig=str(self.kube.write_kubeconfig(workdir / "kubeconfig")),
            prometheus=prometheus.url,
            database=dsn,
            tls=tls_map,
            github=github_url,
            dns=dns_addr,
            ca=str(tls.ca_path),
        )

    async def _enter(self, service: _Endpoint[_T]) -> _T:
        result = await service.start()
        self._stack.push_async_callback(service.stop)
        return result


async def serve_until_stopped(world: World) -> int:
    """Prints the endpoints as one JSON line, then serves until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(world) as sandbox:
        assert sandbox.endpoints is not None
        print(json.dumps(sandbox.endpoints.model_dump()), flush=True)
        print(f"world {world.name} is up; Ctrl-C stops it", file=sys.stderr, flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
    return 0

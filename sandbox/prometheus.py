"""The sandbox's metrics endpoint: a real Prometheus answering PromQL over a world's samples.

`start_prometheus` imports the world's `metrics.om` with `promtool tsdb create-blocks-from
openmetrics` and runs Debian's `prometheus` on the result, scraping nothing. Where no binary
exists it falls back to the in-process stand-in of sandbox/promql (CI always has the binary).

Two consequences of serving one recorded moment:
- The samples end at about `World.now`, and Prometheus answers an instant query with the newest
  sample of the last 5 minutes (its lookback), so queries at the wall clock see the world "live"
  for about 5 minutes after it was loaded; after that they return nothing. Query at `World.now`
  (the `time` parameter) for answers that never expire.
- Alerting rules lose their `for:` (see `rules_for_recorded_moment`) and rule groups their own
  `interval:`: every group is evaluated every 250 ms from start, and its alerts fire at once.
  `start()` returns when /api/v1/alerts lists them and the ALERTS series holds them.

A started Prometheus never outlives this process: it runs in its own process group, receives
SIGKILL from the kernel when the process (on Linux, the thread that started it) dies, and is
killed at interpreter exit if `stop()` was never awaited.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import ctypes
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from sandbox.lifecycle import SandboxService
from sandbox.promql import FallbackPrometheusServer, PrometheusStartError
from sandbox.world import World

__all__ = [
    "FallbackPrometheusServer",
    "PrometheusServer",
    "PrometheusStartError",
    "real_prometheus_available",
    "rules_for_recorded_moment",
    "start_prometheus",
]

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.02
_PORT_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1
# Rules are re-evaluated this often. Short, because a group writes its ALERTS series only from
# its third evaluation on (Prometheus first restores the alerts' `for` state, which takes two),
# and start() waits for that.
_EVALUATION_INTERVAL = "250ms"
_EVALUATIONS_UNTIL_ALERTS_SERIES = 3

# Process groups of every Prometheus started and not yet stopped, killed at interpreter exit.
_LIVE_GROUPS: set[int] = set()


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _kill_leftovers() -> None:
    for group in list(_LIVE_GROUPS):
        _signal_group(group, signal.SIGKILL)
    _LIVE_GROUPS.clear()


atexit.register(_kill_leftovers)


def rules_for_recorded_moment(rules: dict[str, Any]) -> dict[str, Any]:
    """The world's rule file with every alerting rule's `for:` and every group's `interval:` dropped.

    A world is one recorded moment: the `for` durations of its alerts elapsed in the recorded
    past. A fresh Prometheus has no such past and would keep them pending in real time (for ten
    minutes, say), so the alerts the world says are firing would not be. A group's own interval
    would likewise delay its first evaluation by up to that interval. Everything else (names,
    expressions, labels, annotations) stays as written.
    """
    rewritten = copy.deepcopy(rules)
    for group in rewritten.get("groups") or []:
        if not isinstance(group, dict):
            continue
        group.pop("interval", None)
        for rule in group.get("rules") or []:
            if isinstance(rule, dict) and "alert" in rule:
                rule.pop("for", None)
    return rewritten


def real_prometheus_available() -> bool:
    return shutil.which("prometheus") is not None and shutil.which("promtool") is not None


async def start_prometheus(
    world: World, workdir: Path, *, prefer_real: bool = True
) -> PrometheusServer | FallbackPrometheusServer:
    """Starts the world's metrics endpoint: a real Prometheus when installed, else the stand-in."""
    server: PrometheusServer | FallbackPrometheusServer
    if prefer_real and real_prometheus_available():
        server = PrometheusServer(world, workdir)
    else:
        server = FallbackPrometheusServer(world, workdir)
    await server.start()
    return server


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A `preexec_fn` asking the kernel to SIGKILL the child when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)  # the parent died before prctl took effect

    return arrange


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _log_reason(path: Path) -> str:
    """The log's first error line (Prometheus logs the cause first, then the shutdown), else its last line."""
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines() if path.is_file() else []
    errors = [line for line in lines if "level=error" in line]
    return (errors or lines or ["(no output)"])[0 if errors else -1]


class PrometheusServer(SandboxService):
    """A real Prometheus over one world, in `workdir` (TSDB, configuration, rules and log)."""

    def __init__(self, world: World, workdir: Path) -> None:
        self.world = world
        self.workdir = workdir
        self.url: str | None = None
        self.log_path = workdir / "prometheus.log"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> str:
        """Imports the samples, starts Prometheus and returns its base URL once rules were evaluated."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        tsdb = self.workdir / "tsdb"
        await asyncio.to_thread(shutil.rmtree, tsdb, True)
        tsdb.mkdir()
        if self.world.metrics_om:
            await self._import_samples(tsdb)
        config = await asyncio.to_thread(self._write_config)
        await self._wait_for_the_world_to_begin()
        try:
            url = await self._launch_until_ready(tsdb, config)
            await self._wait_for_rule_evaluation(url)
        except BaseException:
            await self.stop()
            raise
        self.url = url
        return url

    async def _launch_until_ready(self, tsdb: Path, config: Path) -> str:
        """Launches on a free port, again on another one if that port was taken in the meantime."""
        for _ in range(_PORT_ATTEMPTS):
            url = await self._launch(tsdb, config)
            if await self._wait_until_ready(url):
                return url
        raise PrometheusStartError(
            f"prometheus found no free port in {_PORT_ATTEMPTS} attempts: {_log_reason(self.log_path)}"
        )

    async def _wait_for_the_world_to_begin(self) -> None:
        """Waits until the wall clock has passed the world's newest samples, if they are just ahead of it.

        TimeShift rounds to whole seconds, so the newest samples may lie up to half a second in
        the future. Prometheus refuses rule results older than its newest block ("out of bounds"),
        so recording rules evaluated in that half second would be lost, and alerts built on them
        would not fire at the first evaluation.
        """
        ahead = (self.world.now - datetime.now(UTC)).total_seconds()
        if 0 < ahead <= 1:
            await asyncio.sleep(ahead + _POLL_INTERVAL_S)

    async def _import_samples(self, tsdb: Path) -> None:
        assert self.world.metrics_om is not None
        metrics = self.workdir / "metrics.om"
        await asyncio.to_thread(metrics.write_text, self.world.metrics_om, encoding="utf-8")
        promtool = await asyncio.create_subprocess_exec(
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(metrics),
            str(tsdb),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await promtool.communicate()
        if promtool.returncode != 0:
            lines = output.decode(errors="replace").strip().splitlines() or ["(no output)"]
            raise PrometheusStartError(f"promtool could not import world {self.world.name}'s metrics.om: {lines[-1]}")

    def _write_config(self) -> Path:
        config: dict[str, Any] = {"global": {"evaluation_interval": _EVALUATION_INTERVAL}}
        if self.world.rules:
            rules = self.workdir / "rules.yaml"
            rules.write_text(yaml.safe_dump(rules_for_recorded_moment(self.world.rules), sort_keys=False))
            config["rule_files"] = [str(rules)]
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    async def _launch(self, tsdb: Path, config: Path) -> str:
        port = _free_port()
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tsdb}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=30d",
                "--web.enable-lifecycle",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        _LIVE_GROUPS.add(self._process.pid)
        return f"http://127.0.0.1:{port}"

    async def _wait_until_ready(self, url: str) -> bool:
        """True once /-/ready answers; False when Prometheus exited because its port was taken."""
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self._process.returncode is not None:
                    reason = _log_reason(self.log_path)
                    _LIVE_GROUPS.discard(self._process.pid)
                    if "address already in use" in reason:
                        return False
                    raise PrometheusStartError(f"prometheus exited with status {self._process.returncode}: {reason}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{url}/-/ready") as response:
                        if response.status == 200:
                            return True
                await asyncio.sleep(_POLL_INTERVAL_S)
        raise PrometheusStartError(
            f"prometheus was not ready after {READY_TIMEOUT_S:.0f} s: {_log_reason(self.log_path)}"
        )

    async def _wait_for_rule_evaluation(self, url: str) -> None:
        """Returns once /api/v1/alerts lists the firing alerts and the ALERTS series holds them too.

        Alerts are listed after a group's first evaluation; the ALERTS series is written from its
        third (see _EVALUATION_INTERVAL), so this counts the distinct evaluations seen per group.
        """
        deadline = time.monotonic() + READY_TIMEOUT_S
        seen: dict[tuple[str, str], set[str]] = {}
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                try:
                    async with session.get(f"{url}/api/v1/rules") as response:
                        groups = (await response.json())["data"]["groups"]
                except aiohttp.ClientError:
                    raise PrometheusStartError(
                        f"prometheus stopped answering while loading its rules: {_log_reason(self.log_path)}"
                    ) from None
                for group in groups:
                    evaluations = seen.setdefault((group["file"], group["name"]), set())
                    if not group["lastEvaluation"].startswith("0001-"):
                        evaluations.add(group["lastEvaluation"])
                if all(len(evaluations) >= _EVALUATIONS_UNTIL_ALERTS_SERIES for evaluations in seen.values()):
                    return
                await asyncio.sleep(_POLL_INTERVAL_S)
        raise PrometheusStartError(
            f"prometheus did not evaluate its rules within {READY_TIMEOUT_S:.0f} s: {_log_reason(self.log_path)}"
        )

    async def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL if it outlives STOP_TIMEOUT_S; safe to call twice."""
        process, self._process, self.url = self._process, None, None
        if process is None:
            return
        try:
            if process.returncode is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    _signal_group(process.pid, signal.SIGKILL)
                    await process.wait()
        finally:
            if process.returncode is None:  # stop() itself was cancelled midway
                _signal_group(process.pid, signal.SIGKILL)
            _LIVE_GROUPS.discard(process.pid)

"""`whisperer run` as an operator starts it: time to a live Socket Mode connection, and peak memory.

The real command runs in its own process against the Slack stand-in, with no data sources
configured, so the figures are the bot's own cost: imports, config, store, Presidio's warm-up,
Bolt and the websocket. Peak memory is the process's high-water mark (VmHWM) after it has
answered one question, so the first-use allocations are included.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.report import Figure, median
from sandbox.slack import SlackStandIn

RUNS = 3
START_TARGET_S = 10.0
MEMORY_TARGET_MIB = 500.0
WAIT_S = 60.0
WHISPERER = Path(sys.executable).parent / "whisperer"


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _once(workdir: Path) -> tuple[float, float]:
    async with SlackStandIn() as slack:
        config = workdir / "whisperer.yaml"
        config.write_text(f"data_dir: {workdir / 'data'}\nslack:\n  base_url: {slack.base_url}\n")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHISPERER_CONFIG"))},
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
        }
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            str(WHISPERER), "run", "--config", str(config), env=env, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            connected = lambda: slack.socket_mode.connection_ids or None  # noqa: E731
            await slack.driver.wait_for(connected, WAIT_S, "the bot's Socket Mode connection")
            elapsed = time.perf_counter() - started
            ts = await slack.driver.mention("alice", "#incident-payments", "what pods are running?")
            await slack.driver.wait_for_reply("#incident-payments", ts, timeout=WAIT_S)
            peak = _peak_mib(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), WAIT_S)
    return elapsed, peak


async def run() -> list[Figure]:
    samples = []
    for _ in range(RUNS):
        with TemporaryDirectory() as workdir:
            samples.append(await _once(Path(workdir)))
    return [
        Figure("whisperer run: start to Socket Mode, median", median([s for s, _ in samples]), "s", START_TARGET_S),
        Figure("whisperer run: peak memory after one answer", max(m for _, m in samples), "MiB", MEMORY_TARGET_MIB),
    ]

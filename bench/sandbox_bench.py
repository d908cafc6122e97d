"""Sandbox start to ready (with real Prometheus), and a pod list through the official client."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from kubernetes import client, config

from bench.report import Figure, median
from sandbox.up import Sandbox
from sandbox.world import load_world

RUNS = 3
POD_LISTS = 200


async def _start_once(workdir: Path) -> float:
    world = load_world("payment-outage")
    started = time.perf_counter()
    async with Sandbox(world, workdir):
        return time.perf_counter() - started


def _pod_list_ms(kubeconfig: str) -> list[float]:
    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))  # type: ignore[no-untyped-call]
    api.list_pod_for_all_namespaces()  # warm the connection pool
    samples = []
    for _ in range(POD_LISTS):
        started = time.perf_counter()
        api.list_pod_for_all_namespaces()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def run() -> list[Figure]:
    starts = []
    for index in range(RUNS):
        with TemporaryDirectory() as tmp:
            starts.append(await _start_once(Path(tmp) / str(index)))
    with TemporaryDirectory() as tmp:
        async with Sandbox(load_world("payment-outage"), Path(tmp)) as sandbox:
            assert sandbox.endpoints is not None
            lists = await asyncio.to_thread(_pod_list_ms, sandbox.endpoints.kubeconfig)
    return [
        Figure("sandbox start to ready (real Prometheus), median", median(starts), "s", 3.0),
        Figure("pod list via official client, median", median(lists), "ms", 20.0),
    ]

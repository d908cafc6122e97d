"""The scheduler inside the bot: it fires, runs a check once across replicas, and stops cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduled_checks.scheduler import CheckScheduler, lease_name
from store import Store, open_store


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two replicas' connections to one store file."""
    url = f"sqlite:///{tmp_path / 'whisperer.db'}"
    first, second = await open_store(url), await open_store(url)
    yield first, second
    await first.close()
    await second.close()


async def test_an_interval_job_fires_on_its_own(shared: tuple[Store, Store]) -> None:
    fired = asyncio.Event()
    runs: list[str] = []

    async def runner(name: str) -> None:
        runs.append(name)
        fired.set()

    scheduler = CheckScheduler(runner, shared[0])
    scheduler.add("cert-expiry", cron=None, every_minutes=0.001, timezone="Europe/Berlin")
    scheduler.start()
    try:
        await asyncio.wait_for(fired.wait(), 5)
    finally:
        await scheduler.stop()
    assert runs[0] == "cert-expiry"
    assert set(scheduler.next_runs()) == {"cert-expiry"}


async def test_a_cron_job_is_scheduled_in_its_time_zone(shared: tuple[Store, Store]) -> None:
    async def runner(name: str) -> None:
        raise AssertionError("a daily job must not run during the test")

    scheduler = CheckScheduler(runner, shared[0])
    scheduler.add("cert-expiry", cron="0 8 * * *", every_minutes=None, timezone="Europe/Berlin")
    scheduler.start()
    try:
        when = scheduler.next_runs()["cert-expiry"]
    finally:
        await scheduler.stop()
    assert when is not None and (when.hour, when.minute, str(when.tzinfo)) == (8, 0, "Europe/Berlin")


async def test_two_replicas_run_a_check_once(shared: tuple[Store, Store]) -> None:
    gate = asyncio.Event()
    runs: list[str] = []

    async def runner(name: str) -> None:
        runs.append(name)
        await gate.wait()

    first, second = CheckScheduler(runner, shared[0], holder="a"), CheckScheduler(runner, shared[1], holder="b")
    running = asyncio.create_task(first.run_now("cert-expiry"))
    while not runs:
        await asyncio.sleep(0.01)
    assert await second.run_now("cert-expiry") is False
    gate.set()
    assert await running is True
    assert runs == ["cert-expiry"]
    assert await second.run_now("cert-expiry") is True, "the lease is released after the run"


async def test_a_failing_check_releases_its_lease(shared: tuple[Store, Store]) -> None:
    async def runner(name: str) -> None:
        raise RuntimeError("prometheus exploded")

    scheduler = CheckScheduler(runner, shared[0])
    assert await scheduler.run_now("alerts-digest") is True
    assert await shared[1].acquire_lease(lease_name("alerts-digest"), "someone-else", 60)


async def test_stopping_lets_a_run_in_progress_finish(shared: tuple[Store, Store]) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def runner(name: str) -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.set()

    scheduler = CheckScheduler(runner, shared[0])
    scheduler.add("workload-health", cron=None, every_minutes=0.001, timezone="UTC")
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await scheduler.stop(timeout_s=5)
    assert finished.is_set()
    assert await shared[1].acquire_lease(lease_name("workload-health"), "someone-else", 60)

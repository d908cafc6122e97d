"""Runs the configured checks on their schedules inside the bot process (APScheduler 3.x).

Every replica of the bot runs the same scheduler; a lease in the shared store lets only one of
them run a given check at a time, and de-duplication makes a replica that fires a moment later
find nothing new to post. A run still going when the next one is due is not doubled
(`max_instances=1`), runs missed while the process was busy collapse into one (`coalesce`), and
a run that is late by more than the grace time is skipped rather than posted at a surprising hour.

Stopping lets runs in progress finish (up to a time limit) before the scheduler shuts down, so a
restart never leaves a digest half-posted with its findings unrecorded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from store.base import Store

log = logging.getLogger(__name__)

Runner = Callable[[str], Awaitable[object]]

LEASE_TTL_S = 900.0
MISFIRE_GRACE_S = 300
STOP_TIMEOUT_S = 30.0


def replica_id() -> str:
    """Who holds a lease: readable in the store (host and pid), unique even across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_name(check: str) -> str:
    return f"scheduled-check:{check}"


class CheckScheduler:
    """`add` the configured checks, `start` inside the running loop, `await stop()` on the way out."""

    def __init__(
        self,
        runner: Runner,
        store: Store,
        *,
        holder: str | None = None,
        lease_ttl_s: float = LEASE_TTL_S,
        misfire_grace_s: int = MISFIRE_GRACE_S,
    ) -> None:
        self._runner = runner
        self._store = store
        self._holder = holder or replica_id()
        self._lease_ttl_s = lease_ttl_s
        self._misfire_grace_s = misfire_grace_s
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[bool]] = set()

    def add(self, name: str, *, cron: str | None, every_minutes: float | None, timezone: str) -> None:
        """Schedule `name`: a crontab line, or an interval, read in `timezone`."""
        if cron is not None:
            trigger: CronTrigger | IntervalTrigger = CronTrigger.from_crontab(cron, timezone=timezone)
        elif every_minutes is not None:
            trigger = IntervalTrigger(seconds=every_minutes * 60, timezone=timezone)
        else:
            raise ValueError(f"check {name}: give a cron expression or every_minutes")
        self._scheduler.add_job(
            self._fire,
            trigger,
            args=[name],
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self._misfire_grace_s,
            replace_existing=True,
        )

    def next_runs(self) -> dict[str, datetime | None]:
        """When each job fires next (None while paused or before `start`)."""
        return {job.id: getattr(job, "next_run_time", None) for job in self._scheduler.get_jobs()}

    def start(self) -> None:
        self._scheduler.start()
        log.info("scheduled checks: %s", ", ".join(sorted(self.next_runs())) or "none configured")

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """No new runs; runs in progress get `timeout_s` to finish, then are cancelled."""
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=timeout_s)
            for task in late:
                log.warning("scheduled check still running at shutdown; cancelled")
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await asyncio.sleep(0)  # let the job coroutines see their runs end before the executor is closed
        self._scheduler.shutdown(wait=False)

    async def run_now(self, name: str) -> bool:
        """One run of `name` under its lease, as the schedule would; False when another replica holds it."""
        task = asyncio.create_task(self._locked(name))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        # Shielded: shutting the executor down must not cut a digest in half; `stop` decides.
        return await asyncio.shield(task)

    async def _fire(self, name: str) -> None:
        await self.run_now(name)

    async def _locked(self, name: str) -> bool:
        # One holder per run, so even two runs in this process exclude each other.
        lease, holder = lease_name(name), f"{self._holder}/{uuid.uuid4().hex[:8]}"
        if not await self._store.acquire_lease(lease, holder, self._lease_ttl_s):
            log.info("check %s: already running (here or on another replica)", name)
            return False
        try:
            await self._runner(name)
        except Exception:
            log.exception("check %s failed", name)
        finally:
            await self._store.release_lease(lease, holder)
        return True

"""The answers (and approvals) this process is working on, so stopping it never leaves a thread hanging.

Bolt runs each listener in a task nobody keeps; without this registry a SIGTERM would let
`asyncio.run` cancel them silently and a thread would say "Looking into it…" forever. On
shutdown the work in progress gets a grace period to finish, and whatever is still running then
is cancelled and its thread is told so, in words the asker can act on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

INTERRUPTED = "Interrupted: the bot restarted before this answer was ready; ask again."

Interrupt = Callable[[], Awaitable[object]]


class InFlight:
    """`add` counts a piece of work in; `settle` is called once the bot stops taking new envelopes."""

    def __init__(self) -> None:
        self._work: dict[asyncio.Task[object], Interrupt] = {}

    def __len__(self) -> int:
        return len(self._work)

    def add(self, interrupted: Interrupt) -> None:
        """Count the current task in until it ends; `interrupted` tells its thread if shutdown cuts it short.

        Called as the first thing a person sees is posted (the placeholder), so a shutdown that
        starts a moment later already knows about the answer.
        """
        task = asyncio.current_task()
        if task is None or task in self._work:
            return
        self._work[task] = interrupted
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._work.pop(task, None)

    async def settle(self, grace_s: float) -> int:
        """Let the work in progress finish within `grace_s`; cancel the rest and report it; returns how many."""
        if not self._work:
            return 0
        logger.info("waiting up to %g s for %d answer(s) in progress", grace_s, len(self._work))
        _, late = await asyncio.wait(set(self._work), timeout=grace_s)
        interrupts = [self._work[task] for task in late if task in self._work]
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for interrupt in interrupts:
            try:
                await interrupt()
            except Exception as exc:
                logger.warning("could not mark an interrupted answer in its thread: %s", type(exc).__name__)
        if interrupts:
            logger.warning("%d answer(s) still running at shutdown were interrupted", len(interrupts))
        return len(interrupts)

"""Who is running an approved fix right now, as a store lease the runner keeps renewing.

With several replicas a fix can be left half-way by a process that died (OOM kill, node loss,
SIGKILL): its proposal stays `executing` or unverified `executed` for ever. The runner holds a
short lease for as long as it works on the proposal and renews it in the background, so a lease
that lapsed means nobody is working on it any more and another replica may take it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator

from store.base import Store

log = logging.getLogger(__name__)


def this_replica() -> str:
    """Host and pid: enough for an operator reading the store to tell which pod runs a fix."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_lease(proposal_id: str) -> str:
    return f"proposal-run:{proposal_id}"


async def _renew(store: Store, name: str, holder: str, ttl_s: float) -> None:
    while True:
        await asyncio.sleep(ttl_s / 3)
        try:
            if not await store.acquire_lease(name, holder, ttl_s):
                log.warning("lost the lease %s: another replica may take the work over", name)
        except Exception as exc:
            log.warning("could not renew the lease %s: %s", name, type(exc).__name__)


@contextlib.asynccontextmanager
async def holding(store: Store, name: str, replica: str, ttl_s: float) -> AsyncIterator[bool]:
    """Yields whether this caller got the lease; while it runs the lease is renewed, after it released.

    The holder is unique per call, so two pieces of work in one process exclude each other too.
    """
    holder = f"{replica}/{uuid.uuid4().hex[:8]}"
    if not await store.acquire_lease(name, holder, ttl_s):
        yield False
        return
    heartbeat = asyncio.create_task(_renew(store, name, holder, ttl_s))
    try:
        yield True
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        try:
            await store.release_lease(name, holder)
        except Exception as exc:
            # It lapses on its own after ttl_s; the next replica then looks at the proposal's state.
            log.warning("could not release the lease %s: %s", name, type(exc).__name__)

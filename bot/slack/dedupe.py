"""Each Slack event handled once, however often Socket Mode delivers it.

Slack redelivers an event whose ack it did not see (a slow replica, a connection closed by a
`disconnect`), with `retry_attempt` raised, and may deliver the same event id twice anyway. The
store's `claim_event` is atomic across processes, so of every delivery of one event id, on any
replica, exactly one goes on to the listeners; the rest are acked and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from store import Store

logger = logging.getLogger(__name__)

Middleware = Callable[..., Awaitable[BoltResponse | None]]


def _retry_attempt(request: AsyncBoltRequest) -> str:
    return str(request.headers.get("x-slack-retry-num", ["0"])[0])


def once_per_event(store: Store) -> Middleware:
    """A Bolt global middleware that lets only the first delivery of each event id through."""

    async def dedupe(
        body: dict[str, Any], request: AsyncBoltRequest, ack: AsyncAck, next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id or await store.claim_event(event_id):
            await next_()
            return None
        logger.info("dropped a repeated delivery of event %s (retry_attempt %s)", event_id, _retry_attempt(request))
        response: BoltResponse = await ack()
        return response

    return dedupe

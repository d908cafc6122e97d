"""How long each envelope waits for its ack, measured in one place for every listener.

Bolt's global middleware does not wrap the listener (its `next` only marks the request as
passed on), so timing `next` would measure nothing. Instead the request's ack is swapped for one
that reports, when a listener (or Bolt's automatic ack) calls it, how long the envelope waited.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

AckObserver = Callable[[str, float], None]
"""Called with the envelope's kind (slash_command, event_callback, block_actions...) and the seconds to its ack."""


def ignore_acks(kind: str, seconds: float) -> None:
    """The observer of a bot without metrics."""


def envelope_kind(body: dict[str, Any]) -> str:
    return "slash_command" if "command" in body else str(body.get("type") or "other")


class _TimedAck(AsyncAck):
    def __init__(self, report: Callable[[], None]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._report: Callable[[], None] | None = report

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        response = await super().__call__(*args, **kwargs)
        report, self._report = self._report, None  # a second ack() is not a second envelope
        if report is not None:
            report()
        return response


def timed_acks(observe: AckObserver, clock: Callable[[], float] = time.perf_counter) -> Callable[..., Awaitable[None]]:
    async def time_the_ack(
        body: dict[str, Any], context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]
    ) -> None:
        started, kind = clock(), envelope_kind(body)
        context["ack"] = _TimedAck(lambda: observe(kind, clock() - started))
        await next_()

    return time_the_ack

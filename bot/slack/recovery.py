"""Approved fixes a stopped replica left half-way, finished or reported in their threads by this one.

Each replica sweeps the store now and then (and once at start-up, which covers a lone bot that
was restarted). The remediation service decides what a half-done fix becomes; this module tells
the thread, in the same shape as a click's outcome, and redraws the proposal message, which
would otherwise keep saying "executing…" for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from agents.remediation.outcome import Recovery
from bot.slack.answering import Place, post_proposals
from bot.slack.channels import ChannelNames
from bot.slack.deps import SlackDeps
from bot.slack.redacting_client import RedactingWebClient
from bot.slack.render.proposal import execution_lines, proposal_message

logger = logging.getLogger(__name__)

TAKEN_OVER = "The bot replica running this fix stopped; another one took over."


class Recovers(Protocol):
    async def recover(self) -> list[Recovery]: ...


async def report_recovery(deps: SlackDeps, client: RedactingWebClient, names: ChannelNames, recovery: Recovery) -> None:
    stored = recovery.proposal
    status = [TAKEN_OVER, *execution_lines(recovery.report)]
    thread = stored.thread_ts or stored.message_ts
    if thread is not None:
        await client.chat_postMessage(channel=stored.channel, thread_ts=thread, text="\n".join(status))
    if stored.message_ts is not None:
        text, blocks = proposal_message(stored, status, buttons=False)
        await client.chat_update(channel=stored.channel, ts=stored.message_ts, text=text, blocks=blocks)
    if recovery.report.follow_up and thread is not None:
        place = Place(channel_id=stored.channel, channel_name=await names.name(stored.channel), thread_ts=thread)
        await post_proposals(deps, client, recovery.report.follow_up, recovery.requester, place)


async def _sweep_forever(deps: SlackDeps, client: RedactingWebClient, recovers: Recovers, every_s: float) -> None:
    names = ChannelNames(client)
    while True:
        try:
            for recovery in await recovers.recover():
                await report_recovery(deps, client, names, recovery)
        except Exception:
            logger.exception("sweeping for half-done fixes failed; trying again in %g s", every_s)
        await asyncio.sleep(every_s)


@contextlib.asynccontextmanager
async def recovering(
    deps: SlackDeps, client: RedactingWebClient, recovers: Recovers, every_s: float
) -> AsyncIterator[None]:
    """Sweep every `every_s` seconds while the block runs; a sweep cut short leaves its fix to the next one."""
    sweeper = asyncio.create_task(_sweep_forever(deps, client, recovers, every_s))
    try:
        yield
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)

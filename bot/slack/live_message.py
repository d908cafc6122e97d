"""One message per answer: a placeholder posted at once, edited as specialists report, then replaced.

People see that the bot heard them within a second and can watch which sources are being
checked. Specialists report in bursts (several finish within milliseconds), and chat.update is
rate limited per channel, so reports are coalesced: the first is shown at once, later ones at
most once per interval. The final answer waits for an edit already on the wire, so a late
progress edit can never overwrite it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from agents.progress import SpecialistProgress
from bot.slack.render.blocks import Json
from bot.slack.render.progress import progress_message

logger = logging.getLogger(__name__)


class LiveMessage:
    """A message in a thread that shows progress; create it with `LiveMessage.post`."""

    def __init__(self, client: AsyncWebClient, channel: str, ts: str, question: str, interval: float) -> None:
        self.client = client
        self.channel = channel
        self.ts = ts
        self._question = question
        self._interval = interval
        self._reports: dict[str, SpecialistProgress] = {}
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._finished = False
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    async def post(
        cls, client: AsyncWebClient, channel: str, thread_ts: str, question: str, interval: float
    ) -> LiveMessage:
        """Post the placeholder in the thread; `question` is Slack-formatted text."""
        text, blocks = progress_message(question, [])
        response = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
        return cls(client, str(response["channel"]), str(response["ts"]), question, interval)

    async def report(self, progress: SpecialistProgress) -> None:
        """The progress sink handed to the asker: remembers the report and schedules an edit."""
        if self._finished:
            return
        self._reports[progress.specialist] = progress
        self._changed.set()
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_changes())

    async def finish(self, text: str, blocks: list[Json]) -> None:
        """Replace the placeholder with the final content; no progress edit follows it."""
        async with self._lock:
            self._finished = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=blocks)

    async def _flush_changes(self) -> None:
        while True:
            await self._changed.wait()
            async with self._lock:
                if self._finished:
                    return
                self._changed.clear()
                text, blocks = progress_message(self._question, self._reports.values())
                try:
                    await self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=blocks)
                except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                    # Progress is a courtesy: a lost edit must not cost the answer.
                    reason = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
                    logger.warning("progress edit of %s failed: %s", self.ts, reason)
            await asyncio.sleep(self._interval)

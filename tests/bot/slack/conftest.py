"""The real Slack app, connected over a real websocket to the Slack stand-in, for every test here.

`launch` builds the app exactly as `whisperer run` does (build_app + socket.connect) around
scripted agents, so a test clicks and mentions the way a person does and reads what they see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from bot.slack.app import build_app
from bot.slack.deps import SlackDeps
from bot.slack.render.progress import PLACEHOLDER
from bot.slack.socket import connect, disconnect
from guardrails.policy_config import ChannelBinding
from guardrails.redaction import Redactor
from sandbox.slack import Message, SlackStandIn
from store import Store
from tests.bot.slack.doubles import ScriptedAsker, StoreRemediation

CHANNEL = "#incident-payments"
UNBOUND = "#sre-oncall"
BINDINGS = (ChannelBinding(channel=CHANNEL, namespaces=["shop"]),)


@dataclass
class Bot:
    """The running bot and what the test can read: the stand-in, the store, the scripted agents."""

    slack: SlackStandIn
    store: Store
    asker: ScriptedAsker
    remediation: StoreRemediation
    deps: SlackDeps

    def bot_replies(self, channel: str, ts: str) -> list[Message]:
        bot = self.slack.workspace.bot_user_id
        return [
            message for message in self.slack.driver.thread(channel, ts) if message.is_reply and message.user == bot
        ]

    async def answered(self, channel: str, ts: str, count: int = 1, timeout: float = 5.0) -> list[Message]:
        """The bot's replies in the thread once `count` are there and none is a placeholder any more."""

        def done() -> list[Message] | None:
            replies = self.bot_replies(channel, ts)
            finished = len(replies) >= count and all(reply.text != PLACEHOLDER for reply in replies)
            return replies if finished else None

        return await self.slack.driver.wait_for(done, timeout, f"{count} final bot replies in {ts}")

    def render(self, message: Any) -> str:
        return self.slack.driver.render(message)


@asynccontextmanager
async def launch(
    slack: SlackStandIn,
    store: Store,
    redactor: Redactor,
    asker: ScriptedAsker | None = None,
    **deps: Any,
) -> AsyncIterator[Bot]:
    """Build and connect the real app around scripted agents; `deps` override SlackDeps fields."""
    remediation = StoreRemediation(store)
    scripted = asker or ScriptedAsker()
    settings: dict[str, Any] = {"channels": BINDINGS, "live_update_interval": 0.01, **deps}
    wiring = SlackDeps(
        asker=scripted,
        remediation=remediation,
        store=store,
        redactor=redactor,
        bot_token=slack.bot_token,
        base_url=slack.base_url,
        **settings,
    )
    handler = await connect(build_app(wiring), slack.app_token)
    try:
        yield Bot(slack=slack, store=store, asker=scripted, remediation=remediation, deps=wiring)
    finally:
        await disconnect(handler)


@pytest.fixture
async def bot(slack: SlackStandIn, store: Store, redactor: Redactor) -> AsyncIterator[Bot]:
    async with launch(slack, store, redactor) as running:
        yield running

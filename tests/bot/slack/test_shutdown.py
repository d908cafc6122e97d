"""Stopping the bot mid-answer: `serve` stops taking envelopes, waits out its grace, then says so in the thread."""

from __future__ import annotations

import asyncio

from bot.slack.deps import SlackDeps
from bot.slack.in_flight import INTERRUPTED
from bot.slack.render.progress import PLACEHOLDER
from bot.slack.socket import serve
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import Store
from tests.bot.slack.conftest import BINDINGS, CHANNEL
from tests.bot.slack.doubles import ScriptedAsker, StoreRemediation


def _deps(slack: SlackStandIn, store: Store, redactor: Redactor, asker: ScriptedAsker) -> SlackDeps:
    return SlackDeps(
        asker=asker,
        remediation=StoreRemediation(store),
        store=store,
        redactor=redactor,
        bot_token=slack.bot_token,
        base_url=slack.base_url,
        channels=BINDINGS,
        live_update_interval=0.01,
    )


async def test_an_answer_still_running_after_the_grace_period_is_marked_interrupted(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    deps = _deps(slack, store, redactor, ScriptedAsker(pause=30))  # an answer that would take minutes
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(deps, slack.app_token, stop, grace_s=0.5))
    await slack.driver.wait_for(lambda: slack.socket_mode.connection_ids or None, 10, "a connection")
    ts = await slack.driver.mention("alice", CHANNEL, "why is checkout failing?")
    [placeholder] = await slack.driver.wait_for_reply(CHANNEL, ts)
    assert placeholder.text == PLACEHOLDER
    stop.set()
    await asyncio.wait_for(serving, 5)
    [reply] = [m for m in slack.driver.thread(CHANNEL, ts) if m.is_reply]
    assert reply.text == INTERRUPTED
    assert not slack.socket_mode.connection_ids
    assert len(deps.in_flight) == 0


async def test_an_answer_that_finishes_within_the_grace_period_is_posted_whole(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    deps = _deps(slack, store, redactor, ScriptedAsker(pause=0.3))
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(deps, slack.app_token, stop, grace_s=10))
    await slack.driver.wait_for(lambda: slack.socket_mode.connection_ids or None, 10, "a connection")
    ts = await slack.driver.mention("alice", CHANNEL, "why is checkout failing?")
    await slack.driver.wait_for_reply(CHANNEL, ts)
    stop.set()
    # No new envelope reaches a stopping bot: Slack keeps it for another connection.
    await slack.driver.wait_for(lambda: not slack.socket_mode.connection_ids or None, 5, "the connection closed")
    late = await slack.driver.mention("bob", CHANNEL, "and the database?")
    await asyncio.wait_for(serving, 10)
    answer, *rest = [m for m in slack.driver.thread(CHANNEL, ts) if m.is_reply]
    assert answer.text.startswith("payment-service is crash-looping")
    assert any(m.text.startswith("Proposed fix") for m in rest), "the proposal after the answer is posted too"
    assert slack.driver.thread(CHANNEL, late)[1:] == []
    assert [e.status for e in slack.socket_mode.envelopes.values() if e.payload.get("event", {}).get("ts") == late] == [
        "queued"
    ]

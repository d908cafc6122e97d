"""Delivery: redeliveries and disconnects handled once, 429s waited out, bad input acked and answered."""

from __future__ import annotations

import copy
from typing import Any

from agents.answer import Answer
from agents.question import Question
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import Store
from tests.bot.slack.conftest import CHANNEL, Bot, launch
from tests.bot.slack.doubles import VERDICT, ScriptedAsker, outage_answer


def answer_without_fix(question: Question) -> Answer:
    return outage_answer(question.text, proposals=[])


async def test_a_disconnect_in_a_burst_of_mentions_loses_nothing_and_repeats_nothing(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    async with launch(slack, store, redactor, ScriptedAsker(answer=answer_without_fix, progress=())) as bot:
        opened_before = [call.method for call in slack.calls].count("apps.connections.open")
        mentions = []
        for number in range(20):
            mentions.append(await slack.driver.mention("alice", CHANNEL, f"question {number}"))
            if number == 9:
                await slack.disconnect()
        for ts in mentions:
            await bot.answered(CHANNEL, ts, timeout=10)

    assert sorted(question.text for question in bot.asker.questions) == sorted(f"question {n}" for n in range(20))
    assert all(len(bot.bot_replies(CHANNEL, ts)) == 1 for ts in mentions)
    assert [call.method for call in slack.calls].count("apps.connections.open") == opened_before + 1
    envelopes = slack.socket_mode.envelopes
    cut_off = [envelope for envelope in envelopes.values() if envelope.status == "connection_closed"]
    assert cut_off, "the disconnect should have caught envelopes whose ack had not arrived"
    for envelope in cut_off:
        retry = envelopes[envelope.redelivered_as or ""]
        assert (retry.retry_attempt, retry.acked) == (1, True)


async def test_redeliveries_with_retry_attempt_are_processed_once(store: Store, redactor: Redactor) -> None:
    # Slack gives up waiting at once, so every delivery of the mention times out and is retried.
    async with SlackStandIn(ack_timeout=0) as slack, launch(slack, store, redactor) as bot:
        ts = await slack.driver.mention("alice", CHANNEL, "why is payment-service failing?")
        await bot.answered(CHANNEL, ts, count=2)
        envelopes = slack.socket_mode.envelopes.values()
        await slack.driver.wait_for(lambda: len(envelopes) == 4 and all(e.acked for e in envelopes), what="4 acks")

    assert [envelope.retry_attempt for envelope in envelopes] == [0, 1, 2, 3]
    assert len({envelope.payload["event_id"] for envelope in envelopes}) == 1
    assert len(bot.asker.questions) == 1
    assert len(bot.bot_replies(CHANNEL, ts)) == 2


async def test_a_duplicate_event_id_is_processed_once(bot: Bot) -> None:
    slack = bot.slack
    ts = await slack.driver.mention("alice", CHANNEL, "why is payment-service failing?")
    [first] = slack.socket_mode.envelopes.values()
    again = await slack.socket_mode.deliver("events_api", copy.deepcopy(first.payload))
    await slack.driver.wait_for_ack(again.envelope_id)
    await bot.answered(CHANNEL, ts, count=2)

    assert len(bot.asker.questions) == 1
    assert len(bot.bot_replies(CHANNEL, ts)) == 2


async def test_a_rate_limited_post_is_retried_after_retry_after(bot: Bot) -> None:
    slack = bot.slack
    slack.fail_next("chat.postMessage", retry_after=0)
    ts = await slack.driver.mention("alice", CHANNEL, "why is payment-service failing?")
    [answer, _] = await bot.answered(CHANNEL, ts, count=2)

    posts = [call.status for call in slack.calls if call.method == "chat.postMessage"]
    assert posts[:2] == [429, 200]
    assert VERDICT in answer.text


def mention_event(slack: SlackStandIn, **event: Any) -> dict[str, Any]:
    """An Events API payload as Slack sends it for an app_mention with these event fields."""
    ts = slack.workspace.next_ts()
    return {
        "type": "event_callback",
        "team_id": slack.workspace.team_id,
        "api_app_id": slack.workspace.app_id,
        "event_id": f"Ev{ts.replace('.', '')}",
        "event_time": int(float(ts)),
        "authorizations": [{"team_id": slack.workspace.team_id, "user_id": "U_WHISPERER", "is_bot": True}],
        "event": {
            "type": "app_mention",
            "channel": slack.workspace.channel(CHANNEL).id,
            "text": "<@U_WHISPERER> restart everything",
            "ts": ts,
            "event_ts": ts,
            **event,
        },
    }


async def test_messages_from_bots_including_our_own_are_ignored(bot: Bot) -> None:
    slack = bot.slack
    other_bot = mention_event(slack, bot_id="B_OTHER", subtype="bot_message", username="deploy-bot")
    ourselves = mention_event(slack, user="U_WHISPERER", bot_id=slack.workspace.bot_id)
    delivered = [
        await slack.socket_mode.deliver("events_api", other_bot),
        await slack.socket_mode.deliver("events_api", ourselves),
    ]
    for envelope in delivered:
        await slack.driver.wait_for_ack(envelope.envelope_id)

    human = await slack.driver.mention("bob", CHANNEL, "and you, are you there?")
    await bot.answered(CHANNEL, human, count=2)
    assert [question.text for question in bot.asker.questions] == ["and you, are you there?"]
    assert [
        call for call in slack.calls if call.method == "chat.postMessage" and "restart everything" in str(call)
    ] == []


async def test_malformed_envelopes_are_acked_and_the_bot_carries_on(bot: Bot) -> None:
    slack = bot.slack
    hub = slack.socket_mode
    broken = [
        await hub.deliver("events_api", {"type": "event_callback", "event_id": "EvBROKEN"}),
        await hub.deliver("events_api", {"type": "event_callback", "event": {"type": "reaction_added"}}),
        await hub.deliver("slash_commands", {"command": "/whisper", "text": "hello"}),
        await hub.deliver("interactive", {"type": "block_actions", "actions": [], "user": {"id": "U_BOB"}}),
        await hub.deliver("interactive", {"type": "message_action", "callback_id": "nobody_listens"}),
    ]
    for envelope in broken:
        await slack.driver.wait_for_ack(envelope.envelope_id)

    ts = await slack.driver.mention("alice", CHANNEL, "still there?")
    await bot.answered(CHANNEL, ts, count=2)
    assert all(envelope.status == "acked" for envelope in broken), "acked in time, so Slack does not retry"


async def test_a_failing_asker_ends_as_one_line_without_internals(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    failure = RuntimeError(f"password=hunter2 token {slack.bot_token} at /srv/app/agents/router.py line 12")
    async with launch(slack, store, redactor, ScriptedAsker(error=failure)) as bot:
        ts = await slack.driver.mention("alice", CHANNEL, "why is payment-service failing?")
        [reply] = await bot.answered(CHANNEL, ts)

    shown = bot.render(reply)
    assert shown.startswith(
        "whisperer (edited): Sorry, something went wrong while answering your question: an unexpected internal error. "
        "Reference `"
    )
    for secret in ("hunter2", "xoxb-", "Traceback", "router.py", "RuntimeError"):
        assert secret not in shown


async def test_a_failing_click_is_reported_in_the_thread(bot: Bot) -> None:
    async def broken_decide(proposal_id: str, user: str, approve: bool) -> None:
        raise ConnectionError("store unreachable at postgresql://whisperer:s3cret@db:5432/w")

    slack = bot.slack
    ts = await slack.driver.mention("alice", CHANNEL, "why is payment-service failing?")
    [_, proposal] = await bot.answered(CHANNEL, ts, count=2)
    bot.remediation.decide = broken_decide  # type: ignore[assignment, method-assign]
    await slack.driver.click("bob", CHANNEL, proposal.ts, "proposal_approve")
    [*_, reply] = await bot.answered(CHANNEL, ts, count=3)

    assert reply.text.startswith(
        "Sorry, something went wrong while handling your request: an unexpected internal error"
    )
    assert "s3cret" not in reply.text
    assert proposal.edits == 0

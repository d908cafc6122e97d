"""Asking: /whisper and @mentions through the real app, answered the way the issue describes."""

from __future__ import annotations

import time
from collections.abc import Callable

from agents.progress import SpecialistProgress, SpecialistState
from bot.slack.render.progress import PLACEHOLDER
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import Store
from tests.bot.slack.conftest import CHANNEL, UNBOUND, Bot, launch
from tests.bot.slack.doubles import VERDICT, ScriptedAsker, outage_answer

QUESTION = "why is payment-service failing?"


async def test_slash_command_is_acked_at_once_and_answered_in_a_thread(
    bot: Bot, record_property: Callable[[str, object], None]
) -> None:
    driver = bot.slack.driver
    started = time.perf_counter()
    envelope_id = await driver.slash("alice", CHANNEL, QUESTION)
    await driver.wait_for_ack(envelope_id)
    ack_ms = (time.perf_counter() - started) * 1000
    record_property("slash_ack_ms", round(ack_ms, 1))

    [root] = await driver.wait_for(lambda: driver.channel_messages(CHANNEL), what="the root message")
    [answer, proposal] = await bot.answered(CHANNEL, root.ts, count=2)

    assert ack_ms < 500, f"ack took {ack_ms:.0f} ms"
    assert root.text == f"<@U_ALICE> asked: {QUESTION}"
    transcript = bot.render(answer)
    assert transcript.splitlines()[0] == f"whisperer (edited): *{VERDICT}*"
    for expected in (
        "Evidence from kubernetes",
        "CrashLoopBackOff",
        "Evidence from changes",
        "*Root cause:* PR #42",
        "team *payments*, channel #oncall-payments",
        "*Runbook:* Payment service crash loop",
        "Could not check: *metrics* (connection refused)",
    ):
        assert expected in transcript
    assert "[Approve] [Reject]" in bot.render(proposal)
    [asked] = bot.asker.questions
    assert (asked.text, asked.user, asked.channel, asked.via, asked.thread_ts) == (
        QUESTION,
        "U_ALICE",
        CHANNEL,
        "slash",
        root.ts,
    )


async def test_help_and_an_empty_command_show_usage(bot: Bot) -> None:
    driver = bot.slack.driver
    for text in ("help", "", "   --private  "):
        await driver.slash("bob", CHANNEL, text)
    usages = await driver.wait_for(
        lambda: list(driver.ephemerals("bob")) if len(driver.ephemerals("bob")) == 3 else None
    )

    assert all("/whisper why is payment-service failing?" in driver.render(usage) for usage in usages)
    assert driver.channel_messages(CHANNEL) == []
    assert bot.asker.questions == []


async def test_private_flag_and_unbound_channels_answer_only_the_asker(bot: Bot) -> None:
    driver = bot.slack.driver
    await driver.slash("alice", CHANNEL, f"--private {QUESTION}")
    await driver.slash("bob", UNBOUND, QUESTION)
    await driver.wait_for(
        lambda: len(driver.ephemerals("alice")) >= 2 and len(driver.ephemerals("bob")) >= 2, what="private answers"
    )

    alice = [driver.render(message) for message in driver.ephemerals("alice")]
    bob = [driver.render(message) for message in driver.ephemerals("bob")]
    assert alice[0].startswith("whisperer (only visible to alice): Looking into it")
    assert VERDICT in alice[1] and "Only you can see this answer." in alice[1]
    assert "restart_deployment on Deployment shop/payment-service" in alice[1]
    assert "[Approve]" not in alice[1]
    assert "not bound to me" in bob[1]
    assert driver.channel_messages(CHANNEL) == driver.channel_messages(UNBOUND) == []
    assert [question.text for question in bot.asker.questions] == [QUESTION, QUESTION]
    assert await bot.remediation.pending() == []


async def test_a_follow_up_mention_in_the_thread_sees_the_first_turn(bot: Bot) -> None:
    driver = bot.slack.driver
    first = await driver.mention("alice", CHANNEL, QUESTION)
    await bot.answered(CHANNEL, first, count=2)
    await driver.mention("bob", CHANNEL, "and what changed before that?", thread_ts=first)
    await bot.answered(CHANNEL, first, count=4)

    before, after = bot.asker.questions
    assert (before.text, before.via, before.history) == (QUESTION, "mention", [])
    assert after.thread_ts == before.thread_ts == first
    [turn] = after.history
    assert turn.question == QUESTION
    assert VERDICT in turn.answer
    assert turn.subjects == ["Deployment shop/payment-service"]
    assert [t.user for t in await bot.store.get_thread(driver.channel_messages(CHANNEL)[0].channel, first)] == [
        "U_ALICE",
        "U_BOB",
    ]


async def test_the_placeholder_is_updated_live_then_replaced_by_the_answer(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    async with launch(slack, store, redactor, ScriptedAsker(pause=0.05)) as bot:
        ts = await slack.driver.mention("alice", CHANNEL, QUESTION)
        [answer, _] = await bot.answered(CHANNEL, ts, count=2)

    versions = [version.text + "\n" + str(version.blocks) for version in answer.versions]
    assert answer.versions[0].text == PLACEHOLDER
    assert any("kubernetes: checking…" in version for version in versions[1:-1])
    assert any("kubernetes: found 2 problems" in version for version in versions[1:-1])
    assert any("metrics: failed: connection refused" in version for version in versions[1:-1])
    assert VERDICT in versions[-1]
    assert "checking…" not in versions[-1]
    assert len(bot.bot_replies(CHANNEL, ts)) == 2, "one answer message and one proposal, nothing else"


async def test_a_burst_of_progress_is_coalesced_into_few_edits(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    burst = [
        SpecialistProgress(specialist=f"source-{n % 5}", state=SpecialistState.CHECKING, detail=str(n))
        for n in range(40)
    ]
    asker = ScriptedAsker(answer=outage_answer(proposals=[]), progress=burst)
    async with launch(slack, store, redactor, asker, live_update_interval=0.5) as bot:
        ts = await slack.driver.mention("alice", CHANNEL, QUESTION)
        [answer] = await bot.answered(CHANNEL, ts)

    updates = [call for call in slack.calls if call.method == "chat.update"]
    assert len(updates) <= 3, f"{len(updates)} edits for a burst of 40 reports"
    assert VERDICT in answer.text


async def test_an_enormous_question_is_cut_with_a_note(bot: Bot) -> None:
    ts = await bot.slack.driver.mention("carol", CHANNEL, "why " * 2000)
    [answer, _] = await bot.answered(CHANNEL, ts, count=2)

    [asked] = bot.asker.questions
    assert len(asked.text) == bot.deps.max_question_chars
    assert "Your question was cut to its first 2,000 characters." in bot.render(answer)


async def test_a_mention_without_a_question_gets_usage_in_its_thread(bot: Bot) -> None:
    ts = await bot.slack.driver.mention("carol", CHANNEL, "")
    [usage] = await bot.slack.driver.wait_for_reply(CHANNEL, ts)

    assert "Ask me about your infrastructure" in bot.render(usage)
    assert bot.asker.questions == []


async def test_a_command_where_the_bot_is_not_a_member_is_answered_through_its_response_url(bot: Bot) -> None:
    driver = bot.slack.driver
    bot.slack.workspace.add_channel("war-room", bot_member=False)
    await driver.slash("alice", "#war-room", QUESTION)
    replies = await driver.wait_for(
        lambda: driver.ephemerals("alice", "#war-room") if len(driver.ephemerals("alice", "#war-room")) >= 2 else None,
        what="the private answer",
    )

    assert VERDICT in driver.render(replies[1])
    assert "not bound to me" in driver.render(replies[1])
    assert driver.channel_messages("#war-room") == []

"""Approve / Reject: clicks acked at once, decided by the remediation, the message updated in place."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.render.proposal import APPROVE_ACTION, REJECT_ACTION, proposal_message
from guardrails.proposals import Proposal, Target
from guardrails.redaction import Redactor
from sandbox.slack import Message, SlackStandIn
from store import ProposalState, Store, StoredProposal, utcnow
from tests.bot.slack.conftest import CHANNEL, Bot, launch
from tests.bot.slack.doubles import RESTART, ScriptedAsker, outage_answer


async def proposal_in_thread(bot: Bot, asker_user: str = "alice") -> tuple[str, Message]:
    """Ask in the channel; return the thread and the proposal message the answer came with."""
    ts = await bot.slack.driver.mention(asker_user, CHANNEL, "why is payment-service failing?")
    [_, proposal] = await bot.answered(CHANNEL, ts, count=2)
    return ts, proposal


async def test_approve_executes_once_and_reports_in_the_thread(
    bot: Bot, record_property: Callable[[str, object], None]
) -> None:
    driver = bot.slack.driver
    ts, proposal = await proposal_in_thread(bot)
    [stored] = await bot.remediation.pending()
    button = proposal.blocks[-1]["elements"][0]
    assert (button["style"], button["value"], button["confirm"]["confirm"]["text"]) == ("primary", stored.id, "Approve")
    assert proposal.blocks[-1]["elements"][1]["style"] == "danger"

    started = time.perf_counter()
    envelope_id = await driver.click("bob", CHANNEL, proposal.ts, APPROVE_ACTION, value=stored.id)
    await driver.wait_for_ack(envelope_id)
    record_property("click_ack_ms", round((time.perf_counter() - started) * 1000, 1))
    [_, _, report] = await bot.answered(CHANNEL, ts, count=3)
    await driver.wait_for(lambda: "Verified" in driver.render(proposal), what="the final proposal message")

    shown = driver.render(proposal)
    assert "Approved by @bob" in shown
    assert "Restarted deployment shop/payment-service (approved by @bob)" in shown
    assert "[Approve]" not in shown and "[Reject]" not in shown
    assert "executing…" in str(proposal.versions[1].blocks), "the message said it was executing before it was done"
    assert report.text == (
        "🛠️ Restarted deployment shop/payment-service (approved by <@U_BOB>)\n"
        "✅ Verified: 3/3 pods ready, error rate back to 0%"
    )
    assert bot.remediation.executed == [stored.id]
    final = await bot.store.get_proposal(stored.id)
    assert final is not None
    assert (final.state, final.message_ts, final.requested_by, final.channel) == (
        ProposalState.VERIFIED,
        proposal.ts,
        "U_ALICE",
        proposal.channel,
    )


async def test_reject_updates_the_message_and_runs_nothing(bot: Bot) -> None:
    driver = bot.slack.driver
    ts, proposal = await proposal_in_thread(bot)
    await driver.click("carol", CHANNEL, proposal.ts, REJECT_ACTION)
    await driver.wait_for(lambda: "Rejected by @carol" in driver.render(proposal), what="the rejection")

    assert "[Approve]" not in driver.render(proposal)
    assert bot.remediation.executed == []
    assert len(bot.bot_replies(CHANNEL, ts)) == 2


@pytest.mark.parametrize(
    ("clicker", "expected"),
    [
        (
            "alice",
            "Not approved, nothing was done: <@U_ALICE> cannot approve their own request (two-person rule)",
        ),
        ("dave", "Not approved, nothing was done: <@U_DAVE> is not allowed to approve restart_deployment"),
    ],
)
async def test_a_refused_approval_keeps_the_buttons_and_says_why(bot: Bot, clicker: str, expected: str) -> None:
    driver = bot.slack.driver
    ts, proposal = await proposal_in_thread(bot)
    await driver.click(clicker, CHANNEL, proposal.ts, APPROVE_ACTION)
    [*_, refusal] = await bot.answered(CHANNEL, ts, count=3)

    assert refusal.text == expected
    assert proposal.edits == 0
    assert driver.render(proposal).endswith("[Approve] [Reject]")
    assert bot.remediation.executed == []
    # Someone allowed can still approve from the same message.
    await driver.click("bob", CHANNEL, proposal.ts, APPROVE_ACTION)
    await driver.wait_for(lambda: bot.remediation.executed, what="the approved execution")


async def test_a_button_decided_elsewhere_is_stale(bot: Bot) -> None:
    driver = bot.slack.driver
    ts, proposal = await proposal_in_thread(bot)
    [stored] = await bot.remediation.pending()
    await bot.remediation.decide(stored.id, "U_CAROL", approve=False)  # e.g. on another replica

    await driver.click("bob", CHANNEL, proposal.ts, APPROVE_ACTION)
    [*_, reply] = await bot.answered(CHANNEL, ts, count=3)
    await driver.wait_for(lambda: proposal.edits == 1, what="the stale message update")

    assert reply.text.startswith("<@U_BOB>: this proposal is already rejected; nothing was done.")
    assert "This proposal is rejected." in driver.render(proposal)
    assert "[Approve]" not in driver.render(proposal)
    assert bot.remediation.executed == []


async def test_an_expired_proposal_cannot_be_approved(bot: Bot) -> None:
    driver = bot.slack.driver
    ts, proposal = await proposal_in_thread(bot)
    await bot.store.expire_proposals(utcnow() + timedelta(hours=1))

    await driver.click("bob", CHANNEL, proposal.ts, APPROVE_ACTION)
    [*_, reply] = await bot.answered(CHANNEL, ts, count=3)

    assert "already expired" in reply.text
    assert bot.remediation.executed == []


async def test_a_button_for_an_unknown_proposal_gets_a_clear_reply(bot: Bot) -> None:
    driver = bot.slack.driver
    ghost = StoredProposal(
        id="0" * 32,
        expires_at=utcnow() + timedelta(minutes=5),
        requested_by="U_ALICE",
        channel=CHANNEL,
        digest="f" * 64,
        payload=RESTART.model_dump(mode="json"),
    )
    text, blocks = proposal_message(ghost)
    posted = await AsyncWebClient(token=bot.slack.bot_token, base_url=bot.slack.base_url).chat_postMessage(
        channel=CHANNEL, text=text, blocks=blocks
    )
    message = bot.slack.workspace.find_message(posted["channel"], posted["ts"])
    assert message is not None

    await driver.click("bob", CHANNEL, message.ts, APPROVE_ACTION)
    [reply] = await bot.answered(CHANNEL, message.ts)
    await driver.wait_for(lambda: message.edits == 1, what="the buttons to go")

    assert reply.text == "<@U_BOB>: I no longer know this proposal; nothing was done."
    assert "[Approve]" not in driver.render(message)
    assert "restart_deployment" in driver.render(message)


async def test_an_unknown_button_is_answered_privately(bot: Bot) -> None:
    blocks = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "legacy_rollback", "text": {"type": "plain_text", "text": "Go"}}
            ],
        }
    ]
    client = AsyncWebClient(token=bot.slack.bot_token, base_url=bot.slack.base_url)
    posted = await client.chat_postMessage(channel=CHANNEL, text="old", blocks=blocks)

    envelope_id = await bot.slack.driver.click("carol", CHANNEL, posted["ts"], "legacy_rollback")
    [notice] = await bot.slack.driver.wait_for(lambda: bot.slack.driver.ephemerals("carol"), what="the notice")

    await bot.slack.driver.wait_for_ack(envelope_id)
    assert notice.text == "That button is not one I handle (any more), so nothing was done."


async def test_fixes_policy_refuses_are_not_offered_and_the_thread_says_why(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    outside = Proposal(action="delete_namespace", target=Target(kind="Namespace", name="shop"))
    asker = ScriptedAsker(answer=lambda q: outage_answer(q.text, proposals=[RESTART, outside]))
    async with launch(slack, store, redactor, asker) as bot:
        ts = await slack.driver.mention("alice", CHANNEL, "why is payment-service failing?")
        [_, offered, refused] = await bot.answered(CHANNEL, ts, count=3)

    assert "[Approve] [Reject]" in bot.render(offered) and "restart_deployment" in bot.render(offered)
    assert refused.text.startswith("Not offered:\n• delete_namespace on Namespace shop: ")
    assert "[Approve]" not in bot.render(refused)
    assert [p.payload["action"] for p in await bot.remediation.pending()] == ["restart_deployment"]

"""Everything posted passes the redactor: messages, edits, proposals, ephemerals, snippets, Home."""

from __future__ import annotations

from agents.answer import Answer, FactGroup
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import Store
from tests.bot.slack.conftest import CHANNEL, launch
from tests.bot.slack.doubles import RESTART, ScriptedAsker, outage_answer
from tools.findings import Finding, Severity

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0100"
LEAKY_TOKEN = "xoxb-1234567890123-1234567890123-abcdefghijABCDEFGHIJ1234"


def leaky_answer(question: str) -> Answer:
    return outage_answer(
        question,
        text=f"The on-call is {EMAIL} ({PHONE}); the app used {LEAKY_TOKEN} to post.",
        facts=[FactGroup(source="pagerduty", lines=[f"on call: {EMAIL} ({PHONE}); posted with {LEAKY_TOKEN}"])],
        findings=[
            Finding(
                source="database",
                severity=Severity.WARNING,
                summary=f"failed logins for {EMAIL}",
                evidence="\n".join(f"row {n}: {EMAIL} {PHONE}" for n in range(200)),
            )
        ],
        proposals=[RESTART.model_copy(update={"reason": f"{EMAIL} asked for it"})],
    )


async def test_answers_are_posted_redacted_everywhere(slack: SlackStandIn, store: Store, redactor: Redactor) -> None:
    async with launch(slack, store, redactor, ScriptedAsker(answer=lambda q: leaky_answer(q.text))) as bot:
        await slack.driver.slash("alice", CHANNEL, "who is on call?")
        [root] = await slack.driver.wait_for(lambda: slack.driver.channel_messages(CHANNEL), what="the root message")
        replies = await bot.answered(CHANNEL, root.ts, count=3)
        await slack.driver.slash("bob", CHANNEL, "who is on call? --private")
        await slack.driver.wait_for(lambda: len(slack.driver.ephemerals("bob")) >= 2, what="the private answer")

    posted = [bot.render(message) for message in replies] + [bot.render(m) for m in slack.driver.ephemerals("bob")]
    posted += [version.text + str(version.blocks) for message in replies for version in message.versions]
    files = [file for message in replies for file in message.files]
    posted += [file.content.decode() for file in files]
    everything = "\n".join(posted) + str(slack.calls)
    for secret in (EMAIL, PHONE, LEAKY_TOKEN, "415 555"):
        assert secret not in everything
    assert "<EMAIL_ADDRESS>" in bot.render(replies[0])
    assert "<SLACK_TOKEN>" in bot.render(replies[0])
    assert [file.name for file in files] == ["evidence.txt"], "the cut evidence went to a snippet"
    assert "row 199: <EMAIL_ADDRESS> <PHONE_NUMBER>" in files[0].content.decode()

"""`whisperer run`'s Slack connection: wrong or missing tokens fail fast in one line; serve until stopped."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.app import build_app
from bot.slack.deps import SlackDeps
from bot.slack.socket import SlackConnectError, check_tokens, connect, serve
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import Store
from tests.bot.slack.conftest import BINDINGS, CHANNEL
from tests.bot.slack.doubles import ScriptedAsker, StoreRemediation


def wiring(slack: SlackStandIn, store: Store, redactor: Redactor, bot_token: str) -> SlackDeps:
    return SlackDeps(
        asker=ScriptedAsker(),
        remediation=StoreRemediation(store),
        store=store,
        redactor=redactor,
        bot_token=bot_token,
        base_url=slack.base_url,
        channels=BINDINGS,
    )


@pytest.mark.parametrize(
    ("bot_token", "app_token", "message"),
    [
        (None, None, "SLACK_BOT_TOKEN and SLACK_APP_TOKEN must be set"),
        ("xoxb-1", "", "SLACK_APP_TOKEN must be set"),
        ("xoxp-123-user-token", "xapp-1", "SLACK_BOT_TOKEN must be a bot token"),
        ("xoxb-1", "xoxb-2", "SLACK_APP_TOKEN must be an app-level token"),
    ],
)
def test_missing_or_wrong_kinds_of_token_are_named(bot_token: str | None, app_token: str | None, message: str) -> None:
    with pytest.raises(SlackConnectError, match=message) as refused:
        check_tokens(bot_token, app_token)
    assert "xoxp-123" not in str(refused.value)


async def test_rejected_tokens_fail_fast_in_one_line(slack: SlackStandIn, store: Store, redactor: Redactor) -> None:
    forged_bot = "xoxb-0-0-forgedtokenforgedtoken"
    with pytest.raises(SlackConnectError) as bad_bot:
        await asyncio.wait_for(connect(build_app(wiring(slack, store, redactor, forged_bot)), slack.app_token), 5)
    with pytest.raises(SlackConnectError) as bad_app:
        app = build_app(wiring(slack, store, redactor, slack.bot_token))
        await asyncio.wait_for(connect(app, "xapp-1-A0-0-forged"), 5)

    assert str(bad_bot.value) == "Slack rejected SLACK_BOT_TOKEN: invalid_auth"
    assert str(bad_app.value) == "Slack rejected SLACK_APP_TOKEN: invalid_auth"
    assert slack.socket_mode.connection_ids == []


async def test_serve_answers_until_stopped(slack: SlackStandIn, store: Store, redactor: Redactor) -> None:
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(wiring(slack, store, redactor, slack.bot_token), slack.app_token, stop))
    await slack.driver.wait_for(lambda: slack.socket_mode.connection_ids, what="the connection")
    ts = await slack.driver.mention("alice", CHANNEL, "are you up?")
    await slack.driver.wait_for_reply(CHANNEL, ts)

    stop.set()
    await asyncio.wait_for(serving, 5)
    await slack.driver.wait_for(lambda: not slack.socket_mode.connection_ids, what="the connection to close")

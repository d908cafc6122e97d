"""The Slack stand-in, driven by the real slack_bolt AsyncApp over the real aiohttp Socket Mode handler.

Each test defines a tiny Bolt app with a few listeners; if Bolt or slack_sdk could not run
unchanged against the stand-in, or if the stand-in broke Slack's rules (acks, retries,
threads, rate limits, Block Kit limits), these tests would see it the way a user would.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox.slack import SlackStandIn, SlackStandInError, WaitTimeoutError, render_blocks

CHANNEL = "#incident-payments"
PROPOSAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Proposed fix"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Roll back *payments-api* to v41"},
        "fields": [{"type": "mrkdwn", "text": "*Risk:* low"}, {"type": "mrkdwn", "text": "*Owner:* @sre"}],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "proposal p-1"}]},
    {
        "type": "actions",
        "block_id": "proposal-p-1",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "p-1",
            },
            {
                "type": "button",
                "action_id": "reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": "p-1",
            },
        ],
    },
]


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as stand_in:
        yield stand_in


def bot_client(slack: SlackStandIn, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=kwargs.pop("token", slack.bot_token), base_url=slack.base_url, **kwargs)


def new_app(slack: SlackStandIn) -> AsyncApp:
    return AsyncApp(client=bot_client(slack))


@asynccontextmanager
async def connected(app: AsyncApp, slack: SlackStandIn) -> AsyncIterator[AsyncSocketModeHandler]:
    """The app's real Socket Mode handler, connected to the stand-in for the duration."""
    handler = AsyncSocketModeHandler(app, slack.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def test_app_mention_gets_a_reply_in_its_thread(slack: SlackStandIn) -> None:
    app = new_app(slack)

    @app.event("app_mention")
    async def answer(event: dict[str, Any], say: Any) -> None:
        await say(text=f"Looking into: {event['text'].split('> ', 1)[1]}", thread_ts=event["ts"])

    async with connected(app, slack):
        ts = await slack.driver.mention("alice", CHANNEL, "why is checkout slow?")
        replies = await slack.driver.wait_for_reply(CHANNEL, ts)

    thread = slack.driver.thread(CHANNEL, ts)
    assert [message.ts for message in thread] == [ts, replies[0].ts]
    assert replies[0].thread_ts == ts
    assert replies[0].text == "Looking into: why is checkout slow?"
    assert replies[0].bot_id == slack.workspace.bot_id
    assert thread[0].text.startswith(f"<@{slack.workspace.bot_user_id}> ")
    assert all(envelope.acked for envelope in slack.socket_mode.envelopes.values())
    assert slack.driver.transcript(CHANNEL, ts) == (
        "alice: @whisperer why is checkout slow?\n\nwhisperer: Looking into: why is checkout slow?"
    )


async def test_hello_reports_the_open_connections(slack: SlackStandIn) -> None:
    url = (await AsyncWebClient(base_url=slack.base_url).apps_connections_open(app_token=slack.app_token))["url"]
    assert url.startswith("ws://127.0.0.1:")
    second_url = (await AsyncWebClient(base_url=slack.base_url).apps_connections_open(app_token=slack.app_token))["url"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as first:
        hello = await first.receive_json(timeout=2)
        async with session.ws_connect(second_url) as second:
            second_hello = await second.receive_json(timeout=2)
    assert hello["type"] == "hello"
    assert (hello["num_connections"], second_hello["num_connections"]) == (1, 2)
    assert hello["connection_info"]["app_id"] == slack.workspace.app_id


async def test_ping_pong_and_single_use_tickets() -> None:
    async with SlackStandIn(ping_interval=0.2) as slack:
        client = AsyncWebClient(base_url=slack.base_url)
        url = (await client.apps_connections_open(app_token=slack.app_token))["url"]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, autoping=False) as ws:
                assert (await ws.receive_json(timeout=2))["type"] == "hello"
                await ws.ping(b"sdk-ping-pong:1")
                pong = await ws.receive(timeout=2)
                server_ping = await ws.receive(timeout=2)
            assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"sdk-ping-pong:1")
            assert server_ping.type == aiohttp.WSMsgType.PING
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url)
            assert refused.value.status == 401


async def test_message_events_reach_apps_that_subscribe() -> None:
    async with SlackStandIn(event_subscriptions=("app_mention", "message")) as slack:
        app = new_app(slack)
        seen: list[tuple[str, str]] = []

        @app.event("app_mention")
        async def mention(event: dict[str, Any]) -> None:
            seen.append(("app_mention", event["text"]))

        @app.event("message")
        async def message(event: dict[str, Any]) -> None:
            seen.append(("message", event["text"]))

        async with connected(app, slack):
            ts = await slack.driver.mention("alice", CHANNEL, "status?")
            await slack.driver.post("bob", CHANNEL, "any news?", thread_ts=ts)
            await slack.driver.wait_for(lambda: len(seen) == 3, what="three events")

    bot = slack.workspace.bot_user_id
    assert sorted(seen) == [
        ("app_mention", f"<@{bot}> status?"),
        ("message", f"<@{bot}> status?"),
        ("message", "any news?"),
    ]
    assert [message.user for message in slack.driver.thread(CHANNEL, ts)] == ["U_ALICE", "U_BOB"]


async def test_slash_command_ack_respond_and_say(slack: SlackStandIn) -> None:
    app = new_app(slack)

    @app.command("/whisper")
    async def whisper(ack: Any, command: dict[str, Any], respond: Any, say: Any) -> None:
        await ack(f"Checking {command['text']}…")
        await respond(text="Everything is green", response_type="in_channel")
        await say(text=f"<@{command['user_id']}> asked for {command['text']}")

    async with connected(app, slack):
        envelope_id = await slack.driver.slash("bob", CHANNEL, "status payments")
        await slack.driver.wait_for_ack(envelope_id)
        await slack.driver.wait_for(lambda: len(slack.driver.channel_messages(CHANNEL)) == 2, what="two posts")

    assert [eph.text for eph in slack.driver.ephemerals("bob", CHANNEL)] == ["Checking status payments…"]
    assert slack.driver.ephemerals("alice") == []
    texts = sorted(message.text for message in slack.driver.channel_messages(CHANNEL))
    assert texts == ["<@U_BOB> asked for status payments", "Everything is green"]


async def test_slash_command_that_is_never_acked_shows_the_user_an_error_and_is_not_retried() -> None:
    async with SlackStandIn(ack_timeout=0.2) as slack:
        app = new_app(slack)  # no /whisper listener: Bolt does not ack it
        async with connected(app, slack):
            envelope_id = await slack.driver.slash("carol", CHANNEL, "help")
            await slack.driver.wait_for(lambda: slack.driver.ephemerals("carol"), what="the error")
            await asyncio.sleep(0.4)  # longer than the ack timeout: a redelivery would have happened

    assert [eph.text for eph in slack.driver.ephemerals("carol")] == [
        '/whisper failed with the error "operation_timeout"'
    ]
    assert slack.driver.envelope(envelope_id).status == "timed_out"
    assert len(slack.socket_mode.envelopes) == 1


async def test_button_click_acks_and_updates_the_message(slack: SlackStandIn) -> None:
    app = new_app(slack)

    @app.event("app_mention")
    async def propose(event: dict[str, Any], say: Any) -> None:
        await say(text="Proposed fix: roll back", blocks=PROPOSAL_BLOCKS, thread_ts=event["ts"])

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        blocks = [
            *PROPOSAL_BLOCKS[:3],
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Approved by <@{body['user']['id']}>"}]},
        ]
        await client.chat_update(
            channel=body["channel"]["id"], ts=body["message"]["ts"], text="Approved", blocks=blocks
        )
        await respond(text=f"Running {body['actions'][0]['value']}")

    @app.action("reject")
    async def reject(ack: Any, respond: Any) -> None:
        await ack()
        await respond(text="Rejected", replace_original=True)

    async with connected(app, slack):
        ts = await slack.driver.mention("alice", CHANNEL, "fix it")
        [proposal] = await slack.driver.wait_for_reply(CHANNEL, ts)
        assert slack.driver.render(proposal).endswith("[Approve] [Reject]")
        with pytest.raises(SlackStandInError, match=r"no button 'deploy'.*approve, reject"):
            await slack.driver.click("bob", CHANNEL, proposal.ts, "deploy")
        envelope_id = await slack.driver.click("bob", CHANNEL, proposal.ts, "approve")
        await slack.driver.wait_for_ack(envelope_id)
        await slack.driver.wait_for(lambda: slack.driver.ephemerals("bob"), what="the ephemeral confirmation")

        second = await slack.driver.mention("alice", CHANNEL, "another fix")
        [other] = await slack.driver.wait_for_reply(CHANNEL, second)
        rejection = await slack.driver.click("carol", CHANNEL, other.ts, "reject", value="p-1")
        await slack.driver.wait_for_ack(rejection)
        await slack.driver.wait_for(lambda: other.edits == 1, what="the rejection")

    assert [version.text for version in proposal.versions] == ["Proposed fix: roll back", "Approved"]
    assert proposal.versions[1].edited_ts is not None
    assert "Approved by @bob" in slack.driver.render(proposal)
    assert "[Approve]" not in slack.driver.render(proposal)
    assert [eph.text for eph in slack.driver.ephemerals("bob")] == ["Running p-1"]
    assert (other.text, other.blocks, other.thread_ts) == ("Rejected", [], second)


async def test_response_url_follows_slacks_rules(slack: SlackStandIn) -> None:
    proposal = await bot_client(slack).chat_postMessage(channel=CHANNEL, text="Proposed fix", blocks=PROPOSAL_BLOCKS)
    envelope_id = await slack.driver.click("alice", CHANNEL, proposal["ts"], "approve")
    response_url = slack.driver.envelope(envelope_id).payload["response_url"]
    hook = AsyncWebhookClient(response_url)

    assert (await hook.send(text="Only you see this")).body == "ok"
    in_channel = {"text": "Everyone sees this", "response_type": "in_channel", "thread_ts": proposal["ts"]}
    assert (await hook.send_dict(in_channel)).status_code == 200
    assert (await hook.send(text="Approved", replace_original=True)).status_code == 200
    rejected = await hook.send(blocks=[])
    assert (rejected.status_code, rejected.body) == (400, "no_text")
    assert (await hook.send(delete_original=True)).status_code == 200
    used_up = await hook.send(text="a sixth response")
    assert (used_up.status_code, used_up.body) == (404, "used_url")

    assert [eph.text for eph in slack.driver.ephemerals("alice")] == ["Only you see this"]
    [reply] = [message for message in slack.driver.thread(CHANNEL, proposal["ts"]) if message.is_reply]
    assert reply.text == "Everyone sees this"
    original = slack.workspace.find_message(slack.workspace.channel(CHANNEL).id, proposal["ts"])
    assert original is None
    assert slack.driver.channel_messages(CHANNEL) == []


async def test_unacked_event_is_redelivered_with_retry_attempt() -> None:
    async with SlackStandIn(ack_timeout=0.2) as slack:
        app = new_app(slack)
        retries_seen: list[tuple[str, str]] = []

        @app.middleware
        async def drop_first_delivery(request: Any, next: Any) -> BoltResponse | None:
            attempt = request.headers.get("x-slack-retry-num", ["?"])[0]
            if attempt == "0":
                return BoltResponse(status=500, body="")  # no ack: as if the replica crashed
            retries_seen.append((attempt, request.headers.get("x-slack-retry-reason", ["?"])[0]))
            await next()
            return None

        @app.event("app_mention")
        async def answer(event: dict[str, Any], say: Any) -> None:
            await say(text="got it", thread_ts=event["ts"])

        async with connected(app, slack):
            ts = await slack.driver.mention("alice", CHANNEL, "are you there?")
            await slack.driver.wait_for_reply(CHANNEL, ts, timeout=3)

    assert retries_seen == [("1", "timeout")]
    first, retry = slack.socket_mode.envelopes.values()
    assert (first.status, first.redelivered_as) == ("timed_out", retry.envelope_id)
    assert (retry.retry_attempt, retry.status) == (1, "acked")
    assert retry.payload["event_id"] == first.payload["event_id"]


async def test_slack_gives_up_after_three_retries() -> None:
    async with SlackStandIn(ack_timeout=0.1) as slack:
        app = new_app(slack)  # no app_mention listener: Bolt never acks
        async with connected(app, slack):
            await slack.driver.mention("alice", CHANNEL, "hello?")
            envelopes = slack.socket_mode.envelopes
            await slack.driver.wait_for(lambda: [e.status for e in envelopes.values()].count("timed_out") == 4)
            await asyncio.sleep(0.3)

    assert [envelope.retry_attempt for envelope in envelopes.values()] == [0, 1, 2, 3]


async def test_disconnect_mid_burst_loses_nothing(slack: SlackStandIn) -> None:
    app = new_app(slack)
    processed: set[str] = set()
    deliveries: Counter[str] = Counter()

    @app.middleware
    async def busy_replica(next: Any) -> None:
        await asyncio.sleep(0.05)  # acks go out late, so the disconnect catches envelopes in flight
        await next()

    @app.event("app_mention")
    async def answer(body: dict[str, Any], event: dict[str, Any], say: Any) -> None:
        deliveries[body["event_id"]] += 1
        if body["event_id"] in processed:
            return
        processed.add(body["event_id"])
        await say(text="on it", thread_ts=event["ts"])

    async with connected(app, slack):
        mentions = []
        for number in range(20):
            mentions.append(await slack.driver.mention("alice", CHANNEL, f"question {number}"))
            if number == 9:
                await slack.disconnect()
        envelopes = slack.socket_mode.envelopes
        await slack.driver.wait_for(lambda: len(processed) == 20, timeout=10, what="all 20 events")
        await slack.driver.wait_for(lambda: all(e.acked for e in envelopes.values() if e.status != "connection_closed"))

    assert all(len(slack.driver.thread(CHANNEL, ts)) == 2 for ts in mentions)
    assert len([call for call in slack.calls if call.method == "apps.connections.open"]) == 2
    cut_off = [envelope for envelope in envelopes.values() if envelope.status == "connection_closed"]
    assert cut_off, "the disconnect should have caught unacked envelopes"
    for envelope in cut_off:
        retry = envelopes[envelope.redelivered_as or ""]
        assert (retry.retry_attempt, retry.connection_id, retry.acked) == (1, "conn-2", True)
    assert set(deliveries) == processed
    assert max(deliveries.values()) == 2  # the app saw redeliveries, and its dedup kept the replies single


async def test_envelopes_are_spread_across_connections(slack: SlackStandIn) -> None:
    received: Counter[str] = Counter()

    def replica(name: str) -> AsyncApp:
        app = new_app(slack)

        @app.event("app_mention")
        async def count() -> None:
            received[name] += 1

        return app

    async with connected(replica("replica-a"), slack), connected(replica("replica-b"), slack):
        await slack.driver.wait_for(lambda: len(slack.socket_mode.connection_ids) == 2, what="two connections")
        for number in range(10):
            await slack.driver.mention("bob", CHANNEL, f"ping {number}")
        await slack.driver.wait_for(lambda: sum(received.values()) == 10, what="ten mentions")

    assert received == {"replica-a": 5, "replica-b": 5}


async def test_rate_limit_is_honoured_by_the_sdk_retry_handler(slack: SlackStandIn) -> None:
    patient = bot_client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    slack.fail_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    response = await patient.chat_postMessage(channel=CHANNEL, text="after the limit")
    assert time.monotonic() - started >= 1.0
    assert response["ok"]
    assert [(call.method, call.status) for call in slack.calls] == [
        ("chat.postMessage", 429),
        ("chat.postMessage", 200),
    ]

    slack.fail_next("users.info")
    with pytest.raises(SlackApiError) as limited:
        await bot_client(slack).users_info(user="U_ALICE")
    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "cannot exceed 3000 characters"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "cannot exceed 150 characters"),
        (
            [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x" * 76}}]}],
            "cannot exceed 75 characters",
        ),
        ([{"type": "divider"}] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
        ([{"type": "section", "text": "not an object"}], "expected an object of type text"),
        ([{"type": "hologram"}], "unsupported type: hologram"),
    ],
)
async def test_invalid_blocks_are_rejected_like_slack(
    slack: SlackStandIn, blocks: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(SlackApiError) as rejected:
        await bot_client(slack).chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)
    assert rejected.value.response["error"] == "invalid_blocks"
    assert any(message in line for line in rejected.value.response["response_metadata"]["messages"])
    assert slack.driver.channel_messages(CHANNEL) == []


async def test_message_limits_and_channel_errors(slack: SlackStandIn) -> None:
    client = bot_client(slack)
    slack.workspace.add_channel("secret-war-room", bot_member=False)
    cases = [
        ({"channel": CHANNEL, "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": CHANNEL}, "no_text"),
        ({"channel": "#nowhere", "text": "hi"}, "channel_not_found"),
        ({"channel": "#secret-war-room", "text": "hi"}, "not_in_channel"),
    ]
    for arguments, error in cases:
        with pytest.raises(SlackApiError) as failed:
            await client.api_call("chat.postMessage", json=arguments)
        assert failed.value.response["error"] == error
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_update(channel=slack.workspace.channel(CHANNEL).id, ts="1.000001", text="edit")


async def test_tokens_are_checked_like_slack(slack: SlackStandIn) -> None:
    for token, error in [
        (None, "not_authed"),
        ("xoxb-0-0-wrong", "invalid_auth"),
        (slack.app_token, "not_allowed_token_type"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            await bot_client(slack, token=token).chat_postMessage(channel=CHANNEL, text="hi")
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await bot_client(slack).apps_connections_open(app_token=slack.bot_token)
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await bot_client(slack).apps_connections_open(app_token="xapp-1-A0-0-forged")
    assert slack.bot_token.startswith("xoxb-") and slack.app_token.startswith("xapp-")

    identity = await bot_client(slack).auth_test()
    assert (identity["user_id"], identity["bot_id"]) == ("U_WHISPERER", slack.workspace.bot_id)
    assert "chat:write" in identity.headers["x-oauth-scopes"].split(",")


async def test_missing_scope_is_reported() -> None:
    async with SlackStandIn(bot_scopes=("chat:write",)) as slack:
        with pytest.raises(SlackApiError) as refused:
            await bot_client(slack).users_info(user="U_ALICE")
    assert refused.value.response["error"] == "missing_scope"
    assert refused.value.response["needed"] == "users:read"


async def test_files_upload_v2_appears_in_the_thread(slack: SlackStandIn) -> None:
    client = bot_client(slack)
    parent = await client.chat_postMessage(channel=CHANNEL, text="Latency report")
    png = b"\x89PNG\r\n\x1a\n" + bytes(500)
    upload = await client.files_upload_v2(
        channel=parent["channel"], thread_ts=parent["ts"], content=png, filename="p99.png", title="p99 latency"
    )

    [_, share] = slack.driver.thread(CHANNEL, parent["ts"])
    [file] = share.files
    assert (file.name, file.title, file.size, file.mimetype) == ("p99.png", "p99 latency", len(png), "image/png")
    assert file.content == png
    assert upload["file"]["id"] == file.id
    assert "[file: p99 latency (508 bytes, image/png)]" in slack.driver.render(share)


async def test_views_publish_stores_the_home_tab_per_user(slack: SlackStandIn) -> None:
    app = new_app(slack)
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "No open incidents"}}]}

    @app.event("app_home_opened")
    async def publish(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view=home)

    async with connected(app, slack):
        await slack.driver.open_home("carol")
        published = await slack.driver.wait_for(lambda: slack.driver.home_view("carol"), what="carol's home tab")

    assert published.view == home
    assert slack.driver.home_view("alice") is None
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await bot_client(slack).views_publish(user_id="U_CAROL", view={"type": "modal", "blocks": []})


async def test_workspace_reads_and_reactions(slack: SlackStandIn) -> None:
    client = bot_client(slack)
    channel_id = slack.workspace.channel(CHANNEL).id

    info = await client.conversations_info(channel=channel_id)
    assert (info["channel"]["name"], info["channel"]["is_member"]) == ("incident-payments", True)
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.conversations_info(channel=CHANNEL)
    user = await client.users_info(user="U_CAROL")
    assert (user["user"]["name"], user["user"]["profile"]["email"]) == ("carol", "carol@example.com")
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user="U_NOBODY")
    oncall = slack.workspace.find_usergroup("sre-oncall")
    assert oncall is not None
    assert (await client.usergroups_users_list(usergroup=oncall.id))["users"] == ["U_ALICE", "U_BOB"]

    ts = await slack.driver.mention("dave", CHANNEL, "hi")
    await client.reactions_add(channel=channel_id, timestamp=ts, name="eyes")
    with pytest.raises(SlackApiError, match="already_reacted"):
        await client.reactions_add(channel=channel_id, timestamp=ts, name="eyes")
    reply = await client.chat_postMessage(channel=channel_id, text="reply", thread_ts=ts)
    replies = await client.conversations_replies(channel=channel_id, ts=ts)
    assert [message["ts"] for message in replies["messages"]] == [ts, reply["ts"]]
    assert replies["messages"][0]["reactions"] == [{"name": "eyes", "users": ["U_WHISPERER"], "count": 1}]
    assert replies["messages"][0]["reply_count"] == 1
    link = await client.chat_getPermalink(channel=channel_id, message_ts=reply["ts"])
    assert link["permalink"].endswith(f"p{reply['ts'].replace('.', '')}?thread_ts={ts}&cid={channel_id}")
    assert slack.workspace.user("dave").id == "U_DAVE"


async def test_ephemeral_messages_and_timestamps(slack: SlackStandIn) -> None:
    client = bot_client(slack)
    sent = await client.chat_postEphemeral(channel=CHANNEL, user="U_ALICE", text="only for you")
    first = await client.chat_postMessage(channel=CHANNEL, text="one")
    second = await client.chat_postMessage(channel=CHANNEL, text="two")

    assert [eph.ts for eph in slack.driver.ephemerals("alice")] == [sent["message_ts"]]
    assert slack.driver.ephemerals("bob") == []
    assert float(first["ts"]) < float(second["ts"])
    assert len(second["ts"].split(".")[1]) == 6
    assert [message.text for message in slack.driver.channel_messages(CHANNEL)] == ["one", "two"]


async def test_waits_time_out_with_a_clear_message(slack: SlackStandIn) -> None:
    ts = await slack.driver.mention("alice", CHANNEL, "nobody is listening")
    with pytest.raises(WaitTimeoutError, match=r"timed out after 0.1s waiting for 1 bot reply"):
        await slack.driver.wait_for_reply(CHANNEL, ts, timeout=0.1)


def test_render_blocks_flattens_block_kit() -> None:
    assert render_blocks(PROPOSAL_BLOCKS) == (
        "# Proposed fix\nRoll back *payments-api* to v41\n*Risk:* low\n*Owner:* @sre\nproposal p-1\n[Approve] [Reject]"
    )

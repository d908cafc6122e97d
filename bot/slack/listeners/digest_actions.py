"""Snooze / Acknowledge / Investigate on a digest item: acked at once, audited, the digest redrawn.

The digest message is updated in place: the item's buttons give way to who snoozed or
acknowledged it, so the channel sees the decision where the finding is. Investigate keeps the
buttons and answers the finding's question in the digest's thread, through the same agents and
the same answering path as a mention.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from agents.question import Question
from bot.slack.answering import Place, answer_in_thread, placeholder
from bot.slack.deps import SlackDeps
from bot.slack.errors import ReplyTo, tell
from bot.slack.listeners.actions import UNKNOWN_BUTTON
from bot.slack.redacting_client import RedactingWebClient, door
from bot.slack.render.blocks import Json, escape
from bot.slack.render.digest import (
    ACK_ACTION,
    INVESTIGATE_ACTION,
    SNOOZE_DAY_ACTION,
    SNOOZE_WEEK_ACTION,
    ItemRef,
    with_status,
)
from scheduled_checks.triage import acknowledge, investigate, snooze

SNOOZES = {SNOOZE_DAY_ACTION: timedelta(days=1), SNOOZE_WEEK_ACTION: timedelta(weeks=1)}
GONE = "This finding is no longer tracked, so nothing was changed."


class DigestClick(BaseModel):
    """One click on a digest item's button, read from a block_actions payload."""

    ref: ItemRef
    user: str
    place: Place
    message_ts: str
    message_text: str
    message_blocks: list[Json]
    actions_block_id: str


def read_digest_click(body: dict[str, Any]) -> DigestClick | None:
    """The click, or None when its button carries no item (not one this version posted)."""
    action = body["actions"][0]
    ref = ItemRef.parse(str(action.get("value") or ""))
    if ref is None:
        return None
    channel, container = body["channel"], body["container"]
    message = body.get("message") or {}
    message_ts = str(container["message_ts"])
    return DigestClick(
        ref=ref,
        user=str(body["user"]["id"]),
        place=Place(
            channel_id=str(channel["id"]),
            channel_name=f"#{channel.get('name') or channel['id']}",
            thread_ts=message_ts,  # a digest is a channel message: its thread is its own
        ),
        message_ts=message_ts,
        message_text=str(message.get("text") or "Digest"),
        message_blocks=list(message.get("blocks") or []),
        actions_block_id=str(action.get("block_id") or ""),
    )


async def _read(client: RedactingWebClient, body: dict[str, Any]) -> DigestClick | None:
    """The click; a button without an item (an older bot's) is answered privately and ignored."""
    click = read_digest_click(body)
    if click is None:
        where = ReplyTo(channel=str(body["channel"]["id"]), ephemeral_user=str(body["user"]["id"]))
        await tell(client, where, UNKNOWN_BUTTON)
    return click


async def _redraw(client: RedactingWebClient, click: DigestClick, status: str, keep_buttons: bool) -> None:
    blocks = with_status(click.message_blocks, click.actions_block_id, status, keep_buttons)
    await client.chat_update(
        channel=click.place.channel_id, ts=click.message_ts, text=click.message_text, blocks=blocks
    )


async def on_snooze(deps: SlackDeps, client: RedactingWebClient, ack: AsyncAck, body: dict[str, Any]) -> None:
    await ack()
    click = await _read(client, body)
    if click is None:
        return
    duration = SNOOZES[str(body["actions"][0]["action_id"])]
    record = await snooze(deps.store, click.ref.check, click.ref.key, click.user, duration)
    if record is None or record.snoozed_until is None:
        await _redraw(client, click, GONE, keep_buttons=False)
        return
    await _redraw(
        client, click, f"😴 Snoozed by <@{click.user}> until {record.snoozed_until:%Y-%m-%d %H:%M} UTC", False
    )


async def on_acknowledge(deps: SlackDeps, client: RedactingWebClient, ack: AsyncAck, body: dict[str, Any]) -> None:
    await ack()
    click = await _read(client, body)
    if click is None:
        return
    record = await acknowledge(deps.store, click.ref.check, click.ref.key, click.user)
    status = GONE if record is None else f"👍 Acknowledged by <@{click.user}>: no reminders until it changes"
    await _redraw(client, click, status, keep_buttons=False)


async def on_investigate(deps: SlackDeps, client: RedactingWebClient, ack: AsyncAck, body: dict[str, Any]) -> None:
    await ack()
    click = await _read(client, body)
    if click is None:
        return
    record = await investigate(deps.store, click.ref.check, click.ref.key, click.user)
    if record is None:
        await _redraw(client, click, GONE, keep_buttons=False)
        return
    text = str(record.detail.get("question") or record.summary)
    await _redraw(client, click, f"🔎 <@{click.user}> asked me to investigate; see the thread", keep_buttons=True)
    place = click.place
    await client.chat_postMessage(
        channel=place.channel_id, thread_ts=place.thread_ts, text=f"<@{click.user}> asked: {escape(text)}"
    )
    live = await placeholder(deps, client, place.channel_id, place.thread_ts, text)
    question = Question(
        text=text, user=click.user, channel=place.channel_name, thread_ts=place.thread_ts, via="mention"
    )
    await answer_in_thread(deps, client, live, question, place)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """The digest buttons; registered before the catch-all for unknown actions."""
    client = door(app)

    async def snoozed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_snooze(deps, client, ack, body)

    async def acknowledged(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_acknowledge(deps, client, ack, body)

    async def investigated(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_investigate(deps, client, ack, body)

    for action in SNOOZES:
        app.action(action)(snoozed)
    app.action(ACK_ACTION)(acknowledged)
    app.action(INVESTIGATE_ACTION)(investigated)

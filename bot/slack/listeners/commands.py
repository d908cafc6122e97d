"""`/whisper <question>`: acked at once, answered in a thread, or privately when asked or unbound."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from agents.question import Question
from bot.slack.answering import (
    Place,
    answer_in_thread,
    answer_privately,
    placeholder,
    prepare_question,
)
from bot.slack.channels import is_bound
from bot.slack.deps import SlackDeps
from bot.slack.private_reply import PrivateReply
from bot.slack.redacting_client import RedactingWebClient, door
from bot.slack.render.blocks import clip
from bot.slack.render.help import usage_message

COMMAND = "/whisper"
PRIVATE_FLAG = "--private"
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
UNBOUND_NOTE = "This channel is not bound to me, so only you see the answer."
ECHO_LIMIT = 2900


def parse_command_text(text: str) -> tuple[str, bool]:
    """(question, private): `--private` may stand anywhere in the text."""
    words = text.split()
    private = any(word.lower() == PRIVATE_FLAG for word in words)
    question = " ".join(word for word in words if word.lower() != PRIVATE_FLAG) if private else text.strip()
    return question, private


async def whisper(deps: SlackDeps, client: RedactingWebClient, ack: AsyncAck, command: dict[str, Any]) -> None:
    await ack()
    raw, private = parse_command_text(str(command.get("text") or ""))
    channel_id, user = str(command["channel_id"]), str(command["user_id"])
    reply = PrivateReply(client, channel_id, user, command.get("response_url"))
    if not raw or raw.lower() in HELP_WORDS:
        await reply.send(*usage_message())
        return
    channel_name = f"#{command.get('channel_name') or channel_id}"
    text, notes = prepare_question(raw, deps.max_question_chars)
    if private or not is_bound(deps.channels, channel_id, channel_name):
        notes = notes if private else [*notes, UNBOUND_NOTE]
        question = Question(text=text, user=user, channel=channel_name, via="slash")
        await answer_privately(deps, reply, question, notes)
        return
    root = await client.chat_postMessage(channel=channel_id, text=f"<@{user}> asked: {clip(raw, ECHO_LIMIT)}")
    place = Place(channel_id=str(root["channel"]), channel_name=channel_name, thread_ts=str(root["ts"]))
    live = await placeholder(deps, client, place.channel_id, place.thread_ts, text)
    question = Question(text=text, user=user, channel=channel_name, thread_ts=place.thread_ts, via="slash")
    await answer_in_thread(deps, client, live, question, place, notes)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    client = door(app)

    async def on_whisper(ack: AsyncAck, command: dict[str, Any]) -> None:
        await whisper(deps, client, ack, command)

    app.command(COMMAND)(on_whisper)

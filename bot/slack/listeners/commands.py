"""`/whisper <question>`: acked at once, answered in a thread, or privately when asked or unbound.

`/whisper checks` is not a question: it lists the scheduled checks and their last results, to the
person who asked only; nor is `/whisper cost`, today's language-model spend by role.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from agents.llm.budget import spend_today
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
from bot.slack.render.checks import checks_message
from bot.slack.render.cost import cost_message
from bot.slack.render.help import usage_message
from scheduled_checks.history import last_runs

COMMAND = "/whisper"
PRIVATE_FLAG = "--private"
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
CHECKS_WORD = "checks"
COST_WORD = "cost"
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
    if raw.strip().lower() == COST_WORD:
        await reply.send(*cost_message(await spend_today(deps.store), deps.model_daily_usd))
        return
    if raw.strip().lower() == CHECKS_WORD:
        runs, findings = await asyncio.gather(last_runs(deps.store), deps.store.list_findings())
        await reply.send(*checks_message(deps.checks, runs, findings))
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

"""@mentions: answered in the mention's thread, with the thread's earlier turns as context."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from agents.question import Question
from bot.slack.answering import Place, answer_in_thread, history, placeholder, prepare_question
from bot.slack.channels import ChannelNames
from bot.slack.deps import SlackDeps
from bot.slack.listeners.commands import HELP_WORDS
from bot.slack.redacting_client import RedactingWebClient, door
from bot.slack.render.help import usage_message

_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9_]+(?:\|[^>]*)?>")


def question_text(text: str, bot_user_id: str | None) -> str:
    """The mention's text without the bot's own @-mention(s)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return _LEADING_MENTION.sub(" ", text).strip()


async def mention(
    deps: SlackDeps, client: RedactingWebClient, names: ChannelNames, event: dict[str, Any], bot_user_id: str | None
) -> None:
    if event.get("bot_id") or event.get("subtype") or not event.get("user"):
        return  # other bots and edits; Bolt already drops our own messages
    channel, user = str(event["channel"]), str(event["user"])
    thread_ts = str(event.get("thread_ts") or event["ts"])
    raw = question_text(str(event.get("text") or ""), bot_user_id)
    if not raw or raw.lower() in HELP_WORDS:
        text, blocks = usage_message()
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
        return
    text, notes = prepare_question(raw, deps.max_question_chars)
    live = await placeholder(deps, client, channel, thread_ts, text)
    place = Place(channel_id=channel, channel_name=await names.name(channel), thread_ts=thread_ts)
    turns = await deps.store.get_thread(channel, thread_ts)
    question = Question(
        text=text,
        user=user,
        channel=place.channel_name,
        thread_ts=thread_ts,
        via="mention",
        history=history(turns),
    )
    await answer_in_thread(deps, client, live, question, place, notes)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    client = door(app)
    names = ChannelNames(client)

    async def on_mention(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await mention(deps, client, names, event, context.bot_user_id)

    app.event("app_mention")(on_mention)

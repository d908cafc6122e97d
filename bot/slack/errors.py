"""What a person sees when the bot fails: one short line in their thread, never a stack trace.

The line names the kind of failure and a reference; the full traceback is logged under the same
reference (through the logging filter that scrubs credentials), so whoever reads the logs can find
it and nobody in the channel sees internals or a token.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from pydantic import BaseModel
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.slack.private_reply import PrivateReply
from bot.slack.redacting_client import RedactingWebClient, door

logger = logging.getLogger(__name__)


class ReplyTo(BaseModel):
    """Where to tell the person about a failure: their thread, or privately when there is none."""

    channel: str
    thread_ts: str | None = None
    ephemeral_user: str | None = None
    response_url: str | None = None


def _cause(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return f"Slack refused a request ({error.response.get('error', 'no reason given')})"
    if isinstance(error, TimeoutError):
        return "a step took too long"
    return "an unexpected internal error"


def failure_line(error: BaseException, doing: str) -> str:
    """Log `error` with a fresh reference and return the one line to post about it."""
    reference = secrets.token_hex(3)
    logger.error("failed while %s (reference %s)", doing, reference, exc_info=error)
    return (
        f"Sorry, something went wrong while {doing}: {_cause(error)}. "
        f"Reference `{reference}`: the details are in the bot's logs."
    )


def reply_target(body: dict[str, Any]) -> ReplyTo | None:
    """The thread (or user) a request came from, for any envelope the bot handles."""
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("channel"), str) and event.get("ts"):
        return ReplyTo(channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"])
    if body.get("command") and body.get("channel_id") and body.get("user_id"):
        return ReplyTo(
            channel=str(body["channel_id"]),
            ephemeral_user=str(body["user_id"]),
            response_url=body.get("response_url"),
        )
    channel, container = body.get("channel"), body.get("container")
    if isinstance(channel, dict) and isinstance(container, dict) and channel.get("id"):
        thread_ts = container.get("thread_ts") or container.get("message_ts")
        if not container.get("is_ephemeral") and thread_ts:
            return ReplyTo(channel=str(channel["id"]), thread_ts=str(thread_ts))
        user = body.get("user")
        if isinstance(user, dict) and user.get("id"):
            return ReplyTo(channel=str(channel["id"]), ephemeral_user=str(user["id"]))
    return None


async def tell(client: RedactingWebClient, target: ReplyTo, text: str) -> None:
    """Post `text` where `target` says; a failure to report a failure is only logged."""
    try:
        if target.ephemeral_user:
            await PrivateReply(client, target.channel, target.ephemeral_user, target.response_url).send(text)
        else:
            await client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, text=text)
    except (SlackApiError, SlackRequestError) as exc:
        logger.warning("could not post to %s: %s", target.channel, exc)


def register(app: AsyncApp) -> None:
    """The global error handler: every listener failure ends as one line where it happened."""
    client = door(app)

    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        line = failure_line(error, "handling your request")
        target = reply_target(body)
        if target is not None:
            await tell(client, target, line)

    app.error(on_error)

"""Connecting the app to Slack in Socket Mode, and what `whisperer run` serves until stopped.

Both tokens are checked before the websocket is opened: slack_sdk retries a rejected app token
forever, which from the outside looks like a hung process, so a wrong token ends here in one
line instead. Every envelope is acked, even one no listener wants or one too broken to route:
an envelope that is never acked comes back three more times and then shows the user an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.app import build_app
from bot.slack.deps import SlackDeps
from bot.slack.redacting_client import RedactingWebClient

logger = logging.getLogger(__name__)

UNHANDLED = 404
# Long enough for an answer that has started to finish, short of Kubernetes' 30 s termination grace.
SHUTDOWN_GRACE_S = 20.0


class SlackConnectError(Exception):
    """The bot cannot connect to Slack; str() is the one line to show (never a token)."""


def check_tokens(bot_token: str | None, app_token: str | None) -> tuple[str, str]:
    """The two tokens, or the one line that says which is missing or of the wrong kind."""
    missing = [name for name, value in (("SLACK_BOT_TOKEN", bot_token), ("SLACK_APP_TOKEN", app_token)) if not value]
    if missing:
        raise SlackConnectError(f"{' and '.join(missing)} must be set (see README: Connecting to Slack)")
    assert bot_token is not None and app_token is not None
    if not bot_token.startswith("xoxb-"):
        raise SlackConnectError("SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)")
    if not app_token.startswith("xapp-"):
        raise SlackConnectError("SLACK_APP_TOKEN must be an app-level token with connections:write (xapp-...)")
    return bot_token, app_token


def malformed(kind: str, payload: Any) -> str | None:
    """Why an envelope cannot be routed, or None when Bolt can take it."""
    if not isinstance(payload, dict):
        return "the payload is not an object"
    if kind == "events_api":
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event envelope without an event type"
    elif kind == "slash_commands":
        missing = [key for key in ("command", "channel_id", "user_id") if not payload.get(key)]
        if missing:
            return f"a slash command without {', '.join(missing)}"
    elif kind == "interactive" and payload.get("type") == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(action, dict) for action in actions):
            return "a click without actions"
        if not isinstance(payload.get("user"), dict) or not payload["user"].get("id"):
            return "a click without a user"
    return None


class WhispererSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's aiohttp handler, plus acks for envelopes Bolt would leave unanswered."""

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        problem = malformed(req.type, req.payload)
        if problem is not None:
            logger.warning("dropped a malformed %s envelope: %s", req.type, problem)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        response = await run_async_bolt_app(self.app, req)
        if response.status == UNHANDLED:
            # Nothing listens for it; a redelivery would find nothing either.
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await send_async_response(client, req, response, started)


async def _verify(app: AsyncApp, app_token: str) -> None:
    try:
        await app.client.auth_test()
    except SlackApiError as exc:
        raise SlackConnectError(f"Slack rejected SLACK_BOT_TOKEN: {exc.response.get('error')}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackConnectError(f"cannot reach Slack at {app.client.base_url}: {type(exc).__name__}") from None
    try:
        await app.client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise SlackConnectError(f"Slack rejected SLACK_APP_TOKEN: {exc.response.get('error')}") from None


async def _close_client(app: AsyncApp) -> None:
    if isinstance(app.client, RedactingWebClient):
        await app.client.close()


async def connect(app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Check both tokens with Slack, then open the Socket Mode connection; raises `SlackConnectError`."""
    try:
        await _verify(app, app_token)
    except SlackConnectError:
        await _close_client(app)
        raise
    handler = WhispererSocketModeHandler(app, app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler


async def disconnect(handler: AsyncSocketModeHandler) -> None:
    """Close the Socket Mode connection, then the Web API client's connection pool."""
    await handler.close_async()  # type: ignore[no-untyped-call]
    await _close_client(handler.app)


async def serve(
    deps: SlackDeps,
    app_token: str,
    stop: asyncio.Event | None = None,
    on_connect: Callable[[AsyncSocketModeHandler], None] | None = None,
    grace_s: float = SHUTDOWN_GRACE_S,
) -> None:
    """`whisperer run`: connect and serve until `stop` is set (or the task is cancelled).

    `on_connect` gets the open handler (readiness asks its connection from then on). Stopping
    closes the Socket Mode connection first, so Slack sends new envelopes (and redelivers
    unacked events) to another replica, then gives the answers in progress `grace_s` seconds
    and marks the rest interrupted in their threads, before the Web API client closes.
    """
    check_tokens(deps.bot_token, app_token)
    # Presidio's first use takes seconds; pay it before the first answer, not during it.
    await asyncio.to_thread(deps.redactor.warm_up)
    handler = await connect(build_app(deps), app_token)
    logger.info("connected to Slack in Socket Mode")
    if on_connect is not None:
        on_connect(handler)
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await deps.in_flight.settle(grace_s)
        await _close_client(handler.app)

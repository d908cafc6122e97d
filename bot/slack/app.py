"""The Bolt `AsyncApp` of InfraWhisperer, with every listener registered in this one place.

    app = build_app(SlackDeps(asker=..., remediation=..., store=..., redactor=..., bot_token=...))
    handler = await bot.slack.socket.connect(app, app_token)

The app's client is the redacting one, and Bolt's per-request client is replaced by it too, so
whatever a listener posts (or `say`s) passes the redactor. Middleware order matters: Bolt drops
our own messages first, the ack is timed from the moment the app has the envelope, then each
event id is claimed once before any listener runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.slack import errors
from bot.slack.ack_timing import timed_acks
from bot.slack.dedupe import once_per_event
from bot.slack.deps import SlackDeps
from bot.slack.listeners import actions, commands, digest_actions, events, home
from bot.slack.redacting_client import RedactingWebClient, redacting_client

__all__ = ["SlackDeps", "build_app"]

APP_NAME = "infrawhisperer"


def _through_the_door(client: RedactingWebClient) -> Callable[..., Awaitable[None]]:
    """Bolt builds a plain client per request; listeners get the redacting one instead."""

    async def use_redacting_client(context: AsyncBoltContext, next_: Callable[[], Awaitable[None]]) -> None:
        context["client"] = client
        await next_()

    return use_redacting_client


def build_app(deps: SlackDeps) -> AsyncApp:
    client = redacting_client(deps.bot_token, deps.base_url, deps.redactor)
    app = AsyncApp(client=client, name=APP_NAME)
    app.use(timed_acks(deps.observe_ack))
    app.use(_through_the_door(client))
    app.use(once_per_event(deps.store))
    errors.register(app)
    commands.register(app, deps)
    events.register(app, deps)
    home.register(app, deps)
    digest_actions.register(app, deps)
    actions.register(app, deps)  # last: it ends with the catch-all for buttons nobody else handles
    return app

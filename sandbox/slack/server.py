"""The Slack stand-in as one local server: Web API, Socket Mode, response URLs and file uploads.

Slack cannot be reached from where InfraWhisperer is developed and tested, so the bot's real
Bolt `AsyncApp` and aiohttp `AsyncSocketModeHandler` are pointed here instead:

    async with SlackStandIn() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        app = AsyncApp(client=client)
        handler = AsyncSocketModeHandler(app, slack.app_token)
        await handler.connect_async()
        ts = await slack.driver.mention("alice", "#incident-payments", "why is checkout slow?")
        replies = await slack.driver.wait_for_reply("#incident-payments", ts)

Everything listens on 127.0.0.1 on a port the OS picks, so parallel tests never collide.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

from aiohttp import web

from sandbox.lifecycle import LOOPBACK, SandboxService, listen
from sandbox.slack.driver import SlackDriver
from sandbox.slack.response_urls import ResponseRejectedError, ResponseUrls
from sandbox.slack.socket_mode import Envelope, SocketModeHub
from sandbox.slack.state import SLACKBOT_ID, ChangeSignal, SlackStandInError, Workspace
from sandbox.slack.web_api import API_PREFIX, DEFAULT_BOT_SCOPES, ApiCall, WebApi

DEFAULT_USERS = ("alice", "bob", "carol")
DEFAULT_CHANNELS = ("incident-payments", "sre-oncall", "general")
DEFAULT_EVENT_SUBSCRIPTIONS = ("app_mention", "app_home_opened")
DEFAULT_USERGROUPS: Mapping[str, Sequence[str]] = MappingProxyType({"sre-oncall": ("alice", "bob")})

_log = logging.getLogger(__name__)


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def fake_bot_token() -> str:
    """A token shaped like a real bot token (xoxb-...), unique per stand-in."""
    alphabet = string.ascii_letters + string.digits
    return f"xoxb-{_digits(13)}-{_digits(13)}-{''.join(secrets.choice(alphabet) for _ in range(24))}"


def fake_app_token() -> str:
    """A token shaped like a real app-level token (xapp-...), unique per stand-in."""
    return f"xapp-1-A{_digits(10)}-{_digits(13)}-{secrets.token_hex(32)}"


class SlackStandIn(SandboxService):
    """A stateful, local Slack workspace with InfraWhisperer installed; `start()` returns the API base URL."""

    def __init__(
        self,
        *,
        bot_token: str | None = None,
        app_token: str | None = None,
        bot_scopes: Iterable[str] = DEFAULT_BOT_SCOPES,
        users: Iterable[str] = DEFAULT_USERS,
        channels: Iterable[str] = DEFAULT_CHANNELS,
        usergroups: Mapping[str, Sequence[str]] = DEFAULT_USERGROUPS,
        event_subscriptions: Iterable[str] = DEFAULT_EVENT_SUBSCRIPTIONS,
        ack_timeout: float = 3.0,
        max_retries: int = 3,
        ping_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if bot_token is not None and not bot_token.startswith("xoxb-"):
            raise SlackStandInError("bot_token must be a bot token starting with 'xoxb-'")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise SlackStandInError("app_token must be an app-level token starting with 'xapp-'")
        self.bot_token = bot_token or fake_bot_token()
        self.app_token = app_token or fake_app_token()
        self.workspace = Workspace(signal=ChangeSignal(), clock=clock)
        for user in users:
            self.workspace.ensure_user(user)
        for channel in channels:
            self.workspace.add_channel(channel)
        for handle, members in usergroups.items():
            self.workspace.add_usergroup(handle, members)
        self.socket_mode = SocketModeHub(
            app_id=self.workspace.app_id,
            signal=self.workspace.signal,
            ack_timeout=ack_timeout,
            max_retries=max_retries,
            ping_interval=ping_interval,
            on_ack=self._acked,
            on_failure=self._failed,
        )
        self.response_urls = ResponseUrls(self.workspace)
        self.web_api = WebApi(
            self.workspace,
            self.socket_mode,
            bot_token=self.bot_token,
            app_token=self.app_token,
            bot_scopes=bot_scopes,
        )
        self.driver = SlackDriver(self.workspace, self.socket_mode, self.response_urls, event_subscriptions)
        self._base_url: str | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The Web API root to give `AsyncWebClient(base_url=...)`, ending in /api/."""
        if self._base_url is None:
            raise SlackStandInError("the Slack stand-in is not running: call start() or use 'async with' first")
        return self._base_url

    @property
    def calls(self) -> list[ApiCall]:
        """Every Web API call so far, oldest first."""
        return self.web_api.calls

    async def start(self) -> str:
        """Listen on 127.0.0.1 (port chosen by the OS); returns the base_url for `AsyncWebClient`."""
        app = web.Application()
        app.router.add_routes(self.web_api.routes())
        app.router.add_routes(self.response_urls.routes())
        app.router.add_get("/link/", self.socket_mode.handle_socket)
        self._runner, port = await listen(app, shutdown_timeout=0.5)
        root = f"http://{LOOPBACK}:{port}"
        self.response_urls.root = root
        self._base_url = root + API_PREFIX
        return self._base_url

    async def stop(self) -> None:
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._base_url = None

    def fail_next(self, method: str, count: int = 1, retry_after: int = 1) -> None:
        """The next `count` calls of Web API `method` get HTTP 429 with `Retry-After: retry_after`."""
        self.web_api.fail_next(method, count, retry_after)

    async def disconnect(
        self, reason: str = "refresh_requested", connection_id: str | None = None, grace: float = 2.0
    ) -> None:
        """Send Socket Mode's disconnect message and close (all connections unless one is named).

        Returns once the connection is gone: the app closed it to reconnect, or `grace` seconds
        passed and the stand-in closed it.
        """
        await self.socket_mode.disconnect(reason, connection_id, grace)

    async def _acked(self, envelope: Envelope) -> None:
        """A slash command's ack may carry the first response, which Slack shows like a response_url post."""
        body = envelope.ack_payload
        if envelope.type != "slash_commands" or not body or not (body.get("text") or body.get("blocks")):
            return
        target = self.response_urls.target(str(envelope.payload.get("response_url", "")))
        if target is None:
            return
        try:
            await self.response_urls.apply(target, body)
        except ResponseRejectedError as rejected:
            _log.warning("slash command ack payload rejected by Slack: %s", rejected.reason)

    async def _failed(self, envelope: Envelope) -> None:
        """What Slack does when the app never acked: the user of a slash command sees an error."""
        if envelope.type == "slash_commands":
            payload = envelope.payload
            error = "operation_timeout" if envelope.status == "timed_out" else "dispatch_failed"
            await self.workspace.post_ephemeral(
                str(payload["channel_id"]),
                user=str(payload["user_id"]),
                text=f'{payload["command"]} failed with the error "{error}"',
                sender=SLACKBOT_ID,
            )
        else:
            _log.warning(
                "%s envelope %s was not acked (%s); Slack gives up on it",
                envelope.type,
                envelope.envelope_id,
                envelope.status,
            )

"""What a person in Slack does, for tests and the demo: mention the bot, run /whisper, click a button.

Each action writes what Slack would store (the user's message) and sends the envelope Slack
would send over Socket Mode, with payloads built the way Slack builds them, so the app under
test sees nothing it would not see in production. Reads (`thread`, `ephemerals`, ...) and waits
(`wait_for_reply`, ...) are on the same object; waits wake on changes, they do not poll.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

from sandbox.slack.blocks import interactive_elements, render_blocks
from sandbox.slack.response_urls import ResponseTarget, ResponseUrls
from sandbox.slack.socket_mode import Envelope, SocketModeHub
from sandbox.slack.state import (
    Channel,
    EphemeralMessage,
    HomeView,
    Json,
    Message,
    SlackStandInError,
    User,
    Workspace,
    stable_id,
)

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
_MENTION = re.compile(r"<@([A-Z0-9_]+)(?:\|[^>]*)?>")
# Slack's deprecated per-app verification token, still sent in every payload.
VERIFICATION_TOKEN = "sandboxverificationtoken"  # noqa: S105


def _trigger_id() -> str:
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"


class SlackDriver:
    """Acts as people in the workspace and reads what they would see; `SlackStandIn.driver` is one."""

    def __init__(
        self,
        workspace: Workspace,
        hub: SocketModeHub,
        response_urls: ResponseUrls,
        event_subscriptions: Iterable[str],
    ) -> None:
        self._workspace = workspace
        self._hub = hub
        self._response_urls = response_urls
        self._subscriptions = frozenset(event_subscriptions)

    # -- what users do ---------------------------------------------------------------------------

    async def mention(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> str:
        """Post "@whisperer <text>" as `user` and deliver the app_mention event; returns the message ts."""
        bot = self._workspace.bot_user_id
        return await self._user_message(
            user,
            channel,
            f"<@{bot}> {text}",
            thread_ts,
            elements=[{"type": "user", "user_id": bot}, {"type": "text", "text": f" {text}"}],
            events=("app_mention", "message"),
        )

    async def post(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> str:
        """Post a plain message as `user` (a message event if the app subscribes to it); returns its ts."""
        return await self._user_message(
            user, channel, text, thread_ts, elements=[{"type": "text", "text": text}], events=("message",)
        )

    async def slash(self, user: str, channel: str, text: str = "", command: str = "/whisper") -> str:
        """Run a slash command as `user` in `channel`; returns the envelope id (see `acked`)."""
        workspace = self._workspace
        sender, where = self._actor(user, channel)
        response_url = self._response_urls.issue(
            ResponseTarget(channel_id=where.id, user_id=sender.id, kind="commands")
        )
        payload = {
            "token": VERIFICATION_TOKEN,
            "team_id": workspace.team_id,
            "team_domain": workspace.domain,
            "channel_id": where.id,
            "channel_name": where.name,
            "user_id": sender.id,
            "user_name": sender.name,
            "command": command,
            "text": text,
            "api_app_id": workspace.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": _trigger_id(),
        }
        envelope = await self._hub.deliver("slash_commands", payload, accepts_response_payload=True)
        return envelope.envelope_id

    async def click(self, user: str, channel: str, message_ts: str, action_id: str, value: str | None = None) -> str:
        """Click the button `action_id` (the one with `value`, if several) as `user`; returns the envelope id."""
        workspace = self._workspace
        clicker, where = self._actor(user, channel)
        message: Message | EphemeralMessage | None = workspace.find_message(where.id, message_ts)
        if message is None:
            message = workspace.find_ephemeral(where.id, message_ts)
            if message is None or message.user != clicker.id or message.deleted:
                raise SlackStandInError(f"no message {message_ts} in #{where.name} that {clicker.name} can see")
        block, button = self._button(message, action_id, value)
        is_ephemeral = isinstance(message, EphemeralMessage)
        container: Json = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": where.id,
            "is_ephemeral": is_ephemeral,
        }
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        response_url = self._response_urls.issue(
            ResponseTarget(
                channel_id=where.id,
                user_id=clicker.id,
                kind="actions",
                message_ts=message.ts,
                message_is_ephemeral=is_ephemeral,
                thread_ts=message.thread_ts,
            )
        )
        action: Json = {
            "action_id": action_id,
            "block_id": block.get("block_id", ""),
            "text": button.get("text"),
            "type": "button",
            "action_ts": workspace.next_ts(),
        }
        for key in ("value", "style"):
            if key in button:
                action[key] = button[key]
        payload: Json = {
            "type": "block_actions",
            "user": {"id": clicker.id, "username": clicker.name, "name": clicker.name, "team_id": workspace.team_id},
            "api_app_id": workspace.app_id,
            "token": VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": _trigger_id(),
            "team": {"id": workspace.team_id, "domain": workspace.domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": where.id, "name": where.name},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if isinstance(message, Message):
            payload["message"] = workspace.message_json(message)
        envelope = await self._hub.deliver("interactive", payload)
        return envelope.envelope_id

    async def open_home(self, user: str) -> str:
        """Open the app's Home tab as `user` (an app_home_opened event); returns the envelope id."""
        if "app_home_opened" not in self._subscriptions:
            raise SlackStandInError("the app does not subscribe to app_home_opened (see event_subscriptions)")
        workspace = self._workspace
        opener = workspace.ensure_user(user)
        event: Json = {
            "type": "app_home_opened",
            "user": opener.id,
            "channel": stable_id("D", workspace.team_id, opener.id),
            "tab": "home",
            "event_ts": workspace.next_ts(),
        }
        home = workspace.home_views.get(opener.id)
        if home is not None:
            event["view"] = {"id": home.id, "type": "home", "blocks": home.view.get("blocks", []), "hash": home.hash}
        envelope = await self._hub.deliver("events_api", self._event_callback(event))
        return envelope.envelope_id

    def _actor(self, user: str, channel: str) -> tuple[User, Channel]:
        """The acting user and channel, created on first use; the user joins the channel, as by typing in it."""
        actor = self._workspace.ensure_user(user)
        where = self._workspace.ensure_channel(channel)
        where.members.add(actor.id)
        return actor, where

    def _button(self, message: Message | EphemeralMessage, action_id: str, value: str | None) -> tuple[Json, Json]:
        candidates = [
            (block, element)
            for block, element in interactive_elements(message.blocks)
            if element.get("action_id") == action_id and (value is None or element.get("value") == value)
        ]
        if not candidates:
            known = sorted({str(element.get("action_id")) for _, element in interactive_elements(message.blocks)})
            raise SlackStandInError(
                f"message {message.ts} has no button {action_id!r}"
                + (f" with value {value!r}" if value is not None else "")
                + f" (buttons: {', '.join(known) or 'none'})"
            )
        block, element = candidates[0]
        if element.get("type") != "button":
            raise SlackStandInError(f"{action_id!r} is a {element.get('type')}, the driver only clicks buttons")
        return block, element

    async def _user_message(
        self,
        user: str,
        channel: str,
        text: str,
        thread_ts: str | None,
        *,
        elements: list[Json],
        events: Iterable[str],
    ) -> str:
        workspace = self._workspace
        sender, where = self._actor(user, channel)
        blocks = [
            {
                "type": "rich_text",
                "block_id": stable_id("", uuid.uuid4())[:5],
                "elements": [{"type": "rich_text_section", "elements": elements}],
            }
        ]
        message = await workspace.post(
            where.id, user=sender.id, text=text, blocks=blocks, thread_ts=thread_ts, client_msg_id=str(uuid.uuid4())
        )
        for event_type in events:
            if event_type in self._subscriptions:
                await self._hub.deliver("events_api", self._event_callback(self._message_event(event_type, message)))
        return message.ts

    def _message_event(self, event_type: str, message: Message) -> Json:
        event: Json = {
            "client_msg_id": message.client_msg_id,
            "type": event_type,
            "text": message.text,
            "user": message.user,
            "ts": message.ts,
            "blocks": message.blocks,
            "team": self._workspace.team_id,
            "channel": message.channel,
            "event_ts": message.ts,
        }
        if message.thread_ts:
            event["thread_ts"] = message.thread_ts
        if event_type == "message":
            event["channel_type"] = "channel"
        return event

    def _event_callback(self, event: Json) -> Json:
        workspace = self._workspace
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": workspace.team_id,
            "context_team_id": workspace.team_id,
            "context_enterprise_id": None,
            "api_app_id": workspace.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": stable_id("Ev", uuid.uuid4()),
            "event_time": int(float(event["event_ts"])),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": workspace.team_id,
                    "user_id": workspace.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }

    # -- what users see --------------------------------------------------------------------------

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The thread's parent and replies, oldest first."""
        return self._workspace.thread(self._workspace.channel(channel).id, ts)

    def channel_messages(self, channel: str) -> list[Message]:
        """A channel's top-level messages, oldest first (thread replies are in `thread`)."""
        return self._workspace.history(self._workspace.channel(channel).id)

    def ephemerals(self, user: str, channel: str | None = None) -> list[EphemeralMessage]:
        """Ephemeral messages shown to `user` (in `channel`, if given), oldest first."""
        who = self._workspace.user(user).id
        where = self._workspace.channel(channel).id if channel else None
        return [
            eph
            for eph in self._workspace.ephemerals
            if eph.user == who and not eph.deleted and (where is None or eph.channel == where)
        ]

    def home_view(self, user: str) -> HomeView | None:
        return self._workspace.home_views.get(self._workspace.user(user).id)

    def envelope(self, envelope_id: str) -> Envelope:
        try:
            return self._hub.envelopes[envelope_id]
        except KeyError:
            raise SlackStandInError(f"no envelope {envelope_id!r} was delivered") from None

    def acked(self, envelope_id: str) -> bool:
        return self.envelope(envelope_id).acked

    def render(self, message: Message | EphemeralMessage) -> str:
        """One message as a transcript line: 'name: text', blocks flattened, files and edits noted."""
        name = self._name(message.sender if isinstance(message, EphemeralMessage) else message.user)
        body = render_blocks(message.blocks) if message.blocks else message.text
        body = _MENTION.sub(lambda match: f"@{self._name(match.group(1))}", body)
        if isinstance(message, Message):
            body += "".join(f"\n[file: {file.title} ({file.size} bytes, {file.mimetype})]" for file in message.files)
        if isinstance(message, EphemeralMessage):
            name += f" (only visible to {self._name(message.user)})"
        edited = " (edited)" if len(message.versions) > 1 else ""
        return f"{name}{edited}: {body}"

    def _name(self, user_id: str) -> str:
        found = self._workspace.find_user(user_id)
        return found.name if found else user_id

    def transcript(self, channel: str, ts: str) -> str:
        """A whole thread as text, one `render`ed message per paragraph."""
        return "\n\n".join(self.render(message) for message in self.thread(channel, ts))

    # -- waiting ---------------------------------------------------------------------------------

    # The `timeout` parameters (ASYNC109) are the driver's documented API: tests read better with them.
    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
        what: str = "",
    ) -> T:
        """Wait until `predicate()` is truthy (re-checked on every change) and return its value."""
        return await self._workspace.signal.wait_for(predicate, timeout, what or "the condition")

    async def wait_for_reply(
        self,
        channel: str,
        thread_ts: str,
        count: int = 1,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> list[Message]:
        """Wait for `count` replies from the bot in the thread; returns the bot's replies, oldest first."""
        bot = self._workspace.bot_user_id

        def replies() -> list[Message] | None:
            found = [msg for msg in self.thread(channel, thread_ts) if msg.is_reply and msg.user == bot]
            return found if len(found) >= count else None

        return await self.wait_for(replies, timeout, f"{count} bot repl{'y' if count == 1 else 'ies'} in {thread_ts}")

    async def wait_for_ack(self, envelope_id: str, timeout: float = DEFAULT_TIMEOUT) -> Envelope:  # noqa: ASYNC109
        envelope = self.envelope(envelope_id)
        await self.wait_for(lambda: envelope.acked, timeout, f"the ack of envelope {envelope_id}")
        return envelope

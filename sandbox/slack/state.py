"""The Slack stand-in's workspace: who is there, which channels exist, and every message posted.

Tests and the demo assert on what a Slack user would see, so the state keeps more than Slack's
API returns: every version of an edited message (to prove "live updates"), ephemeral messages
per recipient, published Home tabs, and uploaded files with their bytes.

Every change wakes the waiters on the workspace's `ChangeSignal`, so a test waits for "the bot
replied in the thread" as an event instead of sleeping and polling.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, Field

Json = dict[str, Any]
T = TypeVar("T")

SLACKBOT_ID = "USLACKBOT"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class SlackStandInError(Exception):
    """Bad input to the stand-in or its driver; the message says what to fix, in one line."""


class UnknownChannelError(SlackStandInError):
    """A channel reference that matches no channel in the workspace."""


class UnknownUserError(SlackStandInError):
    """A user reference that matches no user in the workspace."""


class WaitTimeoutError(SlackStandInError, TimeoutError):
    """What a test waited for did not happen in time."""


def stable_id(prefix: str, *parts: object) -> str:
    """A Slack-looking id (prefix + 10 base32 characters) derived from its parts, so runs repeat."""
    digest = int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest(), 16)
    chars = []
    for _ in range(10):
        digest, index = divmod(digest, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[index])
    return prefix + "".join(chars)


class ChangeSignal:
    """Wakes everyone waiting on the stand-in whenever its state changes."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()

    async def notify(self) -> None:
        async with self._condition:
            self._condition.notify_all()

    async def wait_for(self, predicate: Callable[[], T | None], seconds: float, what: str) -> T:
        """Return the predicate's first truthy value; raise `WaitTimeoutError` naming `what` after `seconds`."""
        async with self._condition:
            try:
                found = await asyncio.wait_for(self._condition.wait_for(predicate), seconds)
            except TimeoutError:
                raise WaitTimeoutError(f"timed out after {seconds:g}s waiting for {what}") from None
        assert found is not None  # Condition.wait_for only returns a truthy predicate value
        return found


class User(BaseModel):
    id: str
    name: str
    real_name: str
    email: str | None = None
    is_bot: bool = False
    bot_id: str | None = None
    tz: str = "Europe/London"

    def api_json(self, team_id: str) -> Json:
        profile: Json = {
            "real_name": self.real_name,
            "display_name": self.name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.name,
            "image_48": f"https://avatars.slack-edge.com/{self.id}_48.png",
            "team": team_id,
        }
        if self.email:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }


class Channel(BaseModel):
    id: str
    name: str
    is_private: bool = False
    members: set[str] = Field(default_factory=set)
    created: int
    creator: str
    topic: str = ""
    purpose: str = ""

    def api_json(self, bot_user_id: str) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": bot_user_id in self.members,
            "created": self.created,
            "creator": self.creator,
            "unlinked": 0,
            "topic": {"value": self.topic, "creator": self.creator if self.topic else "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": self.creator if self.purpose else "", "last_set": 0},
            "num_members": len(self.members),
        }


class UserGroup(BaseModel):
    id: str
    handle: str
    name: str
    users: list[str]


class SlackFile(BaseModel):
    """An uploaded file; the content is kept so a demo can show the chart the bot attached."""

    id: str
    name: str
    title: str
    mimetype: str
    size: int
    user: str
    created: int
    content: bytes = Field(default=b"", repr=False)

    @property
    def filetype(self) -> str:
        return self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary"

    def api_json(self, domain: str, shares: Json | None = None) -> Json:
        permalink = f"https://{domain}.slack.com/files/{self.user}/{self.id}/{self.name}"
        data: Json = {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "pretty_type": self.filetype.upper(),
            "user": self.user,
            "size": self.size,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "url_private": f"https://files.slack.com/files-pri/{self.id}/{self.name}",
            "url_private_download": f"https://files.slack.com/files-pri/{self.id}/download/{self.name}",
            "permalink": permalink,
        }
        if shares is not None:
            data["shares"] = shares
        return data


class MessageVersion(BaseModel):
    """One version of a message's content; `edited_ts` is None for the original."""

    text: str
    blocks: list[Json]
    edited_ts: str | None = None


class Reaction(BaseModel):
    name: str
    users: list[str]


class Message(BaseModel):
    """A message in a channel (top level or in a thread); `versions` keeps every edit, oldest first."""

    channel: str
    ts: str
    user: str
    team: str
    text: str
    blocks: list[Json] = Field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    client_msg_id: str | None = None
    metadata: Json | None = None
    files: list[SlackFile] = Field(default_factory=list)
    reactions: list[Reaction] = Field(default_factory=list)
    versions: list[MessageVersion] = Field(default_factory=list)
    deleted: bool = False

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def edits(self) -> int:
        return len(self.versions) - 1


class EphemeralMessage(BaseModel):
    """A message only `user` sees; Slack never returns these from the API, tests read them here."""

    channel: str
    user: str
    ts: str
    sender: str
    text: str
    blocks: list[Json] = Field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None
    versions: list[MessageVersion] = Field(default_factory=list)
    deleted: bool = False


class HomeView(BaseModel):
    """The Home tab published for one user; `history` holds every published view, oldest first."""

    id: str
    user_id: str
    view: Json
    hash: str
    history: list[Json] = Field(default_factory=list)


def user_id_for(name: str) -> str:
    """The id the stand-in gives a user it creates from a name ("alice" -> "U_ALICE")."""
    return "U_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


class Workspace:
    """One Slack workspace (team) with the app installed in it."""

    def __init__(
        self,
        *,
        signal: ChangeSignal,
        team_id: str = "T0SANDBOX1",
        team_name: str = "Sandbox",
        domain: str = "sandbox",
        bot_user_id: str = "U_WHISPERER",
        bot_name: str = "whisperer",
        bot_id: str = "B_WHISPERER",
        app_id: str = "A_WHISPERER",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signal = signal
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.clock = clock
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[EphemeralMessage] = []
        self.home_views: dict[str, HomeView] = {}
        self.files: dict[str, SlackFile] = {}
        self._last_ts_micros = 0
        self.users[bot_user_id] = User(
            id=bot_user_id, name=bot_name, real_name="InfraWhisperer", is_bot=True, bot_id=bot_id
        )
        self.users[SLACKBOT_ID] = User(id=SLACKBOT_ID, name="slackbot", real_name="Slackbot", is_bot=True)

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"

    # -- ids and lookups -------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message timestamp: wall-clock seconds and microseconds, strictly increasing and unique."""
        micros = max(int(self.clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        seconds, fraction = divmod(micros, 1_000_000)
        return f"{seconds}.{fraction:06d}"

    def find_user(self, ref: str) -> User | None:
        """A user by id ("U_ALICE"), name ("alice") or mention ("@alice")."""
        ref = ref.removeprefix("@")
        if ref in self.users:
            return self.users[ref]
        return next((user for user in self.users.values() if user.name == ref), None)

    def user(self, ref: str) -> User:
        found = self.find_user(ref)
        if found is None:
            known = ", ".join(sorted(user.name for user in self.users.values()))
            raise UnknownUserError(f"no user {ref!r} in the workspace (known: {known})")
        return found

    def ensure_user(self, ref: str) -> User:
        """The user named `ref`, created as a plain member the first time a test mentions them."""
        found = self.find_user(ref)
        if found is not None:
            return found
        name = ref.removeprefix("@")
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
            raise SlackStandInError(f"cannot create user {ref!r}: use a lower-case Slack handle like 'alice'")
        user = User(id=user_id_for(name), name=name, real_name=name.title(), email=f"{name}@example.com")
        self.users[user.id] = user
        for channel in self.channels.values():
            if not channel.is_private:
                channel.members.add(user.id)
        return user

    def find_channel(self, ref: str) -> Channel | None:
        """A channel by id ("C..."), "#name" or bare name, as chat.postMessage accepts."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        return next((channel for channel in self.channels.values() if channel.name == name), None)

    def channel(self, ref: str) -> Channel:
        found = self.find_channel(ref)
        if found is None:
            known = ", ".join(sorted(f"#{channel.name}" for channel in self.channels.values()))
            raise UnknownChannelError(f"no channel {ref!r} in the workspace (known: {known})")
        return found

    def add_channel(self, name: str, *, bot_member: bool = True, private: bool = False) -> Channel:
        """Create a channel whose members are every user (public) and, if `bot_member`, the bot."""
        name = name.removeprefix("#")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,79}", name):
            raise SlackStandInError(f"invalid channel name {name!r}: lower-case letters, digits, '-' and '_' only")
        if self.find_channel(name) is not None:
            raise SlackStandInError(f"channel #{name} already exists")
        humans = {user.id for user in self.users.values() if not user.is_bot}
        members = (set() if private else humans) | ({self.bot_user_id} if bot_member else set())
        creator = min(humans) if humans else self.bot_user_id
        channel = Channel(
            id=stable_id("C", self.team_id, name),
            name=name,
            is_private=private,
            members=members,
            created=int(self.clock()),
            creator=creator,
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def ensure_channel(self, ref: str) -> Channel:
        return self.find_channel(ref) or self.add_channel(ref)

    def add_usergroup(self, handle: str, members: Iterable[str], name: str | None = None) -> UserGroup:
        users = [self.ensure_user(member).id for member in members]
        group = UserGroup(id=stable_id("S", self.team_id, handle), handle=handle, name=name or handle, users=users)
        self.usergroups[group.id] = group
        return group

    def find_usergroup(self, ref: str) -> UserGroup | None:
        if ref in self.usergroups:
            return self.usergroups[ref]
        return next((group for group in self.usergroups.values() if group.handle == ref.removeprefix("@")), None)

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        return next(
            (msg for msg in self.messages.get(channel_id, []) if msg.ts == ts and not msg.deleted),
            None,
        )

    def find_ephemeral(self, channel_id: str, ts: str) -> EphemeralMessage | None:
        return next((eph for eph in self.ephemerals if eph.channel == channel_id and eph.ts == ts), None)

    def history(self, channel_id: str) -> list[Message]:
        """Top-level messages of a channel, oldest first (what conversations.history lists)."""
        return [msg for msg in self.messages.get(channel_id, []) if not msg.is_reply and not msg.deleted]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """The parent and its replies, oldest first (what conversations.replies lists)."""
        return [
            msg
            for msg in self.messages.get(channel_id, [])
            if not msg.deleted and (msg.ts == ts or msg.thread_ts == ts)
        ]

    # -- changes ---------------------------------------------------------------------------------

    async def post(
        self,
        channel_id: str,
        *,
        user: str,
        text: str,
        blocks: list[Json] | None = None,
        thread_ts: str | None = None,
        files: list[SlackFile] | None = None,
        metadata: Json | None = None,
        client_msg_id: str | None = None,
    ) -> Message:
        """Store a new message; a reply to a reply joins the parent's thread, as in Slack."""
        if thread_ts is not None:
            parent = self.find_message(channel_id, thread_ts)
            if parent is not None and parent.thread_ts is not None:
                thread_ts = parent.thread_ts
        from_bot = user == self.bot_user_id
        blocks = blocks or []
        message = Message(
            channel=channel_id,
            ts=self.next_ts(),
            user=user,
            team=self.team_id,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            bot_id=self.bot_id if from_bot else None,
            app_id=self.app_id if from_bot else None,
            client_msg_id=client_msg_id,
            metadata=metadata,
            files=files or [],
            versions=[MessageVersion(text=text, blocks=blocks)],
        )
        self.messages.setdefault(channel_id, []).append(message)
        await self.signal.notify()
        return message

    async def update(self, message: Message, *, text: str | None, blocks: list[Json] | None) -> Message:
        """Edit a message in place, keeping the previous content as an older version."""
        new_text = message.text if text is None else text
        new_blocks = message.blocks if blocks is None else blocks
        message.text, message.blocks = new_text, new_blocks
        edit = MessageVersion(text=new_text, blocks=new_blocks, edited_ts=self.next_ts())
        message.versions = [*message.versions, edit]
        await self.signal.notify()
        return message

    async def delete(self, message: Message) -> None:
        message.deleted = True
        await self.signal.notify()

    async def post_ephemeral(
        self,
        channel_id: str,
        *,
        user: str,
        text: str,
        blocks: list[Json] | None = None,
        thread_ts: str | None = None,
        sender: str | None = None,
    ) -> EphemeralMessage:
        sender = sender or self.bot_user_id
        blocks = blocks or []
        ephemeral = EphemeralMessage(
            channel=channel_id,
            user=user,
            ts=self.next_ts(),
            sender=sender,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            bot_id=self.bot_id if sender == self.bot_user_id else None,
            versions=[MessageVersion(text=text, blocks=blocks)],
        )
        self.ephemerals.append(ephemeral)
        await self.signal.notify()
        return ephemeral

    async def update_ephemeral(
        self, ephemeral: EphemeralMessage, *, text: str | None, blocks: list[Json] | None
    ) -> EphemeralMessage:
        new_text = ephemeral.text if text is None else text
        new_blocks = ephemeral.blocks if blocks is None else blocks
        ephemeral.text, ephemeral.blocks = new_text, new_blocks
        ephemeral.versions = [
            *ephemeral.versions,
            MessageVersion(text=new_text, blocks=new_blocks, edited_ts=self.next_ts()),
        ]
        await self.signal.notify()
        return ephemeral

    async def delete_ephemeral(self, ephemeral: EphemeralMessage) -> None:
        ephemeral.deleted = True
        await self.signal.notify()

    async def react(self, message: Message, *, user: str, name: str) -> bool:
        """Add a reaction; False when this user already reacted with this emoji."""
        reaction = next((item for item in message.reactions if item.name == name), None)
        if reaction is None:
            message.reactions = [*message.reactions, Reaction(name=name, users=[user])]
        elif user in reaction.users:
            return False
        else:
            reaction.users.append(user)
        await self.signal.notify()
        return True

    async def publish_home(self, user_id: str, view: Json) -> HomeView:
        home = self.home_views.get(user_id)
        view_hash = f"{int(self.clock())}.{hashlib.sha1(repr(view).encode(), usedforsecurity=False).hexdigest()[:8]}"
        if home is None:
            home = HomeView(id=stable_id("V", self.team_id, user_id), user_id=user_id, view=view, hash=view_hash)
            self.home_views[user_id] = home
        home.view, home.hash = view, view_hash
        home.history.append(view)
        await self.signal.notify()
        return home

    async def store_file(self, file: SlackFile) -> None:
        self.files[file.id] = file
        await self.signal.notify()

    # -- Slack's JSON ----------------------------------------------------------------------------

    def bot_profile(self) -> Json:
        return {
            "id": self.bot_id,
            "app_id": self.app_id,
            "name": self.users[self.bot_user_id].real_name,
            "icons": {"image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png"},
            "deleted": False,
            "team_id": self.team_id,
        }

    def message_json(self, message: Message) -> Json:
        """A message as Slack's API returns it, thread summary included on a thread's parent."""
        data: Json = {"type": "message", "user": message.user, "text": message.text, "ts": message.ts}
        data["team"] = message.team
        if message.blocks:
            data["blocks"] = message.blocks
        if message.bot_id:
            data |= {"bot_id": message.bot_id, "app_id": message.app_id, "bot_profile": self.bot_profile()}
        if message.client_msg_id:
            data["client_msg_id"] = message.client_msg_id
        if message.thread_ts:
            data["thread_ts"] = message.thread_ts
        if message.is_reply:
            data["parent_user_id"] = self._parent_user(message)
        replies = [msg for msg in self.thread(message.channel, message.ts) if msg.is_reply]
        if replies and not message.is_reply:
            data |= {
                "thread_ts": message.ts,
                "reply_count": len(replies),
                "reply_users_count": len({msg.user for msg in replies}),
                "latest_reply": replies[-1].ts,
                "reply_users": sorted({msg.user for msg in replies}),
            }
        if message.edits:
            data["edited"] = {"user": message.user, "ts": message.versions[-1].edited_ts}
        if message.files:
            data |= {"files": [file.api_json(self.domain) for file in message.files], "upload": True}
        if message.reactions:
            data["reactions"] = [
                {"name": item.name, "users": item.users, "count": len(item.users)} for item in message.reactions
            ]
        if message.metadata:
            data["metadata"] = message.metadata
        return data

    def _parent_user(self, message: Message) -> str | None:
        parent = self.find_message(message.channel, message.thread_ts or "")
        return parent.user if parent else None

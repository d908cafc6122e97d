"""The Slack Web API methods InfraWhisperer calls, answered the way slack.com answers them.

`AsyncWebClient(token=..., base_url=<stand-in>/api/)` talks to this unchanged. The client puts
arguments in the query string even on POST, in form bodies and in JSON bodies depending on the
method, so all three are merged. Tokens and scopes are checked like Slack (`not_authed`,
`invalid_auth`, `not_allowed_token_type`, `missing_scope`), every answer carries the
`x-oauth-scopes` header Bolt and scope checks read, and any method can be told to answer
HTTP 429 with an integer `Retry-After` so rate-limit handling is exercised for real.
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from sandbox.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_TEXT,
    MAX_VIEW_BLOCKS,
    block_errors,
    with_generated_ids,
)
from sandbox.slack.socket_mode import SocketModeHub
from sandbox.slack.state import Channel, Json, Message, SlackFile, SlackStandInError, Workspace, stable_id

API_PREFIX = "/api/"
UPLOAD_PREFIX = "/upload/v1/"
DEFAULT_BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "files:write",
    "groups:read",
    "reactions:write",
    "usergroups:read",
    "users:read",
)

Credential = Literal["bot", "app"]


class ApiCall(BaseModel):
    """One Web API request as the stand-in saw it (token removed), for assertions and transcripts."""

    method: str
    params: Json
    status: int
    error: str | None = None


class _SlackError(Exception):
    """An `{"ok": false, "error": ...}` answer; `extra` adds Slack's detail fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass(frozen=True)
class _Call:
    params: Json
    host: str

    def text(self, key: str) -> str:
        value = self.params.get(key)
        return "" if value is None else str(value)

    def required(self, key: str, error: str) -> str:
        value = self.text(key)
        if not value:
            raise _SlackError(error)
        return value

    def json_value(self, key: str, error: str) -> Any:
        """A JSON argument, sent as a JSON value (JSON body) or as a string (query or form)."""
        value = self.params.get(key)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _SlackError(error) from None


@dataclass(frozen=True)
class _Method:
    handler: Callable[[_Call], Awaitable[Json]]
    accepts: Credential = "bot"
    scope: str | None = None


@dataclass
class _PendingUpload:
    file_id: str
    filename: str
    length: int
    content: bytes | None = None


@dataclass
class _RateLimit:
    remaining: int
    retry_after: int


async def _merged_params(request: web.Request) -> Json:
    """Query, form and JSON arguments in one dict, as Slack reads them."""
    params: Json = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _SlackError("invalid_json") from None
        if isinstance(body, dict):
            params |= body
    elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.post()
        params |= {key: value for key, value in form.items() if isinstance(value, str)}
    return params


class WebApi:
    def __init__(
        self,
        workspace: Workspace,
        hub: SocketModeHub,
        *,
        bot_token: str,
        app_token: str,
        bot_scopes: Iterable[str],
    ) -> None:
        self._workspace = workspace
        self._hub = hub
        self._tokens: dict[str, Credential] = {bot_token: "bot", app_token: "app"}
        self.bot_scopes = tuple(bot_scopes)
        self.calls: list[ApiCall] = []
        self._uploads: dict[str, _PendingUpload] = {}
        self._rate_limits: dict[str, _RateLimit] = {}
        self._methods: dict[str, _Method] = {
            "auth.test": _Method(self._auth_test),
            "apps.connections.open": _Method(self._connections_open, accepts="app"),
            "chat.postMessage": _Method(self._post_message, scope="chat:write"),
            "chat.update": _Method(self._update, scope="chat:write"),
            "chat.postEphemeral": _Method(self._post_ephemeral, scope="chat:write"),
            "chat.getPermalink": _Method(self._permalink),
            "views.publish": _Method(self._views_publish),
            "files.getUploadURLExternal": _Method(self._upload_url, scope="files:write"),
            "files.completeUploadExternal": _Method(self._complete_upload, scope="files:write"),
            "conversations.info": _Method(self._conversations_info, scope="channels:read"),
            "conversations.replies": _Method(self._conversations_replies, scope="channels:history"),
            "users.info": _Method(self._users_info, scope="users:read"),
            "reactions.add": _Method(self._reactions_add, scope="reactions:write"),
            "usergroups.users.list": _Method(self._usergroup_users, scope="usergroups:read"),
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", API_PREFIX + "{method}", self._handle),
            web.post(UPLOAD_PREFIX + "{upload}", self._receive_upload),
        ]

    def fail_next(self, method: str, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next `count` calls of `method` with HTTP 429 and `Retry-After: retry_after`."""
        if method not in self._methods:
            raise SlackStandInError(f"unknown Web API method {method!r} (served: {', '.join(sorted(self._methods))})")
        if count < 1 or retry_after < 0:
            raise SlackStandInError(f"fail_next needs count >= 1 and retry_after >= 0, got {count} and {retry_after}")
        self._rate_limits[method] = _RateLimit(remaining=count, retry_after=retry_after)

    # -- the envelope around every method ----------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        params: Json = {}
        body: Json
        headers = {"x-slack-req-id": uuid.uuid4().hex, "x-slack-backend": "r"}
        status, body = 200, {"ok": True}
        try:
            params = await _merged_params(request)
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            token = str(params.pop("token", "") or bearer)
            method = self._methods.get(name)
            if method is None:
                raise _SlackError("unknown_method", req_method=name)
            kind = self._authenticate(token, method)
            if kind == "bot":
                headers["x-oauth-scopes"] = ",".join(self.bot_scopes)
                headers["x-accepted-oauth-scopes"] = method.scope or ""
            limit = self._rate_limits.get(name)
            if limit is not None and limit.remaining > 0:
                limit.remaining -= 1
                headers["Retry-After"] = str(limit.retry_after)
                status = 429
                raise _SlackError("ratelimited")
            body |= await method.handler(_Call(params=params, host=request.host))
        except _SlackError as failure:
            body = {"ok": False, "error": failure.error, **failure.extra}
        self.calls.append(ApiCall(method=name, params=params, status=status, error=body.get("error")))
        return web.json_response(body, status=status, headers=headers)

    def _authenticate(self, token: str, method: _Method) -> Credential:
        if not token:
            raise _SlackError("not_authed")
        kind = self._tokens.get(token)
        if kind is None:
            raise _SlackError("invalid_auth")
        if kind != method.accepts:
            raise _SlackError("not_allowed_token_type")
        if method.scope and method.scope not in self.bot_scopes:
            raise _SlackError("missing_scope", needed=method.scope, provided=",".join(self.bot_scopes))
        return kind

    # -- shared checks -----------------------------------------------------------------------------

    def _channel_by_id(self, call: _Call, key: str = "channel") -> Channel:
        """A channel named by its id, as every method but chat.postMessage requires."""
        channel = self._workspace.channels.get(call.text(key))
        if channel is None or (channel.is_private and self._workspace.bot_user_id not in channel.members):
            raise _SlackError("channel_not_found")
        return channel

    def _member_channel(self, channel: Channel) -> Channel:
        if self._workspace.bot_user_id not in channel.members:
            raise _SlackError("not_in_channel")
        return channel

    def _message(self, channel: Channel, ts: str) -> Message:
        message = self._workspace.find_message(channel.id, ts)
        if message is None:
            raise _SlackError("message_not_found")
        return message

    def _content(self, call: _Call) -> tuple[str | None, list[Json] | None]:
        """(text, blocks) after Slack's checks: no_text, msg_too_long, invalid_blocks."""
        text = call.params.get("text")
        blocks = call.json_value("blocks", "invalid_blocks_format")
        if not text and not blocks:
            raise _SlackError("no_text")
        if text is not None and len(str(text)) > MAX_MESSAGE_TEXT:
            raise _SlackError("msg_too_long")
        if blocks is not None:
            errors = block_errors(blocks, limit=MAX_MESSAGE_BLOCKS)
            if errors:
                raise _SlackError(
                    "invalid_blocks",
                    errors=[error.removeprefix("[ERROR] ") for error in errors],
                    response_metadata={"messages": errors},
                )
        return (None if text is None else str(text)), (None if blocks is None else with_generated_ids(blocks))

    # -- methods -----------------------------------------------------------------------------------

    async def _auth_test(self, _: _Call) -> Json:
        workspace = self._workspace
        return {
            "url": workspace.url,
            "team": workspace.team_name,
            "user": workspace.users[workspace.bot_user_id].name,
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }

    async def _connections_open(self, call: _Call) -> Json:
        return {"url": self._hub.issue_url(call.host)}

    async def _post_message(self, call: _Call) -> Json:
        workspace = self._workspace
        channel = workspace.find_channel(call.text("channel"))
        if channel is None:
            raise _SlackError("channel_not_found")
        self._member_channel(channel)
        text, blocks = self._content(call)
        message = await workspace.post(
            channel.id,
            user=workspace.bot_user_id,
            text=text or "",
            blocks=blocks,
            thread_ts=call.text("thread_ts") or None,
            metadata=call.json_value("metadata", "invalid_metadata_format"),
        )
        return {"channel": channel.id, "ts": message.ts, "message": workspace.message_json(message)}

    async def _update(self, call: _Call) -> Json:
        channel = self._channel_by_id(call)
        message = self._message(channel, call.text("ts"))
        if message.user != self._workspace.bot_user_id:
            raise _SlackError("cant_update_message")
        text, blocks = self._content(call)
        await self._workspace.update(message, text=text, blocks=blocks)
        return {
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            "message": self._workspace.message_json(message),
        }

    async def _post_ephemeral(self, call: _Call) -> Json:
        workspace = self._workspace
        channel = workspace.find_channel(call.text("channel"))
        if channel is None:
            raise _SlackError("channel_not_found")
        self._member_channel(channel)
        user = workspace.find_user(call.required("user", "user_not_found"))
        if user is None:
            raise _SlackError("user_not_found")
        if user.id not in channel.members:
            raise _SlackError("user_not_in_channel")
        text, blocks = self._content(call)
        ephemeral = await workspace.post_ephemeral(
            channel.id, user=user.id, text=text or "", blocks=blocks, thread_ts=call.text("thread_ts") or None
        )
        return {"message_ts": ephemeral.ts}

    async def _permalink(self, call: _Call) -> Json:
        channel = self._channel_by_id(call)
        message = self._message(channel, call.text("message_ts"))
        permalink = f"{self._workspace.url}archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            permalink += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": permalink}

    async def _views_publish(self, call: _Call) -> Json:
        workspace = self._workspace
        user = workspace.find_user(call.required("user_id", "invalid_arguments"))
        if user is None:
            raise _SlackError("user_not_found")
        view = call.json_value("view", "invalid_arguments")
        if not isinstance(view, dict) or view.get("type") != "home":
            messages = ["[ERROR] must be a home view [json-pointer:/view]"]
            raise _SlackError("invalid_arguments", response_metadata={"messages": messages})
        errors = block_errors(view.get("blocks"), limit=MAX_VIEW_BLOCKS)
        if errors:
            raise _SlackError("invalid_arguments", response_metadata={"messages": errors})
        home = await workspace.publish_home(user.id, view)
        return {
            "view": {
                "id": home.id,
                "team_id": workspace.team_id,
                "type": "home",
                "blocks": view["blocks"],
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
                "external_id": view.get("external_id", ""),
                "state": {"values": {}},
                "hash": home.hash,
                "clear_on_close": False,
                "notify_on_close": False,
                "root_view_id": home.id,
                "previous_view_id": None,
                "app_id": workspace.app_id,
                "app_installed_team_id": workspace.team_id,
                "bot_id": workspace.bot_id,
            }
        }

    async def _upload_url(self, call: _Call) -> Json:
        filename = call.required("filename", "invalid_arguments")
        try:
            length = int(call.required("length", "invalid_arguments"))
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        upload = _PendingUpload(file_id=stable_id("F", uuid.uuid4()), filename=filename, length=length)
        secret = secrets.token_urlsafe(18)
        self._uploads[secret] = upload
        return {"upload_url": f"http://{call.host}{UPLOAD_PREFIX}{secret}", "file_id": upload.file_id}

    async def _receive_upload(self, request: web.Request) -> web.Response:
        """The upload URL takes the file's raw bytes as the body, as slack_sdk sends them."""
        upload = self._uploads.get(request.match_info["upload"])
        if upload is None:
            return web.Response(status=404, text="upload URL not found or already used", content_type="text/plain")
        content = await request.read()
        upload.content = content
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    async def _complete_upload(self, call: _Call) -> Json:
        workspace = self._workspace
        items = call.json_value("files", "invalid_arguments")
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            raise _SlackError("invalid_arguments")
        channel = self._channel_by_id(call, "channel_id") if call.text("channel_id") else None
        if channel is not None:
            self._member_channel(channel)
        uploads = {upload.file_id: (secret, upload) for secret, upload in self._uploads.items()}
        files = []
        for item in items:
            found = uploads.get(str(item.get("id")))
            if found is None or found[1].content is None:
                raise _SlackError("file_not_found")
            secret, upload = found
            del self._uploads[secret]
            content = upload.content or b""
            files.append(
                SlackFile(
                    id=upload.file_id,
                    name=upload.filename,
                    title=str(item.get("title") or upload.filename),
                    mimetype=mimetypes.guess_type(upload.filename)[0] or "application/octet-stream",
                    size=len(content),
                    user=workspace.bot_user_id,
                    created=int(workspace.clock()),
                    content=content,
                )
            )
        for file in files:
            await workspace.store_file(file)
        shares: Json = {}
        if channel is not None:
            message = await workspace.post(
                channel.id,
                user=workspace.bot_user_id,
                text=call.text("initial_comment"),
                thread_ts=call.text("thread_ts") or None,
                files=files,
            )
            share: Json = {"ts": message.ts, "channel_name": channel.name, "team_id": workspace.team_id}
            if message.thread_ts:
                share["thread_ts"] = message.thread_ts
            shares = {"private" if channel.is_private else "public": {channel.id: [share]}}
        return {"files": [file.api_json(workspace.domain, shares) for file in files]}

    async def _conversations_info(self, call: _Call) -> Json:
        return {"channel": self._channel_by_id(call).api_json(self._workspace.bot_user_id)}

    async def _conversations_replies(self, call: _Call) -> Json:
        channel = self._member_channel(self._channel_by_id(call))
        messages = self._workspace.thread(channel.id, call.text("ts"))
        if not messages or messages[0].ts != call.text("ts"):
            raise _SlackError("thread_not_found")
        return {
            "messages": [self._workspace.message_json(message) for message in messages],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    async def _users_info(self, call: _Call) -> Json:
        user = self._workspace.users.get(call.text("user"))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": user.api_json(self._workspace.team_id)}

    async def _reactions_add(self, call: _Call) -> Json:
        channel = self._channel_by_id(call)
        message = self._message(channel, call.text("timestamp"))
        name = call.required("name", "invalid_name").strip(":")
        if not await self._workspace.react(message, user=self._workspace.bot_user_id, name=name):
            raise _SlackError("already_reacted")
        return {}

    async def _usergroup_users(self, call: _Call) -> Json:
        group = self._workspace.usergroups.get(call.text("usergroup"))
        if group is None:
            raise _SlackError("no_such_subteam")
        return {"users": list(group.users)}

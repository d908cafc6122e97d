"""Slack's `response_url`s: where an app answers a slash command or a button click.

Bolt's `respond()` POSTs JSON here. Slack's rules are kept because the bot relies on them:
ephemeral by default, `in_channel` posts for everyone, `replace_original` / `delete_original`
act on the message whose button was clicked, and a URL works at most five times. A slash
command's ack payload is handled by the same rules (Slack treats it as the first response).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from sandbox.slack.blocks import MAX_MESSAGE_TEXT, block_errors, with_generated_ids
from sandbox.slack.state import Workspace

Json = dict[str, Any]

MAX_USES = 5


class ResponseTarget(BaseModel):
    """What a response URL answers: who acted, where, and (for clicks) on which message."""

    channel_id: str
    user_id: str
    kind: str
    message_ts: str | None = None
    message_is_ephemeral: bool = False
    thread_ts: str | None = None
    uses: int = 0


class ResponseRejectedError(Exception):
    """Slack's plain-text refusal of a response (e.g. `no_text`), with its HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ResponseUrls:
    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._targets: dict[str, ResponseTarget] = {}
        self.root: str | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/{kind:commands|actions}/{team}/{hook}/{secret}", self._handle)]

    def issue(self, target: ResponseTarget) -> str:
        """A new URL shaped like hooks.slack.com's, under the stand-in's own address."""
        if self.root is None:
            raise RuntimeError("the Slack stand-in is not started: response URLs need its address")
        path = f"/{target.kind}/{self._workspace.team_id}/{secrets.randbelow(10**13)}/{secrets.token_hex(12)}"
        self._targets[path] = target
        return self.root + path

    def target(self, url: str) -> ResponseTarget | None:
        if self.root is None or not url.startswith(self.root):
            return None
        return self._targets.get(url.removeprefix(self.root))

    async def _handle(self, request: web.Request) -> web.Response:
        target = self._targets.get(request.path)
        if target is None:
            return web.Response(status=404, text="no_service")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        if target.uses >= MAX_USES:
            return web.Response(status=404, text="used_url")
        try:
            await self.apply(target, body)
        except ResponseRejectedError as rejected:
            return web.Response(status=rejected.status, text=rejected.reason)
        return web.Response(text="ok")

    async def apply(self, target: ResponseTarget, body: Json) -> None:
        """Act on one response as Slack does; raises `ResponseRejectedError` for what Slack refuses."""
        target.uses += 1
        workspace = self._workspace
        if body.get("delete_original"):
            await self._delete_original(target)
            return
        text, blocks = body.get("text") or "", body.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                raise ResponseRejectedError(400, "invalid_blocks") from None
        if not text and not blocks:
            raise ResponseRejectedError(400, "no_text")
        if len(text) > MAX_MESSAGE_TEXT:
            raise ResponseRejectedError(400, "msg_too_long")
        if blocks is not None:
            if block_errors(blocks):
                raise ResponseRejectedError(400, "invalid_blocks")
            blocks = with_generated_ids(blocks)
        thread_ts = body.get("thread_ts") or target.thread_ts
        if body.get("replace_original") and target.message_ts:
            await self._replace_original(target, text, blocks)
        elif body.get("response_type") == "in_channel":
            await workspace.post(
                target.channel_id, user=workspace.bot_user_id, text=text, blocks=blocks, thread_ts=thread_ts
            )
        else:
            await workspace.post_ephemeral(
                target.channel_id, user=target.user_id, text=text, blocks=blocks, thread_ts=thread_ts
            )

    async def _replace_original(self, target: ResponseTarget, text: str, blocks: list[Json] | None) -> None:
        workspace, ts = self._workspace, target.message_ts or ""
        if target.message_is_ephemeral:
            ephemeral = workspace.find_ephemeral(target.channel_id, ts)
            if ephemeral is None:
                raise ResponseRejectedError(404, "message_not_found")
            await workspace.update_ephemeral(ephemeral, text=text, blocks=blocks or [])
            return
        message = workspace.find_message(target.channel_id, ts)
        if message is None:
            raise ResponseRejectedError(404, "message_not_found")
        await workspace.update(message, text=text, blocks=blocks or [])

    async def _delete_original(self, target: ResponseTarget) -> None:
        workspace, ts = self._workspace, target.message_ts or ""
        if target.message_is_ephemeral:
            ephemeral = workspace.find_ephemeral(target.channel_id, ts)
            if ephemeral is not None:
                await workspace.delete_ephemeral(ephemeral)
                return
        message = workspace.find_message(target.channel_id, ts)
        if message is None:
            raise ResponseRejectedError(404, "message_not_found")
        await workspace.delete(message)

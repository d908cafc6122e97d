"""Messages only the asker sees, wherever they typed the command.

An ephemeral message needs the bot in the channel; a slash command can be typed anywhere (a DM,
a channel nobody invited the bot to). There the command's response_url is the only way back to
the person, so a reply switches to it when Slack says the bot is not a member.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError

from bot.slack.redacting_client import RedactingWebClient
from bot.slack.render.blocks import Json


class PrivateReply:
    """Messages only the asker sees: ephemerals, or the command's response_url where the bot is not a member."""

    _NOT_MEMBER = frozenset({"not_in_channel", "channel_not_found"})

    def __init__(self, client: RedactingWebClient, channel_id: str, user: str, response_url: str | None) -> None:
        self._client = client
        self._channel_id = channel_id
        self._user = user
        self._response_url = response_url
        self._via_response_url = False

    async def send(self, text: str, blocks: list[Json] | None = None) -> None:
        if not self._via_response_url:
            try:
                await self._client.chat_postEphemeral(
                    channel=self._channel_id, user=self._user, text=text, blocks=blocks
                )
                return
            except SlackApiError as exc:
                if exc.response.get("error") not in self._NOT_MEMBER or not self._response_url:
                    raise
                self._via_response_url = True
        assert self._response_url is not None
        payload: dict[str, Any] = {"text": text, "response_type": "ephemeral"}
        if blocks:
            payload["blocks"] = blocks
        await self._client.respond(self._response_url, payload)

"""Channel names and bindings: config speaks "#incident-payments", Slack's events speak "C0123...".

Bindings decide whether an answer is posted for everyone or only for the asker, and the policy
checks proposals against channel names, so ids from events are turned into names once per
channel and remembered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from guardrails.policy_config import ChannelBinding

logger = logging.getLogger(__name__)


def _key(channel: str) -> str:
    return channel.strip().lstrip("#").lower()


def is_bound(bindings: Sequence[ChannelBinding], channel_id: str, channel_name: str) -> bool:
    """True when a binding names this channel, by id or by name; no bindings means no channel is bound."""
    keys = {_key(channel_id), _key(channel_name)}
    return any(_key(binding.channel) in keys for binding in bindings)


class ChannelNames:
    """'#name' for a channel id, asked of Slack once per channel."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._names: dict[str, str] = {}

    async def name(self, channel_id: str) -> str:
        """The channel's '#name'; its id when Slack will not say (a DM, a missing scope)."""
        if channel_id not in self._names:
            try:
                info = await self._client.conversations_info(channel=channel_id)
            except SlackApiError as exc:
                logger.info("no name for channel %s: %s", channel_id, exc.response.get("error"))
                return channel_id
            self._names[channel_id] = f"#{info['channel']['name']}"
        return self._names[channel_id]

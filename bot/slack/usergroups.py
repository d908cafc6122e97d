"""Which of the configured approver groups a Slack user belongs to, asked of Slack itself.

Approver groups are Slack user groups (`access.approver_groups`, ids like S0123ABCD), so that
on-call rotations managed in Slack decide who may approve without editing the bot's config.
Members are read with `usergroups.users.list`, one call per configured group, and kept for a few
minutes: an approval click must not wait on Slack each time, and a rotation change still takes
effect within minutes. When Slack cannot answer, the group counts as having no members (fail
closed): an outage must never turn a stranger into an approver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

MEMBERS_TTL_S = 300.0


class ApproverGroups:
    """A `GroupResolver` for RemediationService: `await groups(user_id)` -> the approver groups the user is in."""

    def __init__(
        self,
        client: AsyncWebClient,
        group_ids: Sequence[str],
        *,
        ttl_s: float = MEMBERS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._group_ids = list(dict.fromkeys(group_ids))
        self._ttl_s = ttl_s
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def __call__(self, user: str) -> set[str]:
        return {group for group in self._group_ids if user in await self._members_of(group)}

    async def _members_of(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as error:
            logger.warning("cannot read the members of user group %s: %s", group, error.response.get("error"))
            return frozenset()
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            logger.warning("cannot read the members of user group %s: %s", group, reason)
            return frozenset()
        members = frozenset(str(user) for user in response.get("users") or [])
        # Only answers are cached: after a failure the next click asks Slack again.
        self._members[group] = (self._clock(), members)
        return members

"""Scheduled checks as channel digests: run a check, keep what is news, post it where it belongs.

One run of one check becomes at most one message per channel: findings go to the channel of
the team owning them (from the service catalog), the rest to the check's channel or the
default one. A channel Slack refuses (the bot was never invited) costs only that channel's
message: it is logged in one line, shown on App Home, and its items stay unreported so the run
after the invitation posts them.

`digest_schedule` is what `whisperer run` (and the Slack world of the demo) wraps around
serving Slack: the configured checks on their schedules, stopped cleanly on the way out.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.catalog import Catalog
from agents.toolbox import Toolbox, ToolError
from bot.config import CheckConfig, Config
from bot.slack.render.digest import digest_message
from scheduled_checks.dedupe import DigestItem, plan_digest, save_plan
from scheduled_checks.history import record_run
from scheduled_checks.models import CheckRun, CheckSchedule
from scheduled_checks.registry import ScheduledCheck, get_check
from scheduled_checks.routing import observe
from scheduled_checks.scheduler import CheckScheduler
from store.base import Store
from store.models import utcnow

log = logging.getLogger(__name__)

_REFUSALS = {
    "not_in_channel": "the bot is not a member of {channel}; invite it with /invite @{bot}",
    "channel_not_found": "no channel {channel} that the bot can see (a typo, or a private channel it is not in)",
    "is_archived": "{channel} is archived",
}


def schedules(config: Config) -> list[CheckSchedule]:
    """The configured checks as `/whisper checks` lists them."""
    return [
        CheckSchedule(
            name=name,
            when=check.schedule.describe(),
            channel=check.channel or config.slack.default_channel,
            enabled=check.enabled,
        )
        for name, check in sorted(config.checks.items())
    ]


class DigestPoster:
    """Runs checks through the toolbox and posts their digests with `client` (the redacting one)."""

    def __init__(
        self,
        *,
        toolbox: Toolbox,
        store: Store,
        catalog: Catalog,
        config: Config,
        client: AsyncWebClient,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._toolbox = toolbox
        self._store = store
        self._catalog = catalog
        self._config = config
        self._client = client
        self._clock = clock

    async def run(self, name: str) -> CheckRun:
        """One run of check `name`, posted and remembered; its outcome is also in the audit log."""
        check = get_check(name)
        settings = self._config.checks.get(name, CheckConfig())
        fallback = settings.channel or self._config.slack.default_channel
        now = self._clock()
        try:
            result = await check.run(self._toolbox)
        except ToolError as error:
            log.warning("check %s could not run: %s", name, error)
            failed = CheckRun(check=name, at=now, error=str(error))
            await record_run(self._store, failed)
            return failed
        observations = observe(check, result, self._catalog, fallback)
        records = await self._store.list_findings(name, include_resolved=True)
        plan = plan_digest(name, observations, records, now, timedelta(hours=settings.remind_after_hours))
        posted: dict[str, int] = {}
        undelivered: dict[str, str] = {}
        for channel, items in _by_channel(plan.items, fallback).items():
            refusal = await self._post(check, channel, items, result.checked, now)
            if refusal is None:
                posted[channel] = len(items)
            else:
                undelivered[channel] = refusal
        delivered = {item.key for item in plan.items if (item.channel or fallback) in posted}
        await save_plan(self._store, plan, delivered)
        run = CheckRun(
            check=name,
            at=now,
            findings=len(result.findings),
            checked=result.checked,
            posted=posted,
            undelivered=undelivered,
        )
        await record_run(self._store, run)
        return run

    async def _post(
        self, check: ScheduledCheck, channel: str, items: Sequence[DigestItem], checked: str, now: datetime
    ) -> str | None:
        """Post one channel's digest; the reason Slack refused it, or None when it was posted."""
        text, blocks = digest_message(check.title, channel, items, checked, now)
        try:
            await self._client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            template = _REFUSALS.get(error, "Slack refused the message ({error})")
            reason = template.format(channel=channel, bot=self._config.slack.bot_user_name, error=error)
            log.warning("check %s: digest for %s not posted: %s", check.name, channel, reason)
            return reason
        return None


def _by_channel(items: Sequence[DigestItem], fallback: str) -> dict[str, list[DigestItem]]:
    grouped: dict[str, list[DigestItem]] = {}
    for item in items:
        grouped.setdefault(item.channel or fallback, []).append(item)
    return grouped


@contextlib.asynccontextmanager
async def digest_schedule(poster: DigestPoster, store: Store, config: Config) -> AsyncIterator[CheckScheduler]:
    """Every enabled check of the config running on its schedule for the duration of the block."""
    scheduler = CheckScheduler(poster.run, store)
    for name, check in config.checks.items():
        if check.enabled:
            schedule = check.schedule
            scheduler.add(name, cron=schedule.cron, every_minutes=schedule.every_minutes, timezone=schedule.timezone)
    scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.stop()

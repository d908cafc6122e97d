"""The Slack surface wired to a runtime: the one place `run` and `demo` build `SlackDeps` and digests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from slack_sdk.web.async_client import AsyncWebClient

from agents.catalog import Catalog
from bot.config import Config
from bot.digests import DigestPoster, digest_schedule, schedules
from bot.observability.specialist_timing import TimedAsker
from bot.runtime import Runtime
from bot.slack.ack_timing import ignore_acks
from bot.slack.deps import SLACK_API, SlackDeps
from bot.slack.recovery import recovering
from bot.slack.redacting_client import redacting_client
from bot.slack.usergroups import ApproverGroups
from scheduled_checks.scheduler import CheckScheduler


def approver_groups(config: Config, bot_token: str, base_url: str = SLACK_API) -> ApproverGroups:
    """The approver-group lookup the runtime's remediation needs; built before the runtime opens."""
    return ApproverGroups(AsyncWebClient(token=bot_token, base_url=base_url), config.access.approver_groups)


def slack_deps(
    runtime: Runtime, bot_token: str, base_url: str = SLACK_API, live_update_interval: float = 1.0
) -> SlackDeps:
    metrics = runtime.metrics
    return SlackDeps(
        asker=runtime.assistant if metrics is None else TimedAsker(runtime.assistant, metrics),
        remediation=runtime.remediation,
        store=runtime.store,
        redactor=runtime.redactor,
        bot_token=bot_token,
        base_url=base_url,
        channels=runtime.config.channels,
        health=runtime.toolbox.health,
        live_update_interval=live_update_interval,
        checks=schedules(runtime.config),
        model_daily_usd=runtime.config.models.budget.daily_usd if runtime.config.models.enabled else None,
        observe_ack=ignore_acks if metrics is None else metrics.observe_ack,
    )


@contextlib.asynccontextmanager
async def scheduled_digests(
    runtime: Runtime, bot_token: str, base_url: str = SLACK_API
) -> AsyncIterator[CheckScheduler]:
    """The configured checks posting digests through their own redacting client while the block runs."""
    client = redacting_client(bot_token, base_url, runtime.redactor)
    poster = DigestPoster(
        toolbox=runtime.toolbox,
        store=runtime.store,
        catalog=Catalog(runtime.sources.services),
        config=runtime.config,
        client=client,
    )
    try:
        async with digest_schedule(poster, runtime.store, runtime.config) as scheduler:
            yield scheduler
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def recovery_sweep(runtime: Runtime, deps: SlackDeps) -> AsyncIterator[None]:
    """Half-done fixes of stopped replicas taken over while the block runs, through their own client.

    Sweeping twice per takeover period bounds how long a thread waits to about one and a half of them.
    """
    client = redacting_client(deps.bot_token, deps.base_url, runtime.redactor)
    try:
        async with recovering(deps, client, runtime.remediation, runtime.config.remediation.takeover_after_s / 2):
            yield
    finally:
        await client.close()

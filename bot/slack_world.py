"""A world with the real Slack app attached: the sandbox, the agents, a Slack stand-in and the Bolt app.

`demo` and `eval` both play cases through this, so what the demo shows is exactly what the
evaluation judges.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.observability.metrics import BotMetrics
from bot.runtime import Runtime, open_runtime
from bot.session import command_sources
from bot.slack.app import build_app
from bot.slack.socket import connect, disconnect
from bot.slack_wiring import approver_groups, scheduled_digests, slack_deps
from sandbox.slack import SlackStandIn
from sandbox.world import World, load_world
from scheduled_checks.scheduler import CheckScheduler

FALLBACK_CHANNEL = "#general"
# Fast enough that a transcript shows the live progress edits without flooding the stand-in.
DEMO_UPDATE_INTERVAL_S = 0.1


@dataclass
class SlackWorld:
    world: World
    runtime: Runtime
    slack: SlackStandIn
    scheduler: CheckScheduler
    """the world config's checks on their schedules; `run_now` plays one run as the schedule would"""

    @property
    def default_channel(self) -> str:
        """Where a case without a channel is asked: the first channel the world's policy binds."""
        bound = self.runtime.config.channels
        return bound[0].channel if bound else FALLBACK_CHANNEL


@contextlib.asynccontextmanager
async def slack_world(
    config_file: str | None, world_name: str, metrics: BotMetrics | None = None
) -> AsyncIterator[SlackWorld]:
    """With `metrics`, the bot is measured as `whisperer run` measures it."""
    world = load_world(world_name)
    async with (
        command_sources(config_file, world_name) as (config, sources, store_url),
        SlackStandIn() as slack,
        open_runtime(
            config,
            sources,
            store_url=store_url,
            groups=approver_groups(config, slack.bot_token, slack.base_url),
            metrics=metrics,
        ) as runtime,
    ):
        # The bot has been invited to the bound channels and to every team's channel of the catalog.
        for channel in {binding.channel for binding in runtime.config.channels} | {
            service.channel for service in runtime.sources.services
        }:
            slack.workspace.ensure_channel(channel)
        deps = slack_deps(runtime, slack.bot_token, slack.base_url, DEMO_UPDATE_INTERVAL_S)
        handler = await connect(build_app(deps), slack.app_token)
        try:
            async with scheduled_digests(runtime, slack.bot_token, slack.base_url) as scheduler:
                yield SlackWorld(world, runtime, slack, scheduler)
        finally:
            await disconnect(handler)

"""The Slack surface wired to a runtime: the one place `run` and `demo` build `SlackDeps`."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Config
from bot.runtime import Runtime
from bot.slack.deps import SLACK_API, SlackDeps
from bot.slack.usergroups import ApproverGroups


def approver_groups(config: Config, bot_token: str, base_url: str = SLACK_API) -> ApproverGroups:
    """The approver-group lookup the runtime's remediation needs; built before the runtime opens."""
    return ApproverGroups(AsyncWebClient(token=bot_token, base_url=base_url), config.access.approver_groups)


def slack_deps(
    runtime: Runtime, bot_token: str, base_url: str = SLACK_API, live_update_interval: float = 1.0
) -> SlackDeps:
    return SlackDeps(
        asker=runtime.assistant,
        remediation=runtime.remediation,
        store=runtime.store,
        redactor=runtime.redactor,
        bot_token=bot_token,
        base_url=base_url,
        channels=runtime.config.channels,
        health=runtime.toolbox.health,
        live_update_interval=live_update_interval,
    )

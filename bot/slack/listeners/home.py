"""The App Home tab, published each time someone opens it, from the store and the sources' health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.deps import SlackDeps
from bot.slack.redacting_client import door
from bot.slack.render.home import HomeData, home_view
from scheduled_checks.history import last_runs
from store import utcnow

logger = logging.getLogger(__name__)

T = TypeVar("T")
RECENT_INCIDENTS = 10


async def _load(what: Awaitable[T], section: str, problems: dict[str, str]) -> T | None:
    """One section's data; a failure blanks only that section, with a reason, not the whole tab."""
    try:
        return await what
    except Exception as exc:
        logger.warning("home tab: could not load %s", section, exc_info=exc)
        problems[section] = type(exc).__name__
        return None


async def home_data(deps: SlackDeps) -> HomeData:
    problems: dict[str, str] = {}
    pending, incidents, findings, runs, sources = await asyncio.gather(
        _load(deps.remediation.pending(), "pending", problems),
        _load(deps.store.list_incidents(limit=RECENT_INCIDENTS), "incidents", problems),
        _load(deps.store.list_findings(), "findings", problems),
        _load(last_runs(deps.store), "check_runs", problems),
        _load(deps.health(), "sources", problems),
    )
    return HomeData(
        pending=pending, incidents=incidents, findings=findings, check_runs=runs, sources=sources, problems=problems
    )


async def publish_home(deps: SlackDeps, client: AsyncWebClient, event: dict[str, Any]) -> None:
    if event.get("tab", "home") != "home":
        return
    view = home_view(await home_data(deps), utcnow())
    await client.views_publish(user_id=str(event["user"]), view=view)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    client = door(app)

    async def on_home_opened(event: dict[str, Any]) -> None:
        await publish_home(deps, client, event)

    app.event("app_home_opened")(on_home_opened)

"""Digests through the real app and the Slack stand-in, with the check itself scripted.

The scripted check finds one problem for the payments team and one for the platform team, so
the routing and a channel the bot was never invited to can be seen side by side.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import pytest

from agents.catalog import Catalog, Service
from agents.toolbox import Toolbox
from bot.config import build_config
from bot.digests import DigestPoster
from bot.slack.redacting_client import redacting_client
from bot.slack.render.digest import digest_message
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn, block_errors, render_blocks
from scheduled_checks.dedupe import plan_digest
from scheduled_checks.models import CheckResult, Observation
from scheduled_checks.registry import CHECKS
from store import Store
from tests.bot.slack.conftest import launch
from tools.findings import Finding, ObjectRef, Severity

CHECK = "workload-health"
PAYMENTS, PLATFORM = "#oncall-payments", "#platform-alerts"
CATALOG = Catalog(
    [
        Service(name="payment-service", namespace="shop", team="payments", channel=PAYMENTS, repo="a/p"),
        Service(name="api-gateway", namespace="platform", team="platform", channel=PLATFORM, repo="a/g"),
    ]
)


def problem(namespace: str, name: str, summary: str) -> Finding:
    return Finding(
        source="kubernetes",
        severity=Severity.CRITICAL,
        summary=summary,
        reason="CrashLoopBackOff",
        subject=ObjectRef(kind="Pod", name=f"{name}-6f9d-q9m4t", namespace=namespace),
        details={"owner": {"kind": "Deployment", "name": name, "namespace": namespace}},
    )


async def two_teams(toolbox: Toolbox) -> CheckResult:
    return CheckResult(
        findings=[
            problem("shop", "payment-service", "payment-service-6f9d-q9m4t is in CrashLoopBackOff"),
            problem("platform", "api-gateway", "api-gateway-6f9d-q9m4t is in CrashLoopBackOff"),
        ],
        checked="12 objects analyzed",
    )


@pytest.fixture
def scripted_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CHECKS, CHECK, dataclasses.replace(CHECKS[CHECK], run=two_teams))


@pytest.mark.usefixtures("scripted_check")
async def test_a_channel_the_bot_is_not_in_is_reported_and_the_other_channels_are_served(
    slack: SlackStandIn, store: Store, redactor: Redactor, caplog: pytest.LogCaptureFixture
) -> None:
    slack.workspace.add_channel(PAYMENTS)
    platform = slack.workspace.add_channel(PLATFORM, bot_member=False)
    config = build_config({"checks": {CHECK: {"schedule": {"every_minutes": 30}}}}, source="test")
    client = redacting_client(slack.bot_token, slack.base_url, redactor)
    async with launch(slack, store, redactor), Toolbox({}) as toolbox:
        poster = DigestPoster(toolbox=toolbox, store=store, catalog=CATALOG, config=config, client=client)
        with caplog.at_level(logging.WARNING, logger="bot.digests"):
            run = await poster.run(CHECK)
        assert run.posted == {PAYMENTS: 1}
        [digest] = slack.driver.channel_messages(PAYMENTS)
        assert "payment-service-6f9d-q9m4t is in CrashLoopBackOff" in slack.driver.render(digest)
        assert "api-gateway" not in slack.driver.render(digest)
        assert slack.driver.channel_messages(PLATFORM) == []
        assert (
            f"check {CHECK}: digest for {PLATFORM} not posted: the bot is not a member of {PLATFORM}; "
            "invite it with /invite @whisperer" in caplog.messages
        )

        await slack.driver.open_home("alice")
        home = await slack.driver.wait_for(lambda: slack.driver.home_view("alice"), 10, "alice's home tab")
        assert f"⚠️ *{CHECK}* digest not posted to {PLATFORM}: the bot is not a member" in render_blocks(
            home.view["blocks"]
        )

        platform.members.add(slack.workspace.bot_user_id)
        again = await poster.run(CHECK)
        assert (again.posted, again.undelivered) == ({PLATFORM: 1}, {})
        [late] = slack.driver.channel_messages(PLATFORM)
        assert "api-gateway-6f9d-q9m4t is in CrashLoopBackOff" in slack.driver.render(late)
        assert len(slack.driver.channel_messages(PAYMENTS)) == 1
    await client.close()


def test_a_digest_with_more_items_than_a_message_holds_lists_the_rest() -> None:
    observations = [
        Observation(
            key=f"CrashLoopBackOff:Pod shop/worker-{index}",
            finding=problem("shop", f"worker-{index}", f"worker-{index} is in CrashLoopBackOff"),
            channel=PAYMENTS,
            question="Why is worker failing?",
        )
        for index in range(40)
    ]
    now = datetime(2026, 11, 20, 8, tzinfo=UTC)
    plan = plan_digest(CHECK, observations, [], now, now - now)
    text, blocks = digest_message("Workload health", PAYMENTS, plan.items, "40 objects analyzed", now)
    assert text == "Workload health: 40 critical"
    assert block_errors(blocks) == []
    shown = render_blocks(blocks)
    buttons = shown.count("[Acknowledge]")
    assert 10 <= buttons < 40
    assert f"{40 - buttons} more:" in shown and "worker-39 is in CrashLoopBackOff" in shown

"""Scheduled digests on the cert-expiry world: the real checks, the real app, the Slack stand-in.

The certificate of api.example.com (served by Ingress platform/api-gateway) expires in 48 h and
cannot renew because a CNAME is missing; the platform team owns api-gateway and listens in
#platform-alerts, so that is where the digest must go, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from bot.slack.render.digest import ACK_ACTION, INVESTIGATE_ACTION, SNOOZE_DAY_ACTION
from bot.slack.render.progress import PLACEHOLDER
from bot.slack_world import SlackWorld, slack_world
from sandbox.slack import EphemeralMessage, Message, render_blocks
from scheduled_checks.triage import DIGEST_ACTION
from store import utcnow

PLATFORM = "#platform-alerts"
CHECK = "cert-expiry"
RECORD = "_acme-challenge.api.example.com. CNAME api.example.com.acme-dns.example.net."


@asynccontextmanager
async def cert_world(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    """The world with cert-expiry scheduled on weekday mornings (entered in the test's own task:
    the MCP sessions inside must be closed by the task that opened them)."""
    config = tmp_path / "whisperer.yaml"
    config.write_text(f"checks:\n  {CHECK}:\n    schedule: {{cron: '0 8 * * 1-5', timezone: Europe/Berlin}}\n")
    async with slack_world(str(config), "cert-expiry") as session:
        yield session


def bot_posts(world: SlackWorld) -> dict[str, list[Message]]:
    """Every channel's top-level messages from the bot."""
    bot = world.slack.workspace.bot_user_id
    return {
        f"#{channel.name}": [m for m in world.slack.driver.channel_messages(channel.id) if m.user == bot]
        for channel in world.slack.workspace.channels.values()
    }


def posted_in(world: SlackWorld) -> dict[str, int]:
    return {channel: len(messages) for channel, messages in bot_posts(world).items() if messages}


async def redrawn(world: SlackWorld, digest: Message, edits: int, status: str) -> str:
    def done() -> str | None:
        shown = render_blocks(digest.blocks)
        return shown if digest.edits >= edits and status in shown else None

    return await world.slack.driver.wait_for(done, 10, f"the digest to show {status!r}")


async def test_a_scheduled_run_posts_one_digest_to_the_owning_team_and_then_nothing_new(tmp_path: Path) -> None:
    async with cert_world(tmp_path) as world:
        assert await world.scheduler.run_now(CHECK)
        assert posted_in(world) == {PLATFORM: 1}
        [digest] = bot_posts(world)[PLATFORM]
        shown = world.slack.driver.render(digest)
        assert "Certificate expiry: 1 critical" in shown
        assert "api-gateway" in shown and "api.example.com certificate expires in 4" in shown
        assert RECORD in shown
        assert "[Snooze 1 day] [Snooze 1 week] [Acknowledge] [Investigate]" in shown

        assert await world.scheduler.run_now(CHECK)
        assert posted_in(world) == {PLATFORM: 1}
        assert digest.edits == 0


async def test_snooze_and_acknowledge_update_the_digest_in_place_and_are_audited(tmp_path: Path) -> None:
    async with cert_world(tmp_path) as world:
        driver, store = world.slack.driver, world.runtime.store
        await world.scheduler.run_now(CHECK)
        [digest] = bot_posts(world)[PLATFORM]

        await driver.click("bob", PLATFORM, digest.ts, SNOOZE_DAY_ACTION)
        shown = await redrawn(world, digest, 1, "Snoozed by <@U_BOB> until")
        assert "[Acknowledge]" not in shown
        [record] = await store.list_findings(CHECK)
        assert record.snoozed_until is not None
        assert timedelta(hours=23) < record.snoozed_until - utcnow() <= timedelta(days=1)

        # A day later the snooze has run out: the next run says it again, once.
        await store.upsert_finding(record.model_copy(update={"snoozed_until": utcnow() - timedelta(minutes=1)}))
        await world.scheduler.run_now(CHECK)
        assert posted_in(world) == {PLATFORM: 2}
        again = bot_posts(world)[PLATFORM][-1]
        assert "snooze ended" in render_blocks(again.blocks)

        await driver.click("carol", PLATFORM, again.ts, ACK_ACTION)
        await redrawn(world, again, 1, "Acknowledged by <@U_CAROL>")
        [record] = await store.list_findings(CHECK)
        assert record.acknowledged_by == "U_CAROL"
        await world.scheduler.run_now(CHECK)
        assert posted_in(world) == {PLATFORM: 2}

        clicks = await store.list_audit(kind=DIGEST_ACTION)
        assert [(event.actor, event.detail["action"]) for event in reversed(clicks)] == [
            ("U_BOB", "snooze"),
            ("U_CAROL", "acknowledge"),
        ]
        assert all(event.detail["key"] == record.key for event in clicks)


async def test_investigate_answers_the_findings_question_in_the_digest_thread(tmp_path: Path) -> None:
    async with cert_world(tmp_path) as world:
        await world.scheduler.run_now(CHECK)
        [digest] = bot_posts(world)[PLATFORM]
        await world.slack.driver.click("alice", PLATFORM, digest.ts, INVESTIGATE_ACTION)
        bot = world.slack.workspace.bot_user_id

        def answered() -> list[Message] | None:
            replies = [m for m in world.slack.driver.thread(PLATFORM, digest.ts) if m.is_reply and m.user == bot]
            return replies if len(replies) >= 2 and all(reply.text != PLACEHOLDER for reply in replies) else None

        asked, answer = await world.slack.driver.wait_for(answered, 30, "the investigation's answer")
        assert "Why is the api.example.com certificate not renewing?" in asked.text
        assert RECORD.split()[0] in world.slack.driver.render(answer) and "CNAME" in answer.text
        assert "[Investigate]" in render_blocks(digest.blocks), "the item stays open for the team"


async def test_whisper_checks_and_app_home_show_schedules_and_last_results(tmp_path: Path) -> None:
    async with cert_world(tmp_path) as world:
        driver = world.slack.driver
        await driver.slash("alice", PLATFORM, "checks")
        [listing] = await driver.wait_for(lambda: driver.ephemerals("alice", PLATFORM) or None, 10, "the checks list")
        shown = driver.render(listing)
        assert "cert-expiry* · cron 0 8 * * 1-5 (Europe/Berlin)" in shown
        assert "never run yet" in shown

        await world.scheduler.run_now(CHECK)
        await driver.slash("alice", PLATFORM, "checks")

        def second() -> EphemeralMessage | None:
            found = driver.ephemerals("alice", PLATFORM)
            return found[-1] if len(found) == 2 else None

        listing = await driver.wait_for(second, 10, "the second checks list")
        shown = driver.render(listing)
        assert "4 certificates checked, 1 finding; posted to #platform-alerts (1)" in shown
        assert "🔴 cert-expiry: api.example.com certificate expires" in shown

        await driver.open_home("alice")
        home = await driver.wait_for(lambda: driver.home_view("alice"), 10, "alice's home tab")
        tab = render_blocks(home.view["blocks"])
        assert "*cert-expiry* last run" in tab and "🔴 cert-expiry: api.example.com certificate expires" in tab

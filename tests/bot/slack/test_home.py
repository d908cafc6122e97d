"""App Home: what waits for approval, recent incidents, scheduled-check results and source health."""

from __future__ import annotations

from datetime import timedelta

from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn, render_blocks
from store import FindingRecord, Incident, Store, utcnow
from tests.bot.slack.conftest import CHANNEL, launch
from tools.health import Health


async def sources() -> list[Health]:
    return [
        Health(source="kubernetes", ok=True, detail="cluster prod reachable", latency_ms=12.4),
        Health(source="metrics", ok=False, detail="connection refused"),
    ]


async def broken_sources() -> list[Health]:
    raise TimeoutError


async def test_home_tab_shows_pending_fixes_incidents_checks_and_sources(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    await store.create_incident(Incident(title="Payments failing", service="payment-service", severity="critical"))
    await store.upsert_finding(
        FindingRecord(
            check="cert-expiry",
            key="api.example.com:443",
            severity="warning",
            fingerprint="f1",
            summary="api.example.com certificate expires in 48 h",
            last_seen=utcnow() - timedelta(minutes=5),
        )
    )
    async with launch(slack, store, redactor, health=sources) as bot:
        ts = await slack.driver.mention("alice", CHANNEL, "why is payment-service failing?")
        await bot.answered(CHANNEL, ts, count=2)
        await slack.driver.open_home("carol")
        home = await slack.driver.wait_for(lambda: slack.driver.home_view("carol"), what="carol's home tab")

    shown = render_blocks(home.view["blocks"])
    for expected in (
        "`restart_deployment` on Deployment shop/payment-service, asked by <@U_ALICE> in <#",
        "[open] *Payments failing* · payment-service · critical",
        "🟠 cert-expiry: api.example.com certificate expires in 48 h",
        "✅ *kubernetes*: cluster prod reachable, 12 ms",
        "❌ *metrics*: connection refused",
    ):
        assert expected in shown
    assert slack.driver.home_view("alice") is None


async def test_a_section_that_fails_to_load_says_so_and_the_rest_still_shows(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    async with launch(slack, store, redactor, health=broken_sources):
        await slack.driver.open_home("bob")
        home = await slack.driver.wait_for(lambda: slack.driver.home_view("bob"), what="bob's home tab")

    shown = render_blocks(home.view["blocks"])
    assert "⚠️ Could not load: TimeoutError" in shown
    assert "Nothing is waiting for approval." in shown
    assert "No incidents recorded." in shown

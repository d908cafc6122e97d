"""Firing alerts count as symptoms: a scope with a critical alert is never called healthy."""

from __future__ import annotations

from agents.question import Question
from bot.session import command_runtime


async def test_a_firing_alert_is_a_finding_that_leads_the_verdict_when_nothing_else_is_wrong() -> None:
    async with command_runtime(None, "db-disk-nearly-full") as runtime:
        answer = await runtime.assistant.ask(Question(text="Anything wrong in billing?"))

    alerts = [finding for finding in answer.findings if finding.source == "alerts"]
    assert "BillingDbVolumeAlmostFull" in answer.verdict and "94% full" in answer.verdict
    assert "healthy" not in answer.verdict
    assert {finding.reason for finding in alerts} >= {"BillingDbVolumeAlmostFull", "PostgresReplicationSlotInactive"}
    assert all(finding.since is not None for finding in alerts)

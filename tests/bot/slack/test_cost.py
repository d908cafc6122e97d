"""`/whisper cost` through the real app: today's model spend by role, counted from the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import AuditEvent, AuditKind, Store
from tests.bot.slack.conftest import CHANNEL, launch

# (role, cost in USD, tokens in, tokens out) of the audited model calls.
CALLS = (
    ("triage", 0.0012, 1200, 40),
    ("triage", 0.0008, 800, 35),
    ("quarantine", 0.0030, 5000, 300),
    ("analysis", 0.0450, 9000, 1200),
)


def _model_call(role: str, cost: float, tokens_in: int, tokens_out: int, at: datetime | None = None) -> AuditEvent:
    detail = {
        "role": role,
        "model": f"openai/{role}",
        "question_id": "q1",
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost_usd": cost,
        "ok": True,
    }
    return AuditEvent(
        kind=AuditKind.MODEL_CALL,
        actor="bot",
        subject=f"{role} openai/{role}",
        detail=detail,
        at=at or datetime.now(UTC),
    )


async def test_whisper_cost_shows_todays_spend_by_role(slack: SlackStandIn, store: Store, redactor: Redactor) -> None:
    for call in CALLS:
        await store.record_audit(_model_call(*call))
    yesterday = datetime.now(UTC) - timedelta(days=1, hours=1)
    await store.record_audit(_model_call("analysis", 9.0, 99_000, 9_000, at=yesterday))

    async with launch(slack, store, redactor, model_daily_usd=5.0) as bot:
        driver = slack.driver
        await driver.slash("alice", CHANNEL, "cost")
        [shown] = await driver.wait_for(lambda: driver.ephemerals("alice") or None, what="the cost reply")

    text = driver.render(shown)
    assert "Model spend today*: $0.0500 of the $5 daily budget" in text
    assert "• *analysis*: $0.0450 in 1 call (9,000 tokens in, 1,200 out)" in text
    assert "• *quarantine*: $0.0030 in 1 call (5,000 tokens in, 300 out)" in text
    assert "• *triage*: $0.0020 in 2 calls (2,000 tokens in, 75 out)" in text
    assert driver.channel_messages(CHANNEL) == [], "only the person who asked sees the spend"
    assert bot.asker.questions == [], "`cost` is a command, not a question"


async def test_whisper_cost_without_a_model_says_none_is_configured(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    async with launch(slack, store, redactor) as bot:
        driver = slack.driver
        await driver.slash("bob", CHANNEL, "cost")
        [shown] = await driver.wait_for(lambda: driver.ephemerals("bob") or None, what="the cost reply")

    assert "No language model is configured." in driver.render(shown)
    assert bot.asker.questions == []

"""Triage before the specialists: a cheap model reads the redacted question alone and may add specialists.

The real assistant over the payment-outage world; only the model's replies are scripted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.advisor import EXPLANATION_LABEL, MODEL_SOURCE
from agents.answer import Answer
from agents.catalog import Catalog
from agents.intents import plan_question
from agents.progress import SpecialistProgress
from agents.question import Question
from agents.router import first_wave
from bot.runtime import Runtime
from store import AuditKind
from tests.agents.llm.conftest import needs_analysis, reader, triage
from tests.agents.llm.stub import StubModel, calls, constant, final, scripted

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAILED_ORDERS = "tally of orders that failed today?"


async def _ask(runtime: Runtime, text: str) -> tuple[Answer, set[str]]:
    """The answer, and the specialists that ran for it."""
    ran: set[str] = set()

    async def progress(event: SpecialistProgress) -> None:
        ran.add(event.specialist)

    return await runtime.assistant.ask(Question(text=text), progress), ran


async def _last_question_audit(runtime: Runtime) -> dict[str, Any]:
    [event] = await runtime.store.list_audit(limit=1, kind=AuditKind.QUESTION)
    return event.detail


async def test_triage_adds_the_database_specialist_the_rules_miss(runtime: Runtime, stub: StubModel) -> None:
    plan = plan_question(FAILED_ORDERS, Catalog(runtime.sources.services), [])
    assert plan.understood and "database" not in first_wave(plan), "the rules alone would not ask the database"

    decision = triage("data", ["database", "warp-drive", "database"], needs_analysis=False)
    stub.script({"triage": constant(decision), "quarantine": reader, "analysis": constant(final("unused"))})
    answer, ran = await _ask(runtime, FAILED_ORDERS)

    assert "database" in ran and "warp-drive" not in ran
    assert {"kubernetes", "metrics", "changes"} <= ran, "the rule-based specialists still run"
    assert "failed orders" in answer.text
    assert not answer.sources_failed
    assert stub.sent_to("quarantine") == stub.sent_to("analysis") == [], "triage said no deeper look is needed"
    assert (await _last_question_audit(runtime))["triage"] == {
        "intent": "data",
        "specialists": ["database"],
        "severity": "warning",
        "needs_analysis": False,
    }


@pytest.mark.parametrize(
    "reply",
    [
        {"role": "assistant", "content": "The database, I would say."},
        triage("sql", ["database"], needs_analysis=False),
        triage("data", ["database"], needs_analysis=False, severity="apocalyptic"),
        {"role": "assistant", "content": json.dumps({"intent": "data", "specialists": "database"})},
    ],
    ids=["prose", "unknown-intent", "unknown-severity", "incomplete"],
)
async def test_an_unusable_triage_leaves_the_rule_based_plan(
    runtime: Runtime, stub: StubModel, reply: dict[str, Any]
) -> None:
    stub.script({"triage": constant(reply), "quarantine": reader, "analysis": constant(final("analysed anyway"))})
    answer, ran = await _ask(runtime, FAILED_ORDERS)

    assert "database" not in ran and {"kubernetes", "metrics", "changes"} <= ran
    assert not answer.sources_failed, "an unusable answer is not a failure"
    assert EXPLANATION_LABEL + "analysed anyway" in answer.text, "without a decision, analysis gets its turn"
    assert "triage" not in await _last_question_audit(runtime)


async def test_a_failing_triage_is_named_and_the_rules_and_analysis_still_answer(
    runtime: Runtime, stub: StubModel
) -> None:
    stub.script({"quarantine": reader, "analysis": constant(final("analysed anyway"))})  # no triage model: 404
    answer, ran = await _ask(runtime, FAILED_ORDERS)

    assert "database" not in ran and {"kubernetes", "metrics", "changes"} <= ran
    [failure] = answer.sources_failed
    assert failure.source == MODEL_SOURCE and "every triage model failed" in failure.error
    assert EXPLANATION_LABEL + "analysed anyway" in answer.text


async def test_triage_reads_the_redacted_question_and_never_tool_output(runtime: Runtime, stub: StubModel) -> None:
    logs = json.dumps({"namespace": "shop", "pod": "payment-service-6f9d7c8b54-x7k2p", "previous": True})
    stub.script(
        {
            "triage": needs_analysis,
            "quarantine": reader,
            "analysis": scripted(calls(("kubernetes__get_pod_logs", logs)), final("read the logs")),
        }
    )
    answer, _ = await _ask(runtime, "Why is payment-service failing? Page alice.smith@example.com")

    assert EXPLANATION_LABEL + "read the logs" in answer.text
    assert stub.requests[0]["model"] == "triage", "triage runs before any tool or reader"
    [triaged] = stub.sent_to("triage")
    [system, user] = triaged["messages"]
    assert system["role"] == "system"
    assert user["content"].startswith("Question: Why is payment-service failing? Page <")
    assert "alice.smith" not in json.dumps(triaged)
    assert "consecutive_failures" in json.dumps(stub.sent_to("quarantine")), "the reader did read the logs"
    assert "consecutive_failures" not in json.dumps(triaged)

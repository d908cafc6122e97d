"""The model seam: only catalog actions on live objects with valid parameters get through, as proposals to approve."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agents.advisor import (
    EXPLANATION_LABEL,
    MAX_ACCEPTED,
    MODEL_SUGGESTION,
    REASON_LIMIT,
    SUGGESTED_BY_MODEL,
    Advice,
    AdvisorContext,
    SuggestedAction,
    consult,
    vet_suggestions,
)
from agents.answer import Answer, FactGroup
from agents.question import Question
from guardrails.policy_config import PolicyConfig
from guardrails.proposals import Proposal, Target
from guardrails.redaction import Redactor
from store import open_store
from tools.findings import Finding, Severity

CATALOG = PolicyConfig().actions
PAYMENT = Target(kind="Deployment", namespace="shop", name="payment-service")
ORDERS = Target(kind="Deployment", namespace="shop", name="orders-service")
TARGETS = [PAYMENT, ORDERS, Target(kind="Deployment", namespace="staging", name="orders-service")]
TOKEN = "xoxb-1234567890-fakeBotToken"


def suggest(action: str = "restart_deployment", **fields: Any) -> SuggestedAction:
    return SuggestedAction.model_validate({"action": action, "name": "payment-service", **fields})


def test_a_catalog_action_on_a_live_deployment_becomes_a_proposal_that_needs_approval() -> None:
    model_wrote = {"action": "cordon_node", "name": "x", "risk": "low", "requires_approval": False}
    assert "risk" not in SuggestedAction.model_validate(model_wrote).model_dump()
    accepted, dropped = vet_suggestions(
        [suggest(reason="pods crash-loop\nsince the deploy"), suggest("scale_deployment", params={"replicas": 4})],
        CATALOG,
        TARGETS,
        [],
    )
    assert dropped == []
    assert [(p.action, p.target, p.params, p.risk, p.requires_approval) for p in accepted] == [
        ("restart_deployment", PAYMENT, {}, "low", True),
        ("scale_deployment", PAYMENT, {"replicas": 4}, "medium", True),
    ]
    assert accepted[0].reason == f"{SUGGESTED_BY_MODEL}pods crash-loop since the deploy"


@pytest.mark.parametrize(
    ("suggestion", "why"),
    [
        (suggest("delete_namespace", kind="Namespace", name="shop"), "not in the action catalog"),
        (suggest("restart_deployment "), "not in the action catalog"),
        (suggest("r\u0435start_deployment"), "not in the action catalog"),
        (suggest(name="billing-service"), "no live Deployment of that name"),
        (suggest(namespace="kube-system"), "no live Deployment of that name"),
        (suggest(name=None), "it names no target"),
        (suggest(name="orders-service"), "several live Deployments have that name"),
        (suggest(kind="Pod"), "acts on a Deployment, not a Pod"),
        (suggest("delete_pod", name="payment-service-6f9d7c8b54-x7k2p"), "no live Pod of that name"),
        (suggest("cordon_node", name="ip-10-42-11-37"), "no live Node of that name"),
        (suggest("scale_deployment", params={"replicas": 0}), "0 replicas is below the minimum of 1"),
        (suggest("scale_deployment", params={"replicas": 500}), "500 replicas is above the maximum of 20"),
        (suggest("scale_deployment", params={"replicas": "3"}), "needs whole, non-negative numbers"),
        (suggest("scale_deployment", params={"replicas": True}), "needs whole, non-negative numbers"),
        (suggest("scale_deployment"), "scale_deployment needs replicas"),
        (suggest("rollback_deployment", params={"to_revision": -1}), "needs whole, non-negative numbers"),
        (suggest(params={"force": True}), "restart_deployment takes no force"),
    ],
)
def test_anything_else_is_dropped_with_a_reason(suggestion: SuggestedAction, why: str) -> None:
    accepted, dropped = vet_suggestions([suggestion], CATALOG, TARGETS, [])
    assert accepted == []
    assert len(dropped) == 1 and dropped[0].startswith("dropped ") and why in dropped[0]


def test_duplicates_and_floods_are_dropped() -> None:
    existing = Proposal(action="restart_deployment", target=PAYMENT)
    floods = [
        suggest("rollback_deployment", name=name, namespace="shop") for name in ("payment-service", "orders-service")
    ]
    floods += [
        suggest("scale_deployment", name="orders-service", namespace="shop", params={"replicas": n}) for n in (2, 3)
    ]
    floods += [suggest("restart_deployment", name="orders-service", namespace="staging")]
    accepted, dropped = vet_suggestions([suggest(), *floods], CATALOG, TARGETS, [existing])
    assert len(accepted) == MAX_ACCEPTED
    assert sum("already proposed" in line for line in dropped) == 2
    assert sum(f"more than {MAX_ACCEPTED} fixes" in line for line in dropped) == 1


def test_what_the_model_wrote_is_cleaned_before_anyone_reads_it() -> None:
    accepted, dropped = vet_suggestions(
        [suggest(reason=f"token {TOKEN}\n" + "x" * 500), suggest(f"post {TOKEN}\nnow")], CATALOG, TARGETS, []
    )
    reason = accepted[0].reason
    assert TOKEN not in reason and "<SLACK_TOKEN>" in reason and "\n" not in reason
    assert len(reason) <= REASON_LIMIT
    assert TOKEN not in dropped[0] and "\n" not in dropped[0]


class ScriptedModel:
    def __init__(self, advice: Advice | None = None, error: Exception | None = None, delay_s: float = 0) -> None:
        self.advice = advice or Advice()
        self.error = error
        self.delay_s = delay_s
        self.read: list[AdvisorContext] = []

    async def advise(self, context: AdvisorContext) -> Advice:
        self.read.append(context)
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return self.advice


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def answer(**fields: Any) -> Answer:
    finding = Finding(
        source="logs",
        severity=Severity.CRITICAL,
        summary="payment-service: 5 error lines",
        details={"top_errors": [{"example": "ERROR contact ops@example.com"}]},
    )
    defaults: dict[str, Any] = {
        "question": f"why is payment-service failing? my token is {TOKEN}",
        "verdict": "payment-service is crash-looping",
        "text": "*payment-service is crash-looping*",
        "findings": [finding],
        "facts": [FactGroup(source="kubernetes", lines=["2 pods CrashLoopBackOff"])],
        "proposals": [Proposal(action="restart_deployment", target=PAYMENT)],
    }
    return Answer(**(defaults | fields))


async def test_consult_adds_a_labelled_explanation_and_vetted_proposals_and_audits_the_rest(
    redactor: Redactor, tmp_path: Path
) -> None:
    model = ScriptedModel(
        Advice(
            explanation=f"Gateway egress is blocked.\nAlso: {TOKEN}",
            suggestions=[suggest("rollback_deployment"), suggest("delete_namespace", name="shop")],
        )
    )
    store = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        advised = await consult(
            model,
            Question(text="q", user="U_ALICE"),
            answer(),
            TARGETS,
            actions=CATALOG,
            redactor=redactor,
            store=store,
        )
        audit = await store.list_audit(kind=MODEL_SUGGESTION)
    finally:
        await store.close()
    seen = model.read[0]
    assert TOKEN not in seen.question and "ops@example.com" not in seen.model_dump_json()
    assert seen.facts == ["2 pods CrashLoopBackOff"]
    assert f"{EXPLANATION_LABEL}Gateway egress is blocked. Also: <SLACK_TOKEN>" in advised.text
    assert "roll back Deployment shop/payment-service" in advised.text.split(EXPLANATION_LABEL)[1]
    assert [p.action for p in advised.proposals] == ["restart_deployment", "rollback_deployment"]
    assert sorted((event.detail["accepted"], event.subject.split(" ")[0]) for event in audit) == [
        (False, "dropped"),
        (True, "accepted"),
    ]


@pytest.mark.parametrize(
    ("model", "error"),
    [
        (ScriptedModel(error=RuntimeError(f"upstream said 401 for {TOKEN}")), "RuntimeError: upstream said 401 for"),
        (ScriptedModel(delay_s=1), "no answer within 0.05 s"),
    ],
)
async def test_a_failing_model_is_a_named_source_failure(model: ScriptedModel, error: str, redactor: Redactor) -> None:
    advised = await consult(
        model, Question(text="q"), answer(), TARGETS, actions=CATALOG, redactor=redactor, timeout_s=0.05
    )
    failure = advised.sources_failed[-1]
    assert failure.source == "model" and failure.error.startswith(error) and TOKEN not in failure.error
    assert advised.text.endswith(f"*Sources that failed*\n• model: {failure.error}")
    assert advised.proposals == answer().proposals


async def test_a_refused_request_is_not_shown_to_the_model(redactor: Redactor) -> None:
    model = ScriptedModel(Advice(explanation="do it anyway", suggestions=[suggest()]))
    refused = answer(refused="refused: not a read-only query", proposals=[])
    assert await consult(model, Question(text="q"), refused, TARGETS, actions=CATALOG, redactor=redactor) == refused
    assert model.read == []

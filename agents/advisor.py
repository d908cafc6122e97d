"""Where a language model joins an answer, and the one narrow door its output may pass through.

The model reads what a person reading the answer reads, already redacted, and may write two
things back: prose and suggestions. The prose is shown as the model's unverified explanation and
is never parsed for actions. A suggestion is data, and it becomes a proposal only when its action
is in the policy's catalog, its target is a live object the specialists listed and its parameters
fit the action; the proposal then waits for a person's approval like any other. So text planted
in a log line, an event or a database row can at worst change an explanation someone reads,
never what runs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from agents.answer import Answer, SourceFailure
from agents.compose import describe_proposal
from agents.intents import Intent
from agents.question import Question
from agents.remediation.executor import SPECS, ActionSpec
from agents.router import SPECIALIST_NAMES
from guardrails.policy_config import ActionRule
from guardrails.proposals import Proposal, Target
from guardrails.redaction import Redactor
from guardrails.secret_patterns import scrub_secrets
from store.base import Store
from store.models import AuditEvent
from tools.findings import Finding, Severity

log = logging.getLogger(__name__)

MODEL_SOURCE = "model"
"""The name a failing advisor gets in `sources_failed`."""
MODEL_SUGGESTION = "model_suggestion"
"""Audit kind of one vetted suggestion, accepted or dropped."""
SUGGESTED_BY_MODEL = "suggested by the model: "
EXPLANATION_LABEL = "Model's explanation (unverified): "
DEFAULT_TIMEOUT_S = 30.0
MAX_ACCEPTED = 3
"""More fixes than this from one answer would bury the approvers, and a model under attack is the likely author."""
REASON_LIMIT = 200
EXPLANATION_LIMIT = 1500
FIELD_LIMIT = 60
ERROR_LIMIT = 200


class ModelSkipped(Exception):
    """The model layer stepped aside on purpose (its budget is spent); str() is the note shown as it is."""


def new_question_id() -> str:
    return uuid.uuid4().hex


class Triage(BaseModel):
    """A cheap model's first look at the question alone, before any tool runs: what is asked, who should look.

    It may only add specialists to the rule-based plan, so a name the router does not know is
    dropped rather than spoiling the rest of the decision.
    """

    model_config = ConfigDict(frozen=True)

    intent: Intent
    specialists: list[str] = Field(default_factory=list)
    severity: Severity
    needs_analysis: StrictBool

    @field_validator("specialists")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        return [name for name in dict.fromkeys(names) if name in SPECIALIST_NAMES]


class AdvisorContext(BaseModel):
    """Everything a model may read: the question and the answer's evidence, all redacted."""

    model_config = ConfigDict(frozen=True)

    question: str
    findings: list[Finding] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)
    tables: list[dict[str, Any]] = Field(default_factory=list, description="query results as shown")
    root_cause: str | None = None
    understood: bool = Field(
        default=True, description="False when the deterministic planner did not recognise what is asked"
    )
    triage: Triage | None = Field(default=None, description="the advisor's own triage of this question, if any")
    question_id: str = Field(
        default_factory=new_question_id, description="what this question's model spend is counted under"
    )


class SuggestedAction(BaseModel):
    """What a model wrote as a fix, unchecked: any field may be wrong, invented or hostile."""

    model_config = ConfigDict(frozen=True)

    action: str
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""


class Advice(BaseModel):
    model_config = ConfigDict(frozen=True)

    explanation: str | None = None
    suggestions: list[SuggestedAction] = Field(default_factory=list)


class Advisor(Protocol):
    """A model behind the seam; it gets data to read and no tools to call."""

    async def advise(self, context: AdvisorContext) -> Advice: ...


@runtime_checkable
class TriagingAdvisor(Advisor, Protocol):
    """An advisor that also triages: it reads the redacted question alone, before the specialists run."""

    async def triage(self, question: str, *, question_id: str) -> Triage | None: ...


async def triage_question(advisor: Advisor, question: str, *, question_id: str) -> Triage | None:
    """The advisor's triage; None, the rule-based plan alone, when it does not triage or its answer was invalid."""
    if isinstance(advisor, TriagingAdvisor):
        return await advisor.triage(question, question_id=question_id)
    return None


def _scrub(text: str) -> str:
    return scrub_secrets(text)[0]


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _field(value: str | None, redact: Callable[[str], str]) -> str:
    return _one_line(redact(value), FIELD_LIMIT) if value else "?"


def _label(suggestion: SuggestedAction, redact: Callable[[str], str]) -> str:
    where = f"{_field(suggestion.namespace, redact)}/" if suggestion.namespace else ""
    kind = f"{_field(suggestion.kind, redact)} " if suggestion.kind else ""
    return f"{_field(suggestion.action, redact)} on {kind}{where}{_field(suggestion.name, redact)}"


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _params_problem(
    action: str, params: Mapping[str, Any], spec: ActionSpec, rule: ActionRule, redact: Callable[[str], str]
) -> str | None:
    names = set(params)
    if unknown := sorted(names - spec.required - spec.optional):
        return f"{action} takes no {', '.join(_field(name, redact) for name in unknown)}"
    if missing := sorted(spec.required - names):
        return f"{action} needs {', '.join(missing)}"
    if not all(_whole_number(params[name]) for name in names):
        return f"{action} needs whole, non-negative numbers for {', '.join(sorted(names))}"
    replicas = params.get("replicas")
    if isinstance(replicas, int) and rule.min_replicas is not None and replicas < rule.min_replicas:
        return f"{replicas} replicas is below the minimum of {rule.min_replicas}"
    if isinstance(replicas, int) and rule.max_replicas is not None and replicas > rule.max_replicas:
        return f"{replicas} replicas is above the maximum of {rule.max_replicas}"
    return None


def _live_target(suggestion: SuggestedAction, kind: str, targets: Sequence[Target]) -> Target | str:
    """The one live object the suggestion names; a missing namespace is fine only when the name is unique."""
    if not suggestion.name:
        return "it names no target"
    found = list(
        dict.fromkeys(
            target
            for target in targets
            if target.kind == kind
            and target.name == suggestion.name
            and (suggestion.namespace is None or target.namespace == suggestion.namespace)
        )
    )
    if len(found) > 1:
        return f"several live {kind}s have that name; it must name the namespace"
    return found[0] if found else f"no live {kind} of that name was seen"


def _vet_one(
    suggestion: SuggestedAction,
    catalog_actions: Mapping[str, ActionRule],
    targets: Sequence[Target],
    redact: Callable[[str], str],
) -> Proposal | str:
    rule = catalog_actions.get(suggestion.action)
    if rule is None:
        return "not in the action catalog"
    spec = SPECS.get(suggestion.action)
    if spec is None:
        return "no tool runs it"
    kind = suggestion.kind or spec.kind
    if kind != spec.kind:
        return f"{suggestion.action} acts on a {spec.kind}, not a {_field(kind, redact)}"
    target = _live_target(suggestion, kind, targets)
    if isinstance(target, str):
        return target
    problem = _params_problem(suggestion.action, suggestion.params, spec, rule, redact)
    if problem is not None:
        return problem
    why = _one_line(redact(suggestion.reason), REASON_LIMIT - len(SUGGESTED_BY_MODEL)) or "no reason given"
    return Proposal(
        action=suggestion.action,
        target=target,
        params=dict(suggestion.params),
        risk=rule.risk,
        requires_approval=True,
        reason=SUGGESTED_BY_MODEL + why,
    )


def vet_suggestions(
    suggestions: Sequence[SuggestedAction],
    catalog_actions: Mapping[str, ActionRule],
    targets: Sequence[Target],
    proposals_so_far: Sequence[Proposal],
    *,
    redact: Callable[[str], str] = _scrub,
) -> tuple[list[Proposal], list[str]]:
    """The suggestions that may be offered for approval, and one line per dropped one saying why.

    Risk comes from the catalog and approval is always required, whatever the model claimed;
    `redact` cleans every model-written string that ends up in a reason or an audit line.
    """
    accepted: list[Proposal] = []
    dropped: list[str] = []
    taken = {(proposal.action, proposal.target) for proposal in proposals_so_far}
    for suggestion in suggestions:
        vetted = _vet_one(suggestion, catalog_actions, targets, redact)
        if isinstance(vetted, Proposal) and (vetted.action, vetted.target) in taken:
            vetted = "already proposed"
        elif isinstance(vetted, Proposal) and len(accepted) >= MAX_ACCEPTED:
            vetted = f"more than {MAX_ACCEPTED} fixes suggested for one answer"
        if isinstance(vetted, str):
            dropped.append(f"dropped {_label(suggestion, redact)}: {vetted}")
            continue
        taken.add((vetted.action, vetted.target))
        accepted.append(vetted)
    return accepted, dropped


def advisor_context(
    answer: Answer,
    redactor: Redactor,
    *,
    understood: bool = True,
    triage: Triage | None = None,
    question_id: str | None = None,
) -> AdvisorContext:
    """The model's reading from a redacted answer; the parts `Assistant.redact` leaves alone are redacted here."""
    findings = [
        finding.model_copy(update={"details": redactor.redact_json(finding.details)[0]}) for finding in answer.findings
    ]
    return AdvisorContext(
        question=redactor.redact(answer.question).text,
        findings=findings,
        facts=[line for group in answer.facts for line in group.lines],
        tables=list(answer.tables),
        root_cause=answer.root_cause,
        understood=understood,
        triage=triage,
        question_id=question_id or new_question_id(),
    )


def model_failure(error: Exception, timeout_s: float) -> SourceFailure:
    """How a failing or skipping model is named in `sources_failed`: one scrubbed line."""
    if isinstance(error, ModelSkipped):
        return SourceFailure(source=MODEL_SOURCE, error=str(error))
    if isinstance(error, TimeoutError):
        return SourceFailure(source=MODEL_SOURCE, error=f"no answer within {timeout_s:g} s")
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    message = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return SourceFailure(source=MODEL_SOURCE, error=_one_line(_scrub(message), ERROR_LIMIT))


def with_failure(answer: Answer, failure: SourceFailure) -> Answer:
    heading = "" if answer.sources_failed else "\n*Sources that failed*"
    return answer.model_copy(
        update={
            "text": f"{answer.text}{heading}\n• {failure.source}: {failure.error}",
            "sources_failed": [*answer.sources_failed, failure],
        }
    )


def _advised(
    answer: Answer, explanation: str | None, accepted: Sequence[Proposal], redactor: Redactor, *, leads: bool
) -> Answer:
    """`leads`: the model answers a question the deterministic planner did not understand, so its words come first."""
    shown = (
        _one_line(redactor.redact(explanation).text, EXPLANATION_LIMIT) if explanation and explanation.strip() else None
    )
    lines = [f"{EXPLANATION_LABEL}{shown}\n", answer.text] if shown and leads else [answer.text]
    if shown and not leads:
        lines.append(f"\n{EXPLANATION_LABEL}{shown}")
    if accepted:
        lines.append("\n*Suggested by the model* (each needs an approval)")
        lines.extend(f"• {describe_proposal(proposal)}" for proposal in accepted)
    return answer.model_copy(
        update={"text": "\n".join(lines), "explanation": shown, "proposals": [*answer.proposals, *accepted]}
    )


async def consult(
    advisor: Advisor,
    question: Question,
    answer: Answer,
    targets: Sequence[Target],
    *,
    actions: Mapping[str, ActionRule],
    redactor: Redactor,
    store: Store | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    understood: bool = True,
    triage: Triage | None = None,
    question_id: str | None = None,
) -> Answer:
    """`answer` (already redacted) with the model's explanation and vetted suggestions added.

    `understood=False` (the deterministic planner did not recognise the question) puts the
    model's explanation first: it is then the answer, and the deterministic findings its evidence.

    A failing or silent model is a named source failure and the answer stands without it. The
    caller redacts the result once more before it leaves: the model wrote part of it. A refused
    request stays refused: there is nothing for a model to add to it.
    """
    if answer.refused:
        return answer
    context = await asyncio.to_thread(
        partial(advisor_context, understood=understood, triage=triage, question_id=question_id), answer, redactor
    )
    try:
        advice = await asyncio.wait_for(advisor.advise(context), timeout_s)
    except Exception as error:
        log.warning("the model could not be consulted: %s", type(error).__name__)
        return with_failure(answer, model_failure(error, timeout_s))

    def redact(text: str) -> str:
        return redactor.redact(text).text

    accepted, dropped = await asyncio.to_thread(
        vet_suggestions, advice.suggestions, actions, targets, answer.proposals, redact=redact
    )
    await _audit(store, question, accepted, dropped)
    return await asyncio.to_thread(
        partial(_advised, leads=not understood), answer, advice.explanation, accepted, redactor
    )


async def _audit(store: Store | None, question: Question, accepted: Sequence[Proposal], dropped: Sequence[str]) -> None:
    if store is None:
        return
    asked = {"asked_by": question.user, "channel": question.channel}
    events = [
        *(
            AuditEvent(
                kind=MODEL_SUGGESTION,
                actor="bot",
                subject=f"accepted {proposal.action} on {proposal.target}",
                detail={**asked, "accepted": True, "proposal": proposal.contract_view()},
            )
            for proposal in accepted
        ),
        *(
            AuditEvent(kind=MODEL_SUGGESTION, actor="bot", subject=line, detail={**asked, "accepted": False})
            for line in dropped
        ),
    ]
    try:
        for event in events:
            await store.record_audit(event)
    except Exception:
        log.exception("could not audit the model's suggestions")

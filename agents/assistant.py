"""One question in, one answer out: plan, specialists, correlation, proposals, redaction.

This is the `Asker` the Slack surface and the CLI share. Everything it returns has passed the
redactor, whatever door it leaves by.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from agents.advisor import (
    DEFAULT_TIMEOUT_S,
    MODEL_SOURCE,
    Advisor,
    ModelSkipped,
    Triage,
    consult,
    model_failure,
    new_question_id,
    triage_question,
    with_failure,
)
from agents.answer import Answer, Owner
from agents.catalog import Catalog, Service
from agents.compose import compose
from agents.correlation import correlate, finding_service
from agents.intents import Plan, plan_question
from agents.progress import ProgressSink, ignore_progress
from agents.proposals import propose
from agents.question import Question
from agents.router import first_wave, follow_ups, run_specialists
from agents.specialists.base import Investigation, Report, Specialist
from agents.toolbox import Toolbox
from guardrails.policy_config import ActionRule, ChannelBinding
from guardrails.proposals import Target
from guardrails.redaction import Redactor
from store.base import Store
from store.models import AuditEvent, AuditKind
from tools.findings import Finding, Severity

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


class Assistant:
    def __init__(
        self,
        toolbox: Toolbox,
        catalog: Catalog,
        specialists: Mapping[str, Specialist],
        *,
        actions: Mapping[str, ActionRule],
        redactor: Redactor,
        channels: Sequence[ChannelBinding] = (),
        store: Store | None = None,
        time_limits: Mapping[str, float] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        advisor: Advisor | None = None,
    ) -> None:
        self._toolbox = toolbox
        self._catalog = catalog
        self._specialists = dict(specialists)
        self._actions = dict(actions)
        self._redactor = redactor
        self._channels = list(channels)
        self._store = store
        self._time_limits = dict(time_limits or {})
        self._clock = clock
        self._advisor = advisor

    def _namespaces(self, question: Question, services_namespaces: list[str], asked: list[str]) -> list[str]:
        if asked or services_namespaces:
            return list(dict.fromkeys([*asked, *services_namespaces]))
        bound = [b for b in self._channels if question.channel and b.channel == question.channel]
        return [namespace for binding in bound for namespace in binding.namespaces]

    async def ask(self, question: Question, progress: ProgressSink = ignore_progress) -> Answer:
        # Counts and intent names only: the question's text and what the tools found may hold PII.
        with tracer.start_as_current_span("question") as span:
            answer = await self._answer(question, progress)
            span.set_attributes(
                {
                    "whisperer.findings": len(answer.findings),
                    "whisperer.proposals": len(answer.proposals),
                    "whisperer.refused": answer.refused is not None,
                    "whisperer.sources_failed": len(answer.sources_failed),
                }
            )
            return answer

    async def _answer(self, question: Question, progress: ProgressSink) -> Answer:
        context = " ".join(turn.question for turn in question.history[-3:])
        plan = plan_question(question.text, self._catalog, self._catalog.namespaces(), context)
        trace.get_current_span().set_attribute("whisperer.intents", sorted(intent.value for intent in plan.intents))
        question_id = new_question_id()
        model_limit = self._time_limits.get(MODEL_SOURCE, DEFAULT_TIMEOUT_S)
        triaged, triage_error = await self._triage(plan, question_id, model_limit)
        added = triaged.specialists if triaged is not None else []
        inv = Investigation(
            question=question,
            plan=plan,
            toolbox=self._toolbox,
            catalog=self._catalog,
            now=self._clock(),
            namespaces=self._namespaces(question, [s.namespace for s in plan.services], plan.namespaces),
        )
        reports, failures = await run_specialists(
            first_wave(plan, added), self._specialists, inv, progress, self._time_limits
        )
        more, more_failures = await run_specialists(
            follow_ups(plan, reports, added),
            self._specialists,
            _with_findings(inv, reports),
            progress,
            self._time_limits,
        )
        reports += more
        failures += more_failures
        findings = _dedupe([finding for report in reports for finding in report.findings])
        changes = [change for report in reports for change in report.changes]
        correlation = correlate(findings, changes, self._catalog, plan.services)
        targets = [target for report in reports for target in report.targets]
        proposals = propose(plan, findings, correlation, targets, self._actions)
        runbooks = [runbook for report in reports for runbook in report.runbooks]
        answer = compose(
            question.text,
            plan,
            reports,
            findings,
            correlation,
            self._owner(plan.services, correlation.service, findings),
            runbooks[0] if runbooks else None,
            proposals,
            failures,
        )
        if triage_error is not None:
            answer = with_failure(answer, model_failure(triage_error, model_limit))
        redacted, redactions = await asyncio.to_thread(self._redacted, answer)
        if self._advisor is not None and not isinstance(triage_error, ModelSkipped):
            advised = await consult(
                self._advisor,
                question,
                redacted,
                _focus_targets(plan.services, correlation.service, findings, targets, self._catalog),
                actions=self._actions,
                redactor=self._redactor,
                store=self._store,
                timeout_s=model_limit,
                understood=plan.understood,
                triage=triaged,
                question_id=question_id,
            )
            redacted, again = await asyncio.to_thread(self._redacted, advised)
            redactions.update(again)
        await self._audit(question, plan, redacted, redactions, triaged)
        return redacted

    async def _triage(self, plan: Plan, question_id: str, limit: float) -> tuple[Triage | None, Exception | None]:
        """The model's first look, from the redacted question alone: no tool has run, so no untrusted text exists yet.

        (decision, error): either may be None. Without a decision the rule-based plan runs alone; an
        error is named among the sources that failed, and a spent budget (`ModelSkipped`) also ends
        the model's part in this question, while any other error still leaves analysis its turn.
        """
        if self._advisor is None:
            return None, None
        text = (await asyncio.to_thread(self._redactor.redact, plan.text)).text
        try:
            return await asyncio.wait_for(triage_question(self._advisor, text, question_id=question_id), limit), None
        except Exception as error:
            log.warning("the model could not triage the question: %s", type(error).__name__)
            return None, error

    def _owner(self, asked: Sequence[Service], correlated: Service | None, findings: Sequence[Finding]) -> Owner | None:
        candidates = [correlated, *asked, *(finding_service(f, self._catalog) for f in findings)]
        service = next((c for c in candidates if c is not None), None)
        return service.owner if service is not None else None

    def redact(self, answer: Answer) -> Answer:
        """The answer as it may leave the agents: text, findings and tables without PII or secrets."""
        return self._redacted(answer)[0]

    def _redacted(self, answer: Answer) -> tuple[Answer, Counter[str]]:
        """`redact`, with how many values of each kind were replaced (for the audit log)."""
        counts: Counter[str] = Counter()

        def text(value: str) -> str:
            result = self._redactor.redact(value)
            counts.update(result.counts)
            return result.text

        def table(value: dict[str, Any]) -> Any:
            redacted, found = self._redactor.redact_json(value)
            counts.update(found)
            return redacted

        update: dict[str, object] = {
            "text": text(answer.text),
            "verdict": text(answer.verdict),
            "findings": [
                finding.model_copy(update={"summary": text(finding.summary), "evidence": text(finding.evidence)})
                for finding in answer.findings
            ],
            "facts": [
                group.model_copy(update={"lines": [text(line) for line in group.lines]}) for group in answer.facts
            ],
            "tables": [table(value) for value in answer.tables],
        }
        if answer.root_cause:
            update["root_cause"] = text(answer.root_cause)
        if answer.explanation:
            update["explanation"] = text(answer.explanation)
        return answer.model_copy(update=update), counts

    async def _audit(
        self, question: Question, plan: Plan, answer: Answer, redactions: Counter[str], triage: Triage | None = None
    ) -> None:
        if self._store is None:
            return
        detail: dict[str, Any] = {
            "channel": question.channel,
            "intents": sorted(intent.value for intent in plan.intents),
            "findings": len(answer.findings),
            "proposals": [p.contract_view() for p in answer.proposals],
            "refused": answer.refused,
            "sources_failed": [f.model_dump() for f in answer.sources_failed],
            "redactions": dict(redactions),
        }
        if triage is not None:
            detail["triage"] = triage.model_dump(mode="json")
        try:
            await self._store.record_audit(
                AuditEvent(
                    kind=AuditKind.QUESTION,
                    actor=question.user,
                    subject=self._redactor.redact(question.text[:500]).text,
                    detail=detail,
                )
            )
        except Exception:
            log.exception("could not audit a question")


def _focus_targets(
    asked: Sequence[Service],
    correlated: Service | None,
    findings: Sequence[Finding],
    targets: Sequence[Target],
    catalog: Catalog,
) -> list[Target]:
    """The live objects a model may suggest acting on: those of the services this question is about.

    Text planted in a log can name any Deployment; limiting suggestions to the services asked
    about or found failing keeps an injected "roll back orders-service" from even being offered.
    """
    services = {service.name for service in asked}
    if correlated is not None:
        services.add(correlated.name)
    services |= {
        service.name
        for finding in findings
        if finding.severity != Severity.INFO and (service := finding_service(finding, catalog)) is not None
    }
    return [target for target in targets if target.name in services]


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for finding in findings:
        key = (finding.source, finding.summary)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


def _with_findings(inv: Investigation, reports: list[Report]) -> Investigation:
    """The second wave searches with what the first found (e.g. runbooks by the top finding's reason)."""
    return replace(inv, prior_findings=[finding for report in reports for finding in report.findings])

"""Counting what the audit log records: questions, proposals, decisions, executions and the rest.

Everything worth counting is already written to the audit log through `Store.record_audit`, by
the agents, the remediation service and the scheduled checks alike. `ObservedStore` sits in front
of the real store and counts each event after it is stored, so the numbers on the dashboard are
the audit log's numbers and no agent carries metrics code. Counting never fails an audit write.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from bot.observability.metrics import BotMetrics
from store.base import Store
from store.models import (
    AuditEvent,
    AuditKind,
    FindingRecord,
    Incident,
    IncidentStatus,
    ProposalEvent,
    ProposalState,
    StoredProposal,
    Turn,
)
from tools.findings import Severity

log = logging.getLogger(__name__)

UNKNOWN = "unknown"


def question_outcome(detail: Mapping[str, Any]) -> str:
    if detail.get("refused"):
        return "refused"
    return "degraded" if detail.get("sources_failed") else "answered"


def question_intent(detail: Mapping[str, Any]) -> str:
    """The rule-based plan's intents ("diagnose", "data+status"); the model's triage intent when there were none."""
    intents = detail.get("intents")
    if isinstance(intents, list) and intents:
        return "+".join(str(intent) for intent in intents)
    triage = detail.get("triage")
    return str(triage.get("intent", UNKNOWN)) if isinstance(triage, dict) else UNKNOWN


def _count_redactions(metrics: BotMetrics, detail: Mapping[str, Any]) -> None:
    redactions = detail.get("redactions")
    if isinstance(redactions, dict):
        for entity, count in redactions.items():
            if isinstance(count, int) and count > 0:
                metrics.redactions.labels(entity=entity).inc(count)


def count_event(metrics: BotMetrics, event: AuditEvent) -> None:
    """Moves the counters one audit event stands for; kinds nobody counts are ignored."""
    detail = event.detail
    action = str(detail.get("action") or UNKNOWN)
    match event.kind:
        case AuditKind.QUESTION:
            metrics.questions.labels(intent=question_intent(detail), outcome=question_outcome(detail)).inc()
            _count_redactions(metrics, detail)
        case AuditKind.TOOL_CALL:
            _count_redactions(metrics, detail)
        case AuditKind.PROPOSAL:
            metrics.proposals.labels(action=action, outcome="offered" if detail.get("allowed") else "refused").inc()
        case AuditKind.DECISION:
            decision = "approve" if detail.get("approve") else "reject"
            metrics.decisions.labels(decision=decision, accepted=str(bool(detail.get("accepted"))).lower()).inc()
        case AuditKind.EXECUTION:
            metrics.executions.labels(action=action, result="executed" if detail.get("executed") else "failed").inc()
        case AuditKind.VERIFICATION:
            metrics.verifications.labels(result="verified" if detail.get("verified") else "failed").inc()
        case AuditKind.MODEL_CALL:
            role = str(detail.get("role") or UNKNOWN)
            metrics.model_tokens.labels(role=role, direction="in").inc(max(int(detail.get("tokens_in") or 0), 0))
            metrics.model_tokens.labels(role=role, direction="out").inc(max(int(detail.get("tokens_out") or 0), 0))
            metrics.model_cost_usd.labels(role=role).inc(max(float(detail.get("cost_usd") or 0.0), 0.0))
        case AuditKind.CHECK:
            outcome = "error" if detail.get("error") else "ok"
            metrics.check_runs.labels(check=event.subject, outcome=outcome).inc()


def set_open_findings(metrics: BotMetrics, check: str, findings: Collection[FindingRecord]) -> None:
    """The gauge shows what is open now: every severity is set, so a resolved one drops back to 0."""
    open_by_severity = Counter(finding.severity for finding in findings)
    for severity in {*Severity, *open_by_severity}:
        metrics.check_findings.labels(check=check, severity=str(severity)).set(open_by_severity[severity])


class ObservedStore(Store):
    """The store, with every recorded audit event counted in `metrics`; all else passes straight through."""

    def __init__(self, inner: Store, metrics: BotMetrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self.claim_retention = inner.claim_retention

    async def record_audit(self, event: AuditEvent) -> AuditEvent:
        recorded = await self._inner.record_audit(event)
        try:
            count_event(self._metrics, recorded)
            if recorded.kind == AuditKind.CHECK:
                # A run ends with its audit event, after its findings were stored: read them back once.
                findings = await self._inner.list_findings(recorded.subject)
                set_open_findings(self._metrics, recorded.subject, findings)
        except Exception:
            log.exception("could not count the %s audit event in the metrics", recorded.kind)
        return recorded

    async def close(self) -> None:
        await self._inner.close()

    async def health(self) -> bool:
        return await self._inner.health()

    async def schema_version(self) -> int:
        return await self._inner.schema_version()

    async def list_audit(
        self, limit: int = 100, kind: str | None = None, since: datetime | None = None
    ) -> list[AuditEvent]:
        return await self._inner.list_audit(limit, kind, since)

    async def create_proposal(self, proposal: StoredProposal) -> StoredProposal:
        return await self._inner.create_proposal(proposal)

    async def get_proposal(self, proposal_id: str) -> StoredProposal | None:
        return await self._inner.get_proposal(proposal_id)

    async def list_proposals(
        self, states: Collection[ProposalState] | None = None, limit: int = 100
    ) -> list[StoredProposal]:
        return await self._inner.list_proposals(states, limit)

    async def set_proposal_message(self, proposal_id: str, channel: str, ts: str) -> StoredProposal:
        return await self._inner.set_proposal_message(proposal_id, channel, ts)

    async def transition_proposal(
        self,
        proposal_id: str,
        expected: Collection[ProposalState],
        new_state: ProposalState,
        actor: str,
        reason: str | None = None,
    ) -> StoredProposal | None:
        return await self._inner.transition_proposal(proposal_id, expected, new_state, actor, reason)

    async def expire_proposals(self, now: datetime) -> list[StoredProposal]:
        return await self._inner.expire_proposals(now)

    async def list_proposal_events(self, proposal_id: str) -> list[ProposalEvent]:
        return await self._inner.list_proposal_events(proposal_id)

    async def create_incident(self, incident: Incident) -> Incident:
        return await self._inner.create_incident(incident)

    async def get_incident(self, incident_id: str) -> Incident | None:
        return await self._inner.get_incident(incident_id)

    async def list_incidents(
        self, status: IncidentStatus | None = None, service: str | None = None, limit: int = 100
    ) -> list[Incident]:
        return await self._inner.list_incidents(status, service, limit)

    async def update_incident(self, incident: Incident) -> Incident:
        return await self._inner.update_incident(incident)

    async def get_finding(self, check: str, key: str) -> FindingRecord | None:
        return await self._inner.get_finding(check, key)

    async def upsert_finding(self, finding: FindingRecord) -> None:
        await self._inner.upsert_finding(finding)

    async def list_findings(self, check: str | None = None, include_resolved: bool = False) -> list[FindingRecord]:
        return await self._inner.list_findings(check, include_resolved)

    async def append_turn(self, channel: str, thread_ts: str, turn: Turn) -> None:
        await self._inner.append_turn(channel, thread_ts, turn)

    async def get_thread(self, channel: str, thread_ts: str, limit: int = 20) -> list[Turn]:
        return await self._inner.get_thread(channel, thread_ts, limit)

    async def claim_event(self, event_id: str) -> bool:
        return await self._inner.claim_event(event_id)

    async def acquire_lease(self, name: str, holder: str, ttl_seconds: float) -> bool:
        return await self._inner.acquire_lease(name, holder, ttl_seconds)

    async def release_lease(self, name: str, holder: str) -> bool:
        return await self._inner.release_lease(name, holder)

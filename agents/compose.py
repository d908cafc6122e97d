"""Turning reports into the answer a person reads: the verdict first, then the evidence.

Templated, deterministic text: it is what the bot says without a model, and what a model's
prose is checked against when one is configured.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.answer import Answer, FactGroup, MetricSeries, Owner, RunbookRef, SourceFailure
from agents.correlation import Correlation
from agents.intents import Intent, Plan
from agents.specialists.base import Report
from guardrails.proposals import Proposal
from tools.findings import Finding, Severity

MAX_FINDINGS_SHOWN = 8
# Which finding leads the verdict among equally severe ones: what a person recognises first.
_SYMPTOM_ORDER = {"CrashLoopBackOff": 0, "OOMKilled": 0, "ImagePullBackOff": 0, "ErrImagePull": 0}
MAX_EVIDENCE_CHARS = 400
_ACTION_WORDS = {
    "restart_deployment": "restart",
    "rollback_deployment": "roll back",
    "scale_deployment": "scale",
    "delete_pod": "delete pod",
    "cordon_node": "cordon",
}


def describe_proposal(proposal: Proposal) -> str:
    verb = _ACTION_WORDS.get(proposal.action, proposal.action)
    params = ", ".join(f"{key}={value}" for key, value in proposal.params.items())
    extra = f" ({params})" if params else ""
    return f"{verb} {proposal.target}{extra}: risk {proposal.risk}, needs approval"


def _problems(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in (Severity.CRITICAL, Severity.WARNING)]


def _subject(plan: Plan) -> str:
    if plan.services:
        return ", ".join(service.name for service in plan.services)
    if plan.namespaces:
        return "namespace " + ", ".join(plan.namespaces)
    return "everything I can see"


def _verdict(
    plan: Plan,
    reports: Sequence[Report],
    findings: Sequence[Finding],
    proposals: Sequence[Proposal],
    failures: Sequence[SourceFailure],
) -> str:
    refused = next((r.refused for r in reports if r.refused), None)
    if refused:
        return f"Refused: {refused}"
    problems = _problems(findings)
    if plan.wants(Intent.RUNBOOK):
        runbooks = [runbook for report in reports for runbook in report.runbooks]
        return f"Runbook: {runbooks[0].title}" if runbooks else "I found no runbook matching that."
    if plan.wants(Intent.ACTION):
        if proposals:
            return "Proposed: " + "; ".join(describe_proposal(p) for p in proposals)
        names = ", ".join(s.name for s in plan.services) or "that"
        return f"I cannot propose that: no Deployment named {names} was found, or the action is not in the catalog."
    if plan.wants(Intent.DATA):
        facts = [fact for report in reports if report.specialist == "database" for fact in report.facts]
        if facts:
            return facts[0]
        failed = next((f for f in failures if f.source == "database"), None)
        return (
            f"I could not query the database: {failed.error}" if failed else "The database returned nothing for that."
        )
    headline = next((r.headline for r in reports if r.headline), None)
    if headline and plan.wants(Intent.STATUS, Intent.CHANGES) and not plan.wants(Intent.DIAGNOSE):
        return headline
    if problems:
        top = sorted(problems, key=lambda f: (f.severity.rank, _SYMPTOM_ORDER.get(f.reason, 9)))[0]
        return f"{_subject(plan)}: {top.summary}" if plan.services else top.summary
    if plan.wants(Intent.CERTIFICATE):
        return "The certificates checked are valid and not close to expiry."
    return f"{_subject(plan).capitalize()} looks healthy: no problems found, workloads running normally."


def _finding_line(finding: Finding) -> str:
    evidence = finding.evidence.strip().replace("\n", " / ")
    if len(evidence) > MAX_EVIDENCE_CHARS:
        evidence = evidence[: MAX_EVIDENCE_CHARS - 1] + "…"
    line = f"• [{finding.severity.value}] {finding.summary}"
    return f"{line}\n    {evidence}" if evidence else line


def _fact_groups(
    plan: Plan, reports: Sequence[Report], correlation: Correlation, refused: str | None
) -> list[FactGroup]:
    groups = []
    for report in reports:
        facts = report.facts[1:] if report.specialist == "database" and plan.wants(Intent.DATA) else report.facts
        if facts:
            groups.append(FactGroup(source=report.specialist, lines=list(facts)))
    if correlation.culprit is not None and not refused:
        change = correlation.culprit
        line = f"{change.label} {change.title}" + (f" — {change.url}" if change.url else "")
        groups.append(FactGroup(source="changes", lines=[line]))
    return groups


def _marked(reports: Sequence[Report], correlation: Correlation) -> list[MetricSeries]:
    """The charts, with the suspected change drawn on them when there is one."""
    series = [chart for report in reports for chart in report.series]
    change = correlation.culprit
    if change is None:
        return series
    at = change.deployed_at or change.at
    label = f"{change.label} {'deployed' if change.deployed_at else 'merged'}"
    return [chart.model_copy(update={"change_at": at, "change_label": label}) for chart in series]


def compose(
    question: str,
    plan: Plan,
    reports: Sequence[Report],
    findings: Sequence[Finding],
    correlation: Correlation,
    owner: Owner | None,
    runbook: RunbookRef | None,
    proposals: Sequence[Proposal],
    failures: Sequence[SourceFailure],
) -> Answer:
    verdict = _verdict(plan, reports, findings, proposals, failures)
    refused = next((r.refused for r in reports if r.refused), None)
    lines = [f"*{verdict}*"]
    if plan.truncated:
        lines.append("_(your question was long; I read only its first part)_")
    if correlation.root_cause and not refused:
        lines.append(f"Root cause (likely): {correlation.root_cause}")
    if owner is not None and _problems(findings):
        lines.append(f"Owner: team {owner.team} ({owner.channel})")
    shown = sorted(findings, key=lambda f: f.severity.rank)[:MAX_FINDINGS_SHOWN]
    by_source: dict[str, list[Finding]] = {}
    for finding in shown:
        by_source.setdefault(finding.source, []).append(finding)
    for source, items in by_source.items():
        lines.append(f"\n*{source}*")
        lines.extend(_finding_line(f) for f in items)
    if len(findings) > len(shown):
        lines.append(f"… and {len(findings) - len(shown)} more findings")
    facts = _fact_groups(plan, reports, correlation, refused)
    for group in facts:
        lines.append(f"\n*{group.source}*")
        lines.extend(f"• {line}" for line in group.lines)
    if runbook is not None:
        lines.append(f"\nRunbook: {runbook.title} ({runbook.path})")
        if runbook.excerpt and plan.wants(Intent.RUNBOOK):
            lines.append(runbook.excerpt)
    if proposals and not plan.wants(Intent.ACTION):
        lines.append("\n*Proposed fixes* (each needs an approval)")
        lines.extend(f"• {describe_proposal(p)}" for p in proposals)
    if failures:
        lines.append("\n*Sources that failed*")
        lines.extend(f"• {failure.source}: {failure.error}" for failure in failures)
    return Answer(
        question=question,
        verdict=verdict,
        text="\n".join(lines),
        findings=list(findings),
        facts=facts,
        root_cause=None if refused else correlation.root_cause,
        owner=owner,
        runbook=runbook,
        timeline=correlation.timeline,
        proposals=list(proposals),
        refused=refused,
        sources_failed=list(failures),
        tables=[table for report in reports for table in report.tables],
        series=_marked(reports, correlation),
    )

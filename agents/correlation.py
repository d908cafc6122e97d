"""What changed just before the symptoms started: the timeline and the root-cause hypothesis.

The hypothesis names the change whose time and touched code best explain the symptoms. Time
alone picks the most recent change before the onset; the risky patterns a change added (a query
in a loop, a client per call, a new endpoint or timeout) break ties and make the sentence say
*why* that change fits, which is what a person needs to believe it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from agents.answer import TimelineEntry
from agents.catalog import Catalog, Service
from agents.patch_patterns import PatchPattern
from tools.findings import Finding, Severity

LOOKBACK = timedelta(hours=24)
# The first entries tell the story (what changed, what broke first); later ones repeat it.
MAX_TIMELINE = 12
# Symptoms are stamped by the first event seen; a change merged up to this long *after* that stamp
# can still be the cause (clock skew, events that predate the deploy's last pod).
AFTER_ONSET_SLACK = timedelta(minutes=5)

_SYMPTOM_PHRASES = {
    "CrashLoopBackOff": "the pods started crash-looping",
    "OOMKilled": "the first OOMKill",
    "ReadinessProbeFailed": "readiness probes started failing",
    "ReadinessProbeFlapping": "readiness probes started failing",
    "DeploymentUnavailable": "the deployment lost ready replicas",
    "NoEndpoints": "the service lost its endpoints",
}


class ChangeEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="pull_request or deploy")
    at: datetime
    repo: str | None = None
    service: str | None = None
    number: int | None = None
    title: str = ""
    url: str | None = None
    image: str | None = None
    files: list[str] = Field(default_factory=list)
    patterns: list[PatchPattern] = Field(default_factory=list)
    deployed_at: datetime | None = None

    @property
    def label(self) -> str:
        if self.kind == "pull_request" and self.number is not None:
            return f"PR #{self.number}"
        return f"deploy of {self.image or self.service}"


class Correlation(BaseModel):
    model_config = ConfigDict(frozen=True)

    timeline: list[TimelineEntry] = Field(default_factory=list)
    root_cause: str | None = None
    culprit: ChangeEvent | None = None
    service: Service | None = None
    onset: datetime | None = None


def finding_service(finding: Finding, catalog: Catalog) -> Service | None:
    owner = finding.details.get("owner")
    if isinstance(owner, dict) and owner.get("name"):
        return catalog.owning(owner.get("namespace"), str(owner["name"]))
    service = finding.details.get("service")
    if isinstance(service, str):
        return catalog.get(service)
    if finding.subject is not None:
        return catalog.owning(finding.subject.namespace, finding.subject.name)
    return None


def _symptom_phrase(finding: Finding) -> str:
    if finding.reason in _SYMPTOM_PHRASES:
        return _SYMPTOM_PHRASES[finding.reason]
    summary = re.sub(r"\s+since \S+$", "", finding.summary)
    return f"the first symptom ({summary})"


def _minutes(delta: timedelta) -> str:
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{minutes / 60:.1f} hours"


def _score(change: ChangeEvent, onset: datetime) -> tuple[int, float]:
    """Higher is better: changes with a risky pattern first, then the one closest before onset."""
    gap = (onset - change.at).total_seconds()
    return (1 if change.patterns else 0, -abs(gap))


def _problems(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in (Severity.CRITICAL, Severity.WARNING) and f.since is not None]


def correlate(
    findings: Sequence[Finding], changes: Sequence[ChangeEvent], catalog: Catalog, focus: Sequence[Service] = ()
) -> Correlation:
    problems = _problems(findings)
    symptoms = [(f, finding_service(f, catalog)) for f in problems]
    timeline = [
        TimelineEntry(at=f.since, kind="symptom", text=f"{f.summary}") for f, _ in symptoms if f.since is not None
    ]
    timeline += [
        TimelineEntry(at=c.at, kind="change", text=f"{c.label} {c.title}".strip() + (f" ({c.repo})" if c.repo else ""))
        for c in changes
    ]
    timeline.sort(key=lambda entry: entry.at)
    timeline = timeline[:MAX_TIMELINE]
    if not symptoms:
        return Correlation(timeline=timeline)
    services = [s for s in focus if any(svc == s for _, svc in symptoms)] or [s for _, s in symptoms if s]
    service = services[0] if services else None
    relevant = [(f, s) for f, s in symptoms if service is None or s == service] or symptoms
    first, _ = min(relevant, key=lambda pair: (pair[0].since or datetime.max, pair[0].severity.rank))
    onset = first.since
    if onset is None:
        return Correlation(timeline=timeline, service=service)
    candidates = [
        change
        for change in changes
        if (service is None or change.service == service.name or (change.repo and change.repo == service.repo))
        and onset - LOOKBACK <= change.at <= onset + AFTER_ONSET_SLACK
    ]
    if not candidates:
        return Correlation(timeline=timeline, service=service, onset=onset)
    culprit = max(candidates, key=lambda change: _score(change, onset))
    return Correlation(
        timeline=timeline,
        root_cause=_hypothesis(culprit, first, onset),
        culprit=culprit,
        service=service,
        onset=onset,
    )


def _hypothesis(change: ChangeEvent, symptom: Finding, onset: datetime) -> str:
    when = "before" if change.at <= onset else "after"
    sentence = f"{change.label}"
    if change.title:
        sentence += f" ({change.title})"
    sentence += f" was merged {_minutes(onset - change.at)} {when} {_symptom_phrase(symptom)}"
    if change.deployed_at is not None:
        sentence += f", and deployed {_minutes(onset - change.deployed_at)} before"
    if change.patterns:
        sentence += "; " + "; ".join(dict.fromkeys(p.summary for p in change.patterns[:3]))
    return sentence + "."

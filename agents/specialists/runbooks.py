"""The runbooks specialist: the team's runbook for the question, or for what the others found.

For a diagnosis it searches with the reasons of the most severe findings (CrashLoopBackOff,
OOMKilled, ...) plus the question, so the runbook matches the symptom actually seen rather
than the words someone happened to type.
"""

from __future__ import annotations

from pathlib import Path

from agents.answer import RunbookRef
from agents.intents import Intent
from agents.specialists.base import Investigation, Report
from tools.findings import Severity
from tools.incidents.models import RunbookHits

SERVER = "incidents"
MAX_RUNBOOKS = 3


def _query(inv: Investigation) -> str:
    if inv.plan.wants(Intent.RUNBOOK):
        return inv.plan.runbook_query or inv.plan.text
    severe = sorted(
        (f for f in inv.prior_findings if f.severity != Severity.INFO and f.reason),
        key=lambda f: f.severity.rank,
    )
    reasons = list(dict.fromkeys(f.reason for f in severe))[:3]
    return " ".join([*reasons, *(s.name for s in inv.focus())]) or inv.plan.text


async def runbooks_specialist(inv: Investigation) -> Report:
    report = Report(specialist="runbooks")
    hits = await inv.toolbox.call(SERVER, "search_runbooks", {"query": _query(inv), "limit": MAX_RUNBOOKS}, RunbookHits)
    report.runbooks.extend(
        RunbookRef(title=hit.title, path=_relative(hit.path), excerpt=hit.snippet.replace("**", ""))
        for hit in hits.hits
    )
    return report


def _relative(path: str) -> str:
    """Runbook paths are shown relative to the working directory when they are under it."""
    candidate = Path(path)
    try:
        return str(candidate.resolve().relative_to(Path.cwd()))
    except ValueError:
        return path

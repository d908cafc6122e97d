"""The App Home tab: what waits for approval, recent incidents, scheduled checks, source health.

It is the page someone opens at the start of a shift, so each section says plainly when it is
empty or could not be loaded rather than disappearing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from bot.slack.render.blocks import (
    MAX_VIEW_BLOCKS,
    Json,
    bullet_lines,
    clip,
    context,
    divider,
    escape,
    header,
    section,
)
from bot.slack.render.checks import finding_line, run_line, undelivered_lines
from bot.slack.render.proposal import proposal_of
from scheduled_checks.models import CheckRun
from store.models import FindingRecord, Incident, StoredProposal
from tools.health import Health

SHOWN = 10
SOURCES_SHOWN = 25


class HomeData(BaseModel):
    """What the Home tab shows; a section that failed to load is None, with the reason in `problems`."""

    pending: list[StoredProposal] | None = None
    incidents: list[Incident] | None = None
    findings: list[FindingRecord] | None = None
    check_runs: dict[str, CheckRun] | None = None
    sources: list[Health] | None = None
    problems: dict[str, str] = Field(default_factory=dict, description="section -> one-line reason")


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _channel(channel: str) -> str:
    """A stored channel as Slack shows it: ids become channel links, names stay as written."""
    return escape(channel) if channel.startswith("#") else f"<#{escape(channel)}>"


def _pending_lines(pending: Sequence[StoredProposal]) -> list[str]:
    lines = []
    for stored in pending[:SHOWN]:
        proposal = proposal_of(stored)
        what = f"`{escape(proposal.action)}` on {escape(str(proposal.target))}" if proposal else "a proposed change"
        where = _channel(stored.channel)
        lines.append(f"{what}, asked by <@{stored.requested_by}> in {where}, expires {_when(stored.expires_at)}")
    return lines


def _incident_lines(incidents: Sequence[Incident]) -> list[str]:
    return [
        f"[{incident.status.value}] *{escape(incident.title)}* · {escape(incident.service)} · "
        f"{escape(incident.severity)} · {_when(incident.created_at)}"
        for incident in incidents[:SHOWN]
    ]


def _check_lines(runs: Mapping[str, CheckRun], findings: Sequence[FindingRecord]) -> list[str]:
    """The last run of each check, then the open findings, most recently seen first."""
    ordered = sorted(findings, key=lambda finding: finding.last_seen, reverse=True)
    return [
        *(f"*{escape(name)}* {run_line(run)}" for name, run in sorted(runs.items())),
        *(f"{finding_line(finding)} (last seen {_when(finding.last_seen)})" for finding in ordered[:SHOWN]),
    ]


def _source_lines(sources: Sequence[Health]) -> list[str]:
    lines = []
    for health in sources[:SOURCES_SHOWN]:
        latency = f", {health.latency_ms:.0f} ms" if health.latency_ms is not None else ""
        detail = f": {escape(clip(health.detail, 200))}" if health.detail else ""
        lines.append(f"{'✅' if health.ok else '❌'} *{escape(health.source)}*{detail}{latency}")
    return lines


def _part(title: str, lines: list[str] | None, total: int, empty: str, problem: str | None) -> list[Json]:
    blocks = [section(f"*{title}*")]
    if lines is None:
        blocks.append(context(f"⚠️ Could not load: {escape(problem or 'unknown error')}"))
    elif not lines:
        blocks.append(context(empty))
    else:
        blocks.append(section(clip(bullet_lines(lines), 2900)))
        if total > len(lines):
            blocks.append(context(f"{total - len(lines)} more not shown"))
    return blocks


def home_view(data: HomeData, now: datetime) -> Json:
    """A `views.publish` home view."""
    problems = data.problems
    pending = None if data.pending is None else _pending_lines(data.pending)
    incidents = None if data.incidents is None else _incident_lines(data.incidents)
    runs = data.check_runs or {}
    findings = None if data.findings is None else _check_lines(runs, data.findings)
    warnings = undelivered_lines(runs)
    sources = None if data.sources is None else _source_lines(data.sources)
    blocks = [
        header("InfraWhisperer"),
        context(f"Ask with `/whisper <question>` or by mentioning me in a channel · updated {_when(now)}"),
        *([section(clip("\n".join(warnings), 2900))] if warnings else []),
        divider(),
        *_part(
            "Waiting for approval",
            pending,
            len(data.pending or []),
            "Nothing is waiting for approval.",
            problems.get("pending"),
        ),
        divider(),
        *_part(
            "Recent incidents",
            incidents,
            len(data.incidents or []),
            "No incidents recorded.",
            problems.get("incidents"),
        ),
        divider(),
        *_part(
            "Scheduled checks: latest results",
            findings,
            len(data.findings or []) + len(runs),
            "No open findings from scheduled checks.",
            problems.get("findings"),
        ),
        divider(),
        *_part("Sources", sources, len(data.sources or []), "No data sources are configured.", problems.get("sources")),
    ]
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}

"""The changes specialist: what was merged and deployed for the services in question."""

from __future__ import annotations

import asyncio

from agents.catalog import Service
from agents.correlation import ChangeEvent
from agents.intents import Intent
from agents.patch_patterns import find_patterns
from agents.specialists.base import Investigation, Report
from tools.changes.models import ChangeList, DeployChange, PullRequestChange

SERVER = "changes"
LOOKBACK_HOURS = 72
MAX_CHANGES_LISTED = 10


def _service_of(repo: str, services: list[Service]) -> str | None:
    return next((service.name for service in services if service.repo == repo), None)


def _pull_event(pull: PullRequestChange, deploys: list[DeployChange], services: list[Service]) -> ChangeEvent:
    deployed = [d.at for d in deploys if d.repo == pull.repo and d.pull_request == pull.number]
    return ChangeEvent(
        kind="pull_request",
        at=pull.merged_at,
        repo=pull.repo,
        service=_service_of(pull.repo, services),
        number=pull.number,
        title=pull.title,
        url=pull.url,
        files=[changed.filename for changed in pull.files],
        patterns=[
            pattern
            for changed in pull.files
            for pattern in find_patterns(changed.filename, [(code.line, code.text) for code in changed.added])
        ],
        deployed_at=min(deployed) if deployed else None,
    )


async def changes_specialist(inv: Investigation) -> Report:
    services = inv.focus() or inv.catalog.services
    repos = list(dict.fromkeys(service.repo for service in services if service.repo))
    report = Report(specialist=SERVER)
    if not repos:
        return report
    listings = await asyncio.gather(
        *(
            inv.toolbox.call(SERVER, "recent_changes", {"repo": repo, "since_hours": LOOKBACK_HOURS}, ChangeList)
            for repo in repos
        )
    )
    all_services = inv.catalog.services
    for listing in listings:
        linked = {(d.repo, d.pull_request) for d in listing.deploys}
        report.changes.extend(_pull_event(pull, listing.deploys, all_services) for pull in listing.pull_requests)
        report.changes.extend(
            ChangeEvent(
                kind="deploy",
                at=deploy.at,
                repo=deploy.repo,
                service=deploy.service or _service_of(deploy.repo, all_services),
                image=deploy.image,
                title=f"{deploy.image or ''} to {deploy.namespace or '?'}".strip(),
            )
            for deploy in listing.deploys
            if (deploy.repo, deploy.pull_request) not in linked or deploy.pull_request is None
        )
    if inv.plan.wants(Intent.CHANGES):
        _list_changes(report, ", ".join(service.name for service in inv.focus()) or "any service")
    return report


def _list_changes(report: Report, about: str) -> None:
    """For "what changed?": every change in the window, newest first, and a one-line overview."""
    recent = sorted(report.changes, key=lambda change: change.at, reverse=True)
    report.facts.extend(_change_line(change) for change in recent[:MAX_CHANGES_LISTED])
    if not recent:
        report.headline = f"No merged pull requests or deploys for {about} in the last {LOOKBACK_HOURS} h."
        return
    latest = recent[0]
    report.headline = (
        f"{len(recent)} change{'s' if len(recent) != 1 else ''} for {about} in the last {LOOKBACK_HOURS} h; "
        f"latest: {latest.label} {latest.title} ({latest.at:%Y-%m-%d %H:%M} UTC)"
    )


def _change_line(change: ChangeEvent) -> str:
    when = f"{change.at:%Y-%m-%d %H:%M} UTC"
    deployed = f", deployed {change.deployed_at:%H:%M}" if change.deployed_at else ""
    files = f" — {', '.join(change.files[:4])}" if change.files else ""
    return f"{when}: {change.label} {change.title} ({change.repo}{deployed}){files}"

"""Whether a finding is news: the rules that keep a digest from repeating itself.

A finding is posted when it is new (or back after being resolved), when its severity changed,
when a snooze on it ran out, or when it stayed unacknowledged for the reminder interval. A
finding that went away is posted once, as resolved. Everything else only updates `last_seen`.

`plan_digest` is pure (records and observations in, a plan out) so each rule is one table row
in the tests; `save_plan` writes the outcome, knowing which items actually reached Slack: one
that did not (the bot is not in that channel) is stored as not reported, so the next run tries
it again instead of forgetting it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from scheduled_checks.models import Observation
from store.base import Store
from store.digest import content_fingerprint
from store.models import FindingRecord
from tools.findings import Finding, Severity


class Change(StrEnum):
    NEW = "new"
    SEVERITY = "severity changed"
    UNSNOOZED = "snooze ended"
    REMINDER = "still open"
    RESOLVED = "resolved"


class DigestItem(BaseModel):
    """One line of a digest, with the record to store whether or not it reached Slack."""

    model_config = ConfigDict(frozen=True)

    check: str
    key: str
    change: Change
    severity: str
    previous_severity: str | None = None
    summary: str
    evidence: str = ""
    channel: str
    owner: str | None = None
    question: str
    record: FindingRecord
    """stored once the item is posted"""
    unposted: FindingRecord
    """stored when posting failed, so the next run says it again"""

    @property
    def rank(self) -> tuple[int, int, str]:
        """Severity first, resolved last: what needs someone now leads the message."""
        resolved = self.change is Change.RESOLVED
        return resolved, _severity_rank(self.severity), self.summary


class DigestPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[DigestItem]
    quiet: list[FindingRecord]
    """seen again, nothing to say: stored with `last_seen` moved on"""
    basis: dict[str, FindingRecord]
    """the records the plan was made from, by key, to notice clicks made while the check ran"""


def fingerprint(finding: Finding) -> str:
    """What identifies the finding's state; the summary is left out, it carries a countdown ("47 h")."""
    return content_fingerprint(
        {"reason": finding.reason, "severity": finding.severity.value, "subject": str(finding.subject or "")}
    )


def plan_digest(
    check: str,
    observations: Sequence[Observation],
    records: Iterable[FindingRecord],
    now: datetime,
    remind_after: timedelta,
) -> DigestPlan:
    """What to post for this run of `check`, given what the store remembers of earlier runs."""
    known = {record.key: record for record in records if record.check == check}
    items: list[DigestItem] = []
    quiet: list[FindingRecord] = []
    for observation in observations:
        old = known.get(observation.key)
        current = _current(check, observation, old, now)
        change = _change(old, current, now, remind_after)
        if change is None:
            quiet.append(current)
            continue
        posted = current.model_copy(update={"last_reported_at": now})
        if change in (Change.SEVERITY, Change.NEW):
            posted = posted.model_copy(update={"snoozed_until": None, "acknowledged_by": None})
        elif change is Change.UNSNOOZED:
            posted = posted.model_copy(update={"snoozed_until": None})
        unposted = current if old is None or old.resolved_at is not None else old.model_copy(update={"last_seen": now})
        items.append(
            _item(
                observation,
                check,
                change,
                posted,
                unposted,
                previous=old.severity if change is Change.SEVERITY and old else None,
            )
        )
    seen = {observation.key for observation in observations}
    for old in known.values():
        if old.key in seen or old.resolved_at is not None:
            continue
        resolved = old.model_copy(update={"resolved_at": now})
        if old.last_reported_at is None:
            quiet.append(resolved)  # never shown, so its end is not news either
            continue
        items.append(_resolved_item(old, resolved.model_copy(update={"last_reported_at": now})))
    items.sort(key=lambda item: item.rank)
    return DigestPlan(items=items, quiet=quiet, basis=known)


def _current(check: str, observation: Observation, old: FindingRecord | None, now: datetime) -> FindingRecord:
    """The record as of this run; a resolved one that is back starts over, snoozes and all."""
    finding = observation.finding
    content: dict[str, Any] = {
        "severity": finding.severity.value,
        "fingerprint": fingerprint(finding),
        "last_seen": now,
        "summary": finding.summary,
        "detail": {
            "finding": finding.model_dump(mode="json"),
            "channel": observation.channel,
            "owner": observation.owner,
            "question": observation.question,
        },
    }
    if old is None or old.resolved_at is not None:
        return FindingRecord(check=check, key=observation.key, first_seen=now, **content)
    return old.model_copy(update=content)


def _change(old: FindingRecord | None, current: FindingRecord, now: datetime, remind_after: timedelta) -> Change | None:
    if old is None or old.resolved_at is not None or old.last_reported_at is None:
        return Change.NEW
    if old.severity != current.severity:
        return Change.SEVERITY
    if old.snoozed_until is not None:
        return None if old.snoozed_until > now else Change.UNSNOOZED
    if old.acknowledged_by is not None:
        return None
    return Change.REMINDER if now - old.last_reported_at >= remind_after else None


def _item(
    observation: Observation,
    check: str,
    change: Change,
    posted: FindingRecord,
    unposted: FindingRecord,
    previous: str | None,
) -> DigestItem:
    finding = observation.finding
    return DigestItem(
        check=check,
        key=observation.key,
        change=change,
        severity=finding.severity.value,
        previous_severity=previous,
        summary=finding.summary,
        evidence=finding.evidence,
        channel=observation.channel,
        owner=observation.owner,
        question=observation.question,
        record=posted,
        unposted=unposted,
    )


def _resolved_item(old: FindingRecord, posted: FindingRecord) -> DigestItem:
    detail = old.detail
    return DigestItem(
        check=old.check,
        key=old.key,
        change=Change.RESOLVED,
        severity=old.severity,
        summary=old.summary,
        channel=str(detail.get("channel") or ""),
        owner=detail.get("owner"),
        question=str(detail.get("question") or old.summary),
        record=posted,
        unposted=old,
    )


def _severity_rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return len(Severity)


async def save_plan(store: Store, plan: DigestPlan, delivered: Collection[str]) -> None:
    """Store the run's outcome; `delivered` are the keys of items that reached Slack.

    A Snooze or Acknowledge clicked while the check ran must not be undone by the run's write,
    so the person's choice on the stored record is carried over when it changed meanwhile.
    """
    planned = [
        *plan.quiet,
        *(item.record if item.key in delivered else item.unposted for item in plan.items),
    ]
    for record in planned:
        stored = await store.get_finding(record.check, record.key)
        await store.upsert_finding(_keep_clicks(record, plan.basis.get(record.key), stored))


def _keep_clicks(record: FindingRecord, basis: FindingRecord | None, stored: FindingRecord | None) -> FindingRecord:
    if basis is None or stored is None or _triage(stored) == _triage(basis):
        return record
    return record.model_copy(update={"snoozed_until": stored.snoozed_until, "acknowledged_by": stored.acknowledged_by})


def _triage(record: FindingRecord) -> tuple[datetime | None, str | None]:
    return record.snoozed_until, record.acknowledged_by

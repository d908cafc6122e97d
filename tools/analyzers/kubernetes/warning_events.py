"""Warning events about objects no analyzer covers (cert-manager Challenges, custom resources, ...).

Operators report their trouble as events on their own resources; without this, a Challenge that
failed 1771 times would be invisible to a bot that only knows core kinds.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from tools.analyzers.kubernetes.event_records import EventRecord, first_seen, last_seen, total_count
from tools.analyzers.kubernetes.fields import finding, fmt_time, is_recent, require_aware
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity


def analyze_uncovered_events(
    snapshot: ClusterSnapshot, *, now: datetime, covered_kinds: Collection[str]
) -> list[Finding]:
    """One finding per (object, reason): a warning while it still happens, info once it stopped."""
    now = require_aware(now)
    grouped: dict[tuple[str, str | None, str, str], list[EventRecord]] = {}
    for event in snapshot.event_records:
        if event.is_warning and event.kind and event.kind not in covered_kinds:
            grouped.setdefault((event.kind, event.namespace, event.name, event.reason), []).append(event)
    return [_finding(events, now) for _, events in sorted(grouped.items(), key=lambda item: str(item[0]))]


def _finding(events: list[EventRecord], now: datetime) -> Finding:
    newest = max(events, key=lambda event: event.last or now)
    count, first, last = total_count(events), first_seen(events), last_seen(events)
    subject = ObjectRef(kind=newest.kind, name=newest.name, namespace=newest.namespace)
    since = f" since {fmt_time(first)}" if first else ""
    return finding(
        Severity.WARNING if is_recent(last, now) else Severity.INFO,
        newest.reason,
        subject,
        f"{subject}: {newest.reason} x{count}{since}: {newest.message}",
        [event.describe() for event in events[:3]],
        since=first,
        details={"count": count, "last_seen": fmt_time(last) if last else None, "message": newest.message},
    )

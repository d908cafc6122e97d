"""What a person does with a digest item: snooze it for a while, acknowledge it, or investigate it.

Snooze and Acknowledge change only the stored record (de-duplication then keeps the item quiet);
every click is written to the audit log with who clicked, because a silenced alert is a decision
someone made.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from store.base import Store
from store.models import AuditEvent, FindingRecord, utcnow

DIGEST_ACTION = "digest_action"
"""Audit kind of a click on a digest item."""


async def snooze(
    store: Store, check: str, key: str, user: str, duration: timedelta, now: datetime | None = None
) -> FindingRecord | None:
    """Keep the finding out of digests until `now + duration`; None when the store no longer knows it."""
    until = (now or utcnow()) + duration
    return await _record_click(store, check, key, user, {"snoozed_until": until}, {"action": "snooze", "until": until})


async def acknowledge(store: Store, check: str, key: str, user: str) -> FindingRecord | None:
    """Someone owns it: no more reminders until its severity changes; None when the store no longer knows it."""
    return await _record_click(store, check, key, user, {"acknowledged_by": user}, {"action": "acknowledge"})


async def investigate(store: Store, check: str, key: str, user: str) -> FindingRecord | None:
    """The finding someone asked the bot to look into (the record is unchanged); None when unknown."""
    return await _record_click(store, check, key, user, {}, {"action": "investigate"})


async def _record_click(
    store: Store, check: str, key: str, user: str, change: dict[str, object], audit: dict[str, object]
) -> FindingRecord | None:
    record = await store.get_finding(check, key)
    if record is None:
        return None
    updated = record.model_copy(update=change)
    if change:
        await store.upsert_finding(updated)
    detail = {
        **{name: value.isoformat() if isinstance(value, datetime) else value for name, value in audit.items()},
        "check": check,
        "key": key,
        "summary": record.summary,
    }
    await store.record_audit(AuditEvent(kind=DIGEST_ACTION, actor=user, subject=f"{check}:{key}", detail=detail))
    return updated

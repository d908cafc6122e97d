"""The audit log as an operator reads it in a terminal: one line per event, newest first.

Lines are meant for grep and for pasting into an incident review, so each stays on one line,
shows the details that explain the event before the rest, and never shows a secret even if one
slipped into a detail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from guardrails.secret_patterns import scrub_secrets
from store.base import Store
from store.models import AuditEvent

_FIRST = (
    "action",
    "target",
    "approve",
    "accepted",
    "allowed",
    "executed",
    "verified",
    "ok",
    "state",
    "message",
    "reason",
    "summary",
    "error",
)
_MAX_VALUE = 160


def _target(value: Mapping[str, Any]) -> str:
    where = f"{value['namespace']}/{value.get('name')}" if value.get("namespace") else str(value.get("name"))
    cluster = f" @{value['cluster']}" if value.get("cluster") else ""
    return f"{value.get('kind')} {where}{cluster}"


def _value(key: str, value: Any) -> str:
    if key == "target" and isinstance(value, Mapping):
        text = _target(value)
    elif key == "approve" and isinstance(value, bool):
        text = "approve" if value else "reject"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, str):
        text = value if value and not any(c.isspace() for c in value) else json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
    return _one_line(text)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _details(detail: Mapping[str, Any]) -> str:
    keys = [key for key in _FIRST if key in detail] + sorted(key for key in detail if key not in _FIRST)
    return " ".join(f"{key}={_value(key, detail[key])}" for key in keys if detail[key] not in (None, "", [], {}))


def format_event(event: AuditEvent) -> str:
    line = f"{event.at:%Y-%m-%d %H:%M:%S}Z  {event.kind:<12} {event.actor:<12} {_one_line(event.subject)}"
    details = _details(event.detail)
    return scrub_secrets(f"{line}  {details}" if details else line)[0]


def format_audit(events: list[AuditEvent]) -> str:
    """One line per event (time, kind, actor, subject, details) in the order given."""
    return "\n".join(format_event(event) for event in events)


async def run_audit_command(store: Store, limit: int = 50, kind: str | None = None) -> str:
    """What `whisperer audit [--kind K] [--limit N]` prints: the newest events first."""
    events = await store.list_audit(limit=limit, kind=kind)
    if not events:
        return f"No {kind} events in the audit log" if kind else "The audit log is empty"
    return format_audit(events)

"""Typed reads from Kubernetes objects given as the API's JSON (plain dicts).

Objects arrive from an MCP tool as JSON, so any field may be missing or null; these accessors
turn "absent" into an empty value of the expected type once, instead of every analyzer guarding
every `.get()` and mypy seeing `Any` everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.findings import Finding, ObjectRef, Severity

JsonObj = Mapping[str, Any]

SOURCE = "kubernetes"
RECENT = timedelta(hours=1)
"""How long ago a crash, an exit or a warning event still counts as happening now (events expire after 1 h)."""


class AnalyzerInputError(ValueError):
    """An object the analyzers cannot read at all (no kind, no name, a naive clock)."""


def path(obj: Any, *keys: str) -> Any:
    current = obj
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def text(obj: Any, *keys: str) -> str | None:
    value = path(obj, *keys)
    return value if isinstance(value, str) and value else None


def integer(obj: Any, *keys: str, default: int = 0) -> int:
    value = path(obj, *keys)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def flag(obj: Any, *keys: str) -> bool:
    return path(obj, *keys) is True


def mapping(obj: Any, *keys: str) -> JsonObj:
    value = path(obj, *keys)
    return value if isinstance(value, Mapping) else {}


def items(obj: Any, *keys: str) -> list[JsonObj]:
    value = path(obj, *keys)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def string_map(obj: Any, *keys: str) -> dict[str, str]:
    return {str(key): str(value) for key, value in mapping(obj, *keys).items()}


def kind_of(obj: JsonObj) -> str:
    return text(obj, "kind") or ""


def name_of(obj: JsonObj) -> str:
    return text(obj, "metadata", "name") or ""


def namespace_of(obj: JsonObj) -> str | None:
    return text(obj, "metadata", "namespace")


def ref_of(obj: JsonObj) -> ObjectRef:
    return ObjectRef(kind=kind_of(obj), name=name_of(obj), namespace=namespace_of(obj))


def labels_of(obj: JsonObj) -> dict[str, str]:
    return string_map(obj, "metadata", "labels")


def controller_ref(obj: JsonObj) -> JsonObj | None:
    """The owner reference marked as controller, else the first one: who recreates this object."""
    owners = items(obj, "metadata", "ownerReferences")
    return next((owner for owner in owners if owner.get("controller") is True), owners[0] if owners else None)


def condition(obj: JsonObj, kind: str) -> JsonObj | None:
    return next((cond for cond in items(obj, "status", "conditions") if cond.get("type") == kind), None)


def describe_condition(cond: JsonObj | None) -> str:
    """A status condition quoted as `kubectl get -o yaml` shows it, for evidence."""
    if not cond:
        return ""
    reason, message, transition = text(cond, "reason"), text(cond, "message"), text(cond, "lastTransitionTime")
    quoted = f"condition {text(cond, 'type')}={text(cond, 'status')}" + (f" reason={reason}" if reason else "")
    quoted += f" message={message!r}" if message else ""
    return quoted + (f" since {transition}" if transition else "")


def unready_since(pod: JsonObj) -> datetime | None:
    """When a pod's Ready condition last turned false; None while it is ready (or never reported)."""
    ready = condition(pod, "Ready")
    if ready is None or ready.get("status") == "True":
        return None
    return time_at(ready, "lastTransitionTime")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as the API writes it; None for null or anything unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def time_at(obj: Any, *keys: str) -> datetime | None:
    return parse_time(path(obj, *keys))


def fmt_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d"


def earliest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def is_recent(moment: datetime | None, now: datetime, window: timedelta = RECENT) -> bool:
    return moment is not None and now - moment <= window


def require_aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise AnalyzerInputError(
            f"now must be timezone-aware (got naive {now.isoformat()}); pass e.g. datetime.now(UTC)"
        )
    return now


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3, "": 1}
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$")


def quantity_bytes(quantity: Any) -> int | None:
    """A resource quantity such as "512Mi" in bytes; None when it is not one."""
    match = _QUANTITY.match(str(quantity).strip()) if quantity is not None else None
    if match is None:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        return int(float(number) * _BINARY.get(suffix, _DECIMAL.get(suffix, 1)))
    except ValueError:
        return None


def selector_matches(selector: JsonObj, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against an object's labels."""
    if any(labels.get(key) != value for key, value in string_map(selector, "matchLabels").items()):
        return False
    for expression in items(selector, "matchExpressions"):
        key, operator = str(expression.get("key", "")), expression.get("operator")
        values = {str(value) for value in expression.get("values") or ()}
        present = key in labels
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def finding(
    severity: Severity,
    reason: str,
    subject: ObjectRef,
    summary: str,
    evidence: list[str],
    *,
    since: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> Finding:
    return Finding(
        source=SOURCE,
        severity=severity,
        reason=reason,
        subject=subject,
        summary=summary,
        evidence="; ".join(part for part in evidence if part),
        since=since,
        details=details or {},
    )

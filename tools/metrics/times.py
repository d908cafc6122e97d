"""The times a model (or a person) writes, read the way Prometheus and Grafana read them.

Tool arguments arrive as text: "2026-11-20T13:40:00Z", "-30m", "now-1h", "now", or Unix seconds.
Relative times count back from `now`, which the caller passes, so one question's queries share
one clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tools.tool_errors import ToolFailure

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_RELATIVE = re.compile(r"^(?:now)?\s*([+-])\s*(\S+)$")


def parse_duration(text: str) -> timedelta:
    """A Prometheus duration ("90s", "1h30m") or a number of seconds."""
    value = text.strip()
    try:
        return timedelta(seconds=float(value))
    except ValueError:
        pass
    if not _DURATION.match(value):
        raise ToolFailure(f'"{text}" is not a duration (write e.g. 30s, 5m, 1h30m)')
    return timedelta(seconds=sum(float(number) * _UNITS[unit] for number, unit in _DURATION_PART.findall(value)))


def parse_time(text: str | None, now: datetime) -> datetime:
    """ISO 8601 (UTC when no offset is given), Unix seconds, "now", or relative to now ("-30m", "now-1h")."""
    if text is None or not text.strip() or text.strip().lower() == "now":
        return now
    value = text.strip()
    relative = _RELATIVE.match(value.lower())
    if relative:
        offset = parse_duration(relative.group(2))
        return now - offset if relative.group(1) == "-" else now + offset
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ToolFailure(f'"{text}" is not a time (write ISO 8601, Unix seconds, "now" or e.g. "-30m")') from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

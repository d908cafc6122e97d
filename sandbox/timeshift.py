"""Moves a recorded world to the present.

A world is recorded at one moment but must look as if it was recorded a moment ago, otherwise
every "since when" and "how long until" answer would be about the past. All shifting lives here
so that every file format moves by exactly the same delta.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

# RFC 3339 as the Kubernetes API writes it, and the looser forms SQL and log lines use: a space
# for the T, an offset without minutes, or no zone at all (read as UTC).
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?P<sep>[T ])(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?"
)
_RFC3339_WHOLE = re.compile(rf"^{_RFC3339.pattern}$")


def parse_time(value: str | datetime) -> datetime:
    """Reads an RFC 3339 time (or a datetime YAML already made) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """Writes a time the way the Kubernetes API does: UTC, whole seconds, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TimeShift:
    """A fixed delta applied to every timestamp of one world."""

    def __init__(self, recorded_at: datetime, now: datetime) -> None:
        # Whole seconds keep shifted metric timestamps on the world's own scrape grid.
        self.delta = timedelta(seconds=round((now - recorded_at).total_seconds()))
        self.recorded_at = recorded_at
        self.now = recorded_at + self.delta

    def time(self, moment: datetime) -> datetime:
        return moment + self.delta

    def text(self, value: str) -> str:
        """Shifts one RFC 3339 string, keeping its precision."""
        match = _RFC3339_WHOLE.match(value)
        if match is None:
            return value
        return self._shift_match(match)

    def _shift_match(self, match: re.Match[str]) -> str:
        """Shifts one match and writes it back in the very style it was written in."""
        frac = match.group("frac") or ""
        tz = match.group("tz") or ""
        base = datetime.fromisoformat(f"{match.group('date')}T{match.group('time')}{frac[:7]}")
        shifted = base + self.delta
        text = shifted.strftime(f"%Y-%m-%d{match.group('sep')}%H:%M:%S")
        if frac:
            text += f".{shifted.microsecond:06d}".ljust(len(frac), "0")[: len(frac)]
        return text + tz

    def embedded(self, text: str) -> str:
        """Shifts every RFC 3339 time inside free text, such as log lines or messages."""
        return _RFC3339.sub(self._shift_match, text)

    def tree(self, value: Any) -> Any:
        """Shifts every timestamp string (and YAML datetime) found anywhere in a parsed document."""
        if isinstance(value, dict):
            return {key: self.tree(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.tree(item) for item in value]
        if isinstance(value, datetime):
            return format_time(self.time(parse_time(value)))
        if isinstance(value, str):
            return self.text(value)
        return value

    def openmetrics(self, text: str) -> str:
        """Shifts sample timestamps (Unix seconds, the last token after the value) of OpenMetrics text."""
        seconds = self.delta.total_seconds()
        return "\n".join(_shift_sample_line(line, seconds) for line in text.split("\n"))


def _shift_sample_line(line: str, seconds: float) -> str:
    if not line or line.startswith("#"):
        return line
    # Label values may hold spaces, so only split what follows the closing brace of the label set.
    if "{" in line:
        head_end = line.rfind("}") + 1
        head, rest = line[:head_end], line[head_end:].split()
    else:
        head, *rest = line.split()
    if len(rest) < 2:
        return line
    value, stamp, *tail = rest
    shifted = float(stamp) + seconds
    stamp_text = f"{shifted:.3f}".rstrip("0").rstrip(".") if "." in stamp else str(round(shifted))
    return " ".join([head, value, stamp_text, *tail])

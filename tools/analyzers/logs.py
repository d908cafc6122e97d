"""Log-pattern analyzer: which errors a container logged, how often, since when, and what kind.

Services log in many shapes (zap's tab-separated fields, Python's `LEVEL logger: message`, JSON
lines, logfmt, klog, bare panics and tracebacks), usually behind the RFC 3339 timestamp that
`kubectl logs --timestamps` or the app itself writes first. Each line is reduced to its level and
its message; messages are grouped after masking what varies between occurrences (timestamps,
numbers, UUIDs, hex ids, IP addresses, `key=value` values), so a thousand "timed out after 30s"
lines become one line with a count, a first and a last occurrence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.findings import Finding, ObjectRef, Severity

SOURCE = "logs"
DEFAULT_TOP = 10
EXAMPLE_LENGTH = 300
TEMPLATE_LENGTH = 200


class LogGroup(BaseModel):
    """Lines that differ only in their variable parts."""

    model_config = ConfigDict(frozen=True)

    template: str
    example: str
    level: str
    count: int
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class PatternHit(BaseModel):
    """A well-known failure (timeouts, DNS, TLS, ...) and the lines that show it."""

    model_config = ConfigDict(frozen=True)

    pattern: str
    count: int
    example: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class LogSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_name: str
    total_lines: int
    error_lines: int
    warning_lines: int
    fatal_lines: int
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    top_errors: list[LogGroup]
    top_warnings: list[LogGroup]
    patterns: list[PatternHit]


@dataclass(frozen=True)
class Pattern:
    name: str
    reason: str
    label: str
    regex: re.Pattern[str]


def _pattern(name: str, reason: str, label: str, regex: str) -> Pattern:
    return Pattern(name, reason, label, re.compile(regex, re.IGNORECASE))


PATTERNS: tuple[Pattern, ...] = (
    _pattern("timeout", "Timeout", "timeouts", r"timed?[ -]?out|timeout|deadline exceeded"),
    _pattern("connection_refused", "ConnectionRefused", "refused connections", r"connection refused|econnrefused"),
    _pattern(
        "out_of_memory",
        "OutOfMemory",
        "out-of-memory errors",
        r"out of memory|oom-?kill|outofmemoryerror|\bmemoryerror\b|cannot allocate memory",
    ),
    _pattern(
        "panic_or_exception",
        "PanicOrException",
        "panics and exceptions",
        r"^panic:|\bpanic\(|traceback \(most recent call last\)|\w*exception\b|fatal error:|segmentation fault|sigsegv",
    ),
    _pattern(
        "pool_exhausted",
        "ConnectionPoolExhausted",
        "connection-pool exhaustion errors",
        r"could not obtain connection from pool|pooltimeout|pool (?:is )?exhausted|couldn't get a connection"
        r"|too many clients|remaining connection slots",
    ),
    _pattern(
        "dns_failure",
        "DNSFailure",
        "DNS failures",
        r"no such host|nxdomain|name or service not known|temporary failure in name resolution|servfail"
        r"|could not resolve host|getaddrinfo \w+|name resolution failed|dns (?:lookup|resolution) failed"
        # Go's resolver: "lookup db.svc.cluster.local on 172.20.0.10:53: read udp ...: i/o timeout"
        r"|\blookup [\w.-]+(?: on [\d.:\[\]a-f]+)?: (?:.*i/o timeout|server misbehaving|no answer|connection refused)",
    ),
    _pattern(
        "tls_error",
        "TLSError",
        "TLS and certificate errors",
        r"x509|certificate (?:has )?expired|certificate verify failed|unknown authority|tls: |handshake fail|\bssl",
    ),
    _pattern(
        "permission_denied",
        "PermissionDenied",
        "permission errors",
        r"permission denied|eacces|operation not permitted|access denied|\bforbidden\b",
    ),
)

_LEVELS = {
    **dict.fromkeys(("fatal", "panic", "critical", "crit", "emerg", "emergency", "alert", "severe", "dpanic"), "fatal"),
    **dict.fromkeys(("error", "err", "eror"), "error"),
    **dict.fromkeys(("warn", "warning"), "warning"),
    **dict.fromkeys(("info", "information", "notice"), "info"),
    **dict.fromkeys(("debug", "trace", "fine"), "debug"),
}
_SERIOUS = ("fatal", "error", "warning")
_KLOG_LEVELS = {"F": "fatal", "E": "error", "W": "warning", "I": "info"}

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_LEADING_TIMESTAMP = re.compile(rf"^\s*({_TIMESTAMP.pattern})\s*")
_LEVEL_TOKEN = re.compile(r"^\[?([A-Za-z]+)\]?(?::|\s|$)")
_KLOG = re.compile(r"^([FEWI])\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+\s+\S+\]\s*(.*)$")
_LOGFMT_LEVEL = re.compile(r'\blevel="?(\w+)"?')
_LOGFMT_MESSAGE = re.compile(r'\bmsg=(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_LOGFMT_ERROR = re.compile(r'\berr(?:or)?=(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_CALLER = re.compile(r"^\S+:\d+$")
_UNLEVELED_FATAL = re.compile(r"^(?:panic:|fatal error:)")
_UNLEVELED_ERROR = re.compile(r"^(?:Traceback \(most recent call last\)|[\w.]+(?:Error|Exception)\b)")

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_TIMESTAMP, "<ts>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<uuid>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]{7,}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b([\w.-]+)=(?:\"[^\"]*\"|'[^']*'|[^\s,;)]+)"), r"\1=<*>"),
    (re.compile(r"(?<![A-Za-z<])\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


@dataclass(frozen=True)
class _Line:
    raw: str
    level: str | None
    message: str
    at: datetime | None


@dataclass
class _Tally:
    example: str
    level: str
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    order: int = 0

    def add(self, at: datetime | None) -> None:
        self.count += 1
        if at is not None:
            self.first_seen = at if self.first_seen is None else min(self.first_seen, at)
            self.last_seen = at if self.last_seen is None else max(self.last_seen, at)


@dataclass
class _Counts:
    total: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None


def analyze_log(text: str, *, source_name: str, top: int = DEFAULT_TOP) -> LogSummary:
    """Group a container's log by normalized message; `source_name` labels the summary (pod/container)."""
    counts = _Counts()
    groups: dict[tuple[str, str], _Tally] = {}
    hits: dict[str, _Tally] = {}
    for line in _lines(text):
        counts.total += 1
        if line.at is not None:
            counts.first = counts.first or line.at
            counts.last = line.at
        if line.level not in _SERIOUS:
            continue
        counts.by_level[line.level] = counts.by_level.get(line.level, 0) + 1
        level = "warning" if line.level == "warning" else "error"
        key = (level, _template(line.message))
        groups.setdefault(key, _Tally(_clip(line.raw), line.level, order=len(groups))).add(line.at)
        for pattern in PATTERNS:
            if pattern.regex.search(line.raw):
                hits.setdefault(pattern.name, _Tally(_clip(line.raw), line.level, order=len(hits))).add(line.at)
    return LogSummary(
        source_name=source_name,
        total_lines=counts.total,
        error_lines=counts.by_level.get("error", 0) + counts.by_level.get("fatal", 0),
        warning_lines=counts.by_level.get("warning", 0),
        fatal_lines=counts.by_level.get("fatal", 0),
        first_timestamp=counts.first,
        last_timestamp=counts.last,
        top_errors=_top(groups, "error", top),
        top_warnings=_top(groups, "warning", top),
        patterns=[
            PatternHit(
                pattern=name,
                count=tally.count,
                example=tally.example,
                first_seen=tally.first_seen,
                last_seen=tally.last_seen,
            )
            for name, tally in sorted(hits.items(), key=lambda item: (-item[1].count, item[1].order))
        ],
    )


def log_findings(summary: LogSummary, subject: ObjectRef | None) -> list[Finding]:
    """A finding for the errors as a whole (critical once something logged a fatal), one per known pattern."""
    found: list[Finding] = []
    if summary.top_errors:
        found.append(_errors_finding(summary, subject))
    by_name = {pattern.name: pattern for pattern in PATTERNS}
    for hit in summary.patterns:
        pattern = by_name[hit.pattern]
        since = f" since {_fmt(hit.first_seen)}" if hit.first_seen else ""
        found.append(
            Finding(
                source=SOURCE,
                severity=Severity.WARNING,
                reason=pattern.reason,
                subject=subject,
                summary=f"{summary.source_name}: {hit.count} lines with {pattern.label}{since}",
                evidence=f"e.g. {hit.example}",
                since=hit.first_seen,
                details={"source_name": summary.source_name, **hit.model_dump(mode="json")},
            )
        )
    return found


def _errors_finding(summary: LogSummary, subject: ObjectRef | None) -> Finding:
    head = summary.top_errors[0]
    fatal = f", {summary.fatal_lines} fatal" if summary.fatal_lines else ""
    first = f" first at {_fmt(head.first_seen)}" if head.first_seen else ""
    known_starts = [group.first_seen for group in summary.top_errors if group.first_seen is not None]
    return Finding(
        source=SOURCE,
        severity=Severity.CRITICAL if summary.fatal_lines else Severity.WARNING,
        reason="LogErrors",
        subject=subject,
        summary=(
            f"{summary.source_name}: {summary.error_lines} error lines of {summary.total_lines}{fatal}; "
            f'top: "{head.template}" x{head.count}{first}'
        ),
        evidence="; ".join(_describe(group) for group in summary.top_errors[:3]),
        since=min(known_starts) if known_starts else None,
        details={
            "source_name": summary.source_name,
            "total_lines": summary.total_lines,
            "error_lines": summary.error_lines,
            "warning_lines": summary.warning_lines,
            "fatal_lines": summary.fatal_lines,
            "top_errors": [group.model_dump(mode="json") for group in summary.top_errors],
        },
    )


def _describe(group: LogGroup) -> str:
    window = ", ".join(
        part
        for part in (
            f"first {_fmt(group.first_seen)}" if group.first_seen else "",
            f"last {_fmt(group.last_seen)}" if group.last_seen and group.last_seen != group.first_seen else "",
        )
        if part
    )
    return f"x{group.count}" + (f" ({window})" if window else "") + f": {group.example}"


def _top(groups: dict[tuple[str, str], _Tally], level: str, top: int) -> list[LogGroup]:
    chosen = sorted(
        ((template, tally) for (group_level, template), tally in groups.items() if group_level == level),
        key=lambda item: (-item[1].count, item[1].order),
    )
    return [
        LogGroup(
            template=template,
            example=tally.example,
            level=tally.level,
            count=tally.count,
            first_seen=tally.first_seen,
            last_seen=tally.last_seen,
        )
        for template, tally in chosen[:top]
    ]


def _lines(text: str) -> Iterator[_Line]:
    """Parsed lines; a line without a timestamp (a stack frame, say) takes the one before it."""
    previous: datetime | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        at, rest = _split_timestamp(raw)
        at = at or previous
        previous = at
        level, message = _level_and_message(rest) if not raw[:1].isspace() else (None, rest.strip())
        yield _Line(raw=rest.strip(), level=level, message=message, at=at)


def _split_timestamp(raw: str) -> tuple[datetime | None, str]:
    """Strip leading timestamps (kubectl's and the app's own may both be there); keep the first."""
    first: datetime | None = None
    rest = raw
    while match := _LEADING_TIMESTAMP.match(rest):
        first = first or _parse_time(match.group(1))
        rest = rest[match.end() :]
    return first, rest


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace(",", ".").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _level_and_message(rest: str) -> tuple[str | None, str]:
    stripped = rest.strip()
    if stripped.startswith("{"):
        structured = _json_line(stripped)
        if structured is not None:
            return structured
    if klog := _KLOG.match(stripped):
        return _KLOG_LEVELS[klog.group(1)], klog.group(2)
    if _UNLEVELED_FATAL.match(stripped):
        return "fatal", stripped
    if token := _LEVEL_TOKEN.match(stripped):
        level = _LEVELS.get(token.group(1).lower())
        if level is not None:
            return level, _message_after_level(stripped[token.end() :])
    if logfmt := _LOGFMT_LEVEL.search(stripped):
        level = _LEVELS.get(logfmt.group(1).lower())
        if level is not None:
            return level, _logfmt_message(stripped)
    if _UNLEVELED_ERROR.match(stripped):
        return "error", stripped
    return None, stripped


def _json_line(line: str) -> tuple[str | None, str] | None:
    try:
        record: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    raw_level = next((record[key] for key in ("level", "severity", "lvl", "levelname") if key in record), None)
    level = _LEVELS.get(str(raw_level).lower()) if raw_level is not None else None
    message = str(record.get("msg") or record.get("message") or "")
    error = record.get("error") or record.get("err") or record.get("exception")
    return level, f"{message}: {error}" if error else message or line


def _message_after_level(rest: str) -> str:
    """zap writes `LEVEL<tab>caller<tab>message<tab>{fields}`: keep the message, drop caller and fields."""
    fields = [part.strip() for part in rest.split("\t") if part.strip()]
    if len(fields) >= 2 and _CALLER.match(fields[0]):
        return fields[1]
    return rest.strip()


def _logfmt_message(line: str) -> str:
    message = _LOGFMT_MESSAGE.search(line)
    error = _LOGFMT_ERROR.search(line)
    text = (message.group(1) or message.group(2)) if message else line
    return f"{text}: {error.group(1) or error.group(2)}" if error else text


def _template(message: str) -> str:
    masked = message
    for regex, replacement in _MASKS:
        masked = regex.sub(replacement, masked)
    return masked.strip()[:TEMPLATE_LENGTH]


def _clip(line: str) -> str:
    flat = " ".join(line.split())
    return flat if len(flat) <= EXAMPLE_LENGTH else flat[: EXAMPLE_LENGTH - 3] + "..."


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

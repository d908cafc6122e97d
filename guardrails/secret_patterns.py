"""Credentials recognisable by their shape, and the scrubber built on them.

These patterns are the one list of secret shapes in the project: log scrubbing uses them
directly (it must be cheap and must never need Presidio), and the PII redactor registers the
same patterns as recognizers, so a token caught in a log line is caught in a Slack message too.
Each pattern keeps the non-secret context (a key name, a URL's host) so that a redacted line
still says what was there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretPattern:
    entity: str
    regex: re.Pattern[str]
    # The named group holding the secret itself; without one, the whole match is secret.
    group: str | None = None


def _p(entity: str, pattern: str, group: str | None = None, flags: int = 0) -> SecretPattern:
    return SecretPattern(entity, re.compile(pattern, flags), group)


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    _p(
        "PRIVATE_KEY",
        r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
    _p("SLACK_TOKEN", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    _p("SLACK_TOKEN", r"\bxapp-\d-[A-Za-z0-9-]{10,}"),
    _p("SLACK_WEBHOOK", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
    _p("GITHUB_TOKEN", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    _p("AWS_ACCESS_KEY", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"),
    _p(
        "AWS_SECRET_KEY",
        r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})",
        "secret",
    ),
    _p("MODEL_API_KEY", r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    _p("JWT", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    # A following `key=value` pair is the next field of a log line (token_type=Bearer expires_in=3600).
    _p("BEARER_TOKEN", r"(?i)\bbearer\s+(?![a-z_]+=)(?P<secret>[A-Za-z0-9._~+/=-]{12,})", "secret"),
    _p(
        "CONNECTION_PASSWORD",
        # A placeholder already put there, even HTML-escaped for Slack, is not a password.
        r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?!&lt;[A-Z_]+&gt;@)(?P<secret>[^@\s/]+)@",
        "secret",
        re.IGNORECASE,
    ),
    # Key names may carry a prefix (DB_PASSWORD, PGPASSWORD); quoted values may hold spaces.
    _p(
        "PASSWORD",
        r"(?i)\b[a-z0-9_]*?(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret|token)"
        r"[\"']?\s*[:=]\s*(?P<secret>\"[^\"\n]{3,}\"|'[^'\n]{3,}'|[^\s,;&\"'}]{3,})",
        "secret",
    ),
    _p("PASSWORD", r"(?i)(?<!\S)--?(?:password|passwd|token|secret|api-key)[= ](?P<secret>[^\s-][^\s]{2,})", "secret"),
)


# A value that begins with a placeholder was scrubbed by an earlier, more specific pattern.
_ALREADY_SCRUBBED = re.compile(r"<[A-Z_]+>")


def placeholder(entity: str) -> str:
    """The typed placeholder a secret or a PII value is replaced with, everywhere in the project."""
    return f"<{entity}>"


def scrub_secrets(text: str) -> tuple[str, Counter[str]]:
    """Replaces every recognisable credential with its placeholder; returns the text and counts by type."""
    counts: Counter[str] = Counter()
    for pattern in SECRET_PATTERNS:
        text = pattern.regex.sub(_replacer(pattern, counts), text)
    return text, counts


def _replacer(pattern: SecretPattern, counts: Counter[str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        value = match.group(pattern.group) if pattern.group else match.group(0)
        if _ALREADY_SCRUBBED.match(value.strip("\"'")):
            return match.group(0)
        counts[pattern.entity] += 1
        if pattern.group is None:
            return placeholder(pattern.entity)
        start, end = match.span(pattern.group)
        offset = match.start()
        whole = match.group(0)
        return whole[: start - offset] + placeholder(pattern.entity) + whole[end - offset :]

    return replace

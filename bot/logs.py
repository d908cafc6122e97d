"""Structured logs with credentials scrubbed before any handler sees them.

Machines get one JSON object per line (the default, for log pipelines); people get short
`time level logger message key=value` lines with `--verbose`. Either way the scrubbing filter
runs first, so a token inside an exception message or a DSN never reaches a log sink.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from guardrails.secret_patterns import scrub_secrets

# Attributes every LogRecord has; anything else was passed through `extra=` and is structured data.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# Libraries whose chatter drowns the bot's own lines; sqlglot warns about every statement it
# cannot parse, which the SQL gate refuses with its own clearer line anyway.
_QUIET = {
    **dict.fromkeys(
        ("urllib3", "asyncio", "aiohttp.access", "kubernetes.client.rest", "httpx", "LiteLLM", "presidio-analyzer"),
        logging.WARNING,
    ),
    "sqlglot": logging.ERROR,
}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS}


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_secrets(value)[0]
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


class ScrubSecrets(logging.Filter):
    """Rewrites the message, its arguments, extra fields and any traceback text in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _scrub(record.getMessage())
        record.args = None
        for key, value in _fields(record).items():
            setattr(record, key, _scrub(value))
        if record.exc_info:
            record.exc_text = _scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        pairs = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line} {pairs}" if pairs else line
        return f"{line}\n{record.exc_text}" if record.exc_text else line


def configure_logging(*, verbose: bool = False, stream: TextIO | None = None) -> None:
    """Installs one scrubbed handler on the root logger; safe to call more than once."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ScrubSecrets())
    handler.setFormatter(HumanFormatter() if verbose else JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)

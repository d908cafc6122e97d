from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging

GITHUB_TOKEN = "ghp_" + "a" * 36


def emit(verbose: bool) -> str:
    stream = io.StringIO()
    configure_logging(verbose=verbose, stream=stream)
    log = logging.getLogger("whisperer.test")
    log.info("connecting with %s", "xoxb-123456789012-abcdefghijkl", extra={"dsn": "postgresql://app:hunter22@db/x"})
    try:
        raise RuntimeError(f"auth failed for token {GITHUB_TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    return stream.getvalue()


def test_json_lines_are_structured_and_scrubbed() -> None:
    lines = [json.loads(line) for line in emit(verbose=False).splitlines()]
    assert lines[0]["msg"] == "connecting with <SLACK_TOKEN>"
    assert lines[0]["dsn"] == "postgresql://app:<CONNECTION_PASSWORD>@db/x"
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "whisperer.test"
    assert "RuntimeError: auth failed for token <GITHUB_TOKEN>" in lines[1]["exc"]


def test_human_lines_are_scrubbed_too() -> None:
    text = emit(verbose=True)
    assert "xoxb-" not in text and "hunter22" not in text and "ghp_" not in text
    assert "whisperer.test: connecting with <SLACK_TOKEN> dsn=postgresql://app:<CONNECTION_PASSWORD>@db/x" in text

"""Prints the corpus run's summary line once the session ends, so CI logs show its size and outcome."""

from __future__ import annotations

import pytest

from tests.guardrails.prompt_injection.results import RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS.texts:
        terminalreporter.write_line(RESULTS.line())

"""Shared test fixtures.

Integration tests need real servers. On a developer's laptop a missing server skips the test
with a loud reason; under ``CI=true`` the same situation is a failure, so CI can never go green
by silently testing less.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally, fail under CI: a missing integration dependency must never pass CI."""
    if IN_CI:
        pytest.fail(f"integration dependency missing under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)

"""Scheduled-check settings are refused at start, one line naming the key, before anything runs.

(A bad cron expression and a schedule with both kinds are in test_config.py.)
"""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Schedule, build_config


@pytest.mark.parametrize(
    ("checks", "expected"),
    [
        (
            {"cert-expiry": {"schedule": {"cron": "0 8 * * *", "timezone": "Mars/Olympus"}}},
            "test: checks.cert-expiry.schedule: unknown time zone 'Mars/Olympus' (use an IANA name such as "
            "Europe/Berlin)",
        ),
        (
            {"cert-expiry": {"schedule": {"every_minutes": 30, "timezone": "Nowhere"}}},
            "test: checks.cert-expiry.schedule: unknown time zone 'Nowhere' (use an IANA name such as Europe/Berlin)",
        ),
        (
            {"certs": {}},
            "test: checks: unknown check 'certs' (available: alerts-digest, cert-expiry, workload-health)",
        ),
        (
            {"cert-expiry": {"warn_days": 2, "critical_days": 3}},
            "test: checks.cert-expiry: critical_days (3) must not exceed warn_days (2)",
        ),
        (
            {"workload-health": {"schedule": {"cron": "0 25 * * *"}}},
            "test: checks.workload-health.schedule: invalid cron expression '0 25 * * *'",
        ),
    ],
)
def test_bad_check_settings_name_the_key(checks: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"checks": checks}, source="test", environ={})
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_schedules_read_as_people_write_them() -> None:
    assert Schedule(cron="0 8 * * 1-5", timezone="Europe/Berlin").describe() == "cron 0 8 * * 1-5 (Europe/Berlin)"
    assert Schedule(every_minutes=30).describe() == "every 30 min"

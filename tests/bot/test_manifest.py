"""The Slack app manifest users create the app from: Socket Mode, /whisper, the events we handle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sandbox.slack.web_api import DEFAULT_BOT_SCOPES

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


def test_socket_mode_slash_command_events_and_interactivity() -> None:
    data = manifest()
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert set(data["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "app_home_opened"}
    assert [c["command"] for c in data["features"]["slash_commands"]] == ["/whisper"]
    assert data["features"]["app_home"]["home_tab_enabled"] is True


def test_scopes_are_minimal_and_known_to_the_stand_in() -> None:
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert set(scopes) <= set(DEFAULT_BOT_SCOPES)
    assert not {"chat:write.customize", "admin", "channels:manage", "users:read.email"} & set(scopes)

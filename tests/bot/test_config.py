from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "whisperer.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "whisperer.yaml"
    path.write_text(text)
    return path


def test_example_config_is_valid_and_reads_secrets_from_the_environment() -> None:
    config = load_config(EXAMPLE, environ={"SHOP_DB_DSN": "postgresql://reader@db/shop", "NOTES_TOKEN": "n"})
    assert config.databases[0].dsn == "postgresql://reader@db/shop"
    assert [(server.name, server.env) for server in config.mcp.external] == [
        ("grafana", {}),
        ("notes", {"NOTES_TOKEN": "n"}),
    ]
    assert config.store_url == "sqlite:////var/lib/whisperer/whisperer.db"
    assert config.models.enabled
    assert [s.name for s in config.services] == ["payment-service", "orders-service"]
    assert config.policy.actions["cordon_node"].risk == "high"


def test_missing_environment_variable_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "databases:\n  - name: shop\n    dsn: ${SHOP_DSN}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: databases.0.dsn: environment variable SHOP_DSN is not set"


def test_environment_default_is_used_when_unset(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  url: ${STORE:-sqlite:////tmp/x.db}\n")
    assert load_config(path, environ={}).store_url == "sqlite:////tmp/x.db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("polcy: {}\n", "polcy: unknown key"),
        ("prometheus:\n  timeout_s: -1\n", "prometheus.timeout_s: Input should be greater than 0"),
        (
            "checks:\n  cert-expiry:\n    schedule: {cron: '61 * * * *'}\n",
            "checks.cert-expiry.schedule: invalid cron expression '61 * * * *'",
        ),
        (
            "checks:\n  cert-expiry:\n    schedule: {cron: '0 8 * * *', every_minutes: 5}\n",
            "checks.cert-expiry.schedule: give exactly one of 'cron' or 'every_minutes'",
        ),
        (
            "slack:\n  default_channel: xoxb-123456789012-abcdefghijkl\n",
            "slack.default_channel: looks like a literal SLACK_TOKEN",
        ),
        (
            "databases:\n  - {name: shop, dsn: 'postgresql://app:hunter22@db/shop'}\n",
            "databases.0.dsn: looks like a literal CONNECTION_PASSWORD",
        ),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("slack: [unclosed\n", "invalid YAML at line 2"),
        ("mcp:\n  external:\n    - {name: x}\n", "mcp.external.0: give exactly one of 'command' (stdio) or 'url'"),
    ],
)
def test_broken_config_is_one_line_naming_file_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_literal_secret_is_never_echoed_back(tmp_path: Path) -> None:
    path = write(tmp_path, "databases:\n  - {name: shop, dsn: 'postgresql://app:hunter22@db/shop'}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "hunter22" not in str(caught.value)


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read: No such file or directory"):
        load_config(tmp_path / "missing.yaml", environ={})


def test_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "slack:\n  default_channel: '#ops'\n")
    assert load_config(environ={"WHISPERER_CONFIG": str(path)}).slack.default_channel == "#ops"


def test_world_overlay_merges_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "access:\n  approvers: [U1]\n  admins: [U9]\nslack:\n  default_channel: '#ops'\n")
    config = load_config(path, overlay={"access": {"approvers": ["U_BOB"]}}, environ={})
    assert config.access.approvers == ["U_BOB"]
    assert config.access.admins == ["U9"]
    assert config.slack.default_channel == "#ops"

"""The command line as a user meets it: a real subprocess, real exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WHISPERER = Path(sys.executable).parent / "whisperer"
CONTRACT_COMMANDS = ["run", "demo", "ask", "eval", "sandbox", "check", "mcp", "guard", "redact"]


def whisperer(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHISPERER_CONFIG"))}
    return subprocess.run(
        [str(WHISPERER), *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def test_help_lists_every_contract_command() -> None:
    result = whisperer("--help")
    assert result.returncode == 0
    for command in CONTRACT_COMMANDS:
        assert f"    {command} " in result.stdout


@pytest.mark.parametrize(
    "command",
    ["run", "demo", "ask", "eval", "sandbox up", "check", "mcp serve", "guard sql", "redact", "config check"],
)
def test_every_command_has_help(command: str) -> None:
    result = whisperer(*command.split(), "--help")
    assert result.returncode == 0
    assert "usage: whisperer" in result.stdout


def test_run_without_tokens_exits_2_with_one_line(tmp_path: Path) -> None:
    result = whisperer("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "whisperer run: SLACK_BOT_TOKEN and SLACK_APP_TOKEN must be set (see README: Connecting to Slack)"
    )


def test_run_with_broken_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("prometheus:\n  url: [not, a, string]\n")
    result = whisperer("run", "--config", str(config), env={"SLACK_BOT_TOKEN": "t", "SLACK_APP_TOKEN": "t"})
    assert result.returncode == 2
    assert result.stderr.strip() == f"{config}: prometheus.url: Input should be a valid string"


def test_config_check_accepts_the_option_before_or_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text("services:\n  - {name: a, namespace: n, team: t, channel: '#c', repo: o/a}\n")
    for argv in (["--config", str(config), "config", "check"], ["config", "check", "--config", str(config)]):
        result = whisperer(*argv)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{config}: ok (1 services")


def test_unknown_world_is_one_line_exit_2() -> None:
    result = whisperer("sandbox", "up", "--world", "no-such-world")
    assert result.returncode == 2
    assert result.stderr.startswith("unknown world 'no-such-world': no world.yaml there (bundled worlds:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_guard_sql_prints_the_query_it_would_run() -> None:
    result = whisperer("guard", "sql", "select id, status from orders where status = 'failed' -- recent")
    assert result.returncode == 0
    assert result.stdout.strip() == "SELECT id, status FROM orders WHERE status = 'failed' LIMIT 101"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE orders;", "refused: DROP is not a read-only query"),
        ("select 1; delete from orders", "refused: 2 statements"),
        ('select U&"pg_\\0073leep"(5)', "refused: function pg_\\0073leep is not allowed"),
    ],
)
def test_guard_sql_refuses_with_exit_3_and_one_line(sql: str, reason: str) -> None:
    result = whisperer("guard", "sql", sql)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith(reason)
    assert len(result.stderr.strip().splitlines()) == 1


def test_redact_filters_stdin_to_stdout() -> None:
    text = (
        "Contact maria@example.com or +1-415-555-0147 via postgresql://app:hunter22@db/shop\n"
        "pod api-1 restarted 14 times\n"
    )
    result = subprocess.run([str(WHISPERER), "redact"], input=text, capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 0
    assert result.stdout == (
        "Contact <EMAIL_ADDRESS> or <PHONE_NUMBER> via postgresql://app:<CONNECTION_PASSWORD>@db/shop\n"
        "pod api-1 restarted 14 times\n"
    )
    assert "hunter22" not in result.stderr


def test_run_with_an_unreachable_store_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "whisperer.yaml"
    config.write_text("store:\n  url: postgresql://whisperer@127.0.0.1:1/whisperer\n")
    result = whisperer("run", "--config", str(config), env={"SLACK_BOT_TOKEN": "t", "SLACK_APP_TOKEN": "t"})
    assert result.returncode == 2
    assert result.stderr.startswith("whisperer run: store: cannot reach PostgreSQL at 127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_cert_expiry_on_a_world_names_certificate_hours_and_missing_record() -> None:
    result = whisperer("check", "cert-expiry", "--once", "--world", "cert-expiry")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("[critical] api.example.com certificate expires in 48 h")
    assert "_acme-challenge.api.example.com. CNAME api.example.com.acme-dns.example.net." in first
    assert result.stdout.strip().endswith("4 certificates checked, 1 finding")


def test_check_on_a_healthy_world_reports_nothing_wrong() -> None:
    result = whisperer("check", "cert-expiry", "--once", "--world", "healthy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(", 0 findings")


def test_unknown_check_is_one_line_exit_2() -> None:
    result = whisperer("check", "no-such-check", "--once")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "whisperer check: unknown check 'no-such-check' (available: alerts-digest, cert-expiry, workload-health)"
    )


async def test_run_serves_slack_until_sigterm_then_exits_0(tmp_path: Path) -> None:
    """The real command, a real Socket Mode connection to the stand-in, and a clean stop."""
    import asyncio
    import signal

    from sandbox.slack import SlackStandIn

    async with SlackStandIn() as slack:
        config = tmp_path / "whisperer.yaml"
        config.write_text(f"data_dir: {tmp_path / 'data'}\nslack:\n  base_url: {slack.base_url}\n")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHISPERER_CONFIG"))},
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
        }
        process = await asyncio.create_subprocess_exec(
            str(WHISPERER), "run", "--config", str(config), env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            await slack.driver.wait_for(
                lambda: slack.socket_mode.connection_ids or None, 60, "a Socket Mode connection"
            )
            ts = await slack.driver.mention("alice", "#incident-payments", "what pods are running?")
            [reply] = await slack.driver.wait_for_reply("#incident-payments", ts, timeout=30)
            assert reply.user == slack.workspace.bot_user_id
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"xoxb-" not in stderr and b"xapp-" not in stderr

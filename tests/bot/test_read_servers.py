"""The servers `whisperer mcp serve` offers: each of ours where configured, under the names the help lists."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from agents.catalog import Service
from bot.cli import build_parser
from bot.config import DEFAULT_CHROMIUM, OWN_MCP_SERVERS
from bot.runtime import read_servers
from bot.sources import Sources
from guardrails.redaction import Redactor
from store import Store, open_store
from tests.bot.test_cli import WHISPERER
from tests.conftest import skip_or_fail
from tools.certificates.tls_probe import CertTarget


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    opened = await open_store("sqlite:///:memory:")
    yield opened
    await opened.close()


def kubeconfig(folder: Path) -> Path:
    path = folder / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "never-sent"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


def everything(folder: Path) -> Sources:
    """Sources naming every kind of system; nothing is contacted until a tool is called."""
    return Sources(
        kubeconfig=str(kubeconfig(folder)),
        databases={"shop": "postgresql://reader@127.0.0.1:1/shop"},
        prometheus_url="http://127.0.0.1:1",
        github_url="http://127.0.0.1:1",
        services=[Service(name="cart", namespace="shop", team="shop", channel="#shop", repo="acme/cart")],
        cert_targets=[CertTarget(name="api", host="api.example.com")],
    )


def fake_browser(folder: Path) -> Path:
    path = folder / "chromium"
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(0o755)
    return path


async def test_every_server_of_ours_has_a_reserved_name_and_is_in_the_help(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    served = read_servers(everything(tmp_path), store, Redactor(), fake_browser(tmp_path))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mcp", "serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())

    assert set(served) | {"kubernetes-actions"} == OWN_MCP_SERVERS
    assert all(name in shown for name in served)


async def test_web_is_offered_only_where_its_browser_is(tmp_path: Path, store: Store) -> None:
    with_browser = read_servers(Sources(), store, Redactor(), fake_browser(tmp_path))
    without = read_servers(Sources(), store, Redactor(), tmp_path / "no-chromium")

    assert "web" not in without
    async with Client(with_browser["web"]) as client:
        assert "snapshot" in {tool.name for tool in (await client.list_tools()).tools}


async def test_whisperer_mcp_serve_web_runs_the_installed_chromium() -> None:
    if shutil.which(str(DEFAULT_CHROMIUM)) is None:
        skip_or_fail(f"chromium is not installed at {DEFAULT_CHROMIUM} (apt-get install chromium)")
    async with Client(StdioServerParameters(command=str(WHISPERER), args=["mcp", "serve", "web"])) as client:
        health = (await client.call_tool("health", {})).structured_content

    assert health is not None and health["ok"] is True
    assert health["detail"].startswith("chromium ")

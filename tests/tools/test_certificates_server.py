"""The certificates MCP server against the cert-expiry world's sandbox, through real MCP client sessions.

In-process, over stdio (`python -m tools.certificates.server`, as an MCP host starts it) and over
streamable HTTP. The world's api.example.com certificate expires in 48 h and cannot renew, because
DNS lacks the ACME DNS-01 delegation that a ConfigMap in the cluster names; only a server that
reads the cluster (the kubeconfig) can say which record to add.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from sandbox.up import Sandbox, SandboxEndpoints
from tests.tools.conftest import started_sandbox
from tests.tools.mcp_helpers import stdio_server, structured
from tools.certificates.cert_expiry import CertCheckSettings
from tools.certificates.server import build_server, kube_cluster_objects, main, nameserver_resolver, parse_endpoint
from tools.kubernetes.client import KubeBackend
from tools.serving import http_endpoint

API = "api.example.com"
MISSING_RECORD = "_acme-challenge.api.example.com. CNAME api.example.com.acme-dns.example.net."
WORLD_HOSTS = {"api.example.com", "shop.example.com", "status.example.com", "grafana.internal.example.com"}


@pytest.fixture(scope="module")
def cert_sandbox() -> Iterator[Sandbox]:
    yield from started_sandbox("cert-expiry", prefer_real_prometheus=False)


def endpoints_of(sandbox: Sandbox) -> SandboxEndpoints:
    assert sandbox.endpoints is not None
    return sandbox.endpoints


def command_line(endpoints: SandboxEndpoints, *, kubeconfig: bool = True) -> list[str]:
    """The flags an operator would give for the world: each listener with its host name as SNI."""
    args = [arg for name, address in endpoints.tls.items() for arg in ("--endpoint", f"{name}={address},{name}")]
    args += ["--ca-file", endpoints.ca, "--dns", endpoints.dns]
    return args + (["--kubeconfig", endpoints.kubeconfig] if kubeconfig else [])


def server_for(endpoints: SandboxEndpoints, *, kubeconfig: bool = True) -> MCPServer:
    host, _, port = endpoints.dns.rpartition(":")
    return build_server(
        [parse_endpoint(f"{name}={address},{name}") for name, address in endpoints.tls.items()],
        CertCheckSettings(ca_file=endpoints.ca),
        nameserver_resolver((host, int(port))),
        kube_cluster_objects(KubeBackend.from_kubeconfig(endpoints.kubeconfig)) if kubeconfig else None,
    )


@pytest.fixture(scope="module")
def certificates(cert_sandbox: Sandbox) -> MCPServer:
    return server_for(endpoints_of(cert_sandbox))


def assert_api_expires_and_cannot_renew(report: dict[str, Any]) -> None:
    [finding] = report["findings"]
    assert finding["severity"] == "critical"
    assert finding["subject"]["name"] == API
    assert finding["summary"].startswith(f"{API} certificate expires in 48 h")
    assert f"add `{MISSING_RECORD}`" in finding["summary"]
    assert finding["details"]["missing_record"] == {
        "name": "_acme-challenge.api.example.com.",
        "type": "CNAME",
        "value": "api.example.com.acme-dns.example.net.",
    }
    assert {status["name"] for status in report["certificates"]} == WORLD_HOSTS
    assert all(status["error"] is None for status in report["certificates"])


async def test_the_expiring_certificate_and_the_record_renewal_needs(certificates: MCPServer) -> None:
    assert_api_expires_and_cannot_renew(await structured(certificates, "check_certificates"))


async def test_a_host_narrows_the_report(certificates: MCPServer) -> None:
    shop = await structured(certificates, "check_certificates", host="shop.example.com")
    api = await structured(certificates, "check_certificates", host=API)

    assert shop["findings"] == []
    assert [(status["name"], status["hours_left"] > 24 * 30) for status in shop["certificates"]] == [
        ("shop.example.com", True)
    ]
    assert [finding["subject"]["name"] for finding in api["findings"]] == [API]


async def test_without_the_cluster_the_expiry_is_found_but_not_the_missing_record(cert_sandbox: Sandbox) -> None:
    report = await structured(server_for(endpoints_of(cert_sandbox), kubeconfig=False), "check_certificates")

    [finding] = report["findings"]
    assert finding["summary"].startswith(f"{API} certificate expires in 48 h")
    assert "_acme-challenge" not in finding["summary"]


async def test_health_counts_endpoints_and_cluster_objects(certificates: MCPServer) -> None:
    health = await structured(certificates, "health")

    assert health["ok"] is True
    assert health["detail"].startswith("4 endpoints configured, ")
    assert not health["detail"].endswith(" 0 cluster objects read")


async def test_over_stdio_with_the_command_line_flags(cert_sandbox: Sandbox) -> None:
    process = stdio_server("tools.certificates.server", *command_line(endpoints_of(cert_sandbox)))
    assert_api_expires_and_cannot_renew(await structured(process, "check_certificates"))


async def test_over_http(certificates: MCPServer) -> None:
    async with http_endpoint(certificates) as url:
        assert_api_expires_and_cannot_renew(await structured(url, "check_certificates"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "api.example.com"], "--endpoint 'api.example.com' is not NAME=HOST:PORT[,SNI host]"),
        (["--endpoint", "api=api.example.com"], "--endpoint 'api=api.example.com' is not NAME=HOST:PORT[,SNI host]"),
        (
            ["--endpoint", "api=api.example.com:99999"],
            "certificate target api: address 'api.example.com:99999' is not HOST:PORT",
        ),
        (["--ca-file", "/tmp/ca.pem"], "nothing to check: give --endpoint and/or --kubeconfig"),
        (["--endpoint", "api=127.0.0.1:443", "--dns", "127.0.0.1"], "argument --dns: must be HOST:PORT"),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]

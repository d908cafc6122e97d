"""The certificates MCP server: TLS expiry, chain and ACME-delegation checks as one tool.

The same `run_cert_expiry` serves the scheduled check and this tool, so a question in a thread
("when does api.example.com expire?") and the morning digest can never disagree.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from tools.certificates.acme_dns import DnsResolver
from tools.certificates.cert_expiry import CertCheckSettings, run_cert_expiry
from tools.certificates.tls_probe import CertTarget
from tools.findings import Finding
from tools.health import Health
from tools.tool_errors import ToolFailure, one_line_errors

SOURCE = "certificates"
ClusterObjects = Callable[[], Awaitable[Sequence[Mapping[str, Any]]]]


class CertificateStatus(BaseModel):
    name: str
    host: str
    address: str
    not_after: datetime | None = None
    hours_left: int | None = None
    issuer: str | None = None
    error: str | None = None


class CertificateReport(BaseModel):
    findings: list[Finding] = Field(description="only what needs attention: expiring, expired, broken, not renewing")
    certificates: list[CertificateStatus] = Field(description="every endpoint probed, healthy ones included")


def _matches(host: str | None, *names: str | None) -> bool:
    return host is None or any(name and host.lower() in name.lower() for name in names)


def build_server(
    targets: Sequence[CertTarget],
    settings: CertCheckSettings,
    resolver: DnsResolver,
    cluster_objects: ClusterObjects | None = None,
) -> MCPServer:
    server = MCPServer(
        "certificates",
        instructions="Checks TLS certificates of configured endpoints and Ingress hosts: expiry, chain, "
        "host name, and whether ACME DNS-01 renewal can work (the _acme-challenge CNAME delegation).",
    )

    async def objects() -> Sequence[Mapping[str, Any]]:
        return await cluster_objects() if cluster_objects is not None else ()

    @server.tool(description="Whether the certificate check can run: endpoints configured and the cluster readable.")
    async def health() -> Health:
        started = time.perf_counter()
        try:
            found = await objects()
        except Exception as error:
            return Health(source=SOURCE, ok=False, detail=f"cluster objects unreadable: {str(error)[:200]}")
        return Health(
            source=SOURCE,
            ok=bool(targets or found),
            detail=f"{len(targets)} endpoints configured, {len(found)} cluster objects read",
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    @server.tool(
        description="Check TLS certificates now. `host` narrows the report to names containing it "
        "(e.g. 'api.example.com'); omit it to check everything. Returns findings (expiring soon, "
        "expired, untrusted chain, wrong host, ACME DNS-01 delegation missing with the exact record "
        "to add) and the expiry of every certificate seen."
    )
    @one_line_errors
    async def check_certificates(host: str | None = None) -> CertificateReport:
        try:
            found = await objects()
        except Exception as error:
            raise ToolFailure(f"could not read Ingresses and Secrets: {error}") from None
        result = await run_cert_expiry(targets, settings, resolver=resolver, cluster_objects=found)
        now = settings.now or datetime.now(UTC)
        statuses = [
            CertificateStatus(
                name=probe.target.name,
                host=probe.target.host,
                address=probe.target.address,
                not_after=probe.certificate.not_after if probe.certificate else None,
                hours_left=int((probe.certificate.not_after - now).total_seconds() // 3600)
                if probe.certificate
                else None,
                issuer=probe.certificate.issuer if probe.certificate else None,
                error=probe.error,
            )
            for probe in result.probes
        ]
        return CertificateReport(
            findings=[
                finding
                for finding in result.findings
                if _matches(host, finding.summary, finding.evidence, finding.subject.name if finding.subject else None)
            ],
            certificates=[status for status in statuses if _matches(host, status.name, status.host)],
        )

    return server

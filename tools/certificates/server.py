"""The certificates MCP server: TLS expiry, chain and ACME-delegation checks as one tool.

The same `run_cert_expiry` serves the scheduled check and this tool, so a question in a thread
("when does api.example.com expire?") and the morning digest can never disagree.

Run standalone: `python -m tools.certificates.server --endpoint api=api.example.com:443
[--endpoint NAME=HOST:PORT[,SNI]] [--ca-file CA.pem] [--dns HOST:PORT] [--kubeconfig FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.asyncresolver
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field, ValidationError

from tools.certificates.acme_dns import DnsPythonResolver, DnsResolver
from tools.certificates.cert_expiry import CertCheckSettings, run_cert_expiry
from tools.certificates.tls_probe import CertTarget
from tools.findings import Finding
from tools.health import Health
from tools.kubernetes.client import KubeBackend, KubeError
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import ToolFailure, one_line_errors

SOURCE = "certificates"
ClusterObjects = Callable[[], Awaitable[Sequence[Mapping[str, Any]]]]
# Where certificates hide in a cluster: Ingress TLS hosts, TLS Secrets, and the ConfigMap of a
# DNS-01 webhook that names the ACME delegation rule.
CLUSTER_KINDS = ("Ingress", "Secret", "ConfigMap")


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


def kube_cluster_objects(kube: KubeBackend) -> ClusterObjects:
    """The cluster objects the check reads, fetched afresh on every check."""

    async def objects() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for kind in CLUSTER_KINDS:
            found.extend(await kube.list_objects(kind))
        return found

    return objects


def nameserver_resolver(nameserver: tuple[str, int] | None) -> DnsPythonResolver:
    """A resolver asking one name server (HOST, PORT) directly; None: the system's resolver."""
    if nameserver is None:
        return DnsPythonResolver()
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [nameserver[0]]
    resolver.port = nameserver[1]
    return DnsPythonResolver(resolver)


def parse_endpoint(entry: str) -> CertTarget:
    """`NAME=HOST:PORT[,SNI]`: SNI defaults to HOST, and is needed when HOST is an address."""
    name, separator, rest = entry.partition("=")
    address, _, sni = rest.partition(",")
    host = sni.strip() or address.rpartition(":")[0].removeprefix("[").removesuffix("]")
    if not separator or not name.strip() or not host:
        raise ValueError(f"--endpoint {entry!r} is not NAME=HOST:PORT[,SNI host]")
    try:
        return CertTarget(name=name.strip(), host=host, address=address.strip())
    except ValidationError as invalid:
        raise ValueError(str(invalid.errors()[0]["msg"]).removeprefix("Value error, ")) from None


def _nameserver(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"must be HOST:PORT, not {text!r}")
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.certificates.server", description=__doc__, parents=[transport_options()]
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT[,SNI]",
        help="an endpoint to probe (repeatable)",
    )
    parser.add_argument("--ca-file", type=Path, help="extra trust anchors (PEM), added to the system's")
    parser.add_argument(
        "--dns", type=_nameserver, metavar="HOST:PORT", help="name server to ask; default: the system's"
    )
    parser.add_argument("--kubeconfig", help="also check the cluster's Ingresses, TLS Secrets and ACME ConfigMaps")
    parser.add_argument("--context", help="kubeconfig context; default: its current context")
    args = parse_args(parser, argv)
    try:
        targets = [parse_endpoint(entry) for entry in args.endpoint]
    except ValueError as error:
        parser.error(str(error).splitlines()[0])
    if not targets and not args.kubeconfig:
        parser.error("nothing to check: give --endpoint and/or --kubeconfig")
    try:
        kube = KubeBackend.from_kubeconfig(args.kubeconfig, context=args.context) if args.kubeconfig else None
    except KubeError as error:
        raise SystemExit(f"error: {error}") from None
    server = build_server(
        targets,
        CertCheckSettings(ca_file=args.ca_file),
        nameserver_resolver(args.dns),
        kube_cluster_objects(kube) if kube is not None else None,
    )
    asyncio.run(serve_from_args(server, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

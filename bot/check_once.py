"""`whisperer check NAME --once`: one scheduled check run now, its findings printed for a person.

With `--world` the check runs against the world's sandbox endpoints (real TLS listeners and a
real DNS server), exactly as it would against production; without it, against the configured
endpoints and the system resolver.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import dns.asyncresolver

from bot.config import CheckConfig, Config
from sandbox.dns_server import DnsServer
from sandbox.tls_endpoints import TlsEndpoints
from sandbox.world import World
from tools.certificates.acme_dns import DnsPythonResolver
from tools.certificates.cert_expiry import CertCheckResult, CertCheckSettings, run_cert_expiry
from tools.certificates.tls_probe import CertTarget
from tools.findings import Finding

AVAILABLE_CHECKS = ("cert-expiry",)


class CheckUnavailableError(Exception):
    """The named check cannot run (unknown, or nothing configured to check)."""


async def run_check_once(name: str, config: Config, world: World | None) -> str:
    if name not in AVAILABLE_CHECKS:
        raise CheckUnavailableError(f"unknown check {name!r} (available: {', '.join(AVAILABLE_CHECKS)})")
    settings = config.checks.get(name, CheckConfig())
    result = await (_cert_expiry_in_world(world, settings) if world else _cert_expiry_configured(settings))
    return render_result(result)


def _settings(check: CheckConfig, ca_file: Path | None = None) -> CertCheckSettings:
    return CertCheckSettings(warn_days=check.warn_days, critical_days=check.critical_days, ca_file=ca_file)


async def _cert_expiry_in_world(world: World, check: CheckConfig) -> CertCheckResult:
    with tempfile.TemporaryDirectory(prefix="whisperer-check-") as workdir:
        async with TlsEndpoints(world, Path(workdir)) as tls, DnsServer(world) as dns_server:
            targets = [
                CertTarget(name=endpoint.name, host=endpoint.host, address=tls.endpoints[endpoint.name])
                for endpoint in world.endpoints.tls
            ]
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
            resolver.port = dns_server.port or 53
            return await run_cert_expiry(
                targets,
                _settings(check, tls.ca_path),
                resolver=DnsPythonResolver(resolver),
                cluster_objects=world.objects,
            )


async def _cert_expiry_configured(check: CheckConfig) -> CertCheckResult:
    if not check.endpoints:
        raise CheckUnavailableError("nothing to check: list host:port entries under checks.cert-expiry.endpoints")
    targets = [CertTarget(name=entry, host=entry.rsplit(":", 1)[0], address=entry) for entry in check.endpoints]
    return await run_cert_expiry(targets, _settings(check), resolver=DnsPythonResolver())


def render_result(result: CertCheckResult) -> str:
    lines = [_render_finding(finding) for finding in result.findings]
    problems = f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''}"
    lines.append(f"{result.checked} certificates checked, {problems}")
    return "\n".join(lines)


def _render_finding(finding: Finding) -> str:
    evidence = "".join(f"\n    {line}" for line in finding.evidence.splitlines() if line.strip())
    return f"[{finding.severity.value}] {finding.summary}{evidence}"

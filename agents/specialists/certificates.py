"""The certificates specialist: expiry and renewal of the TLS certificates a question names."""

from __future__ import annotations

from agents.specialists.base import Investigation, Report
from tools.certificates.server import CertificateReport

SERVER = "certificates"


async def certificates_specialist(inv: Investigation) -> Report:
    hosts: list[str | None] = list(inv.plan.hosts) or [None]
    report = Report(specialist=SERVER)
    for host in hosts:
        result = await inv.toolbox.call(SERVER, "check_certificates", {"host": host}, CertificateReport)
        report.findings.extend(result.findings)
        for status in result.certificates:
            if status.not_after is None:
                report.facts.append(f"{status.host}: no certificate read ({status.error or 'unknown error'})")
                continue
            left = status.hours_left if status.hours_left is not None else 0
            span = f"{left} h" if left < 72 else f"{left // 24} days"
            report.facts.append(
                f"{status.host} ({status.address}): expires {status.not_after:%Y-%m-%d %H:%M} UTC, in {span}"
                + (f"; issuer {status.issuer}" if status.issuer else "")
            )
    return report

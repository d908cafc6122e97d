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
            when = f"{status.not_after:%Y-%m-%d %H:%M} UTC"
            ago = int((inv.now - status.not_after).total_seconds() // 3600)
            state = f"expires {when}, in {_span(left)}" if left > 0 else f"expired {when}, {_span(ago)} ago"
            report.facts.append(
                f"{status.host} ({status.address}): {state}" + (f"; issuer {status.issuer}" if status.issuer else "")
            )
    return report


def _span(hours: int) -> str:
    return f"{hours} h" if hours < 72 else f"{hours // 24} days"

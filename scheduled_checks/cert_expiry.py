"""cert-expiry: the certificates server's own check, so a digest and a question in a thread agree.

Thresholds, SNI handshakes, ACME delegation and cluster Ingresses/Secrets are the server's
business (`tools.certificates`); this module only asks it for everything and names the results.
"""

from __future__ import annotations

from agents.toolbox import Toolbox
from scheduled_checks.models import CheckResult
from tools.certificates.server import CertificateReport
from tools.findings import Finding

SERVER = "certificates"
# Expiring, expired and "cannot renew" are one problem of one certificate as it gets worse, so
# they share a key: the digest says "severity changed", not "resolved" plus "new".
_EXPIRY_REASONS = frozenset({"CertificateExpiring", "CertificateExpired", "AcmeDnsRecordMissing", "AcmeDnsRecordWrong"})


async def run(toolbox: Toolbox) -> CheckResult:
    report = await toolbox.call(SERVER, "check_certificates", {}, CertificateReport)
    count = len(report.certificates)
    return CheckResult(findings=report.findings, checked=f"{count} certificate{'s' if count != 1 else ''} checked")


def key(finding: Finding) -> str:
    problem = "expiry" if finding.reason in _EXPIRY_REASONS else finding.reason
    return f"{problem}:{finding.subject or finding.summary}"


def question(finding: Finding, service: str | None) -> str:
    name = finding.subject.name if finding.subject else (service or "this")
    if finding.reason in _EXPIRY_REASONS:
        return f"Why is the {name} certificate not renewing?"
    return f"What is wrong with the {name} certificate?"

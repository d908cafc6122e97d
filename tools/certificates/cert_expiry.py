"""The `cert-expiry` scheduled check: which certificates need a person, and what exactly to do.

Certificates come from three places: the endpoints the operator configured, the TLS hosts of the
cluster's Ingresses (probed over a real handshake like configured ones), and TLS Secrets whose
certificate is readable (real clusters only; a Secret serving the same certificate as a probed
endpoint is not reported twice). A healthy certificate produces no finding, only a probe in the
result, so a digest can still say how many were checked.

An expiring certificate that should renew itself is useless to report without the reason it does
not: when ACME DNS-01 delegation is in use (see `acme_dns`), the finding names the DNS record
renewal needs and whether DNS has it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.certificates.acme_dns import (
    AcmeDelegation,
    DelegationCheck,
    DelegationState,
    DnsResolver,
    acme_delegation,
    challenge_host,
    check_delegation,
    check_template,
)
from tools.certificates.tls_probe import CertificateInfo, CertProbe, CertTarget, TlsProber, certificate_info
from tools.findings import Finding, ObjectRef, Severity

SOURCE = "certificates"
TLS_SECRET_TYPE = "kubernetes.io/tls"  # noqa: S105 (a Secret type, not a password)
# Below this many hours a day count hides what matters ("2 days" may mean 25 h or 71 h).
HOURS_SHOWN_BELOW = 72
EXPIRED_MESSAGE = "certificate has expired"

_T = TypeVar("_T")
# How bad an expiry date is: severity and the finding's reason.
_Verdict = tuple[Severity, str]


class CertCheckSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    warn_days: float = Field(default=14, gt=0)
    critical_days: float = Field(default=3, gt=0)
    timeout_s: float = Field(default=5, gt=0, description="per endpoint: connect and handshakes together")
    concurrency: int = Field(default=100, ge=1, description="endpoints probed at the same time")
    ca_file: Path | None = Field(default=None, description="extra trust anchors, added to the system's")
    now: datetime | None = Field(default=None, description="the moment expiry is measured from; default: now")
    acme_delegation: str | None = Field(
        default=None, description="CNAME target of _acme-challenge.<host>., e.g. '{host}.acme-dns.example.net.'"
    )

    @field_validator("now")
    @classmethod
    def _aware(cls, now: datetime | None) -> datetime | None:
        if now is not None and now.tzinfo is None:
            raise ValueError("now must carry a time zone (e.g. UTC)")
        return now

    @field_validator("acme_delegation")
    @classmethod
    def _usable_rule(cls, template: str | None) -> str | None:
        return check_template(template) if template is not None else None

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> Self:
        if self.critical_days > self.warn_days:
            raise ValueError(f"critical_days ({self.critical_days:g}) must not exceed warn_days ({self.warn_days:g})")
        return self


class SecretCertificate(BaseModel):
    """The certificate stored in a TLS Secret; `error` when tls.crt cannot be read."""

    model_config = ConfigDict(frozen=True)

    namespace: str | None
    name: str
    certificate: CertificateInfo | None = None
    error: str | None = None


class CertCheckResult(BaseModel):
    findings: list[Finding]
    probes: list[CertProbe]
    secrets: list[SecretCertificate]

    @property
    def checked(self) -> int:
        return len(self.probes) + len(self.secrets)


async def run_cert_expiry(
    targets: Sequence[CertTarget],
    settings: CertCheckSettings | None = None,
    *,
    resolver: DnsResolver,
    cluster_objects: Sequence[Mapping[str, Any]] = (),
) -> CertCheckResult:
    """Probes every target and Ingress TLS host, reads TLS Secrets, and reports what needs attention."""
    settings = settings or CertCheckSettings()
    now = settings.now or datetime.now(UTC)
    delegation = acme_delegation(cluster_objects, settings.acme_delegation)
    prober = await TlsProber.create(timeout_s=settings.timeout_s, ca_file=settings.ca_file)
    semaphore = asyncio.Semaphore(settings.concurrency)

    async def limited(work: Awaitable[_T]) -> _T:
        async with semaphore:
            return await work

    all_targets = [*with_ingresses(targets, cluster_objects), *ingress_targets(cluster_objects, targets)]
    probes = await asyncio.gather(*(limited(prober.probe(target)) for target in all_targets))
    served = {probe.certificate.sha256 for probe in probes if probe.certificate is not None}
    secrets = [
        secret
        for secret in tls_secrets(cluster_objects)
        if secret.certificate is None or secret.certificate.sha256 not in served
    ]

    assessed: list[tuple[_Subject, CertificateInfo]] = [
        *((_Subject.of_probe(probe), probe.certificate) for probe in probes if probe.certificate is not None),
        *((_Subject.of_secret(secret), secret.certificate) for secret in secrets if secret.certificate is not None),
    ]

    expiring = [(subject, info, verdict) for subject, info in assessed if (verdict := _expiry(info, now, settings))]

    async def expiry_finding(subject: _Subject, info: CertificateInfo, verdict: _Verdict) -> Finding:
        checks = await limited(_delegation_checks(info, delegation, resolver))
        return _expiry_finding(subject, info, verdict, now, checks)

    findings = [
        *await asyncio.gather(*(expiry_finding(*item) for item in expiring)),
        *(finding for probe in probes for finding in _handshake_findings(probe)),
        *(_unreadable_secret(secret) for secret in secrets if secret.error is not None),
    ]
    findings.sort(key=lambda finding: (finding.severity.rank, finding.summary))
    return CertCheckResult(findings=findings, probes=list(probes), secrets=secrets)


def ingress_targets(objects: Sequence[Mapping[str, Any]], existing: Sequence[CertTarget] = ()) -> list[CertTarget]:
    """Ingress TLS hosts not already targeted (by host name), each probed at HOST:443.

    A wildcard host names no server to connect to; the certificate behind it is still read from
    its Secret when the Secret's data is available.
    """
    seen = {target.host.lower() for target in existing}
    found: list[CertTarget] = []
    for ingress, host, secret in _ingress_hosts(objects):
        if host.startswith("*") or host.lower() in seen:
            continue
        seen.add(host.lower())
        where = _ref(ingress.namespace, ingress.name)
        origin = f"Ingress {where}" + (f", Secret {secret}" if secret else "")
        found.append(CertTarget(name=host, host=host, address=f"{host}:443", origin=origin, ingress=ingress))
    return found


def with_ingresses(targets: Sequence[CertTarget], objects: Sequence[Mapping[str, Any]]) -> list[CertTarget]:
    """Configured targets with the Ingress that routes their host, so a finding reaches the team owning it."""
    routes = {host.lower(): ingress for ingress, host, _ in _ingress_hosts(objects)}
    return [
        target.model_copy(update={"ingress": routes[target.host.lower()]})
        if target.ingress is None and target.host.lower() in routes
        else target
        for target in targets
    ]


def _ingress_hosts(objects: Sequence[Mapping[str, Any]]) -> list[tuple[ObjectRef, str, str | None]]:
    """(Ingress, TLS host, Secret name) for every host an Ingress terminates TLS for."""
    found: list[tuple[ObjectRef, str, str | None]] = []
    for obj in objects:
        if obj.get("kind") != "Ingress":
            continue
        metadata = obj.get("metadata") or {}
        ingress = ObjectRef(kind="Ingress", name=metadata.get("name", "?"), namespace=metadata.get("namespace"))
        for tls in (obj.get("spec") or {}).get("tls") or []:
            found.extend((ingress, host, tls.get("secretName")) for host in tls.get("hosts") or [])
    return found


def tls_secrets(objects: Sequence[Mapping[str, Any]]) -> list[SecretCertificate]:
    """Secrets of type kubernetes.io/tls that carry tls.crt (an API that strips Secret data yields none)."""
    found: list[SecretCertificate] = []
    for obj in objects:
        data = obj.get("data") or {}
        if obj.get("kind") != "Secret" or obj.get("type") != TLS_SECRET_TYPE or not data.get("tls.crt"):
            continue
        metadata = obj.get("metadata") or {}
        secret = SecretCertificate(namespace=metadata.get("namespace"), name=metadata.get("name", "?"))
        try:
            leaf = x509.load_pem_x509_certificates(base64.b64decode(data["tls.crt"], validate=True))[0]
        except (binascii.Error, ValueError) as exc:
            found.append(secret.model_copy(update={"error": f"tls.crt is not a PEM certificate: {exc}"}))
            continue
        found.append(secret.model_copy(update={"certificate": certificate_info(leaf)}))
    return found


@dataclass(frozen=True)
class _Subject:
    """Who a finding is about, and how to call it in one line."""

    label: str
    ref: ObjectRef
    where: str
    ingress: ObjectRef | None = None

    @classmethod
    def of_probe(cls, probe: CertProbe) -> _Subject:
        target = probe.target
        label = target.name if target.name == target.host else f"{target.name} ({target.host})"
        where = f"served at {target.address}" + (f" ({target.origin})" if target.origin else "")
        ref = ObjectRef(kind="Certificate", name=target.name)
        return cls(label=label, ref=ref, where=where, ingress=target.ingress)

    @classmethod
    def of_secret(cls, secret: SecretCertificate) -> _Subject:
        ref = ObjectRef(kind="Secret", name=secret.name, namespace=secret.namespace)
        names = secret.certificate.dns_names if secret.certificate else []
        label = f"{ref}" + (f" ({names[0]})" if names else "")
        return cls(label=label, ref=ref, where=f"stored in {ref}")


def _expiry(info: CertificateInfo, now: datetime, settings: CertCheckSettings) -> _Verdict | None:
    left = info.not_after - now
    if left <= timedelta(0):
        return Severity.CRITICAL, "CertificateExpired"
    if left < timedelta(days=settings.critical_days):
        return Severity.CRITICAL, "CertificateExpiring"
    if left < timedelta(days=settings.warn_days):
        return Severity.WARNING, "CertificateExpiring"
    return None


async def _delegation_checks(
    info: CertificateInfo, delegation: AcmeDelegation, resolver: DnsResolver
) -> list[DelegationCheck]:
    """One check per name on the certificate that renews through delegation: any missing one fails the order."""
    hosts = dict.fromkeys(challenge_host(name) for name in info.dns_names)
    expected = [record for record in map(delegation.expected, hosts) if record is not None]
    return list(await asyncio.gather(*(check_delegation(record, resolver) for record in expected)))


def _expiry_finding(
    subject: _Subject,
    info: CertificateInfo,
    verdict: _Verdict,
    now: datetime,
    checks: list[DelegationCheck],
) -> Finding:
    severity, reason = verdict
    left = info.not_after - now
    when = f"expires in {_span(left)}" if left > timedelta(0) else f"expired {_span(-left)} ago"
    summary = f"{subject.label} certificate {when} ({_moment(info.not_after)})"
    broken = [check for check in checks if check.state in (DelegationState.MISSING, DelegationState.WRONG)]
    if broken:
        reason = "AcmeDnsRecordMissing" if broken[0].state is DelegationState.MISSING else "AcmeDnsRecordWrong"
        summary += "; ACME renewal cannot pass DNS-01 validation: " + " and ".join(map(_fix, broken))
    evidence = [*_certificate_lines(info, subject.where), *(check.describe() for check in checks)]
    details: dict[str, Any] = {
        "not_after": info.not_after.isoformat(),
        "hours_left": _whole_hours(left),
        "issuer": info.issuer,
        "sans": info.sans,
        **_routing(subject),
    }
    if broken:
        records = [check.expected.record.model_dump() for check in broken]
        details |= {"missing_record": records[0], "missing_records": records}
    return Finding(
        source=SOURCE,
        severity=severity,
        summary=summary,
        evidence="\n".join(evidence),
        reason=reason,
        subject=subject.ref,
        details=details,
    )


def _routing(subject: _Subject) -> dict[str, Any]:
    return {"ingress": subject.ingress.model_dump()} if subject.ingress is not None else {}


def _fix(check: DelegationCheck) -> str:
    record = check.expected.record
    if check.state is DelegationState.WRONG:
        return f"replace {record.name} CNAME {', '.join(check.found)} with `{record}`"
    return f"add `{record}`"


def _handshake_findings(probe: CertProbe) -> list[Finding]:
    """What the handshake itself showed: unreachable, an untrusted chain, a name the certificate does not cover."""
    subject = _Subject.of_probe(probe)
    target = probe.target

    def finding(reason: str, summary: str, evidence: str) -> Finding:
        return Finding(
            source=SOURCE,
            severity=Severity.WARNING,
            summary=summary,
            evidence=evidence,
            reason=reason,
            subject=subject.ref,
            details={"host": target.host, "address": target.address, **_routing(subject)},
        )

    if probe.certificate is None:
        return [
            finding(
                "Unreachable",
                f"{subject.label} certificate could not be checked: {probe.error}",
                f"{target.address} (SNI {target.host}): {probe.error}",
            )
        ]
    found: list[Finding] = []
    lines = "\n".join(_certificate_lines(probe.certificate, subject.where))
    if probe.chain_error is not None and not _explained_by_expiry(probe.chain_error, probe.certificate):
        found.append(
            finding(
                "ChainInvalid",
                f"{subject.label} certificate chain does not verify: {probe.chain_error}",
                f"verification: {probe.chain_error}\n{lines}",
            )
        )
    if probe.hostname_ok is False:
        names = ", ".join(probe.certificate.sans) or "no subject alternative names"
        found.append(
            finding(
                "HostnameMismatch",
                f"{subject.label} serves a certificate that does not cover {target.host} (it covers {names})",
                lines,
            )
        )
    return found


def _explained_by_expiry(chain_error: str, info: CertificateInfo) -> bool:
    """OpenSSL rejects an expired leaf as an invalid chain; the expiry finding already says it, more usefully."""
    return chain_error == EXPIRED_MESSAGE and info.not_after <= datetime.now(UTC)


def _unreadable_secret(secret: SecretCertificate) -> Finding:
    ref = ObjectRef(kind="Secret", name=secret.name, namespace=secret.namespace)
    return Finding(
        source=SOURCE,
        severity=Severity.WARNING,
        summary=f"{ref} holds no readable certificate",
        evidence=secret.error or "",
        reason="CertificateUnreadable",
        subject=ref,
    )


def _certificate_lines(info: CertificateInfo, where: str) -> list[str]:
    return [
        f"certificate {where}",
        f"issuer: {info.issuer}",
        f"valid: {_moment(info.not_before)} to {_moment(info.not_after)}",
        f"names: {', '.join(info.sans) or info.subject_cn or '(none)'}",
    ]


def _whole_hours(delta: timedelta) -> int:
    """Hours left, rounded down after rounding to the minute: the seconds between recording a
    certificate's state and reading it must not turn "48 h" into "47 h"."""
    return int(round(delta / timedelta(minutes=1)) // 60)


def _span(delta: timedelta) -> str:
    """Whole hours below three days ("48 h"), whole days above ("59 days"), rounded down."""
    hours = _whole_hours(delta)
    if hours < HOURS_SHOWN_BELOW:
        return f"{hours} h"
    return f"{hours // 24} days"


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ref(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name

"""Which DNS record automatic renewal needs, and whether DNS has it.

With ACME DNS-01 delegation, the public zone holds one CNAME per name,
`_acme-challenge.<host>. CNAME <target>.`, and the solver writes its TXT record at the target.
When that CNAME goes missing (a zone clean-up, a provider move) renewal fails quietly until the
certificate expires, and the one thing an on-call engineer needs is the exact record to add.

The expected record comes from, most specific first:

1. a cluster Event (or a Challenge's status) whose message names it, as solvers and cert-manager
   write it: `... "_acme-challenge.api.example.com. CNAME api.example.com.acme-dns.example.net." ...`
   or `CNAME _acme-challenge.api.example.com -> api.example.com.acme-dns.example.net.`;
2. the operator's rule (`acme_delegation`, a template such as `{host}.acme-dns.example.net.`),
   which applies to every host;
3. a rule found in a ConfigMap (a `cnameTarget:` line, e.g. a DNS-01 webhook's configuration with
   `"{{ .DNSName }}.acme-dns.example.net."`), which applies only to hosts cert-manager manages
   (Ingress TLS hosts with a cert-manager issuer annotation, Certificate dnsNames): a certificate
   from an internal CA must not be told to add an ACME record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

import dns.asyncresolver
import dns.exception
import dns.resolver
from pydantic import BaseModel, ConfigDict

ACME_LABEL = "_acme-challenge"
HOST_PLACEHOLDER = "{host}"
CERT_MANAGER_ISSUER_ANNOTATIONS = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")

_DNS_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
# Zone-file order ("NAME [TTL] [IN] CNAME VALUE") and arrow order ("CNAME NAME -> VALUE").
_RECORD_PATTERNS = (
    re.compile(rf"(?P<name>{ACME_LABEL}\.{_DNS_NAME})\.?\s+(?:\d+\s+)?(?:IN\s+)?CNAME\s+(?P<value>{_DNS_NAME})", re.I),
    re.compile(rf"CNAME\s+(?P<name>{ACME_LABEL}\.{_DNS_NAME})\.?\s*(?:->|=>|→)\s*(?P<value>{_DNS_NAME})", re.I),
)
_TEMPLATE_LINE = re.compile(
    r"""cname[_-]?target["']?\s*[:=]\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s#,}]+))""", re.I
)
# Go templates ({{ .DNSName }}), shell (${DOMAIN}), docs (<name>) and Python ({host}) spellings.
_PLACEHOLDER = re.compile(r"\{\{-?\s*\.?[A-Za-z_]+\s*-?\}\}|\$\{[A-Za-z_]+\}|<[A-Za-z_]+>|\{[A-Za-z_]+\}")


class AcmeDnsError(ValueError):
    """A delegation rule that cannot be used; the message is one line for the user.

    A ValueError so that settings validation reports it like any other bad field.
    """


class DnsLookupError(Exception):
    """DNS could not answer (timeout, SERVFAIL): the record's absence is unknown, not proven."""


class DnsResolver(Protocol):
    async def resolve(self, name: str, rdtype: str) -> list[str]:
        """The records of `rdtype` at `name` as text; empty when the name or the type does not exist."""
        ...


class DnsPythonResolver:
    """The resolver the check uses in production (system resolver) and in tests (the sandbox's server)."""

    def __init__(self, resolver: dns.asyncresolver.Resolver | None = None) -> None:
        self._resolver = resolver if resolver is not None else dns.asyncresolver.Resolver()

    async def resolve(self, name: str, rdtype: str) -> list[str]:
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise DnsLookupError(f"DNS lookup of {name} {rdtype} failed: {exc}") from exc
        return [record.to_text() for record in answer]


class DnsRecord(BaseModel):
    """A record as a person adds it to a zone; `str()` is the zone-file line."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.name} {self.type} {self.value}"


class ExpectedRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    record: DnsRecord
    source: str


class DelegationRule(BaseModel):
    """`template` with `{host}` gives the CNAME target of `_acme-challenge.<host>.`; `hosts` None means every host."""

    model_config = ConfigDict(frozen=True)

    template: str
    source: str
    hosts: frozenset[str] | None = None

    def applies_to(self, host: str) -> bool:
        return self.hosts is None or host in self.hosts

    def expected(self, host: str) -> ExpectedRecord:
        return ExpectedRecord(
            record=delegation_record(host, self.template.replace(HOST_PLACEHOLDER, host)), source=self.source
        )


class AcmeDelegation(BaseModel):
    """Everything known about which delegation record each host needs."""

    model_config = ConfigDict(frozen=True)

    records: dict[str, ExpectedRecord]
    rules: list[DelegationRule]

    def expected(self, host: str) -> ExpectedRecord | None:
        """The record renewal of `host` needs, or None when nothing says it is renewed through delegation."""
        key = challenge_host(host)
        if key in self.records:
            return self.records[key]
        return next((rule.expected(key) for rule in self.rules if rule.applies_to(key)), None)


class DelegationState(StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    WRONG = "wrong"
    UNKNOWN = "unknown"


class DelegationCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    expected: ExpectedRecord
    state: DelegationState
    found: list[str]
    error: str | None = None

    def describe(self) -> str:
        """One evidence line: what DNS answered against what renewal needs, and where that need comes from."""
        name = self.expected.record.name
        answered = {
            DelegationState.PRESENT: f"DNS has {self.expected.record}",
            DelegationState.MISSING: f"DNS has no CNAME at {name}",
            DelegationState.WRONG: f"DNS has {name} CNAME {', '.join(self.found)}",
            DelegationState.UNKNOWN: f"could not check {name}: {self.error}",
        }[self.state]
        return f"{answered}; ACME DNS-01 delegation needs {self.expected.record} (from {self.expected.source})"


def challenge_host(host: str) -> str:
    """The name validated for `host`: a wildcard is validated at its base domain."""
    return host.strip().rstrip(".").lower().removeprefix("*.")


def delegation_record(host: str, target: str) -> DnsRecord:
    return DnsRecord(name=f"{ACME_LABEL}.{challenge_host(host)}.", type="CNAME", value=_absolute(target))


def check_template(template: str) -> str:
    """The operator's rule, refused early when it could never name a record."""
    if template.count(HOST_PLACEHOLDER) != 1:
        raise AcmeDnsError(
            f"ACME delegation rule {template!r} must contain {HOST_PLACEHOLDER} exactly once, "
            f"e.g. '{HOST_PLACEHOLDER}.acme-dns.example.net.'"
        )
    return template


async def check_delegation(expected: ExpectedRecord, resolver: DnsResolver) -> DelegationCheck:
    try:
        found = [_absolute(value) for value in await resolver.resolve(expected.record.name, "CNAME")]
    except DnsLookupError as exc:
        return DelegationCheck(expected=expected, state=DelegationState.UNKNOWN, found=[], error=str(exc))
    if not found:
        state = DelegationState.MISSING
    elif expected.record.value.lower() in (value.lower() for value in found):
        state = DelegationState.PRESENT
    else:
        state = DelegationState.WRONG
    return DelegationCheck(expected=expected, state=state, found=found)


def acme_delegation(objects: Sequence[Mapping[str, Any]], configured: str | None = None) -> AcmeDelegation:
    """What the cluster (and the operator) say about delegation records; see the module docstring."""
    records: dict[str, ExpectedRecord] = {}
    for source, message in _messages(objects):
        for record in records_in(message):
            host = challenge_host(record.name[len(ACME_LABEL) + 1 :])
            records.setdefault(host, ExpectedRecord(record=record, source=source))
    rules: list[DelegationRule] = []
    if configured:
        rules.append(DelegationRule(template=check_template(configured), source="settings acme_delegation"))
    learned = _configmap_rule(objects)
    if learned is not None:
        template, source = learned
        managed = frozenset(_managed_hosts(objects)) | frozenset(records)
        rules.append(DelegationRule(template=template, source=source, hosts=managed))
    return AcmeDelegation(records=records, rules=rules)


def records_in(message: str) -> list[DnsRecord]:
    """Delegation CNAMEs named in free text, e.g. a solver's error message."""
    return [
        delegation_record(match["name"][len(ACME_LABEL) + 1 :], match["value"])
        for pattern in _RECORD_PATTERNS
        for match in pattern.finditer(message)
    ]


def _messages(objects: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    for obj in objects:
        kind = obj.get("kind")
        if kind == "Event" and isinstance(obj.get("message"), str):
            involved = obj.get("involvedObject") or {}
            yield f"Event on {involved.get('kind', '?')} {_ref(involved)}", obj["message"]
        elif kind == "Challenge" and isinstance((obj.get("status") or {}).get("reason"), str):
            yield f"Challenge {_ref(obj.get('metadata') or {})}", obj["status"]["reason"]


def _configmap_rule(objects: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
    configmaps = sorted(
        (obj for obj in objects if obj.get("kind") == "ConfigMap"), key=lambda obj: _ref(obj.get("metadata") or {})
    )
    for configmap in configmaps:
        for key, text in sorted((configmap.get("data") or {}).items()):
            for match in _TEMPLATE_LINE.finditer(str(text)):
                raw = next(value for value in match.group("dq", "sq", "bare") if value is not None)
                template, count = _PLACEHOLDER.subn(HOST_PLACEHOLDER, raw.strip())
                if count == 1:
                    return template, f"ConfigMap {_ref(configmap.get('metadata') or {})} key {key}"
    return None


def _managed_hosts(objects: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj.get("kind") == "Ingress":
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if any(key in annotations for key in CERT_MANAGER_ISSUER_ANNOTATIONS):
                yield from (challenge_host(host) for tls in spec.get("tls") or [] for host in tls.get("hosts") or [])
        elif obj.get("kind") == "Certificate" and str(obj.get("apiVersion", "")).startswith("cert-manager.io/"):
            yield from (challenge_host(host) for host in spec.get("dnsNames") or [])


def _ref(metadata: Mapping[str, Any]) -> str:
    namespace, name = metadata.get("namespace"), metadata.get("name", "?")
    return f"{namespace}/{name}" if namespace else str(name)


def _absolute(name: str) -> str:
    return name.rstrip(".") + "."

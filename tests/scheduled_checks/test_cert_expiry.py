"""The cert-expiry check against the sandbox's real TLS listeners and DNS server."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dns.asyncresolver
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from sandbox.dns_server import DnsServer
from sandbox.tls_endpoints import TlsEndpoints
from sandbox.world import BUNDLED_WORLDS, World, load_world
from tools.certificates.acme_dns import DnsPythonResolver, acme_delegation, records_in
from tools.certificates.cert_expiry import CertCheckResult, CertCheckSettings, ingress_targets, run_cert_expiry
from tools.certificates.tls_probe import CertTarget, TlsProbeError
from tools.findings import Finding, Severity

RECORDED = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
RULE = "{host}.acme-dns.example.net."
API_RECORD = "_acme-challenge.api.example.com. CNAME api.example.com.acme-dns.example.net."


def make_world(root: Path, endpoints: Mapping[str, object]) -> World:
    root.mkdir(parents=True, exist_ok=True)
    (root / "world.yaml").write_text(f"name: edge\nrecorded_at: '{RECORDED.isoformat()}'\n")
    (root / "endpoints.yaml").write_text(yaml.safe_dump(endpoints))
    return load_world(root)


def tls_entry(host: str, expires_in: timedelta) -> dict[str, object]:
    return {
        "name": host,
        "host": host,
        "not_after": (RECORDED + expires_in).isoformat(),
        "issuer": "CN=R11,O=Let's Encrypt,C=US",
    }


def delegation(host: str, target: str | None = None) -> dict[str, str]:
    return {"name": f"_acme-challenge.{host}", "type": "CNAME", "value": target or f"{host}.acme-dns.example.net."}


def sandbox_resolver(port: int | None, lifetime: float = 5) -> DnsPythonResolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    assert port is not None
    resolver.port = port
    resolver.lifetime = lifetime
    return DnsPythonResolver(resolver)


def shown(world: World, hours: int) -> str:
    """A moment relative to the world's present, as findings write it: the world is shifted to now."""
    return f"{world.now + timedelta(hours=hours):%Y-%m-%d %H:%M} UTC"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Edge:
    world: World
    served: TlsEndpoints
    resolver: DnsPythonResolver

    def target(self, name: str, host: str | None = None) -> CertTarget:
        return CertTarget(name=host or name, host=host or name, address=self.served.endpoints[name])

    def settings(self, **overrides: Any) -> CertCheckSettings:
        values = {"ca_file": self.served.ca_path, "now": self.world.now, "acme_delegation": RULE, **overrides}
        return CertCheckSettings(**values)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    world = make_world(
        tmp_path / "world",
        {
            "tls": [
                tls_entry("api.example.com", timedelta(hours=48)),
                tls_entry("shop.example.com", timedelta(days=60)),
                tls_entry("old.example.com", timedelta(days=-2)),
                tls_entry("www.example.com", timedelta(days=10)),
                tls_entry("a.example.com", timedelta(days=30)),
                tls_entry("*.wild.example.com", timedelta(days=30)),
            ],
            "dns": [
                delegation("shop.example.com"),
                delegation("old.example.com"),
                delegation("www.example.com", "www.example.com.legacy-acme.example.org."),
                delegation("a.example.com"),
            ],
        },
    )
    async with TlsEndpoints(world, tmp_path / "tls") as served, DnsServer(world) as server:
        yield Edge(world, served, sandbox_resolver(server.port))


def by_subject(result: CertCheckResult) -> dict[str, Finding]:
    subjects = [finding.subject.name for finding in result.findings if finding.subject]
    assert len(subjects) == len(set(subjects)) == len(result.findings), result.findings
    return {finding.subject.name: finding for finding in result.findings if finding.subject}


async def test_each_problem_is_reported_with_what_to_do(edge: Edge) -> None:
    targets = [
        *(edge.target(host) for host in ("api.example.com", "shop.example.com", "old.example.com", "www.example.com")),
        edge.target("a.example.com", host="b.example.com"),
        CertTarget(name="down.example.com", host="down.example.com", address=f"127.0.0.1:{closed_port()}"),
    ]

    result = await run_cert_expiry(targets, edge.settings(), resolver=edge.resolver)

    found = by_subject(result)
    assert {name: (f.severity, f.reason) for name, f in found.items()} == {
        "api.example.com": (Severity.CRITICAL, "AcmeDnsRecordMissing"),
        "old.example.com": (Severity.CRITICAL, "CertificateExpired"),
        "www.example.com": (Severity.WARNING, "AcmeDnsRecordWrong"),
        "b.example.com": (Severity.WARNING, "HostnameMismatch"),
        "down.example.com": (Severity.WARNING, "Unreachable"),
    }
    assert [f.severity for f in result.findings][:2] == [Severity.CRITICAL, Severity.CRITICAL]

    api = found["api.example.com"]
    assert api.source == "certificates"
    assert api.summary.startswith(f"api.example.com certificate expires in 48 h ({shown(edge.world, hours=48)})")
    assert f"add `{API_RECORD}`" in api.summary
    assert api.details["missing_record"] == {
        "name": "_acme-challenge.api.example.com.",
        "type": "CNAME",
        "value": "api.example.com.acme-dns.example.net.",
    }
    assert api.details["hours_left"] == 48
    assert "issuer: CN=R11,O=Let's Encrypt,C=US" in api.evidence
    assert "DNS has no CNAME at _acme-challenge.api.example.com." in api.evidence

    old = found["old.example.com"]
    assert old.summary.startswith(f"old.example.com certificate expired 48 h ago ({shown(edge.world, hours=-48)})")
    assert "DNS has _acme-challenge.old.example.com. CNAME old.example.com.acme-dns.example.net." in old.evidence

    www = found["www.example.com"]
    assert "expires in 10 days" in www.summary
    assert (
        "replace _acme-challenge.www.example.com. CNAME www.example.com.legacy-acme.example.org. with "
        "`_acme-challenge.www.example.com. CNAME www.example.com.acme-dns.example.net.`"
    ) in www.summary

    assert "does not cover b.example.com (it covers a.example.com)" in found["b.example.com"].summary
    assert "connection refused" in found["down.example.com"].summary

    assert result.checked == 6
    shop = next(probe for probe in result.probes if probe.target.name == "shop.example.com")
    assert shop.chain_ok and shop.hostname_ok
    assert shop.certificate is not None
    assert shop.certificate.not_after == edge.world.now + timedelta(days=60)


async def test_wildcard_certificate_covers_exactly_one_label(edge: Edge) -> None:
    hosts = ["api.wild.example.com", "API.Wild.Example.com", "a.b.wild.example.com", "wild.example.com"]
    targets = [edge.target("*.wild.example.com", host=host) for host in hosts]

    result = await run_cert_expiry(targets, edge.settings(), resolver=edge.resolver)

    assert sorted(f.subject.name for f in result.findings if f.subject and f.reason == "HostnameMismatch") == [
        "a.b.wild.example.com",
        "wild.example.com",
    ]
    assert len(result.findings) == 2


async def test_thresholds_decide_severity(edge: Edge) -> None:
    shop = [edge.target("shop.example.com")]

    assert (await run_cert_expiry(shop, edge.settings(), resolver=edge.resolver)).findings == []

    warned = await run_cert_expiry(shop, edge.settings(warn_days=61), resolver=edge.resolver)
    [finding] = warned.findings
    assert (finding.severity, finding.reason) == (Severity.WARNING, "CertificateExpiring")
    assert "shop.example.com certificate expires in 60 days" in finding.summary
    assert "DNS has _acme-challenge.shop.example.com. CNAME shop.example.com.acme-dns.example.net." in finding.evidence

    critical = await run_cert_expiry(shop, edge.settings(warn_days=90, critical_days=61), resolver=edge.resolver)
    assert [f.severity for f in critical.findings] == [Severity.CRITICAL]


async def test_untrusted_chain_is_reported_as_such(edge: Edge) -> None:
    targets = [edge.target("shop.example.com"), edge.target("old.example.com")]

    result = await run_cert_expiry(targets, edge.settings(ca_file=None), resolver=edge.resolver)

    chain = [f for f in result.findings if f.reason == "ChainInvalid"]
    assert [f.subject.name for f in chain if f.subject] == ["old.example.com", "shop.example.com"]
    assert all("unable to get local issuer certificate" in f.summary for f in chain)


async def test_expired_leaf_is_not_also_reported_as_a_broken_chain(edge: Edge) -> None:
    result = await run_cert_expiry([edge.target("old.example.com")], edge.settings(), resolver=edge.resolver)

    assert [f.reason for f in result.findings] == ["CertificateExpired"]
    assert result.probes[0].chain_error == "certificate has expired"


async def test_unknown_dns_answer_is_not_claimed_missing(edge: Edge) -> None:
    silent_dns = sandbox_resolver(closed_port(), lifetime=0.3)

    result = await run_cert_expiry([edge.target("api.example.com")], edge.settings(), resolver=silent_dns)

    [finding] = result.findings
    assert finding.reason == "CertificateExpiring"
    assert "could not check _acme-challenge.api.example.com." in finding.evidence
    assert "missing_record" not in finding.details


async def test_secret_serving_a_probed_certificate_is_reported_once(edge: Edge) -> None:
    host, port = edge.served.addresses["api.example.com"]
    _, writer = await asyncio.open_connection(host, port, ssl=unverified(), server_hostname="api.example.com")
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)

    result = await run_cert_expiry(
        [edge.target("api.example.com")],
        edge.settings(),
        resolver=edge.resolver,
        cluster_objects=[tls_secret("api-example-com-tls", pem)],
    )

    assert [(f.subject.kind if f.subject else None) for f in result.findings] == ["Certificate"]


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def tls_secret(name: str, pem: bytes | None, raw: str | None = None) -> dict[str, Any]:
    data = {"tls.crt": raw if raw is not None else base64.b64encode(pem or b"").decode()} if pem or raw else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": "platform"},
        "data": data,
    }


def self_signed(host: str, not_after: datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=90))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)


async def test_tls_secrets_are_read_without_a_handshake() -> None:
    objects = [
        tls_secret("internal-tls", self_signed("internal.example.com", RECORDED + timedelta(hours=50, minutes=59))),
        tls_secret("broken-tls", None, raw=base64.b64encode(b"not a certificate").decode()),
        tls_secret("stripped-tls", None),
    ]
    settings = CertCheckSettings(now=RECORDED)
    no_dns = DnsPythonResolver(dns.asyncresolver.Resolver(configure=False))

    result = await run_cert_expiry([], settings, resolver=no_dns, cluster_objects=objects)

    assert result.checked == 2
    assert [(f.severity, f.reason, str(f.subject)) for f in result.findings] == [
        (Severity.CRITICAL, "CertificateExpiring", "Secret platform/internal-tls"),
        (Severity.WARNING, "CertificateUnreadable", "Secret platform/broken-tls"),
    ]
    assert result.findings[0].summary.startswith(
        "Secret platform/internal-tls (internal.example.com) certificate expires in 50 h"
    )


async def silent_server(connections: list[int]) -> asyncio.Server:
    """Accepts TCP connections and never answers: a TLS handshake there can only time out."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.read()
        writer.close()

    return await asyncio.start_server(hold, "127.0.0.1", 0)


async def test_endpoint_that_never_speaks_tls_times_out_alone() -> None:
    connections: list[int] = []
    async with await silent_server(connections) as server:
        port = server.sockets[0].getsockname()[1]
        target = CertTarget(name="mute", host="mute.example.com", address=f"127.0.0.1:{port}")
        no_dns = DnsPythonResolver(dns.asyncresolver.Resolver(configure=False))
        started = time.perf_counter()

        result = await run_cert_expiry([target], CertCheckSettings(timeout_s=0.3), resolver=no_dns)

        elapsed = time.perf_counter() - started
    [finding] = result.findings
    assert finding.reason == "Unreachable"
    assert "no TLS handshake within 0.3 s" in finding.summary
    assert connections == [1]
    assert 0.3 <= elapsed < 2


async def test_concurrency_limit_is_respected() -> None:
    connections: list[int] = []
    async with await silent_server(connections) as server:
        port = server.sockets[0].getsockname()[1]
        targets = [
            CertTarget(name=f"mute-{i}", host="mute.example.com", address=f"127.0.0.1:{port}") for i in range(20)
        ]
        no_dns = DnsPythonResolver(dns.asyncresolver.Resolver(configure=False))
        started = time.perf_counter()

        result = await run_cert_expiry(targets, CertCheckSettings(timeout_s=0.2, concurrency=4), resolver=no_dns)

        elapsed = time.perf_counter() - started
    # Five waves of four probes, each held for the whole timeout: the limit, not the endpoints, sets the pace.
    assert elapsed >= 5 * 0.2
    assert len(connections) == 20
    assert [f.reason for f in result.findings] == ["Unreachable"] * 20


async def test_many_endpoints_with_low_concurrency_are_all_probed(tmp_path: Path) -> None:
    hosts = [f"svc-{i}.example.com" for i in range(50)]
    world = make_world(
        tmp_path / "world", {"tls": [tls_entry(host, timedelta(days=30 + i)) for i, host in enumerate(hosts)]}
    )
    async with TlsEndpoints(world, tmp_path / "tls") as served, DnsServer(world) as server:
        targets = [CertTarget(name=host, host=host, address=served.endpoints[host]) for host in hosts]
        settings = CertCheckSettings(ca_file=served.ca_path, now=world.now, concurrency=5)

        result = await run_cert_expiry(targets, settings, resolver=sandbox_resolver(server.port))

    assert result.findings == []
    assert [probe.certificate.not_after for probe in result.probes if probe.certificate and probe.chain_ok] == [
        world.now + timedelta(days=30 + i) for i in range(50)
    ]


CERT_EXPIRY = BUNDLED_WORLDS / "cert-expiry"
needs_bundled_world = pytest.mark.skipif(not CERT_EXPIRY.is_dir(), reason="worlds/cert-expiry missing")


def without(objects: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] != kind]


@needs_bundled_world
@pytest.mark.parametrize(
    ("left_out", "learned_from"),
    [
        ("ConfigMap", "Event on Challenge platform/api-example-com-tls-"),
        ("Event", "ConfigMap cert-manager/acme-delegate-webhook"),
    ],
)
async def test_bundled_world_names_the_missing_record(tmp_path: Path, left_out: str, learned_from: str) -> None:
    world = load_world("cert-expiry")
    async with TlsEndpoints(world, tmp_path) as served, DnsServer(world) as server:
        targets = [CertTarget(name=e.name, host=e.host, address=served.endpoints[e.name]) for e in world.endpoints.tls]
        settings = CertCheckSettings(ca_file=served.ca_path, now=world.now)

        result = await run_cert_expiry(
            targets,
            settings,
            resolver=sandbox_resolver(server.port),
            cluster_objects=without(world.objects, left_out),
        )

    # The world's Ingresses name hosts that are already targeted: nothing is probed twice.
    assert result.checked == 4
    [finding] = result.findings
    assert (finding.severity, finding.reason, str(finding.subject)) == (
        Severity.CRITICAL,
        "AcmeDnsRecordMissing",
        "Certificate api.example.com",
    )
    assert f"expires in 48 h ({shown(world, hours=48)})" in finding.summary
    assert f"add `{API_RECORD}`" in finding.summary
    assert learned_from in finding.evidence
    [case] = [case for case in world.expectations.cases if case.check == "cert-expiry"]
    text = f"{finding.summary}\n{finding.evidence}".lower()
    for wanted in case.must_mention:
        assert any(alternative.lower() in text for alternative in ([wanted] if isinstance(wanted, str) else wanted))
    assert not any(isinstance(unwanted, str) and unwanted.lower() in text for unwanted in case.must_not_mention)


@needs_bundled_world
def test_rule_learned_from_the_cluster_only_covers_hosts_cert_manager_manages() -> None:
    objects = without(load_world("cert-expiry").objects, "Event")

    learned = acme_delegation(objects)
    configured = acme_delegation(objects, RULE)

    shop = learned.expected("shop.example.com")
    assert shop is not None
    assert str(shop.record) == "_acme-challenge.shop.example.com. CNAME shop.example.com.acme-dns.example.net."
    assert learned.expected("grafana.internal.example.com") is None
    assert configured.expected("grafana.internal.example.com") is not None


@pytest.mark.parametrize(
    "message",
    [
        'create "_acme-challenge.api.example.com. CNAME api.example.com.acme-dns.example.net." in the zone',
        "expected CNAME _acme-challenge.api.example.com -> api.example.com.acme-dns.example.net.",
        "_acme-challenge.API.example.com 300 IN CNAME api.example.com.acme-dns.example.net",
    ],
)
def test_delegation_record_is_read_from_messages(message: str) -> None:
    assert [str(record) for record in records_in(message)] == [API_RECORD]


@needs_bundled_world
def test_ingress_tls_hosts_become_targets_unless_already_checked() -> None:
    objects = load_world("cert-expiry").objects
    api = CertTarget(name="api", host="api.example.com", address="127.0.0.1:8443")

    added = ingress_targets(objects, [api])

    assert sorted((t.host, t.address) for t in added) == [
        ("shop.example.com", "shop.example.com:443"),
        ("status.example.com", "status.example.com:443"),
    ]
    assert {t.origin for t in added} == {
        "Ingress web/storefront, Secret shop-example-com-tls",
        "Ingress platform/status-page, Secret status-example-com-tls",
    }


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"acme_delegation": "acme-dns.example.net."}, "must contain {host} exactly once"),
        ({"warn_days": 2, "critical_days": 3}, "critical_days (3) must not exceed warn_days (2)"),
        ({"now": datetime(2026, 11, 20)}, "now must carry a time zone"),
        ({"concurrency": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_reason(values: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        CertCheckSettings(**values)


async def test_unreadable_ca_file_is_named(tmp_path: Path) -> None:
    settings = CertCheckSettings(ca_file=tmp_path / "missing-ca.pem")
    no_dns = DnsPythonResolver(dns.asyncresolver.Resolver(configure=False))

    with pytest.raises(TlsProbeError, match=re.escape(f"cannot load CA file {tmp_path / 'missing-ca.pem'}: ")):
        await run_cert_expiry([], settings, resolver=no_dns)


def test_target_address_defaults_to_port_443_and_must_have_a_port() -> None:
    assert CertTarget(name="api", host="api.example.com").address == "api.example.com:443"
    assert CertTarget(name="v6", host="v6.example.com", address="[::1]:8443").host_port() == ("::1", 8443)
    with pytest.raises(ValidationError, match=re.escape("address 'api.example.com' is not HOST:PORT")):
        CertTarget(name="api", host="api.example.com", address="api.example.com")

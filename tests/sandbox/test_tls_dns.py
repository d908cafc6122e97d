from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dns.asyncquery
import dns.asyncresolver
import dns.flags
import dns.message
import dns.resolver
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from sandbox.dns_server import DnsServer, DnsServerError
from sandbox.tls_endpoints import TlsEndpoints, TlsEndpointsError
from sandbox.world import BUNDLED_WORLDS, World, load_world

RECORDED = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def make_world(root: Path, endpoints: Mapping[str, object]) -> World:
    root.mkdir(parents=True, exist_ok=True)
    (root / "world.yaml").write_text(f"name: edge\nrecorded_at: '{RECORDED.isoformat()}'\n")
    (root / "endpoints.yaml").write_text(yaml.safe_dump(endpoints))
    return load_world(root)


def tls_entry(name: str, host: str, expires_in: timedelta, issuer: str = "R3") -> dict[str, object]:
    return {"name": name, "host": host, "port": 443, "not_after": (RECORDED + expires_in).isoformat(), "issuer": issuer}


@pytest.fixture
async def tls(tmp_path: Path) -> AsyncIterator[tuple[World, TlsEndpoints]]:
    world = make_world(
        tmp_path / "world",
        {
            "tls": [
                tls_entry("api", "api.example.test", timedelta(days=30)),
                tls_entry("legacy", "legacy.example.test", timedelta(days=-2), issuer="Legacy Corp CA"),
            ]
        },
    )
    async with TlsEndpoints(world, tmp_path / "tls") as served:
        yield world, served


async def handshake(served: TlsEndpoints, name: str, context: ssl.SSLContext, server_hostname: str) -> bytes:
    """Connects like a certificate check does, sends one request, and returns the DER leaf certificate."""
    host, port = served.addresses[name]
    reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=server_hostname)
    try:
        writer.write(f"GET / HTTP/1.1\r\nHost: {server_hostname}\r\n\r\n".encode())
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert isinstance(der, bytes)
        return der
    finally:
        writer.close()
        await writer.wait_closed()


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_valid_certificate_verifies_against_the_sandbox_ca(tls: tuple[World, TlsEndpoints]) -> None:
    world, served = tls
    der = await handshake(served, "api", ssl.create_default_context(cafile=served.ca_path), "api.example.test")
    cert = x509.load_der_x509_certificate(der)
    assert cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "R3"
    assert cert.not_valid_after_utc == world.endpoints.tls[0].not_after
    assert served.endpoints == {name: f"127.0.0.1:{port}" for name, (_, port) in served.addresses.items()}


async def test_expired_certificate_fails_verification_but_is_still_served(tls: tuple[World, TlsEndpoints]) -> None:
    world, served = tls
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        await handshake(served, "legacy", ssl.create_default_context(cafile=served.ca_path), "legacy.example.test")
    assert "expired" in failure.value.verify_message

    cert = x509.load_der_x509_certificate(await handshake(served, "legacy", unverified(), "legacy.example.test"))
    assert cert.not_valid_after_utc == world.endpoints.tls[1].not_after
    assert cert.not_valid_after_utc < world.now
    assert cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Legacy Corp CA"


async def test_certificate_for_another_host_name_fails_hostname_check(tls: tuple[World, TlsEndpoints]) -> None:
    _, served = tls
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        await handshake(served, "api", ssl.create_default_context(cafile=served.ca_path), "www.example.test")
    assert "mismatch" in failure.value.verify_message.lower()


async def test_without_the_sandbox_ca_the_chain_is_untrusted(tls: tuple[World, TlsEndpoints]) -> None:
    _, served = tls
    with pytest.raises(ssl.SSLCertVerificationError):
        await handshake(served, "api", ssl.create_default_context(), "api.example.test")


async def test_five_hundred_endpoints_start_quickly(tmp_path: Path) -> None:
    world = make_world(
        tmp_path / "world",
        {"tls": [tls_entry(f"svc-{i}", f"svc-{i}.example.test", timedelta(days=i - 50)) for i in range(500)]},
    )
    started = time.perf_counter()
    async with TlsEndpoints(world, tmp_path / "tls") as served:
        elapsed = time.perf_counter() - started
        assert len(set(served.endpoints.values())) == 500
        cert = x509.load_der_x509_certificate(await handshake(served, "svc-499", unverified(), "svc-499.example.test"))
        assert cert.not_valid_after_utc == world.endpoints.tls[499].not_after
    assert elapsed < 3


def test_duplicate_endpoint_names_are_rejected(tmp_path: Path) -> None:
    entry = tls_entry("api", "api.example.test", timedelta(days=1))
    world = make_world(tmp_path / "world", {"tls": [entry, entry]})
    with pytest.raises(TlsEndpointsError, match="duplicate TLS endpoint names: api"):
        TlsEndpoints(world, tmp_path / "tls")


BUNDLED = [
    pytest.param(name, marks=pytest.mark.skipif(not (BUNDLED_WORLDS / name).is_dir(), reason=f"worlds/{name} missing"))
    for name in ("payment-outage", "cert-expiry")
]


@pytest.mark.parametrize("world_name", BUNDLED)
async def test_bundled_world_serves_every_tls_endpoint(world_name: str, tmp_path: Path) -> None:
    world = load_world(world_name)
    async with TlsEndpoints(world, tmp_path) as served:
        for endpoint in world.endpoints.tls:
            der = await handshake(served, endpoint.name, unverified(), endpoint.host)
            assert x509.load_der_x509_certificate(der).not_valid_after_utc == endpoint.not_after.replace(microsecond=0)


DNS_RECORDS = {
    "dns": [
        {"name": "api.example.test", "type": "A", "value": "10.0.0.7"},
        {"name": "api.example.test.", "type": "A", "value": "10.0.0.8"},
        {"name": "api.example.test", "type": "AAAA", "value": "fd00::7"},
        {"name": "www.example.test", "type": "CNAME", "value": "api.example.test"},
        {"name": "cdn.example.test", "type": "CNAME", "value": "shop.cdn-provider.test."},
        {"name": "example.test", "type": "TXT", "value": "v=spf1 include:_spf.example.test ~all"},
        {"name": "example.test", "type": "CAA", "value": '0 issue "letsencrypt.org"'},
        {"name": "long.example.test", "type": "TXT", "value": "x" * 300},
        *({"name": "pool.example.test", "type": "A", "value": f"10.1.0.{i}"} for i in range(1, 201)),
    ]
}


@pytest.fixture
async def resolver(tmp_path: Path) -> AsyncIterator[dns.asyncresolver.Resolver]:
    async with DnsServer(make_world(tmp_path / "world", DNS_RECORDS)) as server:
        assert server.port is not None
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = server.port
        resolver.lifetime = 5
        yield resolver


async def test_a_and_aaaa_records_resolve(resolver: dns.asyncresolver.Resolver) -> None:
    answer = await resolver.resolve("API.Example.Test", "A")
    assert sorted(record.to_text() for record in answer) == ["10.0.0.7", "10.0.0.8"]
    assert [record.to_text() for record in await resolver.resolve("api.example.test", "AAAA")] == ["fd00::7"]


async def test_cname_is_followed_inside_the_world(resolver: dns.asyncresolver.Resolver) -> None:
    answer = await resolver.resolve("www.example.test", "A")
    assert answer.canonical_name.to_text() == "api.example.test."
    assert sorted(record.to_text() for record in answer) == ["10.0.0.7", "10.0.0.8"]
    cname = await resolver.resolve("cdn.example.test", "CNAME")
    assert [record.to_text() for record in cname] == ["shop.cdn-provider.test."]


async def test_txt_and_caa_records_resolve(resolver: dns.asyncresolver.Resolver) -> None:
    txt = await resolver.resolve("example.test", "TXT")
    assert [b"".join(record.strings) for record in txt] == [b"v=spf1 include:_spf.example.test ~all"]
    long_txt = await resolver.resolve("long.example.test", "TXT")
    assert [b"".join(record.strings) for record in long_txt] == [b"x" * 300]
    caa = await resolver.resolve("example.test", "CAA")
    assert [record.to_text() for record in caa] == ['0 issue "letsencrypt.org"']


async def test_unknown_name_is_nxdomain_and_missing_type_is_no_answer(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("gone.example.test", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("example.test", "A")


async def test_tcp_answers_like_udp(resolver: dns.asyncresolver.Resolver) -> None:
    answer = await resolver.resolve("api.example.test", "A", tcp=True)
    assert sorted(record.to_text() for record in answer) == ["10.0.0.7", "10.0.0.8"]


async def test_answer_too_big_for_udp_is_truncated_and_retried_over_tcp(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    over_udp = await dns.asyncquery.udp(
        dns.message.make_query("pool.example.test", "A"), "127.0.0.1", port=resolver.port
    )
    assert over_udp.flags & dns.flags.TC
    answer = await resolver.resolve("pool.example.test", "A")
    assert len(answer) == 200


def test_unreadable_record_is_named_in_one_line(tmp_path: Path) -> None:
    world = make_world(tmp_path / "world", {"dns": [{"name": "api.example.test", "type": "A", "value": "not-an-ip"}]})
    with pytest.raises(DnsServerError, match=r"^world edge: endpoints.yaml dns record api.example.test A: .*not-an-ip"):
        DnsServer(world)


@pytest.mark.parametrize("world_name", BUNDLED)
async def test_bundled_world_dns_records_resolve(world_name: str) -> None:
    world = load_world(world_name)
    async with DnsServer(world) as server:
        assert server.port is not None
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = server.port
        for record in world.endpoints.dns:
            answer = await resolver.resolve(record.name, record.type, raise_on_no_answer=False)
            assert answer.response.answer, record

"""The sandbox's certificate authorities: one root, optional intermediates, server certificates.

Both the TLS endpoints (certificates that expire when a world says) and the Kubernetes API
server (HTTPS, because kubectl sends bearer tokens only over TLS) issue certificates; they do it
here, so there is one place that knows what a verifiable chain needs (key identifiers, key
usage, server-auth purpose, SANs). P-256 keys: generating and signing cost microseconds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class ServerCertificate:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def whole_seconds(moment: datetime) -> datetime:
    """X.509 validity has one-second precision; rounding here keeps what we write what we read."""
    return moment.astimezone(UTC).replace(microsecond=0)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def authority_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name),
        ]
    )


def root_authority(common_name: str, not_before: datetime, not_after: datetime) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = authority_name(common_name)
    cert = (
        _authority_builder(subject, key, not_before, not_after)
        .issuer_name(subject)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key=key, cert=cert)


def intermediate_authority(common_name: str, parent: Authority, not_before: datetime, not_after: datetime) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _authority_builder(authority_name(common_name), key, not_before, not_after)
        .issuer_name(parent.cert.subject)
        .add_extension(_authority_key_id(parent), critical=False)
        .sign(parent.key, hashes.SHA256())
    )
    return Authority(key=key, cert=cert)


def server_certificate(
    authority: Authority,
    *,
    common_name: str,
    hosts: Sequence[str],
    not_before: datetime,
    not_after: datetime,
) -> ServerCertificate:
    """A leaf for TLS servers, valid for every host name or IP address in `hosts`."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(whole_seconds(not_before))
        .not_valid_after(whole_seconds(not_after))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_alt_name(host) for host in hosts]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(authority), critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    return ServerCertificate(key=key, cert=cert)


def _authority_builder(
    subject: x509.Name, key: ec.EllipticCurvePrivateKey, not_before: datetime, not_after: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(whole_seconds(not_before))
        .not_valid_after(whole_seconds(not_after))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _authority_key_id(authority: Authority) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key())


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )

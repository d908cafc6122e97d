"""Reads the certificate an endpoint really serves, over a real TLS handshake.

What breaks in production is the handshake (an expired leaf, a missing intermediate, a name the
certificate does not cover), so the probe connects like a client would, with SNI, instead of
trusting a date in a file. The chain is verified by OpenSSL; the host name is matched here
against the certificate's names, so one handshake answers both questions and a wrong name does
not hide a broken chain (OpenSSL stops at the first error it finds). Only when verification
fails is a second, non-verifying handshake made, to still read the certificate and say when it
expires.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.findings import ObjectRef

DEFAULT_TLS_PORT = 443


class TlsProbeError(Exception):
    """The probe cannot be set up (bad CA file); the message is one line for the user."""


class CertTarget(BaseModel):
    """One endpoint to check: `host` is the name sent as SNI and verified, `address` where to connect."""

    model_config = ConfigDict(frozen=True)

    name: str
    host: str
    address: str = Field(default="", description="HOST:PORT to connect to; empty means host:443")
    origin: str | None = Field(default=None, description="where the target was found, e.g. an Ingress")
    ingress: ObjectRef | None = Field(default=None, description="the Ingress routing this host, naming its owners")

    @model_validator(mode="before")
    @classmethod
    def _default_address(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("address") and data.get("host"):
            return {**data, "address": f"{data['host']}:{DEFAULT_TLS_PORT}"}
        return data

    @model_validator(mode="after")
    def _address_has_a_port(self) -> Self:
        self.host_port()
        return self

    def host_port(self) -> tuple[str, int]:
        """`address` split for connecting; an IPv6 address is written in brackets, as in a URL."""
        host, separator, port = self.address.rpartition(":")
        if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"certificate target {self.name}: address {self.address!r} is not HOST:PORT")
        return host.removeprefix("[").removesuffix("]"), int(port)


class CertificateInfo(BaseModel):
    """The facts of one certificate that a person acts on."""

    model_config = ConfigDict(frozen=True)

    subject_cn: str | None
    sans: list[str]
    issuer: str
    not_before: datetime
    not_after: datetime
    sha256: str

    @property
    def dns_names(self) -> list[str]:
        return [name for name in self.sans if not _is_ip(name)]

    def covers(self, host: str) -> bool:
        """Whether the certificate is valid for `host` the way TLS clients decide (RFC 6125).

        Only the subject alternative names count (browsers and Python ignore the CN), and a
        wildcard stands for exactly one whole left-most label.
        """
        wanted = host.rstrip(".").lower()
        if _is_ip(wanted):
            address = ipaddress.ip_address(wanted)
            return any(_is_ip(name) and ipaddress.ip_address(name) == address for name in self.sans)
        for name in self.dns_names:
            pattern = name.rstrip(".").lower()
            if pattern == wanted:
                return True
            label, _, rest = wanted.partition(".")
            if pattern.startswith("*.") and label and rest == pattern[2:]:
                return True
        return False


class CertProbe(BaseModel):
    """What one handshake showed; `error` set means no certificate could be read at all."""

    model_config = ConfigDict(frozen=True)

    target: CertTarget
    certificate: CertificateInfo | None = None
    chain_ok: bool | None = None
    chain_error: str | None = None
    hostname_ok: bool | None = None
    error: str | None = None


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    try:
        alt_names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [*alt_names.get_values_for_type(x509.DNSName), *map(str, alt_names.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        sans = []
    return CertificateInfo(
        subject_cn=_attribute(cert.subject, NameOID.COMMON_NAME),
        sans=sans,
        issuer=_issuer_label(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=sha256(cert.public_bytes(Encoding.DER)).hexdigest(),
    )


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _issuer_label(issuer: x509.Name) -> str:
    """'R11, Let's Encrypt' reads better than an escaped RFC 4514 string; the full DN is the fallback."""
    names = (_attribute(issuer, NameOID.COMMON_NAME), _attribute(issuer, NameOID.ORGANIZATION_NAME))
    parts = dict.fromkeys(name for name in names if name)
    return ", ".join(parts) or issuer.rfc4514_string()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class TlsProber:
    """Probes endpoints with two SSL contexts built once: loading the trust store per endpoint would dominate."""

    def __init__(self, verifying: ssl.SSLContext, reading: ssl.SSLContext, timeout_s: float) -> None:
        self._verifying = verifying
        self._reading = reading
        self._timeout_s = timeout_s

    @classmethod
    async def create(cls, *, timeout_s: float, ca_file: Path | None = None) -> TlsProber:
        """The system trust store plus `ca_file`; built in a thread because it reads files."""
        verifying, reading = await asyncio.to_thread(_contexts, ca_file)
        return cls(verifying, reading, timeout_s)

    async def probe(self, target: CertTarget) -> CertProbe:
        """Never raises for a bad endpoint: an unreachable one is a result the check reports."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._probe(target)
        except TimeoutError:
            return CertProbe(target=target, error=f"no TLS handshake within {self._timeout_s:g} s")
        except OSError as exc:
            return CertProbe(target=target, error=_connection_problem(exc))
        except ValueError as exc:
            return CertProbe(target=target, error=f"unreadable certificate: {exc}")

    async def _probe(self, target: CertTarget) -> CertProbe:
        chain_error: str | None = None
        try:
            der = await self._handshake(target, self._verifying)
        except ssl.SSLCertVerificationError as exc:
            chain_error = exc.verify_message or str(exc)
            der = await self._handshake(target, self._reading)
        info = certificate_info(x509.load_der_x509_certificate(der))
        return CertProbe(
            target=target,
            certificate=info,
            chain_ok=chain_error is None,
            chain_error=chain_error,
            hostname_ok=info.covers(target.host),
        )

    async def _handshake(self, target: CertTarget, context: ssl.SSLContext) -> bytes:
        host, port = target.host_port()
        _, writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname=target.host, ssl_handshake_timeout=self._timeout_s
        )
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            # Nothing is sent, so there is nothing to shut down gracefully; waiting for the peer's
            # close_notify would only add a round trip per endpoint.
            writer.transport.abort()
        if not der:
            raise ssl.SSLError("the server sent no certificate")
        return bytes(der)


def _contexts(ca_file: Path | None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    verifying = ssl.create_default_context()
    # The host name is matched by CertificateInfo.covers, so that verification reports the chain.
    verifying.check_hostname = False
    if ca_file is not None:
        try:
            verifying.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsProbeError(f"cannot load CA file {ca_file}: {exc}") from exc
    reading = ssl.create_default_context()
    reading.check_hostname = False
    reading.verify_mode = ssl.CERT_NONE
    return verifying, reading


def _connection_problem(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the address: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset during the TLS handshake"
    return exc.strerror or str(exc) or type(exc).__name__

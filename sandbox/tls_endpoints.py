"""Serves a world's TLS endpoints as real TLS listeners with certificates that expire when the world says.

The certificate-expiry check must be exercised over a real handshake, because what breaks in
production is the handshake (an expired leaf, a wrong name, a missing intermediate), not a date
in a file. So each endpoint gets its own listener presenting a leaf signed by an intermediate
named after the endpoint's issuer, and that intermediate is signed by a sandbox root written to
`ca.pem`, the one file a client has to trust.

Every endpoint gets its own key (sandbox.certificates), so even 500 endpoints start in a
fraction of a second without resorting to a shared key.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from sandbox.certificates import (
    intermediate_authority,
    pem,
    root_authority,
    server_certificate,
    whole_seconds,
)
from sandbox.lifecycle import LOOPBACK, SandboxService
from sandbox.timeshift import parse_time
from sandbox.world import World
from sandbox.world_models import TlsEndpoint

ROOT_NAME = "InfraWhisperer Sandbox Root CA"
# Let's Encrypt issues 90-day certificates; a leaf expiring sooner than that looks freshly renewed.
LEAF_VALIDITY = timedelta(days=90)
CA_VALIDITY_MARGIN = timedelta(days=3650)
REQUEST_TIMEOUT_SECONDS = 5.0
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


class TlsEndpointsError(Exception):
    """A world's TLS endpoints cannot be served; the message is one line for the user."""


@dataclass(frozen=True)
class _ServedFiles:
    chain: Path
    key: Path


class TlsEndpoints(SandboxService):
    """One TLS listener per endpoint of `world.endpoints.tls`, all trusting `ca_path`."""

    def __init__(self, world: World, workdir: Path) -> None:
        # Times written without a zone are UTC, as everywhere in a world; comparing needs them aware.
        self._tls = [
            endpoint.model_copy(update={"not_after": parse_time(endpoint.not_after)})
            for endpoint in world.endpoints.tls
        ]
        names = [endpoint.name for endpoint in self._tls]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise TlsEndpointsError(f"world {world.name}: duplicate TLS endpoint names: {', '.join(duplicates)}")
        self._now = world.now
        self._workdir = workdir
        self.ca_path = workdir / "ca.pem"
        # Endpoint name -> (host, port) to dial instead of the world's host:port.
        self.addresses: dict[str, tuple[str, int]] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Transport] = set()

    @property
    def endpoints(self) -> dict[str, str]:
        """Endpoint name -> "127.0.0.1:PORT", the shape `whisperer sandbox up` prints."""
        return {name: f"{host}:{port}" for name, (host, port) in self.addresses.items()}

    async def start(self) -> dict[str, str]:
        files = await asyncio.to_thread(self._write_certificates, self._tls)
        try:
            for endpoint, served in zip(self._tls, files, strict=True):
                self.addresses[endpoint.name] = await self._listen(endpoint, served)
        except BaseException:
            await self.stop()
            raise
        return self.endpoints

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for connection in list(self._connections):
            connection.abort()
        for server in servers:
            await server.wait_closed()
        self.addresses.clear()

    def _write_certificates(self, endpoints: list[TlsEndpoint]) -> list[_ServedFiles]:
        now = self._now
        not_befores = [_leaf_not_before(endpoint.not_after, now) for endpoint in endpoints]
        # The authorities must be valid both in the world's present and in the real one.
        present = [now, datetime.now(UTC)]
        earliest = min([*present, *not_befores]) - timedelta(days=1)
        latest = max([*present, *(endpoint.not_after for endpoint in endpoints)]) + CA_VALIDITY_MARGIN
        root = root_authority(ROOT_NAME, earliest, latest)
        intermediates = {
            issuer: intermediate_authority(issuer, root, earliest, latest)
            for issuer in dict.fromkeys(endpoint.issuer for endpoint in endpoints)
        }
        cert_dir = self._workdir / "tls"
        cert_dir.mkdir(parents=True, exist_ok=True)
        self.ca_path.write_bytes(pem(root.cert))
        files: list[_ServedFiles] = []
        for index, (endpoint, not_before) in enumerate(zip(endpoints, not_befores, strict=True)):
            authority = intermediates[endpoint.issuer]
            leaf = server_certificate(
                authority,
                common_name=endpoint.host,
                hosts=[endpoint.host],
                not_before=not_before,
                not_after=endpoint.not_after,
            )
            stem = f"{index:04d}-{_UNSAFE_FILE_CHARS.sub('_', endpoint.name)}"
            served = _ServedFiles(chain=cert_dir / f"{stem}.chain.pem", key=cert_dir / f"{stem}.key.pem")
            served.chain.write_bytes(pem(leaf.cert) + pem(authority.cert))
            served.key.write_bytes(leaf.key_pem)
            files.append(served)
        return files

    async def _listen(self, endpoint: TlsEndpoint, served: _ServedFiles) -> tuple[str, int]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(served.chain, served.key)
        body = f"{endpoint.name}: {endpoint.host}\n".encode()
        try:
            server = await asyncio.get_running_loop().create_server(
                lambda: _HttpOk(body, self._connections),
                LOOPBACK,
                0,
                ssl=context,
                ssl_handshake_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except OSError as exc:
            raise TlsEndpointsError(f"cannot open a TLS listener for endpoint {endpoint.name}: {exc}") from exc
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return LOOPBACK, port


class _HttpOk(asyncio.Protocol):
    """Answers any request with a 200 and hangs up, so HTTP-level probes succeed wherever the handshake does.

    A protocol rather than a stream handler: no task per connection is left behind when the
    listener stops, and `stop()` can close connections a client left open.
    """

    def __init__(self, body: bytes, open_connections: set[asyncio.Transport]) -> None:
        self._response = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self._open = open_connections
        self._received = b""
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._open.add(self._transport)
        self._deadline = asyncio.get_running_loop().call_later(REQUEST_TIMEOUT_SECONDS, self._transport.close)

    def data_received(self, data: bytes) -> None:
        self._received += data
        if self._transport is not None and b"\r\n\r\n" in self._received:
            self._transport.write(self._response)
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if self._transport is not None:
            self._open.discard(self._transport)


def _leaf_not_before(not_after: datetime, now: datetime) -> datetime:
    """90 days before expiry, but never in the future: a certificate must be valid until it expires."""
    return whole_seconds(min(not_after - LEAF_VALIDITY, now - timedelta(days=1)))

"""Answers DNS queries for a world's records over real UDP and TCP.

The certificate check resolves names before it connects (a name that no longer resolves, or a
CNAME that moved to another provider, is part of the finding). In production it asks the
system resolver; in the sandbox it asks this server with the same dnspython resolver, so the
code path, including truncation and the fallback to TCP, is the production one.

The server is authoritative for the world's names only: a name without records is NXDOMAIN,
a name that has records but none of the asked type is an empty NOERROR answer (NODATA), and a
CNAME answers every type, followed inside the world as far as the world has records.
"""

from __future__ import annotations

import asyncio
import struct
from collections import defaultdict
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.TXT
import dns.rrset

from sandbox.lifecycle import LOOPBACK, SandboxService
from sandbox.world import World
from sandbox.world_models import DnsRecord

TTL_SECONDS = 300
UDP_PAYLOAD_WITHOUT_EDNS = 512
TCP_MESSAGE_LIMIT = 65535
MAX_CNAME_HOPS = 8
BIND_ATTEMPTS = 20
TXT_STRING_LIMIT = 255

Zone = dict[dns.name.Name, dict[dns.rdatatype.RdataType, list[dns.rdata.Rdata]]]


class DnsServerError(Exception):
    """A world's DNS records cannot be served; the message is one line for the user."""


def build_zone(world: World) -> Zone:
    """The world's records grouped by owner name and type, ready to answer from."""
    zone: Zone = defaultdict(dict)
    for record in world.endpoints.dns:
        name, rdata = _parse_record(record, world.name)
        zone[name].setdefault(rdata.rdtype, []).append(rdata)
    for name, rrsets in zone.items():
        if dns.rdatatype.CNAME in rrsets and sum(map(len, rrsets.values())) > 1:
            raise DnsServerError(f"world {world.name}: endpoints.yaml dns: {name} has a CNAME and other records")
    return dict(zone)


def _parse_record(record: DnsRecord, world_name: str) -> tuple[dns.name.Name, dns.rdata.Rdata]:
    where = f"world {world_name}: endpoints.yaml dns record {record.name} {record.type}"
    try:
        name = dns.name.from_text(record.name)
        rdtype = dns.rdatatype.from_text(record.type.upper())
        rdata = (
            _txt(record.value)
            if rdtype == dns.rdatatype.TXT
            else dns.rdata.from_text(dns.rdataclass.IN, rdtype, record.value, origin=dns.name.root, relativize=False)
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise DnsServerError(f"{where}: cannot read value {record.value!r}: {exc}") from exc
    return name, rdata


def _txt(value: str) -> dns.rdata.Rdata:
    """A TXT value as written (unquoted, any length), split into the 255-byte strings DNS carries."""
    data = value.encode()
    chunks = [data[start : start + TXT_STRING_LIMIT] for start in range(0, len(data), TXT_STRING_LIMIT)]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks or [b""])


def answer(zone: Zone, query: dns.message.Message) -> dns.message.Message:
    """The authoritative response to one query."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    rrsets = zone.get(question.name)
    if rrsets is None:
        if not any(name.is_subdomain(question.name) for name in zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response
    response.answer.extend(_records(zone, question.name, question.rdtype))
    return response


def _records(zone: Zone, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> list[dns.rrset.RRset]:
    """The answer section, owned by the name as the client spelled it (names match case-insensitively)."""
    found: list[dns.rrset.RRset] = []
    for _ in range(MAX_CNAME_HOPS):
        rrsets = zone.get(name, {})
        cname = rrsets.get(dns.rdatatype.CNAME)
        if cname is None or rdtype == dns.rdatatype.CNAME:
            if rdtype == dns.rdatatype.ANY:
                found.extend(dns.rrset.from_rdata_list(name, TTL_SECONDS, rdatas) for rdatas in rrsets.values())
            elif rdtype in rrsets:
                found.append(dns.rrset.from_rdata_list(name, TTL_SECONDS, rrsets[rdtype]))
            return found
        found.append(dns.rrset.from_rdata_list(name, TTL_SECONDS, cname))
        target = cname[0]
        assert isinstance(target, dns.rdtypes.ANY.CNAME.CNAME)
        name = target.target
    return found


def _wire(zone: Zone, data: bytes, *, udp: bool) -> bytes | None:
    """The encoded response, or None for bytes that are not a DNS query (dropped, as servers do).

    Over UDP the response must fit the size the client advertised (512 bytes without EDNS);
    what does not fit is sent empty with the TC flag, and the resolver retries over TCP.
    """
    try:
        query = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None
    response = answer(zone, query)
    if not udp:
        limit = TCP_MESSAGE_LIMIT
    elif query.edns >= 0:
        limit = max(query.payload, UDP_PAYLOAD_WITHOUT_EDNS)
    else:
        limit = UDP_PAYLOAD_WITHOUT_EDNS
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer.clear()
        response.flags |= dns.flags.TC
        return response.to_wire()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self._zone = zone
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        wire = _wire(self._zone, data, udp=True)
        if wire is not None and self._transport is not None:
            self._transport.sendto(wire, addr)


class _TcpProtocol(asyncio.Protocol):
    """DNS over TCP: each message is prefixed by its two-byte length; a client may send several."""

    def __init__(self, zone: Zone, open_connections: set[asyncio.Transport]) -> None:
        self._zone = zone
        self._open = open_connections
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._open.add(self._transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None and len(self._buffer) >= 2:
            (length,) = struct.unpack("!H", self._buffer[:2])
            if len(self._buffer) < 2 + length:
                return
            message, self._buffer = self._buffer[2 : 2 + length], self._buffer[2 + length :]
            wire = _wire(self._zone, message, udp=False)
            if wire is None:
                self._transport.close()
                return
            self._transport.write(struct.pack("!H", len(wire)) + wire)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._open.discard(self._transport)


class DnsServer(SandboxService):
    """The world's DNS records on 127.0.0.1, UDP and TCP on the same port, as a resolver expects."""

    def __init__(self, world: World) -> None:
        self._zone = build_zone(world)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Transport] = set()
        self.port: int | None = None

    @property
    def address(self) -> str:
        if self.port is None:
            raise DnsServerError("the DNS server is not started")
        return f"{LOOPBACK}:{self.port}"

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        for _ in range(BIND_ATTEMPTS):
            udp, _protocol = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self._zone), local_addr=(LOOPBACK, 0)
            )
            port: int = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await loop.create_server(
                    lambda: _TcpProtocol(self._zone, self._connections), LOOPBACK, port
                )
            except OSError:
                # Another process holds this port for TCP; take another UDP port and try again.
                udp.close()
                continue
            self._udp, self.port = udp, port
            return self.address
        raise DnsServerError(f"no free port on {LOOPBACK} for both UDP and TCP after {BIND_ATTEMPTS} attempts")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for connection in list(self._connections):
                connection.abort()
            await self._tcp.wait_closed()
            self._tcp = None
        self.port = None

"""Certificate checks of 500 TLS endpoints served by the sandbox on 127.0.0.1."""

from __future__ import annotations

import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import dns.asyncresolver
import yaml

from bench.report import Figure, median
from sandbox.dns_server import DnsServer
from sandbox.timeshift import format_time, parse_time
from sandbox.tls_endpoints import TlsEndpoints
from sandbox.world import load_world
from tools.certificates.acme_dns import DnsPythonResolver
from tools.certificates.cert_expiry import CertCheckSettings, run_cert_expiry
from tools.certificates.tls_probe import CertTarget

ENDPOINTS = 500
RUNS = 3


def _world(root: Path) -> Path:
    recorded = "2026-11-20T14:00:00Z"
    tls = [
        {"name": f"svc{i}", "host": f"svc{i}.example.com", "port": 443, "not_after": _days_after(recorded, i % 100 - 5)}
        for i in range(ENDPOINTS)
    ]
    (root / "world.yaml").write_text(yaml.safe_dump({"name": "bench-certs", "recorded_at": recorded}))
    (root / "endpoints.yaml").write_text(yaml.safe_dump({"tls": tls}))
    return root


def _days_after(recorded: str, days: int) -> str:
    return format_time(parse_time(recorded) + timedelta(days=days))


async def run() -> list[Figure]:
    durations: list[float] = []
    peaks: list[float] = []
    with TemporaryDirectory() as tmp:
        world = load_world(_world(Path(tmp)))
        async with TlsEndpoints(world, Path(tmp)) as tls, DnsServer(world) as dns_server:
            targets = [CertTarget(name=e.name, host=e.host, address=tls.endpoints[e.name]) for e in world.endpoints.tls]
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
            resolver.port = dns_server.port or 53
            settings = CertCheckSettings(ca_file=tls.ca_path)
            for _ in range(RUNS):
                tracemalloc.start()
                started = time.perf_counter()
                result = await run_cert_expiry(targets, settings, resolver=DnsPythonResolver(resolver))
                durations.append(time.perf_counter() - started)
                peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
                tracemalloc.stop()
                assert result.checked == ENDPOINTS, f"only {result.checked} of {ENDPOINTS} certificates read"
    return [
        Figure(f"cert-expiry check, {ENDPOINTS} endpoints, median", median(durations), "s", 10.0),
        Figure("cert-expiry check, peak Python allocations", max(peaks), "MiB"),
    ]

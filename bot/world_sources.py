"""A world's sandbox as `Sources`: the only place production wiring learns about worlds."""

from __future__ import annotations

from pathlib import Path

from agents.catalog import Service
from bot.sources import PROJECT_RUNBOOKS, Sources
from sandbox.up import SandboxEndpoints
from sandbox.world import World
from tools.certificates.tls_probe import CertTarget

DEFAULT_DATABASE = "app"


def world_sources(world: World, endpoints: SandboxEndpoints) -> Sources:
    services = [Service(**service.model_dump()) for service in world.meta.services]
    names = [service.database for service in services if service.database] or [DEFAULT_DATABASE]
    host, _, port = endpoints.dns.rpartition(":")
    return Sources(
        kubeconfig=endpoints.kubeconfig,
        write_kubeconfig=endpoints.kubeconfig,
        prometheus_url=endpoints.prometheus,
        databases=dict.fromkeys(dict.fromkeys(names), endpoints.database) if endpoints.database else {},
        github_url=endpoints.github,
        runbook_dirs=[PROJECT_RUNBOOKS, *sorted({path.parent for path in world.runbook_paths})],
        cert_targets=[
            CertTarget(name=endpoint.name, host=endpoint.host, address=endpoints.tls[endpoint.name])
            for endpoint in world.endpoints.tls
            if endpoint.name in endpoints.tls
        ],
        ca_file=Path(endpoints.ca),
        dns_nameserver=(host or "127.0.0.1", int(port)) if port else None,
        services=services,
    )

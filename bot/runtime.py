"""The composition root: config and sources in, a running set of tool servers and agents out.

`open_runtime` is used by every command that answers questions (`run`, `ask`, `demo`, `eval`),
so the CLI, the demo and production share one wiring. The read-only toolbox and the write
toolbox are separate sessions: the agents that read untrusted data never hold the one that
changes infrastructure; only the remediation service does, after policy accepted an approval.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.asyncresolver
from mcp.server.mcpserver import MCPServer

from agents.assistant import Assistant
from agents.catalog import Catalog
from agents.remediation.executor import McpExecutor
from agents.remediation.service import RemediationService
from agents.remediation.verifier import RolloutVerifier
from agents.specialists.certificates import certificates_specialist
from agents.specialists.changes import changes_specialist
from agents.specialists.database import database_specialist
from agents.specialists.kubernetes import kubernetes_specialist
from agents.specialists.metrics import metrics_specialist
from agents.specialists.runbooks import runbooks_specialist
from agents.toolbox import Toolbox
from bot.config import Config
from bot.sources import Sources
from guardrails.policy import Policy
from guardrails.redaction import Redactor
from store import open_store
from store.base import Store
from tools.certificates.acme_dns import DnsPythonResolver
from tools.certificates.cert_expiry import CertCheckSettings
from tools.certificates.server import ClusterObjects
from tools.certificates.server import build_server as certificates_server
from tools.changes.models import GithubTarget
from tools.changes.server import build_server as changes_server
from tools.database.models import DatabaseTarget
from tools.database.server import build_server as database_server
from tools.incidents.server import build_server as incidents_server
from tools.kubernetes.actions_server import build_actions_server
from tools.kubernetes.client import KubeBackend
from tools.kubernetes.server import build_server as kubernetes_server
from tools.metrics.client import PrometheusBackend
from tools.metrics.server import build_server as metrics_server

CLUSTER_KINDS_FOR_CERTIFICATES = ("Ingress", "Secret", "ConfigMap")


@dataclass
class Runtime:
    config: Config
    sources: Sources
    store: Store
    redactor: Redactor
    toolbox: Toolbox
    assistant: Assistant
    remediation: RemediationService


def _kube_backend(sources: Sources, *, write: bool = False) -> KubeBackend | None:
    if sources.in_cluster and not write:
        return KubeBackend.in_cluster()
    path = (sources.write_kubeconfig if write else None) or sources.kubeconfig
    context = (sources.write_context if write else None) or sources.kube_context
    return KubeBackend.from_kubeconfig(path, context=context) if path else None


def read_servers(sources: Sources, store: Store, redactor: Redactor) -> dict[str, MCPServer]:
    """The model-visible catalog: read-only servers only."""
    servers: dict[str, MCPServer] = {}
    kube = _kube_backend(sources)
    if kube is not None:
        servers["kubernetes"] = kubernetes_server(kube)
    if sources.databases:
        servers["database"] = database_server(
            {
                name: DatabaseTarget(
                    name=name, dsn=dsn, statement_timeout_ms=sources.statement_timeout_ms, max_rows=sources.max_rows
                )
                for name, dsn in sources.databases.items()
            },
            redactor,
        )
    if sources.prometheus_url:
        servers["metrics"] = metrics_server(
            PrometheusBackend(sources.prometheus_url, disable_ssl=not sources.prometheus_verify_tls)
        )
    servers["incidents"] = incidents_server(sources.runbook_dirs, store)
    repos = [service.repo for service in sources.services if service.repo]
    if sources.github_url and repos:
        servers["changes"] = changes_server(
            GithubTarget(base_url=sources.github_url, token=sources.github_token),
            repos,
            {service.name: service.repo for service in sources.services if service.repo},
        )
    if sources.cert_targets or kube is not None:
        servers["certificates"] = certificates_server(
            sources.cert_targets,
            CertCheckSettings(ca_file=sources.ca_file),
            _resolver(sources),
            _cluster_objects(kube) if kube is not None else None,
        )
    return servers


def _resolver(sources: Sources) -> DnsPythonResolver:
    if sources.dns_nameserver is None:
        return DnsPythonResolver()
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [sources.dns_nameserver[0]]
    resolver.port = sources.dns_nameserver[1]
    return DnsPythonResolver(resolver)


def _cluster_objects(kube: KubeBackend) -> ClusterObjects:
    async def objects() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for kind in CLUSTER_KINDS_FOR_CERTIFICATES:
            found.extend(await kube.list_objects(kind))
        return found

    return objects


@contextlib.asynccontextmanager
async def open_runtime(config: Config, sources: Sources, *, store_url: str | None = None) -> AsyncIterator[Runtime]:
    redactor = Redactor(
        allow_list=config.redaction.allow_list, name_columns=config.redaction.name_columns, ner=config.redaction.ner
    )
    store = await open_store(store_url or config.store_url)
    try:
        catalog = Catalog(sources.services)
        async with Toolbox(read_servers(sources, store, redactor), store=store) as toolbox:
            write_backend = _kube_backend(sources, write=True)
            write_servers = {"kubernetes-actions": build_actions_server(write_backend)} if write_backend else {}
            async with Toolbox(write_servers, store=store) as writes:
                assistant = Assistant(
                    toolbox,
                    catalog,
                    {
                        "kubernetes": kubernetes_specialist,
                        "database": database_specialist,
                        "certificates": certificates_specialist,
                        "changes": changes_specialist,
                        "runbooks": runbooks_specialist,
                        "metrics": metrics_specialist,
                    },
                    actions=config.policy.actions,
                    redactor=redactor,
                    channels=config.channels,
                    store=store,
                )
                remediation = RemediationService(
                    store,
                    Policy(config.policy, config.access, config.channels),
                    McpExecutor(writes),
                    RolloutVerifier(toolbox),
                )
                yield Runtime(config, sources, store, redactor, toolbox, assistant, remediation)
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def scratch_data_dir() -> AsyncIterator[Path]:
    """A throwaway data directory (mode 0700) for world runs, so `ask`/`eval`/`demo` never touch real state."""
    with tempfile.TemporaryDirectory(prefix="whisperer-run-") as directory:
        yield Path(directory)

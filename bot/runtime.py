"""The composition root: config and sources in, a running set of tool servers and agents out.

`open_runtime` is used by every command that answers questions (`run`, `ask`, `demo`, `eval`),
so the CLI, the demo and production share one wiring. The read-only toolbox and the write
toolbox are separate sessions: the agents that read untrusted data never hold the one that
changes infrastructure; only the remediation service does, after policy accepted an approval.
External MCP servers from the config join the read toolbox, never the write one.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mcp.client.stdio import StdioServerParameters
from mcp.server.mcpserver import MCPServer

from agents.advisor import MODEL_SOURCE, Advisor
from agents.assistant import Assistant
from agents.catalog import Catalog
from agents.llm.planner import build_advisor
from agents.llm.settings import ModelSettings
from agents.remediation.executor import McpExecutor
from agents.remediation.service import GroupResolver, RemediationService
from agents.remediation.verifier import RolloutVerifier
from agents.specialists.certificates import certificates_specialist
from agents.specialists.changes import changes_specialist
from agents.specialists.database import database_specialist
from agents.specialists.kubernetes import kubernetes_specialist
from agents.specialists.metrics import metrics_specialist
from agents.specialists.runbooks import runbooks_specialist
from agents.toolbox import ClientTarget, Toolbox
from bot.config import DEFAULT_CHROMIUM, CheckConfig, Config, ExternalMcpServer
from bot.observability.audit_metrics import ObservedStore
from bot.observability.metrics import BotMetrics
from bot.sources import Sources
from guardrails.policy import Policy
from guardrails.redaction import Redactor
from store import open_store
from store.base import Store
from tools.certificates.cert_expiry import CertCheckSettings
from tools.certificates.server import build_server as certificates_server
from tools.certificates.server import kube_cluster_objects, nameserver_resolver
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
from tools.web.server import build_server as web_server

CERT_EXPIRY = "cert-expiry"


@dataclass
class Runtime:
    config: Config
    sources: Sources
    store: Store
    redactor: Redactor
    toolbox: Toolbox
    assistant: Assistant
    remediation: RemediationService
    metrics: BotMetrics | None = None


def _kube_backend(sources: Sources, *, write: bool = False) -> KubeBackend | None:
    if sources.in_cluster and not write:
        return KubeBackend.in_cluster()
    path = (sources.write_kubeconfig if write else None) or sources.kubeconfig
    context = (sources.write_context if write else None) or sources.kube_context
    return KubeBackend.from_kubeconfig(path, context=context) if path else None


def read_servers(
    sources: Sources,
    store: Store,
    redactor: Redactor,
    chromium: Path = DEFAULT_CHROMIUM,
    cert_check: CheckConfig | None = None,
) -> dict[str, MCPServer]:
    """Our model-visible servers: read-only ones only; `web` only where its browser is installed.

    `cert_check` (the config's `checks.cert-expiry`) sets the expiry thresholds, so the scheduled
    check and a question in a thread call a certificate "expiring" at the same point.
    """
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
            _cert_settings(cert_check or CheckConfig(), sources.ca_file),
            nameserver_resolver(sources.dns_nameserver),
            kube_cluster_objects(kube) if kube is not None else None,
        )
    if shutil.which(str(chromium)) is not None:
        servers["web"] = web_server(str(chromium))
    return servers


def _cert_settings(check: CheckConfig, ca_file: Path | None) -> CertCheckSettings:
    return CertCheckSettings(warn_days=check.warn_days, critical_days=check.critical_days, ca_file=ca_file)


def external_servers(servers: Sequence[ExternalMcpServer]) -> dict[str, ClientTarget]:
    """The operator's MCP servers as client targets.

    A stdio server gets the environment its config entry names on top of the MCP SDK's minimal
    one (PATH, HOME, ...), never the bot's own: the bot's tokens are not a third party's business.
    """
    targets: dict[str, ClientTarget] = {}
    for server in servers:
        if server.url is not None:
            targets[server.name] = server.url
        elif server.command:
            command, *args = server.command
            targets[server.name] = StdioServerParameters(command=command, args=args, env=dict(server.env))
    return targets


@contextlib.asynccontextmanager
async def open_runtime(
    config: Config,
    sources: Sources,
    *,
    store_url: str | None = None,
    groups: GroupResolver | None = None,
    advisor: Advisor | None = None,
    metrics: BotMetrics | None = None,
) -> AsyncIterator[Runtime]:
    """`groups` resolves a Slack user's approver groups; without it (no Slack) only listed approvers count.

    `advisor` puts a model behind the assistant's seam; without one, the configured models (if
    any) are used, and with none the answers stay deterministic and LiteLLM is never imported.
    With `metrics`, every audit event is counted there (the store everything gets is observed).
    """
    redactor = Redactor(
        allow_list=config.redaction.allow_list, name_columns=config.redaction.name_columns, ner=config.redaction.ner
    )
    store: Store = await open_store(store_url or config.store_url)
    if metrics is not None:
        store = ObservedStore(store, metrics)
    try:
        catalog = Catalog(sources.services)
        readers = {
            **read_servers(sources, store, redactor, config.web.chromium, config.checks.get(CERT_EXPIRY)),
            **external_servers(config.mcp.external),
        }
        async with Toolbox(readers, store=store) as toolbox:
            write_backend = _kube_backend(sources, write=True)
            write_servers = {"kubernetes-actions": build_actions_server(write_backend)} if write_backend else {}
            async with Toolbox(write_servers, store=store) as writes:
                limits: dict[str, float] = {}
                if advisor is None and config.models.enabled:
                    settings = ModelSettings.model_validate(config.models.model_dump())
                    llm = build_advisor(settings, redactor, store, toolbox)
                    advisor, limits = llm, {MODEL_SOURCE: llm.time_limit_s}
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
                    advisor=advisor,
                    time_limits=limits,
                )
                policy = Policy(config.policy, config.access, config.channels)
                timing = config.remediation
                executor = McpExecutor(writes)
                verifier = RolloutVerifier(toolbox, timeout_s=timing.verify_timeout_s)
                takeover = timedelta(seconds=timing.takeover_after_s)
                remediation = (
                    RemediationService(store, policy, executor, verifier, takeover_after=takeover)
                    if groups is None
                    else RemediationService(store, policy, executor, verifier, groups=groups, takeover_after=takeover)
                )
                yield Runtime(config, sources, store, redactor, toolbox, assistant, remediation, metrics)
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def scratch_data_dir() -> AsyncIterator[Path]:
    """A throwaway data directory (mode 0700) for world runs, so `ask`/`eval`/`demo` never touch real state."""
    with tempfile.TemporaryDirectory(prefix="whisperer-run-") as directory:
        yield Path(directory)

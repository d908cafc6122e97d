"""Where each tool server's data lives: the configured infrastructure, or a world's sandbox.

Everything downstream (tool servers, agents) is built from a `Sources` value and cannot tell
which of the two it is talking to.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agents.catalog import Service
from bot.config import Config
from tools.certificates.tls_probe import CertTarget

PROJECT_RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"


class Sources(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kubeconfig: str | None = None
    kube_context: str | None = None
    in_cluster: bool = False
    write_kubeconfig: str | None = Field(default=None, description="the separate identity remediation writes with")
    write_context: str | None = None
    prometheus_url: str | None = None
    prometheus_verify_tls: bool = True
    databases: dict[str, str] = Field(default_factory=dict, description="name -> DSN of a read-only role")
    statement_timeout_ms: int = 5000
    max_rows: int = 100
    github_url: str | None = None
    github_token: str | None = None
    runbook_dirs: list[Path] = Field(default_factory=lambda: [PROJECT_RUNBOOKS])
    cert_targets: list[CertTarget] = Field(default_factory=list)
    ca_file: Path | None = None
    dns_nameserver: tuple[str, int] | None = Field(default=None, description="None: the system resolver")
    services: list[Service] = Field(default_factory=list)


def configured_sources(config: Config, environ: dict[str, str]) -> Sources:
    cluster = config.kubernetes.clusters[0] if config.kubernetes.clusters else None
    cert_check = config.checks.get("cert-expiry")
    first_db = config.databases[0] if config.databases else None
    return Sources(
        kubeconfig=str(cluster.kubeconfig) if cluster and cluster.kubeconfig else None,
        kube_context=cluster.context if cluster else None,
        in_cluster=bool(cluster and cluster.in_cluster),
        write_kubeconfig=str(cluster.write_kubeconfig) if cluster and cluster.write_kubeconfig else None,
        write_context=cluster.write_context if cluster else None,
        prometheus_url=config.prometheus.url,
        prometheus_verify_tls=config.prometheus.verify_tls,
        databases={database.name: database.dsn for database in config.databases},
        statement_timeout_ms=first_db.statement_timeout_ms if first_db else 5000,
        max_rows=first_db.max_rows if first_db else 100,
        github_url=config.github.base_url,
        github_token=environ.get("GITHUB_TOKEN") or None,
        cert_targets=[
            CertTarget(name=entry, host=entry.rsplit(":", 1)[0], address=entry)
            for entry in (cert_check.endpoints if cert_check else [])
        ],
        services=list(config.services),
    )

"""The scheduled checks by name: what `checks:` in the config and `whisperer check NAME` accept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agents.toolbox import Toolbox
from scheduled_checks import alerts_digest, cert_expiry, unknown_check, workload_health
from scheduled_checks.models import CheckResult
from tools.findings import Finding


class UnknownCheckError(Exception):
    """No check has this name; str() names the ones that exist."""


@dataclass(frozen=True)
class ScheduledCheck:
    name: str
    title: str
    run: Callable[[Toolbox], Awaitable[CheckResult]]
    key: Callable[[Finding], str]
    """Stays the same while the same thing stays wrong, so the store can tell a repeat from news."""
    question: Callable[[Finding, str | None], str]
    """What Investigate asks the agents about a finding (given its owning service, if known)."""
    source: str
    """The MCP server the check cannot run without."""
    setup: str
    """What to configure when that server is missing."""


CHECKS: dict[str, ScheduledCheck] = {
    check.name: check
    for check in (
        ScheduledCheck(
            name="cert-expiry",
            title="Certificate expiry",
            run=cert_expiry.run,
            key=cert_expiry.key,
            question=cert_expiry.question,
            source=cert_expiry.SERVER,
            setup="list host:port entries under checks.cert-expiry.endpoints, or configure a Kubernetes cluster",
        ),
        ScheduledCheck(
            name="alerts-digest",
            title="Firing alerts",
            run=alerts_digest.run,
            key=alerts_digest.key,
            question=alerts_digest.question,
            source=alerts_digest.SERVER,
            setup="set prometheus.url",
        ),
        ScheduledCheck(
            name="workload-health",
            title="Workload health",
            run=workload_health.run,
            key=workload_health.key,
            question=workload_health.question,
            source=workload_health.KUBERNETES,
            setup="configure a cluster under kubernetes.clusters",
        ),
    )
}


def get_check(name: str) -> ScheduledCheck:
    if name not in CHECKS:
        raise UnknownCheckError(unknown_check(name))
    return CHECKS[name]

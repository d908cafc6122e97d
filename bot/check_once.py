"""`whisperer check NAME --once`: one scheduled check run now, its findings printed for a person.

The check runs exactly as a scheduled run does, through the runtime's MCP toolbox: with
`--world` against the world's sandbox (real TLS listeners, DNS server, Kubernetes API and
Prometheus), without it against the configured systems. Nothing is posted or remembered.
"""

from __future__ import annotations

from agents.toolbox import Toolbox, ToolError
from scheduled_checks.models import CheckResult
from scheduled_checks.registry import get_check
from tools.findings import Finding


class CheckUnavailableError(Exception):
    """The check cannot run here (its source is not configured or not answering); str() is one line."""


async def run_check_once(name: str, toolbox: Toolbox) -> str:
    """The run's findings as text; raises `UnknownCheckError` for a name no check has."""
    check = get_check(name)
    if check.source not in toolbox.servers:
        raise CheckUnavailableError(f"nothing to check: {check.setup}")
    try:
        result = await check.run(toolbox)
    except ToolError as error:
        raise CheckUnavailableError(f"{name} could not run: {error}") from None
    return render_result(result)


def render_result(result: CheckResult) -> str:
    lines = [_render_finding(finding) for finding in result.findings]
    problems = f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''}"
    lines.append(f"{result.checked}, {problems}")
    return "\n".join(lines)


def _render_finding(finding: Finding) -> str:
    evidence = "".join(f"\n    {line}" for line in finding.evidence.splitlines() if line.strip())
    return f"[{finding.severity.value}] {finding.summary}{evidence}"

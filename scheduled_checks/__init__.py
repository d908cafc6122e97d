"""Proactive checks the bot runs on a schedule and posts as channel digests.

Each check is a plain async function over the same MCP toolbox the specialists use
(`registry.CHECKS` names them); `routing` finds the owning team's channel, `dedupe` decides what
is worth saying again, and `scheduler` runs them inside the bot process.
"""

CHECK_NAMES = ("cert-expiry", "alerts-digest", "workload-health")
"""Kept here, apart from the registry, so validating a config does not import every tool client."""


def unknown_check(name: str) -> str:
    """The one line naming the checks that do exist."""
    return f"unknown check {name!r} (available: {', '.join(sorted(CHECK_NAMES))})"

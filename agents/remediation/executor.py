"""Runs an approved proposal through the Kubernetes actions MCP server.

The tool and its arguments are built only from the typed proposal's fields, through a fixed table
per action: nothing a model wrote in prose can choose a tool, add an argument or name another
object. A proposal the table cannot express is refused before anything is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.toolbox import Toolbox, ToolError
from guardrails.proposals import Proposal, Target
from tools.findings import ObjectRef
from tools.kubernetes.models import ActionResult

ACTIONS_SERVER = "kubernetes-actions"
_WRITE_TIMEOUT_S = 60.0
"""A rollout write returns once the API accepted it; a minute covers a slow API server, not the rollout."""


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _replicas(params: dict[str, Any]) -> dict[str, Any]:
    return {"replicas": params["replicas"]}


def _revision(params: dict[str, Any]) -> dict[str, Any]:
    return {"to_revision": params["to_revision"]} if "to_revision" in params else {}


def _no_params(params: dict[str, Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ActionSpec:
    """How one catalog action maps to a tool call, and how the thread words it."""

    kind: str
    namespaced: bool
    done: str
    to_do: str
    params: Callable[[dict[str, Any]], dict[str, Any]]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()


SPECS: dict[str, ActionSpec] = {
    "restart_deployment": ActionSpec("Deployment", True, "Restarted", "restart", _no_params),
    "scale_deployment": ActionSpec("Deployment", True, "Scaled", "scale", _replicas, frozenset({"replicas"})),
    "rollback_deployment": ActionSpec(
        "Deployment", True, "Rolled back", "roll back", _revision, optional=frozenset({"to_revision"})
    ),
    "delete_pod": ActionSpec("Pod", True, "Deleted", "delete", _no_params),
    "cordon_node": ActionSpec("Node", False, "Cordoned", "cordon", _no_params),
}


def _object(target: Target) -> str:
    """ "deployment shop/payment-service", the way people say it in a thread."""
    where = f"{target.namespace}/{target.name}" if target.namespace else target.name
    return f"{target.kind.lower()} {where}"


def describe_done(proposal: Proposal) -> str:
    """ "Restarted deployment shop/payment-service", "Scaled deployment shop/api to 4 replicas"."""
    spec = SPECS.get(proposal.action)
    if spec is None:
        return f"Ran {proposal.action} on {_object(proposal.target)}"
    text = f"{spec.done} {_object(proposal.target)}"
    if "replicas" in proposal.params:
        text += f" to {proposal.params['replicas']} replicas"
    if "to_revision" in proposal.params:
        text += f" to revision {proposal.params['to_revision']}"
    return text


def describe_attempt(proposal: Proposal) -> str:
    """ "restart deployment shop/payment-service", for "Could not ..." lines."""
    spec = SPECS.get(proposal.action)
    verb = spec.to_do if spec is not None else f"run {proposal.action} on"
    return f"{verb} {_object(proposal.target)}"


class McpExecutor:
    """Calls the actions server's tools; every outcome, failures included, is an `ActionResult`."""

    def __init__(self, toolbox: Toolbox, server: str = ACTIONS_SERVER, *, cluster: str | None = None) -> None:
        self._toolbox = toolbox
        self._server = server
        self._cluster = cluster

    def problem(self, proposal: Proposal) -> str | None:
        """Why this proposal cannot be run as typed, or None; checked before it is offered for approval."""
        spec = SPECS.get(proposal.action)
        if spec is None:
            return f"no tool runs {proposal.action}"
        target = proposal.target
        if target.kind != spec.kind:
            return f"{proposal.action} acts on a {spec.kind}, not a {target.kind}"
        if spec.namespaced != (target.namespace is not None):
            return f"{proposal.action} needs a {'namespaced' if spec.namespaced else 'cluster-scoped'} target"
        if target.cluster is not None and target.cluster != self._cluster:
            return f"{proposal.action} cannot reach cluster {target.cluster} from here"
        params = set(proposal.params)
        if missing := sorted(spec.required - params):
            return f"{proposal.action} needs {', '.join(missing)}"
        if unexpected := sorted(params - spec.required - spec.optional):
            return f"{proposal.action} takes no {', '.join(unexpected)}"
        if not all(_whole_number(proposal.params[name]) for name in params):
            return f"{proposal.action} needs whole numbers for {', '.join(sorted(params))}"
        return None

    async def run(self, proposal: Proposal, *, dry_run: bool, actor: str = "bot") -> ActionResult:
        problem = self.problem(proposal)
        if problem is not None:
            return self._failure(proposal, dry_run, problem)
        spec = SPECS[proposal.action]
        target = proposal.target
        arguments: dict[str, Any] = {"name": target.name, "dry_run": dry_run}
        if spec.namespaced:
            arguments["namespace"] = target.namespace
        arguments.update(spec.params(proposal.params))
        try:
            return await self._toolbox.call(
                self._server, proposal.action, arguments, ActionResult, actor=actor, timeout_s=_WRITE_TIMEOUT_S
            )
        except ToolError as error:
            return self._failure(proposal, dry_run, error.message)

    @staticmethod
    def _failure(proposal: Proposal, dry_run: bool, message: str) -> ActionResult:
        target = proposal.target
        return ActionResult(
            action=proposal.action,
            target=ObjectRef(kind=target.kind, namespace=target.namespace, name=target.name),
            dry_run=dry_run,
            ok=False,
            message=message,
        )

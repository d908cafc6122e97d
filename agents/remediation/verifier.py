"""Checks that a restart, rollback or scale actually left the service healthy.

An accepted API write only means the cluster started to act; the thread should say "fixed" only
once the rollout finished with every pod Ready, and say exactly what is wrong when it did not, so
the follow-up (usually a rollback) is proposed with its evidence.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict

from agents.toolbox import Toolbox, ToolError
from guardrails.proposals import Proposal
from tools.kubernetes.models import RolloutStatus

READ_SERVER = "kubernetes"
ROLLOUT_ACTIONS = frozenset({"restart_deployment", "rollback_deployment", "scale_deployment"})
_REPLACING_ACTIONS = frozenset({"restart_deployment", "rollback_deployment"})


class Verification(BaseModel):
    model_config = ConfigDict(frozen=True)

    verified: bool
    summary: str


def _settled(status: RolloutStatus) -> bool:
    return status.complete and len(status.pods) >= status.desired and all(pod.ready for pod in status.pods)


class RolloutVerifier:
    """Polls the read-only server's `rollout_status` until the rollout settles or time runs out."""

    def __init__(
        self, toolbox: Toolbox, server: str = READ_SERVER, *, timeout_s: float = 60.0, poll_s: float = 2.0
    ) -> None:
        self._toolbox = toolbox
        self._server = server
        self._timeout_s = timeout_s
        self._poll_s = poll_s

    async def verify(self, proposal: Proposal) -> Verification | None:
        """None for actions whose effect is not a rollout (a deleted pod, a cordoned node)."""
        target = proposal.target
        if proposal.action not in ROLLOUT_ACTIONS or target.namespace is None:
            return None
        arguments = {"namespace": target.namespace, "name": target.name}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        status: RolloutStatus | None = None
        error: str | None = None
        while True:
            try:
                status = await self._toolbox.call(self._server, "rollout_status", arguments, RolloutStatus)
                error = None
            except ToolError as failure:
                error = failure.message
            if status is not None and error is None and _settled(status):
                return Verification(verified=True, summary=self._healthy(status))
            if loop.time() + self._poll_s > deadline:
                return Verification(verified=False, summary=self._unhealthy(proposal, status, error))
            await asyncio.sleep(self._poll_s)

    @staticmethod
    def _healthy(status: RolloutStatus) -> str:
        revision = f" (revision {status.revision})" if status.revision else ""
        return f"Rollout complete{revision}: {status.ready} of {status.desired} pods Ready"

    def _unhealthy(self, proposal: Proposal, status: RolloutStatus | None, error: str | None) -> str:
        waited = f"after {self._timeout_s:g} s"
        if status is None or error is not None:
            return f"Could not read the rollout status of {proposal.target} {waited}: {error}"
        new = "new " if proposal.action in _REPLACING_ACTIONS else ""
        failing = [pod for pod in status.pods if not pod.ready]
        if failing:
            reasons = ", ".join(sorted({pod.status for pod in failing}))
            return f"{len(failing)} of {len(status.pods)} {new}pods are not Ready {waited}: {reasons}"
        if len(status.pods) < status.desired:
            return f"{len(status.pods)} of {status.desired} {new}pods exist {waited}: {status.message}"
        return f"Rollout not complete {waited}: {status.message}"

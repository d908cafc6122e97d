"""Remediation end to end: the service, the MCP executor and the rollout verifier against a sandbox cluster.

Writes go through a real MCP session to the actions server and the official Kubernetes client to
the sandbox's API; verification reads `rollout_status` through the read server. The module shares
one sandbox of its own (the tools tests' shared one is read-only) and each test changes a
different object, so the tests stay independent in any order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.remediation.executor import McpExecutor
from agents.remediation.service import RemediationService
from agents.remediation.verifier import RolloutVerifier
from agents.toolbox import Toolbox
from guardrails.policy import Policy
from guardrails.policy_config import AccessConfig, ChannelBinding, PolicyConfig
from guardrails.proposals import Proposal, Target
from sandbox.kube_objects import OUTCOME_ANNOTATION
from sandbox.up import Sandbox
from store import ProposalState, Store, open_store
from tests.tools.conftest import started_sandbox
from tools.kubernetes.actions_server import build_actions_server
from tools.kubernetes.client import KubeBackend
from tools.kubernetes.models import RolloutStatus
from tools.kubernetes.server import build_server

CHANNEL = "#incident-payments"


def deployment(name: str) -> Target:
    return Target(kind="Deployment", namespace="shop", name=name)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    yield from started_sandbox("payment-outage")


@pytest.fixture(scope="module")
def backend(sandbox: Sandbox) -> Iterator[KubeBackend]:
    assert sandbox.endpoints is not None
    kube = KubeBackend.from_kubeconfig(sandbox.endpoints.kubeconfig)
    yield kube
    kube.close()


@dataclass
class Wired:
    service: RemediationService
    toolbox: Toolbox
    store: Store


@asynccontextmanager
async def wired(sandbox: Sandbox, backend: KubeBackend, tmp_path: Path) -> AsyncIterator[Wired]:
    """The service as the world's config sets it up: Bob and Carol approve, #incident-payments owns shop.

    A context manager rather than a fixture: MCP sessions must close in the task that opened them.
    """
    config = sandbox.world.meta.config
    policy = Policy(
        PolicyConfig(),
        AccessConfig.model_validate(config["access"]),
        [ChannelBinding.model_validate(binding) for binding in config["channels"]],
    )
    servers = {"kubernetes": build_server(backend), "kubernetes-actions": build_actions_server(backend)}
    async with Toolbox(servers) as toolbox, await open_store(f"sqlite://{tmp_path / 'store.db'}") as store:
        assert toolbox.unavailable() == {}
        executor = McpExecutor(toolbox)
        verifier = RolloutVerifier(toolbox, timeout_s=2, poll_s=0.2)
        yield Wired(RemediationService(store, policy, executor, verifier), toolbox, store)


async def approved(service: RemediationService, proposal: Proposal) -> str:
    [stored] = await service.register([proposal], "U_ALICE", CHANNEL, None)
    decision = await service.decide(stored.id, "U_BOB", approve=True)
    assert decision.accepted, decision.message
    return stored.id


async def rollout(toolbox: Toolbox, name: str) -> RolloutStatus:
    return await toolbox.call("kubernetes", "rollout_status", {"namespace": "shop", "name": name}, RolloutStatus)


async def test_approved_restart_replaces_the_crashing_pods_and_is_verified(
    sandbox: Sandbox, backend: KubeBackend, tmp_path: Path
) -> None:
    async with wired(sandbox, backend, tmp_path) as w:
        before = await rollout(w.toolbox, "payment-service")
        restart = Proposal(action="restart_deployment", target=deployment("payment-service"))
        proposal_id = await approved(w.service, restart)

        report = await w.service.execute(proposal_id)

        after = await rollout(w.toolbox, "payment-service")
        stored = await w.store.get_proposal(proposal_id)
    assert report.executed, report.message
    assert report.message == "Restarted deployment shop/payment-service (approved by <@U_BOB>)"
    assert report.verified is True, report.verification
    assert not before.complete
    assert after.complete
    assert after.revision != before.revision
    assert {pod.name for pod in after.pods}.isdisjoint(pod.name for pod in before.pods)
    assert all(pod.ready for pod in after.pods)
    assert stored is not None and stored.state is ProposalState.VERIFIED


async def test_restart_into_a_persistent_crash_fails_verification_and_the_rollback_recovers(
    sandbox: Sandbox, backend: KubeBackend, tmp_path: Path
) -> None:
    annotation = {"metadata": {"annotations": {OUTCOME_ANNOTATION: "CrashLoopBackOff"}}}
    await backend.patch("Deployment", "shop", "cart-service", annotation, dry_run=False)
    async with wired(sandbox, backend, tmp_path) as w:
        restart_id = await approved(w.service, Proposal(action="restart_deployment", target=deployment("cart-service")))

        restart = await w.service.execute(restart_id)

        assert restart.executed
        assert restart.verified is False
        assert restart.verification == "2 of 2 new pods are not Ready after 2 s: CrashLoopBackOff"
        [rollback] = restart.follow_up
        assert (rollback.action, rollback.target) == ("rollback_deployment", deployment("cart-service"))

        rollback_report = await w.service.execute(await approved(w.service, rollback))

        final = await rollout(w.toolbox, "cart-service")
    assert rollback_report.message == "Rolled back deployment shop/cart-service (approved by <@U_BOB>)"
    assert rollback_report.verified is True, rollback_report.verification
    assert rollback_report.follow_up == []
    assert final.pods
    assert all(pod.ready for pod in final.pods)


async def test_approved_scale_changes_the_pod_count(sandbox: Sandbox, backend: KubeBackend, tmp_path: Path) -> None:
    scale = Proposal(action="scale_deployment", target=deployment("orders-service"), params={"replicas": 3})
    async with wired(sandbox, backend, tmp_path) as w:
        report = await w.service.execute(await approved(w.service, scale))

        status = await rollout(w.toolbox, "orders-service")
    assert report.message == "Scaled deployment shop/orders-service to 3 replicas (approved by <@U_BOB>)"
    assert report.verified is True, report.verification
    assert (status.desired, status.ready, len(status.pods)) == (3, 3, 3)


async def test_dry_run_changes_nothing(sandbox: Sandbox, backend: KubeBackend, tmp_path: Path) -> None:
    restart = Proposal(action="restart_deployment", target=deployment("frontend"))
    async with wired(sandbox, backend, tmp_path) as w:
        before = await rollout(w.toolbox, "frontend")

        result = await McpExecutor(w.toolbox).run(restart, dry_run=True)

        after = await rollout(w.toolbox, "frontend")
    assert result.ok, result.message
    assert result.dry_run
    assert (after.revision, [pod.name for pod in after.pods]) == (before.revision, [pod.name for pod in before.pods])


async def test_missing_deployment_is_not_offered_because_its_dry_run_fails(
    sandbox: Sandbox, backend: KubeBackend, tmp_path: Path
) -> None:
    missing = Proposal(action="restart_deployment", target=deployment("no-such-service"))
    async with wired(sandbox, backend, tmp_path) as w:
        registration = await w.service.register_all([missing], "U_ALICE", CHANNEL, None)
        pending = await w.service.pending()

    assert registration.stored == [] and pending == []
    [refusal] = registration.refused
    assert refusal.reason.startswith("its dry run failed:")
    assert "no-such-service" in refusal.reason and "\n" not in refusal.reason


async def test_the_proposal_shows_what_its_dry_run_said(sandbox: Sandbox, backend: KubeBackend, tmp_path: Path) -> None:
    restart = Proposal(action="restart_deployment", target=deployment("payment-service"))
    async with wired(sandbox, backend, tmp_path) as w:
        before = await rollout(w.toolbox, "payment-service")
        [stored] = await w.service.register([restart], "U_ALICE", CHANNEL, None)
        after = await rollout(w.toolbox, "payment-service")

    assert "would have restarted deployment shop/payment-service" in stored.payload["dry_run"]
    assert after.generation == before.generation, "a dry run changes nothing"


async def test_cordon_marks_the_node_unschedulable(sandbox: Sandbox, backend: KubeBackend, tmp_path: Path) -> None:
    node = (await backend.list_objects("Node"))[0]["metadata"]["name"]
    cordon = Proposal(action="cordon_node", target=Target(kind="Node", name=node))
    async with wired(sandbox, backend, tmp_path) as w:
        result = await McpExecutor(w.toolbox).run(cordon, dry_run=False)
        verification = await RolloutVerifier(w.toolbox).verify(cordon)

    assert result.ok, result.message
    assert (await backend.get("Node", None, node))["spec"].get("unschedulable") is True
    assert verification is None


async def test_verifier_reports_an_unreadable_rollout(sandbox: Sandbox, backend: KubeBackend, tmp_path: Path) -> None:
    missing = Proposal(action="restart_deployment", target=deployment("no-such-service"))
    async with wired(sandbox, backend, tmp_path) as w:
        verification = await RolloutVerifier(w.toolbox, timeout_s=0.3, poll_s=0.1).verify(missing)

    assert verification is not None
    assert not verification.verified
    assert verification.summary.startswith(
        "Could not read the rollout status of Deployment shop/no-such-service after 0.3 s: "
    )


@pytest.mark.parametrize(
    ("proposal", "problem"),
    [
        (Proposal(action="restart_deployment", target=deployment("api")), None),
        (Proposal(action="rollback_deployment", target=deployment("api"), params={"to_revision": 4}), None),
        (Proposal(action="delete_namespace", target=Target(kind="Namespace", name="shop")), "no tool runs"),
        (
            Proposal(action="restart_deployment", target=Target(kind="StatefulSet", namespace="shop", name="db")),
            "restart_deployment acts on a Deployment, not a StatefulSet",
        ),
        (
            Proposal(action="restart_deployment", target=Target(kind="Deployment", name="api")),
            "needs a namespaced target",
        ),
        (
            Proposal(action="cordon_node", target=Target(kind="Node", namespace="shop", name="n1")),
            "needs a cluster-scoped target",
        ),
        (Proposal(action="scale_deployment", target=deployment("api")), "scale_deployment needs replicas"),
        (
            Proposal(action="scale_deployment", target=deployment("api"), params={"replicas": "3 --all"}),
            "needs whole numbers for replicas",
        ),
        (
            Proposal(action="restart_deployment", target=deployment("api"), params={"selector": "app in (a,b)"}),
            "restart_deployment takes no selector",
        ),
        (
            Proposal(
                action="restart_deployment",
                target=Target(kind="Deployment", namespace="shop", name="api", cluster="prod-us"),
            ),
            "cannot reach cluster prod-us",
        ),
    ],
    ids=lambda value: value.action if isinstance(value, Proposal) else None,
)
def test_only_typed_proposals_the_tool_table_expresses_can_run(proposal: Proposal, problem: str | None) -> None:
    found = McpExecutor(Toolbox({}), cluster="prod-eu").problem(proposal)

    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found

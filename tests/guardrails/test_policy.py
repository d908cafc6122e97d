"""The action policy, one table per rule: who may ask, where, for what, and who may approve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from guardrails.policy import Policy
from guardrails.policy_config import AccessConfig, ActionRule, ChannelBinding, Freeze, PolicyConfig
from guardrails.proposals import Proposal, Target

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CHANNEL = "#incident-payments"


def proposal(action: str = "restart_deployment", **overrides: Any) -> Proposal:
    target = overrides.pop("target", Target(kind="Deployment", namespace="shop", name="payment-service"))
    return Proposal(action=action, target=target, **overrides)


def policy(
    *,
    config: dict[str, Any] | None = None,
    access: dict[str, Any] | None = None,
    channels: list[ChannelBinding] | None = None,
    default_cluster: str | None = None,
) -> Policy:
    access_config = {
        "requesters": ["U_ALICE", "U_BOB", "U_CAROL"],
        "approvers": ["U_BOB", "U_CAROL"],
        "approver_groups": ["S_SRE"],
        "admins": ["U_ADMIN"],
        **(access or {}),
    }
    bindings = [ChannelBinding(channel=CHANNEL, namespaces=["shop"])] if channels is None else channels
    return Policy(
        PolicyConfig.model_validate(config or {}),
        AccessConfig.model_validate(access_config),
        bindings,
        default_cluster=default_cluster,
    )


PROPOSAL_CASES: list[tuple[str, Policy, Proposal, str, str, int, str | None]] = [
    # id, policy, proposal, requester, channel, recent executions, refusal (None = allowed)
    ("catalog restart", policy(), proposal(), "U_ALICE", CHANNEL, 0, None),
    ("unknown action", policy(), proposal("delete_namespace"), "U_ALICE", CHANNEL, 0, "not in the action catalog"),
    (
        "action removed from catalog",
        policy(config={"actions": {"scale_deployment": {}}}),
        proposal(),
        "U_ALICE",
        CHANNEL,
        0,
        "restart_deployment is not in the action catalog",
    ),
    ("stranger requester", policy(), proposal(), "U_MALLORY", CHANNEL, 0, "U_MALLORY is not allowed to request"),
    ("admin requester", policy(), proposal(), "U_ADMIN", CHANNEL, 0, None),
    ("anyone when requesters empty", policy(access={"requesters": []}), proposal(), "U_MALLORY", CHANNEL, 0, None),
    ("channel name without #", policy(), proposal(), "U_ALICE", "Incident-Payments", 0, None),
    ("unbound channel", policy(), proposal(), "U_ALICE", "#random", 0, "#random is not bound to any namespace"),
    ("no bindings at all", policy(channels=[]), proposal(), "U_ALICE", "#random", 0, None),
    (
        "namespace outside binding",
        policy(),
        proposal(target=Target(kind="Deployment", namespace="checkout", name="orders")),
        "U_ALICE",
        CHANNEL,
        0,
        "Deployment checkout/orders is outside what #incident-payments may change",
    ),
    (
        "cluster-scoped target from namespace-bound channel",
        policy(),
        proposal("cordon_node", target=Target(kind="Node", name="node-1")),
        "U_ALICE",
        CHANNEL,
        0,
        "Node node-1 is outside what",
    ),
    (
        "second binding of the same channel",
        policy(channels=[ChannelBinding(channel=CHANNEL, namespaces=["shop"]), ChannelBinding(channel=CHANNEL)]),
        proposal("cordon_node", target=Target(kind="Node", name="node-1")),
        "U_ALICE",
        CHANNEL,
        0,
        None,
    ),
    (
        "cluster in binding",
        policy(channels=[ChannelBinding(channel=CHANNEL, namespaces=["shop"], clusters=["prod-eu"])]),
        proposal(target=Target(kind="Deployment", namespace="shop", name="payment-service", cluster="prod-eu")),
        "U_ALICE",
        CHANNEL,
        0,
        None,
    ),
    (
        "cluster outside binding",
        policy(channels=[ChannelBinding(channel=CHANNEL, namespaces=["shop"], clusters=["prod-eu"])]),
        proposal(target=Target(kind="Deployment", namespace="shop", name="payment-service", cluster="prod-us")),
        "U_ALICE",
        CHANNEL,
        0,
        "outside what",
    ),
    (
        "default cluster stands in for an unnamed one",
        policy(
            channels=[ChannelBinding(channel=CHANNEL, namespaces=["shop"], clusters=["prod-eu"])],
            default_cluster="prod-eu",
        ),
        proposal(),
        "U_ALICE",
        CHANNEL,
        0,
        None,
    ),
    (
        "unnamed cluster with no default",
        policy(channels=[ChannelBinding(channel=CHANNEL, namespaces=["shop"], clusters=["prod-eu"])]),
        proposal(),
        "U_ALICE",
        CHANNEL,
        0,
        "outside what",
    ),
    (
        "scale within bounds",
        policy(),
        proposal("scale_deployment", params={"replicas": 20}),
        "U_ALICE",
        CHANNEL,
        0,
        None,
    ),
    (
        "scale above max",
        policy(),
        proposal("scale_deployment", params={"replicas": 21}),
        "U_ALICE",
        CHANNEL,
        0,
        "21 replicas is above the maximum of 20",
    ),
    (
        "scale below min",
        policy(),
        proposal("scale_deployment", params={"replicas": 0}),
        "U_ALICE",
        CHANNEL,
        0,
        "0 replicas is below the minimum of 1",
    ),
    ("scale without replicas", policy(), proposal("scale_deployment"), "U_ALICE", CHANNEL, 0, "number of replicas"),
    (
        "scale with text replicas",
        policy(),
        proposal("scale_deployment", params={"replicas": "3; kubectl delete ns shop"}),
        "U_ALICE",
        CHANNEL,
        0,
        "number of replicas",
    ),
    (
        "scale with boolean replicas",
        policy(),
        proposal("scale_deployment", params={"replicas": True}),
        "U_ALICE",
        CHANNEL,
        0,
        "number of replicas",
    ),
    (
        "freeze on the namespace",
        policy(config={"freezes": [Freeze(start=NOW, end=NOW + timedelta(hours=2), namespaces=["shop"])]}),
        proposal(),
        "U_ALICE",
        CHANNEL,
        0,
        "Deployment shop/payment-service is frozen until 2026-11-21 14:00 UTC (change freeze)",
    ),
    (
        "freeze on every namespace, naive times are UTC",
        policy(config={"freezes": [{"start": "2026-11-21T11:00:00", "end": "2026-11-21T13:00:00", "reason": "BFCM"}]}),
        proposal(),
        "U_ALICE",
        CHANNEL,
        0,
        "frozen until 2026-11-21 13:00 UTC (BFCM)",
    ),
    (
        "freeze on another namespace",
        policy(config={"freezes": [Freeze(start=NOW, end=NOW + timedelta(hours=2), namespaces=["checkout"])]}),
        proposal(),
        "U_ALICE",
        CHANNEL,
        0,
        None,
    ),
    (
        "freeze that has ended",
        policy(config={"freezes": [Freeze(start=NOW - timedelta(hours=2), end=NOW)]}),
        proposal(),
        "U_ALICE",
        CHANNEL,
        0,
        None,
    ),
    ("under the rate limit", policy(), proposal(), "U_ALICE", CHANNEL, 2, None),
    (
        "at the rate limit",
        policy(),
        proposal(),
        "U_ALICE",
        CHANNEL,
        3,
        "Deployment shop/payment-service already had 3 actions in the last hour (limit 3)",
    ),
]


@pytest.mark.parametrize(
    ("rules", "item", "requester", "channel", "recent", "refusal"),
    [case[1:] for case in PROPOSAL_CASES],
    ids=[case[0] for case in PROPOSAL_CASES],
)
def test_check_proposal(
    rules: Policy, item: Proposal, requester: str, channel: str, recent: int, refusal: str | None
) -> None:
    verdict = rules.check_proposal(item, requester, channel, NOW, recent_executions=recent)

    assert verdict.allowed is (refusal is None), verdict.reason
    if refusal is not None:
        assert refusal in verdict.reason
    assert "\n" not in verdict.reason


APPROVAL_CASES: list[tuple[str, Policy, Proposal, str, str, set[str], list[str], str | None]] = [
    # id, policy, proposal, requester, approver, approver's groups, prior approvers, refusal (None = allowed)
    ("listed approver", policy(), proposal(), "U_ALICE", "U_BOB", set(), [], None),
    ("admin", policy(), proposal(), "U_ALICE", "U_ADMIN", set(), [], None),
    ("approver group member", policy(), proposal(), "U_ALICE", "U_DAVE", {"S_OTHER", "S_SRE"}, [], None),
    (
        "stranger",
        policy(),
        proposal(),
        "U_ALICE",
        "U_DAVE",
        {"S_OTHER"},
        [],
        "U_DAVE is not allowed to approve restart_deployment",
    ),
    (
        "requester who is no approver",
        policy(),
        proposal(),
        "U_ALICE",
        "U_ALICE",
        set(),
        [],
        "U_ALICE is not allowed to approve",
    ),
    (
        "own request",
        policy(access={"requesters": []}),
        proposal(),
        "U_REQ",
        "U_REQ",
        {"S_SRE"},
        [],
        "U_REQ cannot approve their own request (two-person rule)",
    ),
    (
        "own request when the policy allows it",
        policy(config={"requester_may_approve": True}),
        proposal(),
        "U_REQ",
        "U_REQ",
        {"S_SRE"},
        [],
        None,
    ),
    (
        "own high-risk request even when the policy allows self-approval",
        policy(config={"requester_may_approve": True, "actions": {"restart_deployment": {"risk": "high"}}}),
        proposal(),
        "U_REQ",
        "U_REQ",
        {"S_SRE"},
        [],
        "U_REQ cannot approve their own high-risk request (two-person rule)",
    ),
    (
        "own request the agent called low-risk but the catalog calls high",
        policy(config={"requester_may_approve": True, "actions": {"restart_deployment": {"risk": "high"}}}),
        proposal(risk="low"),
        "U_REQ",
        "U_REQ",
        {"S_SRE"},
        [],
        "two-person rule",
    ),
    (
        "second distinct approver",
        policy(),
        proposal("cordon_node", target=Target(kind="Node", name="node-1")),
        "U_ALICE",
        "U_CAROL",
        set(),
        ["U_BOB"],
        None,
    ),
    (
        "same approver twice",
        policy(),
        proposal("cordon_node", target=Target(kind="Node", name="node-1")),
        "U_ALICE",
        "U_BOB",
        set(),
        ["U_BOB"],
        "U_BOB already approved; it needs 2 different approvers",
    ),
    (
        "unknown action",
        policy(),
        proposal("delete_namespace"),
        "U_ALICE",
        "U_BOB",
        set(),
        [],
        "not in the action catalog",
    ),
    (
        "freeze started after the proposal",
        policy(config={"freezes": [Freeze(start=NOW - timedelta(minutes=1), end=NOW + timedelta(hours=1))]}),
        proposal(),
        "U_ALICE",
        "U_BOB",
        set(),
        [],
        "frozen until",
    ),
    (
        "scale bounds tightened after the proposal",
        policy(config={"actions": {"scale_deployment": ActionRule(max_replicas=5)}}),
        proposal("scale_deployment", params={"replicas": 8}),
        "U_ALICE",
        "U_BOB",
        set(),
        [],
        "above the maximum of 5",
    ),
]


@pytest.mark.parametrize(
    ("rules", "item", "requester", "approver", "groups", "prior", "refusal"),
    [case[1:] for case in APPROVAL_CASES],
    ids=[case[0] for case in APPROVAL_CASES],
)
def test_check_approval(
    rules: Policy,
    item: Proposal,
    requester: str,
    approver: str,
    groups: set[str],
    prior: list[str],
    refusal: str | None,
) -> None:
    verdict = rules.check_approval(item, requester, approver, groups, prior, NOW)

    assert verdict.allowed is (refusal is None), verdict.reason
    if refusal is not None:
        assert refusal in verdict.reason


def test_self_approval_by_an_approver_is_refused_under_the_two_person_rule() -> None:
    verdict = policy().check_approval(proposal(), "U_BOB", "U_BOB", set(), [], NOW)

    assert not verdict.allowed
    assert verdict.reason == "U_BOB cannot approve their own request (two-person rule)"


def test_approval_rechecks_the_rate_limit() -> None:
    verdict = policy().check_approval(proposal(), "U_ALICE", "U_BOB", set(), [], NOW, recent_executions=3)

    assert not verdict.allowed
    assert "limit 3" in verdict.reason


def test_verdict_carries_the_catalog_risk_and_approvals_whatever_the_proposal_claims() -> None:
    rules = policy(channels=[])

    restart = rules.check_proposal(proposal(risk="high"), "U_ALICE", CHANNEL, NOW)
    cordon = rules.check_proposal(
        proposal("cordon_node", target=Target(kind="Node", name="n1"), risk="low"), "U_ALICE", "#any", NOW
    )

    assert (restart.risk, restart.approvals_required) == ("low", 1)
    assert (cordon.risk, cordon.approvals_required) == ("high", 2)


@pytest.mark.parametrize(
    ("user", "groups", "allowed"),
    [("U_ALICE", set(), True), ("U_CAROL", set(), True), ("U_DAVE", {"S_SRE"}, True), ("U_DAVE", set(), False)],
    ids=["requester withdraws", "approver", "approver group member", "stranger"],
)
def test_check_rejection(user: str, groups: set[str], allowed: bool) -> None:
    verdict = policy().check_rejection(proposal(), "U_ALICE", user, groups)

    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.reason == "U_DAVE is not allowed to reject restart_deployment"


def test_needs_groups_only_when_groups_could_make_the_difference() -> None:
    assert policy().needs_groups("U_DAVE")
    assert not policy().needs_groups("U_BOB")
    assert not policy(access={"approver_groups": []}).needs_groups("U_DAVE")


def test_proposal_ttl_comes_from_the_config() -> None:
    assert policy(config={"proposal_ttl_minutes": 5}).proposal_ttl == timedelta(minutes=5)

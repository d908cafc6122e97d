"""Which catalog actions to propose, from the question and the live objects, never from free text.

A requested action ("restart payment-service") is proposed only against a Deployment the cluster
actually has. A diagnosis proposes the usual first remedies: a restart for crash-looping pods
and a rollback when a deploy just before the onset is the likely cause. Policy decides later
whether anyone may approve them; anything outside the catalog is never proposed at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agents.catalog import Service
from agents.correlation import Correlation
from agents.intents import Intent, Plan
from guardrails.policy_config import ActionRule
from guardrails.proposals import Proposal, Target
from tools.findings import Finding, Severity

_RESTART_REASONS = {"CrashLoopBackOff", "Error", "NonZeroExit"}


def _deployment_of(service: Service, targets: Sequence[Target]) -> Target | None:
    return next(
        (t for t in targets if t.kind == "Deployment" and t.name == service.name and t.namespace == service.namespace),
        None,
    ) or next((t for t in targets if t.kind == "Deployment" and t.name == service.name), None)


def _owner_deployment(finding: Finding, targets: Sequence[Target]) -> Target | None:
    owner = finding.details.get("owner")
    if not isinstance(owner, dict) or owner.get("kind") != "Deployment":
        return None
    return next(
        (
            t
            for t in targets
            if t.kind == "Deployment" and t.name == owner.get("name") and t.namespace == owner.get("namespace")
        ),
        None,
    )


def propose(
    plan: Plan,
    findings: Sequence[Finding],
    correlation: Correlation,
    targets: Sequence[Target],
    actions: Mapping[str, ActionRule],
) -> list[Proposal]:
    wanted: list[tuple[str, Target, dict[str, object], str]] = []
    if plan.wants(Intent.ACTION) and plan.action:
        for service in plan.services[:1]:
            target = _deployment_of(service, targets)
            if target is not None:
                params: dict[str, object] = {"replicas": plan.replicas} if plan.action == "scale_deployment" else {}
                wanted.append((plan.action, target, params, f"requested: {plan.text}"))
    elif plan.wants(Intent.DIAGNOSE, Intent.RESOURCES, Intent.STATUS):
        for finding in findings:
            if finding.severity != Severity.CRITICAL or finding.reason not in _RESTART_REASONS:
                continue
            target = _owner_deployment(finding, targets)
            if target is not None:
                wanted.append(("restart_deployment", target, {}, f"{finding.summary}; a restart clears the back-off"))
        culprit = correlation.culprit
        # A merged change that never reached the cluster is not undone by rolling the Deployment back.
        deployed = culprit is not None and (culprit.kind == "deploy" or culprit.deployed_at is not None)
        if culprit is not None and deployed and correlation.service is not None:
            target = _deployment_of(correlation.service, targets)
            if target is not None:
                wanted.append(("rollback_deployment", target, {}, f"likely cause: {culprit.label} {culprit.title}"))
    proposals: list[Proposal] = []
    seen: set[tuple[str, Target]] = set()
    for action, target, params, reason in wanted:
        rule = actions.get(action)
        if rule is None or (action, target) in seen or (action == "scale_deployment" and not params.get("replicas")):
            continue
        seen.add((action, target))
        proposals.append(Proposal(action=action, target=target, params=params, risk=rule.risk, reason=reason))
    return proposals

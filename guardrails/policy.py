"""Whether a remediation may be proposed here, and whether this person's click may approve it.

Every decision is a pure function of the config, the typed proposal and facts the caller looked up
(who clicked, their user groups, earlier approvers, recent executions), so each rule can be tested
as a table and the same answer comes out on every replica. Anything not explicitly allowed is
refused, with one line that tells the person in the thread what to do differently.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from guardrails.policy_config import AccessConfig, ActionRule, ChannelBinding, Freeze, PolicyConfig, Risk
from guardrails.proposals import Proposal, Target


class PolicyVerdict(BaseModel):
    """`risk` is the catalog's, whatever the proposal claims: the agent that drafted it is not the policy."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    reason: str
    risk: Risk
    approvals_required: int


def _channel_key(channel: str) -> str:
    """Config writes "#incident-payments"; Slack payloads may say "incident-payments"."""
    return channel.strip().lstrip("#").lower()


def _utc(moment: datetime) -> datetime:
    """Freeze windows written without an offset in YAML are UTC, like every other time the bot shows."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Policy:
    """The action catalog, who may ask and approve, channel bindings, freezes and rate limits."""

    def __init__(
        self,
        policy: PolicyConfig,
        access: AccessConfig,
        channels: list[ChannelBinding],
        *,
        default_cluster: str | None = None,
    ) -> None:
        self.config = policy
        self.access = access
        self.channels = list(channels)
        self.default_cluster = default_cluster

    @property
    def proposal_ttl(self) -> timedelta:
        return timedelta(minutes=self.config.proposal_ttl_minutes)

    def rule(self, action: str) -> ActionRule | None:
        return self.config.actions.get(action)

    def check_proposal(
        self, proposal: Proposal, requester: str, channel: str, now: datetime, recent_executions: int = 0
    ) -> PolicyVerdict:
        """May `requester` ask for this in `channel`; `recent_executions` counts the target's last hour."""
        rule = self.rule(proposal.action)
        if rule is None:
            return self._refused(proposal, f"{proposal.action} is not in the action catalog")
        refusal = (
            self._requester_refusal(proposal, requester)
            or self._channel_refusal(proposal, channel)
            or self._params_refusal(proposal, rule)
            or self._freeze_refusal(proposal, now)
            or self._rate_refusal(proposal, recent_executions)
        )
        if refusal is not None:
            return self._refused(proposal, refusal)
        return self._verdict(proposal, rule, True, f"{requester} may propose {proposal.action} on {proposal.target}")

    def check_approval(
        self,
        proposal: Proposal,
        requester: str,
        approver: str,
        approver_groups_of_user: Collection[str],
        prior_approvers: Collection[str],
        now: datetime,
        recent_executions: int = 0,
    ) -> PolicyVerdict:
        """May this click count as an approval; freezes and rate limits are checked again because time passed."""
        rule = self.rule(proposal.action)
        if rule is None:
            return self._refused(proposal, f"{proposal.action} is not in the action catalog")
        refusal = (
            self._approver_refusal(proposal, approver, approver_groups_of_user)
            or self._two_person_refusal(requester, approver, rule.risk)
            or self._repeat_refusal(approver, prior_approvers, rule)
            or self._params_refusal(proposal, rule)
            or self._freeze_refusal(proposal, now)
            or self._rate_refusal(proposal, recent_executions)
        )
        if refusal is not None:
            return self._verdict(proposal, rule, False, refusal)
        return self._verdict(proposal, rule, True, f"{approver} may approve {proposal.action} on {proposal.target}")

    def check_rejection(
        self, proposal: Proposal, requester: str, user: str, user_groups: Collection[str]
    ) -> PolicyVerdict:
        """Requesters may withdraw their own proposals; otherwise rejecting takes an approver.

        A stranger's Reject during an incident would block the fix as surely as a bad approval
        would apply one, so it is held to the same bar.
        """
        rule = self.rule(proposal.action)
        if rule is None:
            return self._refused(proposal, f"{proposal.action} is not in the action catalog")
        if user != requester and not self.is_approver(user, user_groups):
            return self._verdict(proposal, rule, False, f"{user} is not allowed to reject {proposal.action}")
        return self._verdict(proposal, rule, True, f"{user} may reject {proposal.action} on {proposal.target}")

    def is_approver(self, user: str, user_groups: Collection[str]) -> bool:
        access = self.access
        return (
            user in access.approvers
            or user in access.admins
            or any(group in access.approver_groups for group in user_groups)
        )

    def needs_groups(self, user: str) -> bool:
        """Whether `is_approver` could change with `user`'s groups, so callers skip a Slack lookup otherwise."""
        access = self.access
        return bool(access.approver_groups) and user not in access.approvers and user not in access.admins

    def _verdict(self, proposal: Proposal, rule: ActionRule, allowed: bool, reason: str) -> PolicyVerdict:
        return PolicyVerdict(
            allowed=allowed,
            reason=reason,
            risk=rule.risk,
            approvals_required=rule.approvals,
        )

    def _refused(self, proposal: Proposal, reason: str) -> PolicyVerdict:
        return PolicyVerdict(allowed=False, reason=reason, risk="high", approvals_required=1)

    def _requester_refusal(self, proposal: Proposal, requester: str) -> str | None:
        access = self.access
        if not access.requesters or requester in access.requesters or requester in access.admins:
            return None
        return f"{requester} is not allowed to request {proposal.action}"

    def _channel_refusal(self, proposal: Proposal, channel: str) -> str | None:
        if not self.channels:
            return None
        bindings = [binding for binding in self.channels if _channel_key(binding.channel) == _channel_key(channel)]
        if not bindings:
            return f"{channel} is not bound to any namespace, so no changes can be requested from it"
        if any(self._binding_covers(binding, proposal.target) for binding in bindings):
            return None
        return f"{proposal.target} is outside what {channel} may change"

    def _binding_covers(self, binding: ChannelBinding, target: Target) -> bool:
        if binding.namespaces and target.namespace not in binding.namespaces:
            return False
        cluster = target.cluster or self.default_cluster
        return not binding.clusters or cluster in binding.clusters

    def _params_refusal(self, proposal: Proposal, rule: ActionRule) -> str | None:
        bounded = rule.min_replicas is not None or rule.max_replicas is not None
        if "replicas" not in proposal.params and not bounded:
            return None
        replicas = proposal.params.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            return f"{proposal.action} needs a whole, non-negative number of replicas"
        if rule.min_replicas is not None and replicas < rule.min_replicas:
            return f"{replicas} replicas is below the minimum of {rule.min_replicas} for {proposal.action}"
        if rule.max_replicas is not None and replicas > rule.max_replicas:
            return f"{replicas} replicas is above the maximum of {rule.max_replicas} for {proposal.action}"
        return None

    def _freeze_refusal(self, proposal: Proposal, now: datetime) -> str | None:
        freeze = next((freeze for freeze in self.config.freezes if self._freeze_covers(freeze, proposal, now)), None)
        if freeze is None:
            return None
        until = _utc(freeze.end).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"{proposal.target} is frozen until {until} ({freeze.reason})"

    @staticmethod
    def _freeze_covers(freeze: Freeze, proposal: Proposal, now: datetime) -> bool:
        in_window = _utc(freeze.start) <= _utc(now) < _utc(freeze.end)
        return in_window and (not freeze.namespaces or proposal.target.namespace in freeze.namespaces)

    def _rate_refusal(self, proposal: Proposal, recent_executions: int) -> str | None:
        limit = self.config.max_actions_per_target_per_hour
        if recent_executions < limit:
            return None
        return f"{proposal.target} already had {recent_executions} actions in the last hour (limit {limit})"

    def _approver_refusal(self, proposal: Proposal, approver: str, groups: Collection[str]) -> str | None:
        if self.is_approver(approver, groups):
            return None
        return f"{approver} is not allowed to approve {proposal.action}"

    def _two_person_refusal(self, requester: str, approver: str, risk: Risk) -> str | None:
        if approver != requester:
            return None
        if self.config.requester_may_approve and risk != "high":
            return None
        if self.config.requester_may_approve:
            return f"{approver} cannot approve their own high-risk request (two-person rule)"
        return f"{approver} cannot approve their own request (two-person rule)"

    @staticmethod
    def _repeat_refusal(approver: str, prior_approvers: Collection[str], rule: ActionRule) -> str | None:
        if approver not in prior_approvers:
            return None
        return f"{approver} already approved; it needs {rule.approvals} different approvers"

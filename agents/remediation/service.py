"""The approval state machine: propose, decide, execute exactly once, verify, audit every step.

Every state change is a compare-and-set in the store, so any number of clicks, Slack redeliveries
and bot replicas race safely: one wins, the rest are told who got there first. What runs is
re-derived from the stored payload and checked against the digest shown at approval time, so a
row edited behind the bot's back is refused rather than executed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from agents.remediation.executor import describe_attempt, describe_done
from agents.remediation.lease import holding, run_lease, this_replica
from agents.remediation.outcome import Decision, ExecutionReport, Recovery, RefusedProposal, Registration
from agents.remediation.verifier import Verification
from guardrails.policy import Policy
from guardrails.proposals import Proposal, Target
from store.base import Store
from store.digest import proposal_digest
from store.models import AuditEvent, AuditKind, ProposalEvent, ProposalState, StoredProposal, utcnow
from tools.findings import ObjectRef
from tools.kubernetes.models import ActionResult

log = logging.getLogger(__name__)

APPROVAL_VOTE = "approval"
"""Audit kind of one counted approval of a proposal that needs several distinct approvers."""

GroupResolver = Callable[[str], Awaitable[set[str]]]
Clock = Callable[[], datetime]

_RATE_WINDOW = timedelta(hours=1)
_AUDIT_SCAN = 1000
_SETTLED_BY_APPROVAL = frozenset(
    {
        ProposalState.APPROVED,
        ProposalState.EXECUTING,
        ProposalState.EXECUTED,
        ProposalState.FAILED,
        ProposalState.VERIFIED,
        ProposalState.VERIFICATION_FAILED,
    }
)
_ROLLBACK_WHEN_UNHEALTHY = frozenset({"restart_deployment", "scale_deployment"})
DEFAULT_TAKEOVER = timedelta(seconds=30)
# Half-done fixes older than this are left to people: the cluster has moved on since.
_RECOVERY_WINDOW = timedelta(hours=24)
_UNFINISHED = (ProposalState.APPROVED, ProposalState.EXECUTING, ProposalState.EXECUTED)


class Executor(Protocol):
    def problem(self, proposal: Proposal) -> str | None: ...

    async def run(self, proposal: Proposal, *, dry_run: bool, actor: str = "bot") -> ActionResult: ...


class Verifier(Protocol):
    async def verify(self, proposal: Proposal) -> Verification | None: ...


async def _no_groups(user: str) -> set[str]:
    return set()


def _mention(user: str) -> str:
    return f"<@{user}>"


def _mentions(users: list[str]) -> str:
    spelled = [_mention(user) for user in users]
    return spelled[0] if len(spelled) == 1 else f"{', '.join(spelled[:-1])} and {spelled[-1]}"


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _target_key(target: Target) -> dict[str, Any]:
    return target.model_dump(mode="json")


def _digest(proposal: Proposal) -> str:
    return proposal_digest(proposal.action, _target_key(proposal.target), proposal.params)


class RemediationService:
    """Implements `bot.slack.ports.Remediation` over a `Store`, a `Policy`, an executor and a verifier."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        executor: Executor,
        verifier: Verifier,
        *,
        clock: Clock = utcnow,
        groups: GroupResolver = _no_groups,
        ttl: timedelta | None = None,
        replica: str | None = None,
        takeover_after: timedelta = DEFAULT_TAKEOVER,
    ) -> None:
        """`takeover_after`: how long a fix's runner may go without renewing its lease before another
        replica presumes it dead and finishes or reports the fix (`recover`)."""
        self._store = store
        self._policy = policy
        self._executor = executor
        self._verifier = verifier
        self._clock = clock
        self._groups = groups
        self._ttl = ttl if ttl is not None else policy.proposal_ttl
        self._replica = replica or this_replica()
        self._takeover_s = takeover_after.total_seconds()

    # --- proposing -----------------------------------------------------------------------------

    async def register(
        self, proposals: list[Proposal], requester: str, channel: str, thread_ts: str | None
    ) -> list[StoredProposal]:
        return (await self.register_all(proposals, requester, channel, thread_ts)).stored

    async def register_all(
        self, proposals: list[Proposal], requester: str, channel: str, thread_ts: str | None
    ) -> Registration:
        stored: list[StoredProposal] = []
        refused: list[RefusedProposal] = []
        for proposal in proposals:
            now = self._clock()
            recent = await self._recent_executions(proposal.target, now)
            verdict = self._policy.check_proposal(proposal, requester, channel, now, recent_executions=recent)
            reason = verdict.reason if not verdict.allowed else self._executor.problem(proposal)
            typed = proposal.model_copy(update={"risk": verdict.risk})
            rehearsal = await self._rehearse(typed, requester) if reason is None else None
            if rehearsal is not None and not rehearsal.ok:
                reason = f"its dry run failed: {rehearsal.message}"
            if reason is not None or rehearsal is None:
                refused.append(RefusedProposal(proposal=proposal, reason=reason or "not offered"))
                subject = f"{proposal.action} {proposal.target}"
                await self._audit(AuditKind.PROPOSAL, requester, subject, proposal, allowed=False, reason=reason)
                continue
            record = await self._store.create_proposal(
                StoredProposal(
                    created_at=now,
                    expires_at=now + self._ttl,
                    requested_by=requester,
                    channel=channel,
                    thread_ts=thread_ts,
                    digest=_digest(typed),
                    payload={**typed.model_dump(mode="json"), "dry_run": rehearsal.message},
                )
            )
            stored.append(record)
            await self._audit(
                AuditKind.PROPOSAL,
                requester,
                record.id,
                typed,
                allowed=True,
                risk=verdict.risk,
                approvals_required=verdict.approvals_required,
                expires_at=record.expires_at.isoformat(),
                channel=channel,
            )
        return Registration(stored=stored, refused=refused)

    async def _rehearse(self, proposal: Proposal, actor: str) -> ActionResult:
        """The server-side dry run shown with the proposal; one that fails means the fix is not offered."""
        try:
            return await self._executor.run(proposal, dry_run=True, actor=actor)
        except Exception as error:
            target = ObjectRef(
                kind=proposal.target.kind, name=proposal.target.name, namespace=proposal.target.namespace
            )
            line = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            return ActionResult(action=proposal.action, target=target, dry_run=True, ok=False, message=line)

    async def attach_message(self, proposal_id: str, channel: str, ts: str) -> None:
        await self._store.set_proposal_message(proposal_id, channel, ts)

    async def pending(self) -> list[StoredProposal]:
        await self._store.expire_proposals(self._clock())
        return await self._store.list_proposals(states=[ProposalState.PENDING])

    # --- deciding ------------------------------------------------------------------------------

    async def decide(self, proposal_id: str, user: str, approve: bool) -> Decision:
        decision = await self._decide(proposal_id, user, approve)
        detail: dict[str, Any] = {
            "approve": approve,
            "accepted": decision.accepted,
            "state": decision.state,
            "message": decision.message,
        }
        if decision.proposal is not None:
            detail |= {"action": decision.proposal.action, "target": _target_key(decision.proposal.target)}
        await self._store.record_audit(
            AuditEvent(at=self._clock(), kind=AuditKind.DECISION, actor=user, subject=proposal_id, detail=detail)
        )
        return decision

    async def _decide(self, proposal_id: str, user: str, approve: bool) -> Decision:
        stored = await self._store.get_proposal(proposal_id)
        if stored is None:
            return Decision(
                proposal_id=proposal_id,
                proposal=None,
                actor=user,
                approve=approve,
                accepted=False,
                state=None,
                message="This proposal does not exist (any more)",
            )

        def refused(message: str, current: StoredProposal = stored) -> Decision:
            return Decision(
                proposal_id=proposal_id,
                proposal=self._proposal_or_none(current),
                actor=user,
                approve=approve,
                accepted=False,
                state=current.state,
                message=message,
            )

        proposal = self._proposal_or_none(stored)
        if proposal is None:
            withdrawn = await self._withdraw_tampered(stored)
            return refused("This proposal was changed after it was proposed, so it cannot be approved", withdrawn)
        if stored.state is not ProposalState.PENDING or stored.expires_at <= self._clock():
            settled = await self._settle(stored)
            return refused(await self._settled_message(settled), settled)

        groups = await self._user_groups(user)
        if not approve:
            verdict = self._policy.check_rejection(proposal, stored.requested_by, user, groups)
            if not verdict.allowed:
                return refused(verdict.reason)
            return await self._transition(stored, proposal, user, approve, ProposalState.REJECTED, [user])

        rule = self._policy.rule(proposal.action)
        required = rule.approvals if rule is not None else 1
        prior = await self._voters(stored) if required > 1 else []
        verdict = self._policy.check_approval(
            proposal,
            stored.requested_by,
            user,
            groups,
            prior,
            self._clock(),
            recent_executions=await self._recent_executions(proposal.target, self._clock()),
        )
        if not verdict.allowed:
            return refused(verdict.reason)
        if required > 1:
            voters = await self._vote(stored, user)
            if len(voters) < required:
                return Decision(
                    proposal_id=proposal_id,
                    proposal=proposal,
                    actor=user,
                    approve=True,
                    accepted=True,
                    state=ProposalState.PENDING,
                    message=f"Approval {len(voters)} of {required} recorded from {_mention(user)}; "
                    f"waiting for {required - len(voters)} more approver(s)",
                )
            prior = [voter for voter in voters if voter != user][: required - 1]
        return await self._transition(stored, proposal, user, approve, ProposalState.APPROVED, [*prior, user])

    async def _transition(
        self,
        stored: StoredProposal,
        proposal: Proposal,
        user: str,
        approve: bool,
        new_state: ProposalState,
        deciders: list[str],
    ) -> Decision:
        verb = "Approved" if approve else "Rejected"
        won = await self._store.transition_proposal(
            stored.id, [ProposalState.PENDING], new_state, user, reason=f"{verb.lower()} by {', '.join(deciders)}"
        )
        if won is None:
            current = await self._settle(await self._store.get_proposal(stored.id) or stored)
            return Decision(
                proposal_id=stored.id,
                proposal=proposal,
                actor=user,
                approve=approve,
                accepted=False,
                state=current.state,
                message=await self._settled_message(current),
            )
        return Decision(
            proposal_id=stored.id,
            proposal=proposal,
            actor=user,
            approve=approve,
            accepted=True,
            state=won.state,
            message=f"{verb} by {_mentions(deciders)}",
        )

    async def _settle(self, stored: StoredProposal) -> StoredProposal:
        """The proposal as it stands, expiring it first when its deadline passed while still pending."""
        if stored.state is ProposalState.PENDING and stored.expires_at <= self._clock():
            await self._store.expire_proposals(self._clock())
            return await self._store.get_proposal(stored.id) or stored
        return stored

    async def _settled_message(self, stored: StoredProposal) -> str:
        events = await self._store.list_proposal_events(stored.id)
        if stored.state in _SETTLED_BY_APPROVAL:
            return f"This proposal was already approved by {_mentions(await self._approvers(stored, events))}"
        if stored.state is ProposalState.REJECTED:
            rejection = self._last_event(events, ProposalState.REJECTED)
            if rejection is None or rejection.actor == "bot":
                reason = rejection.reason if rejection is not None and rejection.reason else "withdrawn"
                return f"This proposal was withdrawn: {reason}"
            return f"This proposal was already rejected by {_mention(rejection.actor)}"
        if stored.state is ProposalState.EXPIRED:
            return f"This proposal expired at {_at(stored.expires_at)} without approval"
        return f"This proposal is {stored.state}"

    async def _withdraw_tampered(self, stored: StoredProposal) -> StoredProposal:
        log.warning("proposal %s does not match its digest; withdrawing it", stored.id)
        withdrawn = await self._store.transition_proposal(
            stored.id,
            [ProposalState.PENDING],
            ProposalState.REJECTED,
            "bot",
            reason="its stored action no longer matches the digest it was proposed under",
        )
        return withdrawn or stored

    async def _user_groups(self, user: str) -> set[str]:
        if not self._policy.needs_groups(user):
            return set()
        try:
            return await self._groups(user)
        except Exception as error:
            log.warning("could not look up the user groups of %s: %s", user, error)
            return set()

    async def _vote(self, stored: StoredProposal, user: str) -> list[str]:
        """Record one approval, then read them all back.

        Writing before reading means that of two approvers clicking at once, at least the later
        one sees both votes, so a proposal never stalls one vote short.
        """
        await self._store.record_audit(AuditEvent(at=self._clock(), kind=APPROVAL_VOTE, actor=user, subject=stored.id))
        return await self._voters(stored)

    async def _voters(self, stored: StoredProposal) -> list[str]:
        """Distinct approvers of `stored` in the order they first approved."""
        votes = await self._store.list_audit(limit=_AUDIT_SCAN, kind=APPROVAL_VOTE, since=stored.created_at)
        return list(dict.fromkeys(vote.actor for vote in reversed(votes) if vote.subject == stored.id))

    async def _approvers(self, stored: StoredProposal, events: list[ProposalEvent] | None = None) -> list[str]:
        """Who approved: the one whose click won, after the earlier distinct approvers it needed."""
        history = events if events is not None else await self._store.list_proposal_events(stored.id)
        approval = self._last_event(history, ProposalState.APPROVED)
        if approval is None:
            return ["nobody"]
        proposal = self._proposal_or_none(stored)
        rule = self._policy.rule(proposal.action) if proposal is not None else None
        if rule is None or rule.approvals <= 1:
            return [approval.actor]
        others = [voter for voter in await self._voters(stored) if voter != approval.actor]
        return [*others[: rule.approvals - 1], approval.actor]

    @staticmethod
    def _last_event(events: list[ProposalEvent], state: ProposalState) -> ProposalEvent | None:
        return next((event for event in reversed(events) if event.to_state is state), None)

    # --- executing -----------------------------------------------------------------------------

    async def execute(self, proposal_id: str) -> ExecutionReport:
        # The lease comes first: a proposal `executing` without a live lease is one whose runner died.
        async with holding(self._store, run_lease(proposal_id), self._replica, self._takeover_s) as held:
            if not held:
                current = await self._store.get_proposal(proposal_id)
                return ExecutionReport(proposal_id=proposal_id, executed=False, message=self._not_runnable(current))
            return await self._execute(proposal_id)

    async def _execute(self, proposal_id: str) -> ExecutionReport:
        claimed = await self._store.transition_proposal(
            proposal_id, [ProposalState.APPROVED], ProposalState.EXECUTING, "bot"
        )
        if claimed is None:
            current = await self._store.get_proposal(proposal_id)
            return ExecutionReport(proposal_id=proposal_id, executed=False, message=self._not_runnable(current))
        proposal = self._proposal_or_none(claimed)
        if proposal is None:
            reason = "its stored action no longer matches the digest it was approved under"
            await self._store.transition_proposal(
                proposal_id, [ProposalState.EXECUTING], ProposalState.FAILED, "bot", reason
            )
            await self._audit(AuditKind.EXECUTION, "bot", proposal_id, None, executed=False, reason=reason)
            return ExecutionReport(proposal_id=proposal_id, executed=False, message=f"Refused to run it: {reason}")
        return await self._run(claimed, proposal, await self._approvers(claimed))

    async def _run(self, stored: StoredProposal, proposal: Proposal, approvers: list[str]) -> ExecutionReport:
        actor = approvers[-1]
        try:
            rehearsal = await self._executor.run(proposal, dry_run=True, actor=actor)
            if not rehearsal.ok:
                return await self._failed(stored.id, proposal, rehearsal, f"dry run refused: {rehearsal.message}")
            result = await self._executor.run(proposal, dry_run=False, actor=actor)
        except Exception as error:
            # Never leave a proposal in `executing`: that state would block it forever.
            log.exception("executing proposal %s failed unexpectedly", stored.id)
            return await self._failed(stored.id, proposal, None, f"unexpected error ({type(error).__name__})")
        if not result.ok:
            return await self._failed(stored.id, proposal, result, result.message)
        message = f"{describe_done(proposal)} (approved by {_mentions(approvers)})"
        await self._store.transition_proposal(
            stored.id, [ProposalState.EXECUTING], ProposalState.EXECUTED, "bot", result.message
        )
        await self._audit(
            AuditKind.EXECUTION,
            "bot",
            stored.id,
            proposal,
            executed=True,
            approved_by=approvers,
            message=message,
            result=result.message,
        )
        return await self._verify(stored, proposal, message)

    async def _verify(self, stored: StoredProposal, proposal: Proposal, message: str) -> ExecutionReport:
        """Check an executed fix took, record the outcome, and propose a rollback when it did not."""
        try:
            verification = await self._verifier.verify(proposal)
        except Exception as error:
            log.exception("verifying proposal %s failed unexpectedly", stored.id)
            unverified = f"Could not verify the result ({type(error).__name__})"
            return ExecutionReport(proposal_id=stored.id, executed=True, message=message, verification=unverified)
        if verification is None:
            return ExecutionReport(proposal_id=stored.id, executed=True, message=message)
        outcome = ProposalState.VERIFIED if verification.verified else ProposalState.VERIFICATION_FAILED
        if not await self._store.transition_proposal(
            stored.id, [ProposalState.EXECUTED], outcome, "bot", verification.summary
        ):
            # Our lease lapsed and another replica took the verification over; it reports the outcome.
            return ExecutionReport(proposal_id=stored.id, executed=True, message=message)
        await self._audit(
            AuditKind.VERIFICATION,
            "bot",
            stored.id,
            proposal,
            verified=verification.verified,
            summary=verification.summary,
        )
        follow_up: list[Proposal] = []
        if not verification.verified and proposal.action in _ROLLBACK_WHEN_UNHEALTHY:
            follow_up.append(
                Proposal(
                    action="rollback_deployment",
                    target=proposal.target,
                    reason=f"{describe_done(proposal)}, but {verification.summary}",
                )
            )
        return ExecutionReport(
            proposal_id=stored.id,
            executed=True,
            message=message,
            verified=verification.verified,
            verification=verification.summary,
            follow_up=follow_up,
        )

    async def _failed(
        self, proposal_id: str, proposal: Proposal, result: ActionResult | None, reason: str
    ) -> ExecutionReport:
        await self._store.transition_proposal(
            proposal_id, [ProposalState.EXECUTING], ProposalState.FAILED, "bot", reason
        )
        dry_run = result is not None and result.dry_run
        await self._audit(AuditKind.EXECUTION, "bot", proposal_id, proposal, executed=False, reason=reason)
        unchanged = "; nothing was changed" if dry_run else ""
        return ExecutionReport(
            proposal_id=proposal_id,
            executed=False,
            message=f"Could not {describe_attempt(proposal)}: {reason}{unchanged}",
        )

    # --- taking over from a replica that stopped --------------------------------------------------

    async def recover(self) -> list[Recovery]:
        """Finish or report the approved fixes whose runner stopped (its lease lapsed) half-way.

        Approved but never started: failed, nothing was changed. Executing: failed, as nobody can
        tell whether the change reached the cluster. Executed but not verified: verified now.
        Every replica may call this at any time; a fix someone is still running is left alone.
        """
        now = self._clock()
        recovered: list[Recovery] = []
        for stored in await self._store.list_proposals(states=_UNFINISHED):
            if stored.created_at < now - _RECOVERY_WINDOW or not await self._stalled(stored, now):
                continue
            async with holding(self._store, run_lease(stored.id), self._replica, self._takeover_s) as held:
                current = await self._store.get_proposal(stored.id) if held else None
                if current is not None and current.state in _UNFINISHED:
                    recovery = await self._take_over(current)
                    if recovery is not None:
                        recovered.append(recovery)
        return recovered

    async def _stalled(self, stored: StoredProposal, now: datetime) -> bool:
        """Approved a while ago and never started; a fix being run is judged by its lease instead."""
        if stored.state is not ProposalState.APPROVED:
            return True
        events = await self._store.list_proposal_events(stored.id)
        approved = self._last_event(events, ProposalState.APPROVED)
        return approved is None or (now - approved.at).total_seconds() > self._takeover_s

    async def _take_over(self, stored: StoredProposal) -> Recovery | None:
        approvers = await self._approvers(stored)
        proposal = self._proposal_or_none(stored)
        if proposal is None:
            return None
        if stored.state is ProposalState.EXECUTED:
            done = f"{describe_done(proposal)} (approved by {_mentions(approvers)})"
            log.warning("proposal %s was left unverified by a stopped replica; verifying it", stored.id)
            report = await self._verify(stored, proposal, done)
            if report.verified is None:
                return None  # nothing to verify, or no outcome recorded: nothing new to tell the thread
        else:
            reason = (
                "the bot stopped after the approval, before running it; nothing was changed"
                if stored.state is ProposalState.APPROVED
                else f"the bot stopped while running it; check {proposal.target} before approving it again"
            )
            log.warning("proposal %s was left %s by a stopped replica; failing it", stored.id, stored.state)
            won = await self._store.transition_proposal(stored.id, [stored.state], ProposalState.FAILED, "bot", reason)
            if won is None:
                return None
            await self._audit(AuditKind.EXECUTION, "bot", stored.id, proposal, executed=False, reason=reason)
            report = ExecutionReport(
                proposal_id=stored.id, executed=False, message=f"Could not {describe_attempt(proposal)}: {reason}"
            )
        current = await self._store.get_proposal(stored.id) or stored
        return Recovery(proposal=current, report=report, requester=approvers[-1])

    @staticmethod
    def _not_runnable(current: StoredProposal | None) -> str:
        if current is None:
            return "This proposal does not exist (any more)"
        if current.state in {ProposalState.PENDING, ProposalState.REJECTED, ProposalState.EXPIRED}:
            return f"This proposal is {current.state}, not approved, so nothing was run"
        return f"This proposal is already being executed or was executed ({current.state})"

    # --- shared --------------------------------------------------------------------------------

    @staticmethod
    def _proposal_or_none(stored: StoredProposal) -> Proposal | None:
        """The stored proposal, or None if its payload no longer matches the digest it was approved under."""
        try:
            proposal = Proposal.from_payload(stored.payload)
        except ValidationError:
            return None
        return proposal if _digest(proposal) == stored.digest else None

    async def _recent_executions(self, target: Target, now: datetime) -> int:
        key = _target_key(target)
        executions = await self._store.list_audit(limit=_AUDIT_SCAN, kind=AuditKind.EXECUTION, since=now - _RATE_WINDOW)
        return sum(1 for event in executions if event.detail.get("executed") and event.detail.get("target") == key)

    async def _audit(self, kind: AuditKind, actor: str, subject: str, proposal: Proposal | None, **detail: Any) -> None:
        if proposal is not None:
            detail |= {"action": proposal.action, "target": _target_key(proposal.target), "params": proposal.params}
        await self._store.record_audit(
            AuditEvent(at=self._clock(), kind=kind, actor=actor, subject=subject, detail=detail)
        )

"""Playing a case as Slack users would: a mention or a slash command, then a button click.

Everything goes through the Slack stand-in and the real Bolt app over Socket Mode, and the
outcome is read from what the bot posted in the thread, as the contract's matching requires.
Proposals are read from the buttons the bot posted (their value is the stored proposal's id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.evaluation.judge import CaseOutcome
from bot.runtime import Runtime
from bot.slack.render.progress import PLACEHOLDER
from bot.slack.render.proposal import APPROVE_ACTION
from guardrails.proposals import Proposal
from sandbox.slack import Message, SlackStandIn
from sandbox.world_models import Case
from store.models import AuditKind, ProposalState

ANSWER_TIMEOUT_S = 60.0
QUIET_S = 0.4
POLL_S = 0.05
FINAL_STATES = {
    ProposalState.REJECTED,
    ProposalState.EXPIRED,
    ProposalState.FAILED,
    ProposalState.VERIFIED,
    ProposalState.VERIFICATION_FAILED,
}
EXECUTED_STATES = {ProposalState.EXECUTED, ProposalState.VERIFIED, ProposalState.VERIFICATION_FAILED}
DEFAULT_USER = "U_ALICE"


class SlackPlayer:
    def __init__(self, slack: SlackStandIn, runtime: Runtime, default_channel: str) -> None:
        self.slack = slack
        self.runtime = runtime
        self.default_channel = default_channel
        self.threads: list[tuple[str, str]] = []
        """(channel, thread ts) of every case played, for the transcript."""

    def user(self, ref: str | None) -> str:
        """A case's user id; unknown ids like U_DAVE become a workspace member named dave."""
        wanted = ref or DEFAULT_USER
        workspace = self.slack.workspace
        found = workspace.find_user(wanted)
        return (found or workspace.ensure_user(wanted.removeprefix("U_").lower())).id

    async def play(self, case: Case) -> CaseOutcome:
        assert case.ask is not None
        channel = case.channel or self.default_channel
        self.slack.workspace.ensure_channel(channel)
        user = self.user(case.user)
        audit_before = len(await self.runtime.store.list_audit(kind=AuditKind.QUESTION, limit=1000))
        if case.via == "slash":
            thread_ts = await self._slash(user, channel, case.ask)
        else:
            thread_ts = await self.slack.driver.mention(user, channel, case.ask)
        self.threads.append((channel, thread_ts))
        await self._answered(channel, thread_ts)
        replies = self._bot_replies(channel, thread_ts)
        proposal_ids = self._proposal_ids(replies)
        outcome = CaseOutcome(
            texts=[self.slack.driver.render(message) for message in replies],
            proposals=[p.contract_view() for p in await self._proposals(proposal_ids)],
            refused=await self._refused(audit_before),
        )
        if case.approve is None or not proposal_ids:
            return outcome
        return await self._approve(case, outcome, channel, thread_ts, proposal_ids[0])

    async def _slash(self, user: str, channel: str, text: str) -> str:
        """The ts of the in-channel message the bot starts its answer thread from."""
        before = {message.ts for message in self.slack.driver.channel_messages(channel)}
        await self.slack.driver.slash(user, channel, text)
        bot = self.slack.workspace.bot_user_id

        def started() -> str | None:
            fresh = [m for m in self.slack.driver.channel_messages(channel) if m.ts not in before and m.user == bot]
            return fresh[0].ts if fresh else None

        return await self.slack.driver.wait_for(started, ANSWER_TIMEOUT_S, f"the bot's answer in {channel}")

    async def settle(self, channel: str, thread_ts: str) -> None:
        """Wait for the bot to finish what it is doing in a thread (for interactive use)."""
        await self._answered(channel, thread_ts)

    def proposal_ids_in(self, channel: str, thread_ts: str) -> list[str]:
        return self._proposal_ids(self._bot_replies(channel, thread_ts))

    def _bot_replies(self, channel: str, thread_ts: str) -> list[Message]:
        bot = self.slack.workspace.bot_user_id
        return [m for m in self.slack.driver.thread(channel, thread_ts) if m.user == bot and not m.deleted]

    async def _answered(self, channel: str, thread_ts: str) -> None:
        """The answer is final (no placeholder left) and the bot has posted nothing for a moment."""

        def final() -> bool | None:
            replies = self._bot_replies(channel, thread_ts)
            return (bool(replies) and all(reply.text != PLACEHOLDER for reply in replies)) or None

        await self.slack.driver.wait_for(final, ANSWER_TIMEOUT_S, f"the final answer in {thread_ts}")
        await self._quiet()

    async def _quiet(self, until: Callable[[], bool] = lambda: True) -> None:
        """Wait until `until()` holds and no Web API call has been made for QUIET_S seconds."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        seen, since = len(self.slack.calls), time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            if len(self.slack.calls) != seen:
                seen, since = len(self.slack.calls), time.monotonic()
            elif time.monotonic() - since >= QUIET_S and until():
                return
        raise TimeoutError("the bot kept working for longer than the answer time limit")

    def _proposal_ids(self, replies: list[Message]) -> list[str]:
        ids: list[str] = []
        for message in replies:
            for block in message.blocks:
                for element in block.get("elements", []) if block.get("type") == "actions" else []:
                    if element.get("action_id") == APPROVE_ACTION and element.get("value"):
                        ids.append(str(element["value"]))
        return ids

    async def _proposals(self, ids: list[str]) -> list[Proposal]:
        found = [await self.runtime.store.get_proposal(proposal_id) for proposal_id in ids]
        return [Proposal.from_payload(stored.payload) for stored in found if stored is not None]

    async def _refused(self, audit_before: int) -> bool:
        events = await self.runtime.store.list_audit(kind=AuditKind.QUESTION, limit=1000)
        return any(event.detail.get("refused") for event in events[: max(len(events) - audit_before, 0)])

    async def _approve(
        self, case: Case, outcome: CaseOutcome, channel: str, thread_ts: str, proposal_id: str
    ) -> CaseOutcome:
        assert case.approve is not None
        message = next(m for m in self._bot_replies(channel, thread_ts) if proposal_id in str(m.blocks))
        seen = {m.ts: len(m.versions) for m in self._bot_replies(channel, thread_ts)}
        await self.slack.driver.click(self.user(case.approve.by), channel, message.ts, APPROVE_ACTION, proposal_id)

        async def state() -> ProposalState | None:
            stored = await self.runtime.store.get_proposal(proposal_id)
            return stored.state if stored else None

        def changed() -> bool:
            return any(m.ts not in seen or len(m.versions) != seen[m.ts] for m in self._bot_replies(channel, thread_ts))

        await self._quiet(changed)
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while (current := await state()) not in FINAL_STATES and current != ProposalState.PENDING:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_S * 4)
        await self._quiet()
        after = [
            self.slack.driver.render(m)
            for m in self._bot_replies(channel, thread_ts)
            if m.ts not in seen or len(m.versions) != seen[m.ts]
        ]
        current = await state()
        executed = current in EXECUTED_STATES
        action = outcome.proposals[0]["action"] if outcome.proposals else None
        return outcome.model_copy(
            update={
                "clicked": True,
                "executed": executed,
                "after_texts": after,
                "executed_actions": [action] if executed and action else [],
            }
        )

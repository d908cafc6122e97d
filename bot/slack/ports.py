"""What the Slack surface needs from the rest of the bot, as two narrow interfaces.

The listeners depend on these and nothing else, so they can be driven by the real agents in
production and in the demo, and the Slack code never reaches into agents' internals.
"""

from __future__ import annotations

from typing import Protocol

from agents.answer import Answer
from agents.progress import ProgressSink
from agents.question import Question
from agents.remediation.outcome import Decision, ExecutionReport, Registration
from guardrails.proposals import Proposal
from store.models import StoredProposal


class Asker(Protocol):
    async def ask(self, question: Question, progress: ProgressSink) -> Answer: ...


class Remediation(Protocol):
    async def register_all(
        self, proposals: list[Proposal], requester: str, channel: str, thread_ts: str | None
    ) -> Registration:
        """Store the proposals policy and a dry run accept (with digest and expiry); say why the others are not."""
        ...

    async def attach_message(self, proposal_id: str, channel: str, ts: str) -> None: ...

    async def decide(self, proposal_id: str, user: str, approve: bool) -> Decision:
        """Policy check and atomic state change for one click; never executes anything."""
        ...

    async def execute(self, proposal_id: str) -> ExecutionReport:
        """Run an approved proposal exactly once (dry run, real call, verification)."""
        ...

    async def pending(self) -> list[StoredProposal]: ...

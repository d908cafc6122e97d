"""Playing a case straight through the agents and the remediation service, without Slack.

Used for `via: ask` cases (the contract's `whisperer ask` path) and for scheduled-check cases.
"""

from __future__ import annotations

from agents.question import Question
from bot.check_once import run_check_once
from bot.evaluation.judge import CaseOutcome
from bot.runtime import Runtime
from sandbox.world import World
from sandbox.world_models import Case

EVAL_USER = "U_ALICE"


async def play_direct(runtime: Runtime, world: World, case: Case, default_channel: str) -> CaseOutcome:
    if case.check is not None:
        return CaseOutcome(texts=[await run_check_once(case.check, runtime.toolbox)])
    assert case.ask is not None
    user = case.user or EVAL_USER
    channel = case.channel or default_channel
    answer = await runtime.assistant.ask(Question(text=case.ask, user=user, channel=channel, via=case.via))
    outcome = CaseOutcome(
        texts=[answer.text],
        proposals=[proposal.contract_view() for proposal in answer.proposals],
        refused=answer.refused is not None,
    )
    if case.approve is None or not answer.proposals:
        return outcome
    stored = await runtime.remediation.register(answer.proposals, user, channel, None)
    if not stored:
        return outcome.model_copy(update={"after_texts": ["policy refused every proposal before it was shown"]})
    decision = await runtime.remediation.decide(stored[0].id, case.approve.by, True)
    after = [decision.message]
    executed = False
    if decision.accepted:
        report = await runtime.remediation.execute(stored[0].id)
        executed = report.executed
        after += [report.message, report.verification or ""]
    return outcome.model_copy(
        update={
            "clicked": True,
            "executed": executed,
            "after_texts": after,
            "executed_actions": [answer.proposals[0].action] if executed else [],
        }
    )

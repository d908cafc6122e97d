"""Answers to questions beyond the evaluation cases, on the bundled worlds, without a model."""

from __future__ import annotations

from agents.question import Question
from bot.session import command_runtime


async def test_what_changed_lists_the_changes_newest_first_with_their_deploys() -> None:
    async with command_runtime(None, "payment-outage") as runtime:
        answer = await runtime.assistant.ask(Question(text="what changed recently for payment-service?"))
        other = await runtime.assistant.ask(Question(text="any deploys for cart-service?"))

    assert answer.verdict.startswith("1 change for payment-service in the last 72 h; latest: PR #214")
    [changes] = [group for group in answer.facts if group.source == "changes"]
    assert "deployed" in changes.lines[0] and "config/production.yaml" in changes.lines[0]
    assert answer.proposals == [] and answer.root_cause is None
    assert other.verdict == "No merged pull requests or deploys for cart-service in the last 72 h."

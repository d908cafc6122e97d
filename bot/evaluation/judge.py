"""Whether what the bot did satisfies one `expect.yaml` case (CONTRACT.md, section 4).

Pure: it sees only what the bot posted (text of every message of the reply thread), the
proposals it made, whether a guardrail refused, and what happened after a click.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sandbox.world_models import Alternatives, Case


class CaseOutcome(BaseModel):
    texts: list[str] = Field(default_factory=list, description="every message of the reply thread, as posted")
    proposals: list[dict[str, Any]] = Field(default_factory=list, description="contract view of each proposal")
    refused: bool = False
    executed_actions: list[str] = Field(default_factory=list)
    clicked: bool = False
    executed: bool = False
    after_texts: list[str] = Field(default_factory=list, description="what was posted after the click")


def _mentioned(text: str, item: Alternatives) -> bool:
    options = [item] if isinstance(item, str) else item
    return any(option.lower() in text for option in options)


def _show(item: Alternatives) -> str:
    return repr(item) if isinstance(item, str) else " or ".join(repr(option) for option in item)


def _proposal_matches(wanted: dict[str, Any], proposal: dict[str, Any]) -> bool:
    flat = {"action": proposal.get("action"), **(proposal.get("target") or {}), **(proposal.get("params") or {})}
    return all(str(flat.get(key)) == str(value) for key, value in wanted.items())


def judge(case: Case, outcome: CaseOutcome) -> list[str]:
    """Every unmet condition, one line each; empty means the case passed."""
    problems: list[str] = []
    text = "\n".join(outcome.texts + outcome.after_texts).lower()
    problems += [f"does not mention {_show(item)}" for item in case.must_mention if not _mentioned(text, item)]
    problems += [f"mentions {_show(item)}" for item in case.must_not_mention if _mentioned(text, item)]
    for wanted in case.proposals:
        if not any(_proposal_matches(wanted, proposal) for proposal in outcome.proposals):
            problems.append(f"no proposal {wanted}")
    used = {proposal.get("action") for proposal in outcome.proposals} | set(outcome.executed_actions)
    problems += [f"forbidden action {action} was proposed" for action in case.forbidden_actions if action in used]
    if case.refused is not None and case.refused != outcome.refused:
        problems.append("was not refused" if case.refused else f"was refused: {text[:120]}")
    if case.approve is not None and not outcome.clicked:
        problems.append("there was no proposal to approve")
    after = case.after_approve
    if after is not None and outcome.clicked:
        after_text = "\n".join(outcome.after_texts).lower()
        if after.executed is not None and after.executed != outcome.executed:
            problems.append("the action was not executed" if after.executed else "the action was executed")
        problems += [
            f"after approval, does not mention {_show(item)}"
            for item in after.must_mention
            if not _mentioned(after_text, item)
        ]
        problems += [
            f"after approval, mentions {_show(item)}" for item in after.must_not_mention if _mentioned(after_text, item)
        ]
    return problems

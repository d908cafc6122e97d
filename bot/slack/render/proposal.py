"""One remediation proposal as an interactive message: what, why, risk, dry run, Approve / Reject.

The same builder draws the message before and after a decision, so updating it in place only
adds status lines and removes the buttons; what was approved stays on screen next to who
approved it. The digest is shown because it is what execution re-checks: the approver sees
the identity of exactly what will run.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, SectionBlock
from slack_sdk.models.blocks.basic_components import MarkdownTextObject

from agents.remediation.outcome import ExecutionReport
from bot.slack.render.blocks import Json, clip, context, escape, escape_keeping_mentions, section
from guardrails.proposals import Proposal
from store.models import StoredProposal

APPROVE_ACTION = "proposal_approve"
REJECT_ACTION = "proposal_reject"
REASON_LIMIT = 1500
DRY_RUN_LIMIT = 1500


def proposal_of(stored: StoredProposal) -> Proposal | None:
    """The typed proposal kept in the stored payload, or None if the payload has another shape."""
    try:
        return Proposal.from_payload(stored.payload)
    except ValidationError:
        return None


def _dry_run(stored: StoredProposal) -> str | None:
    value = stored.payload.get("dry_run")
    return value if isinstance(value, str) and value.strip() else None


def _what(proposal: Proposal | None) -> str:
    if proposal is None:
        return "a change whose details could not be read"
    return f"`{escape(proposal.action)}` on *{escape(str(proposal.target))}*"


def _summary(stored: StoredProposal, proposal: Proposal | None) -> Json:
    fields = [f"*Requested by:* <@{stored.requested_by}>", f"*Expires:* {stored.expires_at:%H:%M} UTC"]
    if proposal is not None:
        approval = "required" if proposal.requires_approval else "not required"
        fields = [f"*Risk:* {proposal.risk}", f"*Approval:* {approval}", *fields]
    block: Json = SectionBlock(
        text=MarkdownTextObject(text=f"*Proposed fix:* {_what(proposal)}"),
        fields=[MarkdownTextObject(text=field) for field in fields],
    ).to_dict()
    return block


def _buttons(stored: StoredProposal, proposal: Proposal | None) -> Json:
    what = f"{proposal.action} on {proposal.target}" if proposal else "this change"
    risk = f" Risk: {proposal.risk}." if proposal else ""
    approve = ButtonElement(
        text="Approve",
        action_id=APPROVE_ACTION,
        value=stored.id,
        style="primary",
        confirm=ConfirmObject(
            title="Approve this change?",
            text=clip(f"{escape(what)} runs as soon as you confirm.{risk}", 300),
            confirm="Approve",
            deny="Cancel",
        ),
    )
    reject = ButtonElement(text="Reject", action_id=REJECT_ACTION, value=stored.id, style="danger")
    block: Json = ActionsBlock(block_id=f"proposal:{stored.id}", elements=[approve, reject]).to_dict()
    return block


def proposal_message(
    stored: StoredProposal, status: Sequence[str] = (), buttons: bool = True
) -> tuple[str, list[Json]]:
    """(fallback text, blocks); `status` lines say who decided and what happened, oldest first."""
    proposal = proposal_of(stored)
    blocks = [_summary(stored, proposal)]
    if proposal is not None and proposal.params:
        params = ", ".join(f"`{escape(key)}={escape(str(value))}`" for key, value in sorted(proposal.params.items()))
        blocks.append(section(f"*Parameters:* {params}"))
    if proposal is not None and proposal.reason.strip():
        blocks.append(section(f"*Why:* {escape(clip(proposal.reason.strip(), REASON_LIMIT))}"))
    dry_run = _dry_run(stored)
    if dry_run:
        blocks.append(section(f"*Dry run:* {escape(clip(dry_run, DRY_RUN_LIMIT))}"))
    blocks.append(context(f"Proposal `{stored.id[:8]}` · digest `{stored.digest[:12]}`: exactly this runs if approved"))
    blocks += [section(line) for line in status]
    if buttons:
        blocks.append(_buttons(stored, proposal))
    text = f"Proposed fix: {proposal.action} on {proposal.target}" if proposal else "Proposed fix"
    return escape(text), blocks


def execution_lines(report: ExecutionReport) -> list[str]:
    """What running an approved proposal did, and whether the fix was verified."""
    if not report.executed:
        return [f"❌ Not executed: {escape_keeping_mentions(report.message)}"]
    lines = [f"🛠️ {escape_keeping_mentions(report.message)}"]
    if report.verified is None:
        lines.append("Verification did not run.")
    elif report.verified:
        lines.append(f"✅ Verified: {escape(report.verification or 'the fix holds')}")
    else:
        lines.append(f"⚠️ Verification failed: {escape(report.verification or 'no detail')}")
    return lines

"""Approve / Reject clicks: acked at once, decided by policy, executed once, reported in the thread.

The proposal message is updated in place, so the thread shows one message per fix with who
decided and what happened. A refused click (self-approval, someone not allowed) keeps the
buttons for someone who is allowed, and the thread says why; a stale click (decided, expired,
unknown) removes them and says so. Nothing here executes without an accepted approval.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from agents.remediation.outcome import Decision
from bot.slack.answering import Place, post_proposals
from bot.slack.deps import SlackDeps
from bot.slack.errors import ReplyTo, reply_target, tell
from bot.slack.redacting_client import RedactingWebClient, door
from bot.slack.render.blocks import Json, escape_keeping_mentions, section
from bot.slack.render.proposal import APPROVE_ACTION, REJECT_ACTION, execution_lines, proposal_message
from store.models import ProposalState

logger = logging.getLogger(__name__)

UNKNOWN_BUTTON = "That button is not one I handle (any more), so nothing was done."
EXECUTION_INTERRUPTED = (
    "Interrupted: the bot restarted while running this fix; the next replica to notice finishes or reports it here."
)


class Click(BaseModel):
    """One click on a proposal's button, read from a block_actions payload."""

    proposal_id: str
    user: str
    place: Place
    message_ts: str
    message_blocks: list[Json]


def read_click(body: dict[str, Any]) -> Click:
    channel, container = body["channel"], body["container"]
    message_ts = str(container["message_ts"])
    message = body.get("message") or {}
    return Click(
        proposal_id=str(body["actions"][0].get("value") or ""),
        user=str(body["user"]["id"]),
        place=Place(
            channel_id=str(channel["id"]),
            channel_name=f"#{channel.get('name') or channel['id']}",
            thread_ts=str(container.get("thread_ts") or message_ts),
        ),
        message_ts=message_ts,
        message_blocks=list(message.get("blocks") or []),
    )


async def _reply(client: AsyncWebClient, click: Click, text: str) -> None:
    await client.chat_postMessage(channel=click.place.channel_id, thread_ts=click.place.thread_ts, text=text)


async def _show(deps: SlackDeps, client: AsyncWebClient, click: Click, status: list[str], buttons: bool) -> None:
    """Redraw the proposal message from the store, with `status` lines and with or without buttons."""
    stored = await deps.store.get_proposal(click.proposal_id)
    if stored is None:
        # Not ours to redraw: keep what the message said, drop the buttons that can no longer work.
        blocks = [block for block in click.message_blocks if block.get("type") != "actions"]
        text, blocks = "Proposed fix", [*blocks, *(section(line) for line in status)]
    else:
        text, blocks = proposal_message(stored, status, buttons=buttons)
    await client.chat_update(channel=click.place.channel_id, ts=click.message_ts, text=text, blocks=blocks)


_RUNNING = frozenset({ProposalState.APPROVED, ProposalState.EXECUTING, ProposalState.EXECUTED})


async def _refused(deps: SlackDeps, client: AsyncWebClient, click: Click, decision: Decision, verb: str) -> None:
    # Policy names people by user id; in the thread they read better as mentions.
    reason = re.sub(rf"\b{re.escape(click.user)}\b", f"<@{click.user}>", escape_keeping_mentions(decision.message))
    if decision.proposal is None or decision.state is None:
        await _reply(client, click, f"<@{click.user}>: I no longer know this proposal; nothing was done.")
        await _show(deps, client, click, ["This proposal is no longer known to the bot."], buttons=False)
    elif decision.state == ProposalState.PENDING:
        await _reply(client, click, f"Not {verb}d, nothing was done: {reason}")
    else:
        await _reply(
            client,
            click,
            f"<@{click.user}>: this proposal is already {decision.state.value}; nothing was done. {reason}",
        )
        # A fix still running is drawn by the click that runs it; a late click must not overwrite its outcome.
        if decision.state not in _RUNNING:
            await _show(deps, client, click, [f"This proposal is {decision.state.value}."], buttons=False)


async def decide(deps: SlackDeps, client: AsyncWebClient, ack: AsyncAck, body: dict[str, Any], approve: bool) -> None:
    await ack()
    click = read_click(body)
    decision = await deps.remediation.decide(click.proposal_id, click.user, approve)
    if not decision.accepted:
        await _refused(deps, client, click, decision, "approve" if approve else "reject")
        return
    if not approve:
        await _show(deps, client, click, [f"❌ Rejected by <@{click.user}>"], buttons=False)
        return
    approved = f"✅ Approved by <@{click.user}>"
    await _show(deps, client, click, [f"{approved} · executing…"], buttons=False)
    deps.in_flight.add(lambda: _reply(client, click, EXECUTION_INTERRUPTED))
    report = await deps.remediation.execute(click.proposal_id)
    outcome = execution_lines(report)
    await _reply(client, click, "\n".join(outcome))
    await _show(deps, client, click, [approved, *outcome], buttons=False)
    if report.follow_up:
        await post_proposals(deps, client, report.follow_up, click.user, click.place)


async def unknown_action(client: RedactingWebClient, ack: AsyncAck, body: dict[str, Any]) -> None:
    """A button from an older version of the bot, or one it never posted: say so to the clicker only."""
    await ack()
    logger.info("click on an unknown action: %s", [a.get("action_id") for a in body.get("actions") or []])
    target = reply_target(body)
    user = body.get("user") or {}
    if target is not None and user.get("id"):
        await tell(client, ReplyTo(channel=target.channel, ephemeral_user=str(user["id"])), UNKNOWN_BUTTON)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """The proposal buttons, then a catch-all for any other action (Bolt runs the first match)."""
    client = door(app)

    async def on_approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await decide(deps, client, ack, body, approve=True)

    async def on_reject(ack: AsyncAck, body: dict[str, Any]) -> None:
        await decide(deps, client, ack, body, approve=False)

    async def on_other(ack: AsyncAck, body: dict[str, Any]) -> None:
        await unknown_action(client, ack, body)

    app.action(APPROVE_ACTION)(on_approve)
    app.action(REJECT_ACTION)(on_reject)
    app.action(re.compile(".+"))(on_other)

"""Answering one question in Slack, whichever way it arrived (slash command or mention).

In a thread: placeholder at once, live progress, the final answer in the same message, overflow
and long evidence below it, the turn remembered for follow-ups, then one message per proposed
fix with Approve / Reject. Privately (ephemeral): the same answer without buttons, because an
approval nobody else can see is not one a team should rely on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import BaseModel
from slack_sdk.web.async_client import AsyncWebClient

from agents.answer import Answer
from agents.progress import ignore_progress
from agents.question import PriorTurn, Question
from bot.slack.charts import post_chart
from bot.slack.deps import SlackDeps
from bot.slack.errors import failure_line
from bot.slack.in_flight import INTERRUPTED
from bot.slack.live_message import LiveMessage
from bot.slack.private_reply import PrivateReply
from bot.slack.redacting_client import RedactingWebClient
from bot.slack.render.answer import RenderedAnswer, render_answer
from bot.slack.render.blocks import escape, section
from bot.slack.render.proposal import proposal_message
from guardrails.proposals import Proposal
from store.models import Turn

logger = logging.getLogger(__name__)

SNIPPET_NAME = "evidence.txt"
PRIVATE_NOTE = "Only you can see this answer."
EVIDENCE_CUT_NOTE = "Some evidence was cut for length; ask in a channel bound to me to get it in full."
_SLACK_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


class Place(BaseModel):
    """A thread in a channel; the name is what bindings and the policy compare, the id what Slack takes."""

    channel_id: str
    channel_name: str
    thread_ts: str


def unescape(text: str) -> str:
    """Slack-formatted text as the person typed it (Slack sends `>` as `&gt;`)."""
    for escaped, plain in _SLACK_ESCAPES:
        text = text.replace(escaped, plain)
    return text


def prepare_question(text: str, limit: int) -> tuple[str, list[str]]:
    """(question for the agents, notes for the reply): an enormous question is cut, and the reply says so."""
    question = unescape(text).strip()
    if len(question) <= limit:
        return question, []
    return question[:limit], [f"Your question was cut to its first {limit:,} characters."]


def history(turns: Sequence[Turn]) -> list[PriorTurn]:
    """Earlier turns of a thread as the agents take them, with what each answer was about."""
    return [
        PriorTurn(
            question=turn.question,
            answer=turn.answer,
            subjects=sorted({str(finding["subject"]) for finding in turn.findings if finding.get("subject")}),
        )
        for turn in turns
    ]


def turn_of(question: Question, answer: Answer) -> Turn:
    findings = [
        {
            "source": finding.source,
            "severity": finding.severity.value,
            "summary": finding.summary,
            "subject": str(finding.subject) if finding.subject else None,
        }
        for finding in answer.findings
    ]
    return Turn(user=question.user, question=question.text, answer=answer.text or answer.verdict, findings=findings)


async def _post_rest(client: AsyncWebClient, place: Place, rendered: RenderedAnswer) -> None:
    """What did not fit the answer message: follow-up messages, then the full evidence as a snippet."""
    for blocks in rendered.follow_ups:
        await client.chat_postMessage(
            channel=place.channel_id, thread_ts=place.thread_ts, text=rendered.text, blocks=blocks
        )
    if rendered.snippet:
        await client.files_upload_v2(
            channel=place.channel_id,
            thread_ts=place.thread_ts,
            content=rendered.snippet,
            filename=SNIPPET_NAME,
            title="Full evidence",
        )


async def post_proposals(
    deps: SlackDeps, client: AsyncWebClient, proposals: Sequence[Proposal], requester: str, place: Place
) -> None:
    """Register the proposals, then post one message with Approve / Reject per proposal kept."""
    registration = await deps.remediation.register_all(list(proposals), requester, place.channel_name, place.thread_ts)
    for item in registration.stored:
        text, blocks = proposal_message(item)
        posted = await client.chat_postMessage(
            channel=place.channel_id, thread_ts=place.thread_ts, text=text, blocks=blocks
        )
        await deps.remediation.attach_message(item.id, str(posted["channel"]), str(posted["ts"]))
    if registration.refused:
        lines = [
            f"• {escape(f'{r.proposal.action} on {r.proposal.target}')}: {escape(r.reason)}"
            for r in registration.refused
        ]
        await client.chat_postMessage(
            channel=place.channel_id,
            thread_ts=place.thread_ts,
            text="Not offered:\n" + "\n".join(lines),
        )


async def placeholder(
    deps: SlackDeps, client: AsyncWebClient, channel_id: str, thread_ts: str, text: str
) -> LiveMessage:
    """Post the answer's placeholder in the thread: the first thing the asker sees, before any lookup.

    From here until the listener ends, a shutdown waits for the answer or marks it interrupted.
    """
    live = await LiveMessage.post(client, channel_id, thread_ts, escape(text), deps.live_update_interval)
    deps.in_flight.add(lambda: live.finish(INTERRUPTED, [section(INTERRUPTED)]))
    return live


async def answer_in_thread(
    deps: SlackDeps,
    client: RedactingWebClient,
    live: LiveMessage,
    question: Question,
    place: Place,
    notes: Sequence[str] = (),
) -> None:
    """Ask, turning `live` (the placeholder) into the answer, then post the rest and the proposals."""
    try:
        answer = await deps.asker.ask(question, live.report)
    except Exception as exc:
        # The placeholder must not keep saying "checking…" forever: it becomes the failure line.
        line = failure_line(exc, "answering your question")
        await live.finish(line, [section(line)])
        return
    rendered = render_answer(answer, notes)
    await live.finish(rendered.text, rendered.blocks)
    await _post_rest(client, place, rendered)
    for series in answer.series:
        await post_chart(client, place.channel_id, place.thread_ts, series)
    await deps.store.append_turn(place.channel_id, place.thread_ts, turn_of(question, answer))
    if answer.proposals:
        await post_proposals(deps, client, answer.proposals, question.user, place)


async def answer_privately(deps: SlackDeps, reply: PrivateReply, question: Question, notes: Sequence[str] = ()) -> None:
    """An ephemeral answer: no live edits (Slack cannot edit those through the Web API), no buttons."""
    deps.in_flight.add(lambda: reply.send(INTERRUPTED))
    await reply.send(f"Looking into it… _{escape(question.text)}_")
    try:
        answer = await deps.asker.ask(question, ignore_progress)
    except Exception as exc:
        await reply.send(failure_line(exc, "answering your question"))
        return
    rendered = render_answer(answer, [*notes, PRIVATE_NOTE], list_proposals=True)
    for blocks in [rendered.blocks, *rendered.follow_ups]:
        await reply.send(rendered.text, blocks)
    if rendered.snippet:
        # A file would be visible to the whole channel, so the full evidence is not attached here.
        await reply.send(EVIDENCE_CUT_NOTE)

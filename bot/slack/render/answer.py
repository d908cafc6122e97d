"""An `Answer` as Slack messages: verdict first, then evidence per source, cause, owner, runbook.

An on-call engineer reads the first line and decides whether to read on, so the verdict leads
and every source that could not be checked is named. Whatever does not fit Slack's limits is
not dropped: extra blocks go to follow-up messages in the thread, and evidence or table rows cut
for length go to a text snippet attached to the thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from pydantic import BaseModel, Field

from agents.answer import Answer
from bot.slack.render.blocks import (
    MAX_MESSAGE_BLOCKS,
    SEVERITY_ICONS,
    Json,
    bullet_lines,
    clip,
    context,
    escape,
    section,
    sections,
)
from guardrails.proposals import Proposal
from tools.findings import Finding

EVIDENCE_PREVIEW = 400
TABLE_PREVIEW_ROWS = 15
TABLE_CELL = 40
VERDICT_LIMIT = 2900
CONTINUED = "More in the next message ↓"


class RenderedAnswer(BaseModel):
    """The answer message, the messages that follow it in the thread, and the snippet if any."""

    text: str = Field(description="notification text of the main message")
    blocks: list[Json]
    follow_ups: list[list[Json]] = Field(default_factory=list)
    snippet: str | None = Field(default=None, description="full evidence and tables, when cut for length")


def _verdict(answer: Answer) -> list[Json]:
    parts = [section(f"*{escape(clip(answer.verdict, VERDICT_LIMIT))}*")]
    if answer.refused and answer.refused not in answer.verdict:
        parts.append(section(f"🚫 *Refused:* {escape(answer.refused)}"))
    return parts


def _facts(answer: Answer) -> list[list[Json]]:
    """What specialists report as plain facts (pods by status, rows in words), one part per source."""
    return [
        sections(f"*{escape(group.source)}*\n" + bullet_lines([escape(line) for line in group.lines]))
        for group in answer.facts
    ]


def _finding_line(finding: Finding) -> str:
    subject = f" ({escape(str(finding.subject))})" if finding.subject else ""
    line = f"{SEVERITY_ICONS[finding.severity]} {escape(finding.summary)}{subject}"
    evidence = finding.evidence.strip()
    if evidence:
        quoted = "\n".join(f"> {escape(row)}" for row in clip(evidence, EVIDENCE_PREVIEW).splitlines())
        line = f"{line}\n{quoted}"
    return line


def _evidence(findings: Sequence[Finding]) -> list[list[Json]]:
    """One part per source, most severe first, in the order sources first reported."""
    order = {finding.source: index for index, finding in reversed(list(enumerate(findings)))}
    ordered = sorted(findings, key=lambda finding: (order[finding.source], finding.severity.rank))
    return [
        sections(f"*Evidence from {escape(source)}*\n" + "\n".join(_finding_line(finding) for finding in group))
        for source, group in groupby(ordered, key=lambda finding: finding.source)
    ]


def _explanation(answer: Answer) -> list[Json]:
    """A model's explanation is shown as what it is: unverified prose, escaped like any tool text."""
    if not answer.explanation:
        return []
    return sections(f"🤖 *Model's explanation (unverified):* {escape(answer.explanation)}")


def _root_cause(answer: Answer) -> list[Json]:
    return sections(f"*Root cause:* {escape(answer.root_cause)}") if answer.root_cause else []


def _timeline(answer: Answer) -> list[Json]:
    if not answer.timeline:
        return []
    lines = [
        f"`{entry.at.strftime('%H:%M:%S')}` {escape(entry.kind)}: {escape(entry.text)}"
        for entry in sorted(answer.timeline, key=lambda entry: entry.at)
    ]
    return sections("*Timeline (UTC)*\n" + bullet_lines(lines))


def _owner(answer: Answer) -> list[Json]:
    owner = answer.owner
    if owner is None:
        return []
    repo = f" · repo `{escape(owner.repo)}`" if owner.repo else ""
    return [
        section(
            f"*Owner:* {escape(owner.service)} belongs to team *{escape(owner.team)}*, "
            f"channel {escape(owner.channel)}{repo}"
        )
    ]


def _runbook(answer: Answer) -> list[Json]:
    runbook = answer.runbook
    if runbook is None:
        return []
    text = f"*Runbook:* {escape(runbook.title)} (`{escape(runbook.path)}`)"
    if runbook.excerpt.strip():
        text += "\n" + "\n".join(f"> {escape(line)}" for line in clip(runbook.excerpt.strip(), 600).splitlines())
    return sections(text)


def _cell(value: Any) -> str:
    return clip("" if value is None else str(value), TABLE_CELL)


def _table_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    grid = [[_cell(column) for column in columns], *[[_cell(value) for value in row] for row in rows]]
    widths = [max(len(line[index]) for line in grid) for index in range(len(columns))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=False)) for line in grid)


def _table(table: dict[str, Any]) -> list[Json]:
    columns = [str(column) for column in table.get("columns", [])]
    rows = [list(row) for row in table.get("rows", [])]
    title = escape(str(table.get("title") or "Query result"))
    shown = _table_text(columns, rows[:TABLE_PREVIEW_ROWS]) if columns else ""
    more = (
        f"\n_{len(rows) - TABLE_PREVIEW_ROWS} more rows in the attached file_" if len(rows) > TABLE_PREVIEW_ROWS else ""
    )
    body = f"```{clip(escape(shown), 2700)}```" if shown else "_no rows_"
    return [section(f"*{title}* ({len(rows)} row{'' if len(rows) == 1 else 's'})\n{body}{more}")]


def _proposal_list(proposals: Sequence[Proposal]) -> list[Json]:
    if not proposals:
        return []
    lines = [f"{escape(p.action)} on {escape(str(p.target))} (risk {p.risk})" for p in proposals]
    return [
        section("*Proposed fixes*\n" + bullet_lines(lines)),
        context("Approve buttons are only posted in channels bound to the bot, where the team sees the decision."),
    ]


def _sources_failed(answer: Answer) -> list[Json]:
    if not answer.sources_failed:
        return []
    named = ", ".join(f"*{escape(f.source)}* ({escape(clip(f.error, 200))})" for f in answer.sources_failed)
    return [context(f"⚠️ Could not check: {named}. The answer may be incomplete.")]


def _snippet(answer: Answer) -> str | None:
    """The full evidence and tables, when the message shows only a preview of them."""
    cut_evidence = [finding for finding in answer.findings if len(finding.evidence.strip()) > EVIDENCE_PREVIEW]
    cut_tables = [table for table in answer.tables if len(table.get("rows", [])) > TABLE_PREVIEW_ROWS]
    if not cut_evidence and not cut_tables:
        return None
    chunks = [f"[{finding.source}] {finding.summary}\n{finding.evidence.strip()}" for finding in cut_evidence]
    chunks += [
        f"{table.get('title') or 'Query result'}\n"
        + _table_text([str(c) for c in table.get("columns", [])], [list(r) for r in table.get("rows", [])])
        for table in cut_tables
    ]
    return "\n\n".join(chunks) + "\n"


def _pack(parts: Sequence[list[Json]]) -> tuple[list[Json], list[list[Json]]]:
    """Parts in order into the main message, then into follow-ups, each within Slack's 50 blocks."""
    messages: list[list[Json]] = [[]]
    for part in parts:
        for block in part:
            if len(messages[-1]) >= MAX_MESSAGE_BLOCKS - 1:
                messages[-1].append(context(CONTINUED))
                messages.append([])
            messages[-1].append(block)
    return messages[0], messages[1:]


def render_answer(answer: Answer, notes: Sequence[str] = (), list_proposals: bool = False) -> RenderedAnswer:
    """The answer as Slack shows it; `notes` are short remarks (e.g. the question was cut)."""
    parts: list[list[Json]] = [
        _verdict(answer),
        [context(*notes)] if notes else [],
        _root_cause(answer),
        _explanation(answer),
        *_evidence(answer.findings),
        *_facts(answer),
        _timeline(answer),
        _owner(answer),
        _runbook(answer),
        *[_table(table) for table in answer.tables],
        _proposal_list(answer.proposals) if list_proposals else [],
        _sources_failed(answer),
    ]
    blocks, follow_ups = _pack(parts)
    return RenderedAnswer(
        text=escape(clip(answer.verdict, VERDICT_LIMIT)), blocks=blocks, follow_ups=follow_ups, snippet=_snippet(answer)
    )

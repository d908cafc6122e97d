"""The live placeholder: what the bot is looking into and what each specialist has found so far."""

from __future__ import annotations

from collections.abc import Iterable

from agents.progress import SpecialistProgress, SpecialistState
from bot.slack.render.blocks import Json, clip, context, escape, section

PLACEHOLDER = "Looking into it…"
_QUESTION_PREVIEW = 300

_ICONS = {
    SpecialistState.CHECKING: "⏳",
    SpecialistState.FOUND: "🔎",
    SpecialistState.NOTHING: "✅",
    SpecialistState.FAILED: "⚠️",
}


def progress_line(progress: SpecialistProgress) -> str:
    """'kubernetes: checking…', 'kubernetes: found 2 problems', 'metrics: failed: timeout'."""
    detail = escape(progress.detail)
    match progress.state:
        case SpecialistState.CHECKING:
            status = "checking…"
        case SpecialistState.FOUND:
            status = f"found {detail}" if detail else "found something"
        case SpecialistState.NOTHING:
            status = f"nothing unusual ({detail})" if detail else "nothing unusual"
        case SpecialistState.FAILED:
            status = f"failed: {detail}" if detail else "failed"
    return f"{_ICONS[progress.state]} {escape(progress.specialist)}: {status}"


def progress_message(question: str, reports: Iterable[SpecialistProgress]) -> tuple[str, list[Json]]:
    """(fallback text, blocks) of the placeholder; `question` is Slack-formatted text, shown as is."""
    lines = [progress_line(report) for report in reports]
    blocks = [section(f"{PLACEHOLDER} _{clip(question, _QUESTION_PREVIEW)}_")]
    if lines:
        blocks.append(section("\n".join(lines)))
    else:
        blocks.append(context("Choosing which sources to check…"))
    return PLACEHOLDER, blocks

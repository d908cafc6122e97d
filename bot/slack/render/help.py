"""What `/whisper help` (or a question with no words) shows: how to ask, with examples."""

from __future__ import annotations

from bot.slack.render.blocks import Json, context, section

USAGE_TEXT = "How to ask InfraWhisperer"
EXAMPLES = (
    "/whisper why is payment-service failing?",
    "/whisper what changed in shop in the last hour?",
    "/whisper which certificates expire this month? --private",
)


def usage_message(problem: str | None = None) -> tuple[str, list[Json]]:
    """(fallback text, blocks); `problem` says what was wrong with the last attempt, if anything."""
    examples = "\n".join(f"• `{example}`" for example in EXAMPLES)
    blocks = [
        section(
            "*Ask me about your infrastructure* in plain words:\n"
            f"{examples}\n"
            "• or mention me in a channel: `@whisperer is checkout slow right now?`\n\n"
            "I answer in a thread in channels bound to me (add `--private` for an answer only you see). "
            "Ask follow-ups in the same thread; I remember what we talked about there.\n"
            "`/whisper checks` lists the scheduled checks and their last results; "
            "`/whisper cost` shows today's language-model spend."
        ),
        context("Proposed fixes come with Approve / Reject buttons; nothing changes until someone approves."),
    ]
    if problem:
        blocks.insert(0, section(f"⚠️ {problem}"))
    return USAGE_TEXT, blocks

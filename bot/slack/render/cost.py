"""`/whisper cost`: today's model spend by role, as the audit log records it."""

from __future__ import annotations

from collections.abc import Sequence

from agents.llm.budget import RoleSpend
from bot.slack.render.blocks import Json, context, section

COST_TEXT = "Model spend today"


def cost_message(spends: Sequence[RoleSpend], daily_usd: float | None) -> tuple[str, list[Json]]:
    """(fallback text, blocks); `daily_usd` is the configured daily budget, None without models."""
    if not spends:
        body = "No model calls today." if daily_usd is not None else "No language model is configured."
        return COST_TEXT, [section(f"*{COST_TEXT}*\n{body}")]
    lines = [
        f"• *{spend.role}*: ${spend.cost_usd:.4f} in {spend.calls} call{'s' if spend.calls != 1 else ''} "
        f"({spend.tokens_in:,} tokens in, {spend.tokens_out:,} out)"
        for spend in spends
    ]
    total = sum(spend.cost_usd for spend in spends)
    budget = f" of the ${daily_usd:g} daily budget" if daily_usd is not None else ""
    return COST_TEXT, [
        section(f"*{COST_TEXT}*: ${total:.4f}{budget}\n" + "\n".join(lines)),
        context("Counted from the audit log (UTC day); unpriced models count as $0."),
    ]

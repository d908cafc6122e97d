"""A scheduled check's digest for one channel: what changed, most severe first, with buttons.

Each item says why it is in this digest (new, worse, still open, back from a snooze, resolved),
who owns it, and offers Snooze / Acknowledge / Investigate. A click redraws the same message
with a status line in place of that item's buttons, so the channel sees who took it and nothing
is posted twice. Items beyond what one Slack message holds are listed without buttons.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ValidationError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.slack.render.blocks import (
    MAX_MESSAGE_BLOCKS,
    SEVERITY_ICONS,
    Json,
    bullet_lines,
    clip,
    context,
    escape,
    header,
    section,
)
from scheduled_checks.dedupe import Change, DigestItem

SNOOZE_DAY_ACTION = "digest_snooze_day"
SNOOZE_WEEK_ACTION = "digest_snooze_week"
ACK_ACTION = "digest_ack"
INVESTIGATE_ACTION = "digest_investigate"

ITEM_PREFIX = "digest-item-"
ACTIONS_PREFIX = "digest-actions-"
STATUS_PREFIX = "digest-status-"
EVIDENCE_LIMIT = 400
SUMMARY_LIMIT = 2500
# Header, run line and the overflow list; the rest is for items.
_FRAME_BLOCKS = 3


class ItemRef(BaseModel):
    """What a digest button carries: the check and the finding's key, enough to find its record."""

    check: str
    key: str

    def value(self) -> str:
        return json.dumps({"check": self.check, "key": self.key}, separators=(",", ":"))

    @classmethod
    def parse(cls, value: str) -> ItemRef | None:
        try:
            return cls.model_validate_json(value)
        except ValidationError:
            return None


def digest_message(
    title: str, channel: str, items: Sequence[DigestItem], checked: str, now: datetime
) -> tuple[str, list[Json]]:
    """(fallback text, blocks) for the items of one run going to `channel`."""
    blocks = [
        header(f"{title}: {_counts(items)}"),
        context(f"{escape(checked)} · {now:%Y-%m-%d %H:%M} UTC · for {escape(channel)}"),
    ]
    shown = 0
    budget = MAX_MESSAGE_BLOCKS - _FRAME_BLOCKS
    for index, item in enumerate(items):
        drawn = _item_blocks(index, item)
        if len(blocks) + len(drawn) > budget:
            break
        blocks += drawn
        shown += 1
    rest = items[shown:]
    if rest:
        lines = bullet_lines(f"{_icon(item)} {escape(clip(item.summary, 200))}" for item in rest)
        blocks.append(section(clip(f"*{len(rest)} more:*\n{lines}", 2900)))
    return escape(f"{title}: {_counts(items)}"), blocks


def with_status(blocks: Sequence[Json], actions_block_id: str, status: str, keep_buttons: bool) -> list[Json]:
    """The digest's blocks with `status` under one item, its buttons kept or removed."""
    index = actions_block_id.removeprefix(ACTIONS_PREFIX)
    status_id = f"{STATUS_PREFIX}{index}"
    line = context(status)
    line["block_id"] = status_id
    updated: list[Json] = []
    for block in blocks:
        block_id = block.get("block_id")
        if block_id == status_id:
            continue
        if block_id == actions_block_id:
            updated += [block, line] if keep_buttons else [line]
            continue
        updated.append(block)
    return updated


def _counts(items: Sequence[DigestItem]) -> str:
    open_items = [item for item in items if item.change is not Change.RESOLVED]
    by_severity = [
        f"{sum(item.severity == severity for item in open_items)} {severity}"
        for severity in SEVERITY_ICONS
        if any(item.severity == severity for item in open_items)
    ]
    resolved = len(items) - len(open_items)
    return ", ".join([*by_severity, *([f"{resolved} resolved"] if resolved else [])]) or "nothing new"


def _icon(item: DigestItem) -> str:
    return "✅" if item.change is Change.RESOLVED else SEVERITY_ICONS.get(item.severity, "⚪")


def _why(item: DigestItem) -> str:
    if item.change is Change.SEVERITY and item.previous_severity:
        return f"now {item.severity} (was {item.previous_severity})"
    if item.change is Change.REMINDER:
        return f"still open since {item.record.first_seen:%Y-%m-%d %H:%M} UTC"
    return item.change.value


def _item_blocks(index: int, item: DigestItem) -> list[Json]:
    owner = f" · {escape(item.owner)}" if item.owner else ""
    text = f"{_icon(item)} *{escape(_why(item))}*{owner}\n{escape(clip(item.summary, SUMMARY_LIMIT))}"
    first = section(text)
    first["block_id"] = f"{ITEM_PREFIX}{index}"
    if item.change is Change.RESOLVED:
        return [first]
    drawn = [first]
    evidence = "\n".join(line for line in item.evidence.splitlines()[:3] if line.strip())
    if evidence:
        drawn.append(context(escape(clip(evidence, EVIDENCE_LIMIT))))
    drawn.append(_buttons(index, ItemRef(check=item.check, key=item.key)))
    return drawn


def _buttons(index: int, ref: ItemRef) -> Json:
    value = ref.value()
    block: Json = ActionsBlock(
        block_id=f"{ACTIONS_PREFIX}{index}",
        elements=[
            ButtonElement(text="Snooze 1 day", action_id=SNOOZE_DAY_ACTION, value=value),
            ButtonElement(text="Snooze 1 week", action_id=SNOOZE_WEEK_ACTION, value=value),
            ButtonElement(text="Acknowledge", action_id=ACK_ACTION, value=value, style="primary"),
            ButtonElement(text="Investigate", action_id=INVESTIGATE_ACTION, value=value),
        ],
    ).to_dict()
    return block

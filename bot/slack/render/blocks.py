"""Small Block Kit pieces shared by every renderer: sections, context lines, and Slack's limits.

Slack refuses a section over 3000 characters and a message over 50 blocks; these helpers split
or clip text so that a long answer is spread over several blocks instead of being refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from slack_sdk.models.blocks import ContextBlock, DividerBlock, HeaderBlock, SectionBlock
from slack_sdk.models.blocks.basic_components import MarkdownTextObject

Json = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_TEXT = 2000
MAX_HEADER_TEXT = 150
ELLIPSIS = "…"
# Keyed by severity value, so a stored finding's plain string and a `Severity` both look up.
SEVERITY_ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9_]{1,20})&gt;")


def escape(text: str) -> str:
    """Text from tools and agents shown literally: Slack reads `<`, `>` and `&` as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_keeping_mentions(text: str) -> str:
    """`escape`, but user mentions (<@U123>) stay mentions: the remediation service names deciders that way.

    Only a plain user id is restored; broadcasts (<!channel>) and links stay escaped.
    """
    return _ESCAPED_MENTION.sub(r"<@\1>", escape(text))


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


def section(text: str) -> Json:
    block: Json = SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT))).to_dict()
    return block


def sections(text: str) -> list[Json]:
    """One section per 3000-character piece of `text`."""
    return [section(piece) for piece in split_text(text)]


def context(*texts: str) -> Json:
    elements = [MarkdownTextObject(text=clip(text, MAX_CONTEXT_TEXT)) for text in texts if text]
    block: Json = ContextBlock(elements=elements).to_dict()
    return block


def header(text: str) -> Json:
    block: Json = HeaderBlock(text=clip(text, MAX_HEADER_TEXT)).to_dict()
    return block


def divider() -> Json:
    block: Json = DividerBlock().to_dict()
    return block


def bullet_lines(lines: Iterable[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)

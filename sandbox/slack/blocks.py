"""Block Kit as Slack treats it: validated on the way in, flattened to text for transcripts.

Slack rejects a message whose blocks break its schema or limits with `invalid_blocks` and a list
of `[ERROR] ... [json-pointer:...]` messages; a stand-in that accepted them would let a rendering
bug through to production. slack_sdk's block models carry Slack's limits (section text 3000,
header 150, button text 75, ...), so they do the per-block checks; the stand-in adds the limits
the models do not know (blocks per message or view) and the shapes they silently coerce.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

Json = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
_TEXT_OBJECT_BLOCKS = {"section", "header"}
_ELEMENT_LIST_BLOCKS = {"actions", "context"}


def _error(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _shape_errors(block: Json, pointer: str) -> list[str]:
    """What Slack rejects but slack_sdk's models quietly accept (a bare string as text, unknown elements)."""
    errors = []
    if block["type"] in _TEXT_OBJECT_BLOCKS and "text" in block and not isinstance(block["text"], dict):
        errors.append(_error("expected an object of type text", f"{pointer}/text"))
    if block["type"] in _ELEMENT_LIST_BLOCKS:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            errors.append(_error("must provide at least 1 item", f"{pointer}/elements"))
        else:
            for index, element in enumerate(elements):
                if not isinstance(element, dict) or "type" not in element:
                    errors.append(_error("missing required field: type", f"{pointer}/elements/{index}"))
    return errors


def _model_errors(block: Json, pointer: str) -> list[str]:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [_error(f"unsupported type: {block['type']}", f"{pointer}/type")]
        normalized = parsed.to_dict()
    except SlackObjectFormationError as exc:
        return [_error(str(exc), pointer)]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # slack_sdk's constructors raise these for fields a block type does not have.
        return [_error(f"invalid block: {exc}", pointer)]
    unknown = [index for index, element in enumerate(normalized.get("elements") or []) if element is None]
    return [_error("unsupported element type", f"{pointer}/elements/{index}") for index in unknown]


def block_errors(blocks: object, *, limit: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """Slack's `response_metadata.messages` for these blocks; an empty list means Slack accepts them."""
    if not isinstance(blocks, list):
        return [_error("expected an array of blocks", "/blocks")]
    errors = []
    if len(blocks) > limit:
        errors.append(_error(f"no more than {limit} items allowed", "/blocks"))
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(_error("missing required field: type", pointer))
            continue
        shape = _shape_errors(block, pointer)
        errors += shape or _model_errors(block, pointer)
    return errors


def with_generated_ids(blocks: list[Json]) -> list[Json]:
    """Blocks with the `block_id`s and `action_id`s Slack fills in when an app leaves them out."""
    filled = []
    for block in blocks:
        block = {**block, "block_id": block.get("block_id") or secrets.token_urlsafe(4)}
        if block.get("type") == "actions":
            block["elements"] = [_with_action_id(element) for element in block.get("elements", [])]
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            block["accessory"] = _with_action_id(block["accessory"])
        filled.append(block)
    return filled


def _with_action_id(element: Json) -> Json:
    return {**element, "action_id": element.get("action_id") or secrets.token_urlsafe(4)}


def interactive_elements(blocks: Iterable[Json]) -> Iterable[tuple[Json, Json]]:
    """(block, element) for every element a user can click: actions elements and section accessories."""
    for block in blocks:
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                yield block, element
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]


def _text(obj: object) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _element_text(element: Json) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{_text(element.get('text'))}]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in {"mrkdwn", "plain_text"}:
        return _text(element)
    label = _text(element.get("placeholder")) or kind
    return f"[{label} ▾]"


def _rich_text(elements: Iterable[Json]) -> str:
    parts = []
    for element in elements:
        kind = element.get("type")
        if kind in {"rich_text_section", "rich_text_preformatted", "rich_text_quote", "rich_text_list"}:
            parts.append(_rich_text(element.get("elements", [])))
        elif kind == "user":
            parts.append(f"<@{element.get('user_id')}>")
        elif kind == "channel":
            parts.append(f"<#{element.get('channel_id')}>")
        elif kind == "link":
            parts.append(str(element.get("text") or element.get("url", "")))
        elif kind == "emoji":
            parts.append(f":{element.get('name')}:")
        else:
            parts.append(str(element.get("text", "")))
    return "".join(parts)


def _block_lines(block: Json) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [f"# {_text(block.get('text'))}"]
    if kind == "section":
        lines = [_text(block.get("text"))] if block.get("text") else []
        lines += [_text(field) for field in block.get("fields", [])]
        if isinstance(block.get("accessory"), dict):
            lines.append(_element_text(block["accessory"]))
        return lines
    if kind in {"context", "actions"}:
        separator = " · " if kind == "context" else " "
        return [separator.join(_element_text(element) for element in block.get("elements", []))]
    if kind == "divider":
        return ["---"]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind == "markdown":
        return [str(block.get("text", ""))]
    if kind == "rich_text":
        return [_rich_text(block.get("elements", []))]
    return [f"[{kind}]"]


def unescape(text: str) -> str:
    """What a Slack client shows for the three entities apps must escape in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_blocks(blocks: Iterable[Json]) -> str:
    """Blocks as a person sees them, for transcripts: headers as '# ...', buttons as '[Approve] [Reject]'."""
    return unescape("\n".join(line for block in blocks for line in _block_lines(block)))

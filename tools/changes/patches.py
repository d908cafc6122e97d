"""Unified-diff hunks as the added lines and their line numbers in the new file.

`file:line` is how a root cause points at code, so the numbers must be the new file's.
"""

from __future__ import annotations

import re

AddedLine = tuple[int, str]
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def added_lines(patch: str) -> list[AddedLine]:
    """The added lines of a unified diff with their line numbers in the new file."""
    result: list[AddedLine] = []
    line = 0
    for raw in patch.splitlines():
        header = _HUNK.match(raw)
        if header:
            line = int(header.group(1))
            continue
        if raw.startswith("+") and not raw.startswith("+++"):
            result.append((line, raw[1:]))
            line += 1
        elif raw.startswith("-") and not raw.startswith("---"):
            continue
        elif line:
            line += 1
    return result

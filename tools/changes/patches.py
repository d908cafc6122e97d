"""Unified-diff hunks read as the lines a change added and removed, with their line numbers.

A root cause points at code as `file:line` (`worker/cache.py:42`), and the line that matters is
in the new file, the one now running; so added lines carry new-file numbers. Removed lines no
longer exist there and carry their number in the old file. Pure functions, so correlation can
run them over any patch text and tests can pin them down with tables.

The hunk header's counts decide where a hunk ends, not the first character of a line: an added
line that reads "++ x" appears as "+++ x", which a reader keyed on "+++" headers would drop.
"""

from __future__ import annotations

import re
from typing import NamedTuple

AddedLine = tuple[int, str]
"""(line number, text): the new file's number for an added line, the old file's for a removed one."""

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchLines(NamedTuple):
    added: list[AddedLine]
    removed: list[AddedLine]


def parse_patch(patch: str) -> PatchLines:
    """The added and removed lines of a unified diff (one file's hunks, or a whole `git diff`)."""
    added: list[AddedLine] = []
    removed: list[AddedLine] = []
    old_line = new_line = old_left = new_left = 0
    for raw in patch.splitlines():
        if old_left <= 0 and new_left <= 0:
            header = _HUNK.match(raw)
            if header:
                old_line, new_line = int(header.group(1)), int(header.group(3))
                old_left = int(header.group(2) or 1)
                new_left = int(header.group(4) or 1)
            continue  # file headers (diff --git, ---, +++) and text between hunks
        marker, text = raw[:1], raw[1:]
        if marker == "+":
            added.append((new_line, text))
            new_line, new_left = new_line + 1, new_left - 1
        elif marker == "-":
            removed.append((old_line, text))
            old_line, old_left = old_line + 1, old_left - 1
        elif marker == "\\":
            continue  # "\ No newline at end of file"
        else:  # context; some tools strip the lone space of an empty context line
            old_line, new_line = old_line + 1, new_line + 1
            old_left, new_left = old_left - 1, new_left - 1
    return PatchLines(added=added, removed=removed)


def added_lines(patch: str) -> list[AddedLine]:
    """The added lines of a unified diff with their line numbers in the new file."""
    return parse_patch(patch).added

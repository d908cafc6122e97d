"""Risky shapes in the lines a pull request added, named the way an SRE would name them.

Pure functions over (line number, text) pairs so they are table-testable and language-agnostic
enough for Python, Go and config files. Each pattern says where (`file:line`) and what it means
for a running service, because that sentence is what ends up in the root cause.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from tools.changes.patches import AddedLine

_LOOP = re.compile(r"^\s*(for\b.*:|for\s.*\{|while\b.*:)\s*$")
_QUERY = re.compile(r"\.(execute|query|fetch\w*|select|filter|get_\w+|find\w*)\s*\(|\bSELECT\b|\bdb\.\w+\(", re.I)
_CLIENT = re.compile(
    r"^\s*(?P<var>[\w.]+)\s*(?::[^=]+)?=\s*(?P<call>[\w.]*(?:from_url|connect|Client|Session|Redis|ConnectionPool|"
    r"create_engine|Dial)\w*)\s*\("
)
_APPEND = re.compile(r"\.(append|add|extend|push)\s*\(\s*(?P<var>[\w.]+)\s*\)")
_TIMEOUT = re.compile(r"^\s*(?P<key>[\w.-]*timeout[\w.-]*)\s*[:=]\s*(?P<value>[^#\s,]+)", re.I)
_ENDPOINT = re.compile(r"^\s*(?P<key>[\w.-]*(?:url|host|endpoint|address|addr)[\w.-]*)\s*[:=]\s*(?P<value>\S+)", re.I)
_DROP_INDEX = re.compile(
    r"\bDROP\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?(?P<name>[\w.\"]+)|\bdrop_index\(\s*[\"'](?P<op>\w+)",
    re.I,
)
_ALTER_TABLE = re.compile(r"\bALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?(?P<name>[\w.\"]+)", re.I)
_CODE_SUFFIXES = (".py", ".go", ".java", ".kt", ".rb", ".js", ".ts", ".cs", ".rs", ".php", ".scala")
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".ini", ".conf", ".env", ".properties")


class PatchPattern(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    filename: str
    line: int
    summary: str

    @property
    def location(self) -> str:
        return f"{self.filename}:{self.line}"


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def _query_in_loop(filename: str, lines: Sequence[AddedLine]) -> list[PatchPattern]:
    found: list[PatchPattern] = []
    for index, (_, text) in enumerate(lines):
        if not _LOOP.match(text):
            continue
        depth = _indent(text)
        for inner_number, inner in lines[index + 1 :]:
            if inner.strip() and _indent(inner) <= depth:
                break
            if _QUERY.search(inner):
                found.append(
                    PatchPattern(
                        kind="query_in_loop",
                        filename=filename,
                        line=inner_number,
                        summary=(
                            f"it adds a query inside a loop in {filename} (line {inner_number}): one query per "
                            f"item, an N+1 pattern that holds a pooled connection for every iteration"
                        ),
                    )
                )
                break
    return found


def _client_per_call(filename: str, lines: Sequence[AddedLine]) -> list[PatchPattern]:
    found: list[PatchPattern] = []
    for index, (number, text) in enumerate(lines):
        created = _CLIENT.match(text)
        if not created:
            continue
        variable = created.group("var")
        kept = any(
            (append := _APPEND.search(later)) and append.group("var") == variable for _, later in lines[index + 1 :]
        )
        if kept:
            found.append(
                PatchPattern(
                    kind="client_per_call",
                    filename=filename,
                    line=number,
                    summary=(
                        f"{filename}:{number} creates a new client ({created.group('call')}) on every call and keeps "
                        "it in a list that is only released by close()/quit() at shutdown, so connections and "
                        "memory grow with every call until the process is killed"
                    ),
                )
            )
    return found


def _config_changes(filename: str, lines: Sequence[AddedLine]) -> list[PatchPattern]:
    found: list[PatchPattern] = []
    for number, text in lines:
        for kind, pattern in (("timeout_change", _TIMEOUT), ("endpoint_change", _ENDPOINT)):
            match = pattern.match(text)
            if match:
                found.append(
                    PatchPattern(
                        kind=kind,
                        filename=filename,
                        line=number,
                        summary=f"{filename}:{number} sets {match.group('key')} to {match.group('value')}",
                    )
                )
    return found


def _schema_changes(filename: str, lines: Sequence[AddedLine]) -> list[PatchPattern]:
    """Migrations that slow or block the queries of a running service: a dropped index, a locked table
    (named once: its first ALTER TABLE already holds the lock for the whole transaction)."""
    found: list[PatchPattern] = []
    altered_tables: set[str] = set()
    for number, text in lines:
        if text.lstrip().startswith(("--", "#")):
            continue
        if dropped := _DROP_INDEX.search(text):
            index = (dropped.group("name") or dropped.group("op")).strip('"')
            found.append(
                PatchPattern(
                    kind="drop_index",
                    filename=filename,
                    line=number,
                    summary=(
                        f"it drops index {index} in {filename} (line {number}): queries that used it now scan "
                        "the whole table"
                    ),
                )
            )
        elif (altered := _ALTER_TABLE.search(text)) and altered.group("name").strip('"') not in altered_tables:
            table = altered.group("name").strip('"')
            altered_tables.add(table)
            found.append(
                PatchPattern(
                    kind="alter_table",
                    filename=filename,
                    line=number,
                    summary=(
                        f"it alters table {table} in {filename} (line {number}): ALTER TABLE holds an ACCESS "
                        f"EXCLUSIVE lock on {table} until its transaction ends, so every query on it waits"
                    ),
                )
            )
    return found


def find_patterns(filename: str, added: Sequence[AddedLine]) -> list[PatchPattern]:
    """Patterns in one file's added lines; tests and docs are not where production breaks."""
    lowered = filename.lower()
    if "test" in lowered.rsplit("/", 1)[-1] or lowered.startswith(("tests/", "test/", "docs/")):
        return []
    if lowered.endswith(".sql"):
        return _schema_changes(filename, added)
    if lowered.endswith(_CODE_SUFFIXES):
        return [*_query_in_loop(filename, added), *_client_per_call(filename, added), *_schema_changes(filename, added)]
    if lowered.endswith(_CONFIG_SUFFIXES):
        return _config_changes(filename, added)
    return []

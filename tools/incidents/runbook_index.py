"""Full-text search over runbooks: "which runbook is for what I am looking at?"

Runbooks are markdown files with YAML front matter (`title`, `tags`, `matches`). `matches` are
symptom phrases exactly as they show up in a cluster (CrashLoopBackOff, "could not obtain
connection from pool"), so a symptom in a question or a finding finds its runbook even when the
body never repeats it.

The index is SQLite FTS5 in memory (standard library, no model to download), built once when the
server starts. BM25 ranks title, matches and tags well above the body: a runbook that merely
mentions OOMKilled in passing must not beat the one about it. A query is reduced to its words,
each quoted as an FTS5 string, so punctuation, quotes and FTS5 operators in a question are just
text and can never be read as query syntax.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from tools.incidents.models import Runbook, RunbookHit

logger = logging.getLogger(__name__)

# bm25() weights, in column order: title, tags, matches, body.
_WEIGHTS: Final = (10.0, 4.0, 8.0, 1.0)
_SNIPPET_TOKENS: Final = 16
_WORD = re.compile(r"\w+")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t]*$", re.MULTILINE)
# Words that say "find me a runbook" rather than what it is about.
_NOISE: Final = frozenset(
    {"runbook", "runbooks", "playbook", "procedure", "guide", "doc", "docs", "how", "what", "why", "when"}
    | {"which", "do", "does", "we", "i", "you", "me", "my", "our", "the", "a", "an", "for", "to", "of", "in"}
    | {"on", "is", "are", "be", "with", "and", "or", "about", "there", "any", "please", "show", "find", "get"}
)


class RunbookNotFound(LookupError):
    """No indexed runbook has that path or title; str() is one line."""


class RunbookRefused(PermissionError):
    """A path outside the runbook directories; str() is one line starting with "refused:"."""


def parse_runbook(text: str, path: str) -> Runbook:
    """A runbook from its file text; a file without usable front matter is titled by its first heading."""
    meta: dict[str, Any] = {}
    body = text
    front = _FRONT_MATTER.match(text)
    if front:
        body = text[front.end() :]
        try:
            loaded = yaml.safe_load(front.group(1))
        except yaml.YAMLError as error:
            logger.warning("runbook %s: front matter is not YAML (%s); indexed by its text only", path, error)
            loaded = None
        meta = loaded if isinstance(loaded, dict) else {}
    heading = _HEADING.search(body)
    title = str(meta.get("title") or (heading.group(1) if heading else Path(path).stem))
    return Runbook(
        title=title, path=path, tags=_strings(meta.get("tags")), matches=_strings(meta.get("matches")), markdown=body
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if item is not None]
    return []


def fts_query(text: str) -> str | None:
    """`text` as an FTS5 query that matches any of its words, or None when it has no words.

    Each word is quoted, so nothing in `text` is FTS5 syntax; a word the tokenizer splits
    (`db_pool_connections_active`) becomes a phrase of its parts.
    """
    words = [word.lower() for word in _WORD.findall(text)]
    meaningful = [word for word in words if word not in _NOISE] or words
    unique = list(dict.fromkeys(meaningful))
    return " OR ".join(f'"{word}"' for word in unique) if unique else None


class RunbookIndex:
    """The runbooks of some directories, searchable by BM25 and readable by path or title."""

    def __init__(self, runbooks: Iterable[Runbook], roots: Sequence[Path] = ()) -> None:
        self._runbooks = list(runbooks)
        self._roots = [root.resolve() for root in roots]
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE runbooks USING fts5(title, tags, matches, body, tokenize='porter unicode61')"
        )
        self._db.executemany(
            "INSERT INTO runbooks (rowid, title, tags, matches, body) VALUES (?, ?, ?, ?, ?)",
            [
                (number, runbook.title, " ".join(runbook.tags), "\n".join(runbook.matches), runbook.markdown)
                for number, runbook in enumerate(self._runbooks)
            ],
        )

    @classmethod
    def from_dirs(cls, dirs: Sequence[Path]) -> RunbookIndex:
        """Every `*.md` under `dirs` (missing directories are skipped with a warning)."""
        runbooks = []
        for directory in dirs:
            if not directory.is_dir():
                logger.warning("runbook directory %s does not exist; skipped", directory)
                continue
            for file in sorted(directory.rglob("*.md")):
                runbooks.append(parse_runbook(file.read_text(encoding="utf-8"), str(file)))
        return cls(runbooks, dirs)

    @property
    def runbooks(self) -> list[Runbook]:
        return list(self._runbooks)

    def search(self, query: str, limit: int = 5) -> list[RunbookHit]:
        """The runbooks best matching `query`, best first; an empty list when nothing matches."""
        match = fts_query(query)
        if match is None or limit < 1:
            return []
        rows = self._db.execute(
            "SELECT rowid, bm25(runbooks, ?, ?, ?, ?) AS rank,"
            " snippet(runbooks, -1, '**', '**', '…', ?) FROM runbooks WHERE runbooks MATCH ? ORDER BY rank LIMIT ?",
            (*_WEIGHTS, _SNIPPET_TOKENS, match, limit),
        ).fetchall()
        return [
            RunbookHit(
                title=self._runbooks[rowid].title,
                path=self._runbooks[rowid].path,
                tags=self._runbooks[rowid].tags,
                snippet=" ".join(snippet.split()),
                score=round(-rank, 3),
            )
            for rowid, rank, snippet in rows
        ]

    def get(self, path_or_title: str) -> Runbook:
        """The runbook at an indexed path (as listed, absolute, or a bare file name) or with that title.

        Only indexed runbooks are served, from memory: a path outside the runbook directories is
        refused, never opened.
        """
        wanted = path_or_title.strip()
        by_title = [runbook for runbook in self._runbooks if runbook.title.casefold() == wanted.casefold()]
        if by_title:
            return by_title[0]
        if not wanted.endswith(".md") and "/" not in wanted:
            raise RunbookNotFound(f"no runbook titled {wanted!r}; search_runbooks finds them by topic")
        resolved = Path(wanted).resolve()
        for runbook in self._runbooks:
            if runbook.path == wanted or Path(runbook.path).resolve() == resolved:
                return runbook
        by_name = [runbook for runbook in self._runbooks if Path(runbook.path).name == wanted]
        if len(by_name) == 1:
            return by_name[0]
        if not any(resolved.is_relative_to(root) for root in self._roots) and "/" in wanted:
            raise RunbookRefused(f"refused: {wanted} is outside the runbook directories")
        raise RunbookNotFound(f"no runbook at {wanted!r}; search_runbooks lists their paths")

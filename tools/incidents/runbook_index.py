"""Runbooks (markdown with YAML front matter) indexed in SQLite FTS5 for ranked search.

Title, tags and `matches` (the symptom phrases a runbook answers, e.g. "CrashLoopBackOff") weigh
far more than the body, so "runbook for OOMKilled" finds the OOM runbook rather than every page
that mentions memory. Queries are reduced to plain quoted terms: FTS5's own syntax in a
question can never raise or change the query.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import yaml

from tools.incidents.models import Runbook, RunbookHit

_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<meta>.*?)\n---\s*\n(?P<body>.*)\Z", re.DOTALL)
_TERM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_STOP = {"runbook", "for", "the", "a", "an", "to", "of", "in", "on", "how", "do", "i", "we", "fix", "what", "is"}
# bm25 weights per column: title, tags, matches, body.
_WEIGHTS = (10.0, 5.0, 8.0, 1.0)


class RunbookNotFound(LookupError):
    """No indexed runbook has that title or path."""


class RunbookRefused(PermissionError):
    """A path outside the indexed directories: runbooks are the only files this server reads."""


def read_runbook(path: Path) -> Runbook:
    text = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    meta = (yaml.safe_load(match.group("meta")) or {}) if match else {}
    body = match.group("body") if match else text
    title = str(meta.get("title") or path.stem.replace("-", " "))
    return Runbook(
        title=title,
        path=str(path),
        tags=[str(tag) for tag in meta.get("tags") or []],
        matches=[str(phrase) for phrase in meta.get("matches") or []],
        markdown=body,
    )


class RunbookIndex:
    @classmethod
    def from_dirs(cls, directories: Iterable[Path]) -> RunbookIndex:
        return cls(directories)

    def __init__(self, directories: Iterable[Path]) -> None:
        self.directories = [directory.resolve() for directory in directories]
        self.runbooks = [
            read_runbook(path)
            for directory in self.directories
            if directory.is_dir()
            for path in sorted(directory.glob("*.md"))
        ]
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE runbooks USING fts5(title, tags, matches, body, tokenize='porter')")
        self._db.executemany(
            "INSERT INTO runbooks(rowid, title, tags, matches, body) VALUES (?, ?, ?, ?, ?)",
            [
                (rowid, book.title, " ".join(book.tags), " ".join(book.matches), book.markdown)
                for rowid, book in enumerate(self.runbooks)
            ],
        )

    def search(self, query: str, limit: int = 5) -> list[RunbookHit]:
        terms = [t for t in _TERM.findall(query) if t.lower() not in _STOP]
        if not terms:
            return []
        expression = " OR ".join('"' + term.replace('"', "") + '"' for term in terms)
        rows = self._db.execute(
            "SELECT rowid, bm25(runbooks, ?, ?, ?, ?), snippet(runbooks, 3, '', '', '…', 24) FROM runbooks "
            "WHERE runbooks MATCH ? ORDER BY 2 LIMIT ?",
            (*_WEIGHTS, expression, limit),
        ).fetchall()
        return [
            RunbookHit(
                title=self.runbooks[rowid].title,
                path=self.runbooks[rowid].path,
                tags=self.runbooks[rowid].tags,
                snippet=snippet,
                score=-score,
            )
            for rowid, score, snippet in rows
        ]

    def get(self, path_or_title: str) -> Runbook:
        """By title, file name or path; a path outside the indexed directories is refused, not read."""
        for book in self.runbooks:
            if path_or_title in (book.title, book.path) or Path(book.path).name == path_or_title:
                return book
        if "/" in path_or_title or path_or_title.startswith("."):
            resolved = Path(path_or_title).resolve()
            if not any(resolved.is_relative_to(directory) for directory in self.directories):
                raise RunbookRefused(f"refused: {path_or_title} is outside the runbook directories")
        raise RunbookNotFound(f"no runbook titled or named {path_or_title!r}")

"""Runbook search over the project's runbooks and the bundled worlds' runbooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.world import load_world
from tools.incidents.runbook_index import (
    RunbookIndex,
    RunbookNotFound,
    RunbookRefused,
    fts_query,
    parse_runbook,
)
from tools.incidents.server import PROJECT_RUNBOOKS

WORLD_RUNBOOKS = [load_world(name).root / "runbooks" for name in ("payment-outage", "cert-expiry")]


@pytest.fixture(scope="module")
def index() -> RunbookIndex:
    return RunbookIndex.from_dirs([PROJECT_RUNBOOKS, *WORLD_RUNBOOKS])


def test_every_runbook_is_indexed_with_its_front_matter(index: RunbookIndex) -> None:
    files = sorted(PROJECT_RUNBOOKS.glob("*.md")) + [f for d in WORLD_RUNBOOKS for f in sorted(d.glob("*.md"))]
    assert [runbook.path for runbook in index.runbooks] == [str(file) for file in files]
    crash = next(runbook for runbook in index.runbooks if runbook.path.endswith("crashloopbackoff.md"))
    assert crash.title == "Pod in CrashLoopBackOff"
    assert "CrashLoopBackOff" in crash.matches and "kubernetes" in crash.tags
    assert crash.markdown.startswith("# Pod in CrashLoopBackOff")


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("runbook for CrashLoopBackOff", "Pod in CrashLoopBackOff"),
        ("runbook for database connection pool exhaustion", "Database connection pool exhaustion"),
        ("runbook for OOMKilled", "Container OOMKilled"),
        ("could not obtain connection from pool within 30s", "Database connection pool exhaustion"),
        ("Back-off restarting failed container", "Pod in CrashLoopBackOff"),
        ("payment gateway timeouts on payment-service", "payment-service: payment gateway timeouts"),
        ("ErrImagePull manifest unknown", "Image pull failing (ImagePullBackOff / ErrImagePull)"),
        ("db_pool_connections_active", "Database connection pool exhaustion"),
        ("what do we do when a certificate expires?", "TLS certificate expiring or ACME renewal failing"),
    ],
)
def test_the_runbook_about_the_symptom_ranks_first(index: RunbookIndex, query: str, best: str) -> None:
    hits = index.search(query, limit=5)
    assert hits and hits[0].title == best, [hit.title for hit in hits]
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_a_passing_mention_ranks_below_the_runbook_about_it(index: RunbookIndex) -> None:
    # crashloopbackoff.md mentions OOMKilled in a table; it must come after oomkilled.md
    titles = [hit.title for hit in index.search("OOMKilled", limit=5)]
    assert titles.index("Container OOMKilled") < titles.index("Pod in CrashLoopBackOff")


def test_hits_carry_what_the_agent_shows(index: RunbookIndex) -> None:
    [hit] = index.search("runbook for OOMKilled", limit=1)
    assert hit.path == str(PROJECT_RUNBOOKS / "oomkilled.md")
    assert "oom" in hit.tags
    assert "**OOMKilled**" in hit.snippet and "\n" not in hit.snippet
    assert hit.score > 0


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ('CrashLoopBackOff" OR title:*', "Pod in CrashLoopBackOff"),
        ("NEAR(pool exhaustion, 2)", "Database connection pool exhaustion"),
        ("pool* AND NOT (", "Database connection pool exhaustion"),
        ("^title:OOMKilled -- ' \" ; DROP TABLE runbooks", "Container OOMKilled"),
        ("{title tags}: ImagePullBackOff + [x] -", "Image pull failing (ImagePullBackOff / ErrImagePull)"),
        ("", None),
        ("   ", None),
        ("???", None),
    ],
)
def test_fts5_syntax_in_a_question_is_only_text(index: RunbookIndex, query: str, best: str | None) -> None:
    hits = index.search(query)
    assert (hits[0].title if hits else None) == best


def test_quoted_words_are_matched_as_words(index: RunbookIndex) -> None:
    assert index.search('"CrashLoopBackOff"')[0].title == "Pod in CrashLoopBackOff"
    assert fts_query('say "hi" (now)') == '"say" OR "hi" OR "now"'
    assert fts_query("runbook for the") == '"runbook" OR "for" OR "the"'
    assert fts_query("!!") is None


def test_runbooks_are_read_by_path_file_name_or_title(index: RunbookIndex) -> None:
    path = str(PROJECT_RUNBOOKS / "oomkilled.md")
    assert index.get(path).title == "Container OOMKilled"
    assert index.get("oomkilled.md").path == path
    assert index.get("container oomkilled").path == path


@pytest.mark.parametrize("outside", ["/etc/passwd", "../../../../etc/shadow.md", f"{PROJECT_RUNBOOKS}/../README.md"])
def test_paths_outside_the_runbook_directories_are_refused(index: RunbookIndex, outside: str) -> None:
    with pytest.raises(RunbookRefused, match=r"^refused: .* is outside the runbook directories$"):
        index.get(outside)


def test_unknown_runbooks_are_not_found(index: RunbookIndex) -> None:
    with pytest.raises(RunbookNotFound, match="no runbook titled 'Kafka lag'"):
        index.get("Kafka lag")
    with pytest.raises(RunbookNotFound, match="no runbook at"):
        index.get(str(PROJECT_RUNBOOKS / "kafka.md"))


@pytest.mark.parametrize(
    ("text", "title", "tags", "matches"),
    [
        ("---\ntitle: Disk full\ntags: [disk]\nmatches: [No space left]\n---\n# Disk\nbody", "Disk full", ["disk"],
         ["No space left"]),
        ("# Only a heading\n\nbody", "Only a heading", [], []),
        ("---\ntitle: [unclosed\n---\n# Broken front matter\n", "Broken front matter", [], []),
        ("---\ntags: dns\nmatches: NXDOMAIN\n---\nno heading", "dns-runbook", ["dns"], ["NXDOMAIN"]),
    ],
)  # fmt: skip
def test_front_matter_is_read_leniently(text: str, title: str, tags: list[str], matches: list[str]) -> None:
    runbook = parse_runbook(text, "team/dns-runbook.md")
    assert (runbook.title, runbook.tags, runbook.matches) == (title, tags, matches)
    assert not runbook.markdown.startswith("---")


def test_missing_directories_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "disk.md").write_text("---\ntitle: Disk full\nmatches: [No space left on device]\n---\nbody\n")
    index = RunbookIndex.from_dirs([tmp_path / "absent", tmp_path])
    assert [hit.title for hit in index.search("No space left on device")] == ["Disk full"]

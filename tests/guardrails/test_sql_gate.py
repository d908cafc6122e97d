from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

from guardrails.sql_gate import MAX_SQL_CHARS, SqlRefused, check_sql, gate_sql
from tests.guardrails.sql_corpus import ALLOWED, REFUSED


def test_corpora_are_as_large_as_promised() -> None:
    assert len(REFUSED) >= 100
    assert len(ALLOWED) >= 50
    assert len({entry["sql"] for entry in REFUSED}) == len(REFUSED), "duplicate refused payload"
    assert len({entry["name"] for entry in ALLOWED}) == len(ALLOWED), "duplicate allowed query name"


@pytest.mark.parametrize("entry", REFUSED, ids=[f"{i:03d}-{e['expect'][:40]}" for i, e in enumerate(REFUSED)])
def test_refused_corpus(entry: dict[str, Any]) -> None:
    with pytest.raises(SqlRefused) as refused:
        gate_sql(entry["sql"])
    reason = refused.value.reason
    assert reason.startswith("refused: ")
    assert "\n" not in reason and len(reason) < 200
    assert entry["expect"] in reason
    assert check_sql(entry["sql"]).model_dump() == {
        "allowed": False,
        "normalized": None,
        "reason": reason,
        "tables": [],
    }


@pytest.mark.parametrize("entry", ALLOWED, ids=[e["name"] for e in ALLOWED])
def test_allowed_corpus(entry: dict[str, Any]) -> None:
    allowed = gate_sql(entry["sql"], max_rows=100)
    # The rendering is stable: gating what will run gives back exactly what will run.
    assert gate_sql(allowed.normalized, max_rows=100).normalized == allowed.normalized
    assert "--" not in allowed.normalized and "/*" not in allowed.normalized
    result = check_sql(entry["sql"])
    assert result.allowed and result.normalized == allowed.normalized and result.reason is None


@pytest.mark.parametrize(
    ("sql", "normalized"),
    [
        ("SELECT id FROM orders", "SELECT id FROM orders LIMIT 11"),
        ("SELECT id FROM orders LIMIT 5", "SELECT id FROM orders LIMIT 5"),
        ("SELECT id FROM orders LIMIT 1000000", "SELECT id FROM orders LIMIT 11"),
        ("SELECT id FROM orders OFFSET 3", "SELECT id FROM orders LIMIT 11 OFFSET 3"),
        ("SELECT 1 UNION SELECT 2", "SELECT 1 UNION SELECT 2 LIMIT 11"),
        ("SELECT 1 UNION SELECT 2 LIMIT 500", "SELECT 1 UNION SELECT 2 LIMIT 11"),
        ("VALUES (1), (2)", "SELECT * FROM (VALUES (1), (2)) AS q LIMIT 11"),
        ("SELECT id FROM orders LIMIT ALL", "SELECT * FROM (SELECT id FROM orders LIMIT ALL) AS q LIMIT 11"),
        (
            "SELECT id FROM orders FETCH FIRST 50 ROWS ONLY",
            "SELECT * FROM (SELECT id FROM orders FETCH FIRST 50 ROWS ONLY) AS q LIMIT 11",
        ),
        ("(SELECT id FROM orders)", "SELECT * FROM ((SELECT id FROM orders)) AS q LIMIT 11"),
    ],
)
def test_rows_are_capped_one_past_max_rows(sql: str, normalized: str) -> None:
    allowed = gate_sql(sql, max_rows=10)
    assert allowed.normalized == normalized
    assert allowed.max_rows == 10


def test_comments_and_original_spelling_never_reach_the_database() -> None:
    allowed = gate_sql('SELECT "jsonb_typeof"(payload) -- */ ; DROP TABLE orders\nFROM orders /* ; */')
    assert allowed.normalized == "SELECT JSONB_TYPEOF(payload) FROM orders LIMIT 101"


def test_tables_are_the_relations_read_not_cte_names() -> None:
    allowed = gate_sql(
        "WITH recent AS (SELECT * FROM public.orders) "
        'SELECT * FROM recent JOIN "Customers" c ON true JOIN information_schema.columns ON true'
    )
    assert allowed.tables == ["Customers", "information_schema.columns", "public.orders"]


def test_a_renderer_quirk_is_refused_not_executed() -> None:
    # sqlglot turns date_bin's third argument into a bare word that would render unquoted.
    with pytest.raises(SqlRefused, match="unexpected word '2000-01-01'"):
        gate_sql("SELECT date_bin('15 minutes', now(), '2000-01-01')")


def test_oversized_input_is_refused_before_parsing() -> None:
    sql = "SELECT " + " + ".join(["1"] * (MAX_SQL_CHARS // 4 + 1))
    started = time.perf_counter()
    result = check_sql(sql)
    assert (time.perf_counter() - started) < 0.01
    assert result.reason == f"refused: query is {len(sql)} characters long; the limit is {MAX_SQL_CHARS}"


def test_deep_nesting_is_a_refusal_not_a_crash() -> None:
    result = check_sql("SELECT " + "(" * 5000 + "1" + ")" * 5000)
    assert not result.allowed
    assert result.reason is not None and result.reason.startswith("refused: ")


def test_max_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        gate_sql("SELECT 1", max_rows=0)


def test_gate_is_fast_on_typical_queries() -> None:
    timings = []
    for entry in ALLOWED:
        started = time.perf_counter()
        gate_sql(entry["sql"])
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.005

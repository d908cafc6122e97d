"""The guardrails on the hot path: redaction speed and recall, and the SQL gate's time per query.

Every answer, tool result and query row passes the redactor before it leaves the agents, so its
cost is measured per KB of what an SRE bot reads: blocks of 1 to 4 KB mixing the bundled worlds'
container logs and database rows with the redaction corpus's lines (log lines, env dumps,
connection strings, JSON payloads), seeded so every run reads the same text. Recall per entity
type is the corpus's own score (tests/guardrails/redaction_corpus.py), with the targets the tests
hold it to: every credential, and 95 % of personal data. The SQL gate parses and re-renders every
query the database tool runs; it is timed over the allowed and the refused corpora.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

from bench.report import Figure, percentile
from guardrails.redaction import Redactor
from guardrails.sql_gate import check_sql
from sandbox.world import bundled_world_names, load_world
from tests.guardrails.redaction_corpus import PII_TYPES, SECRET_TYPES, corpus_scores, negatives, positives
from tests.guardrails.sql_corpus import ALLOWED, REFUSED

SEED = 20261121
BLOCK_KB = (1, 2, 3, 4)
BLOCKS_PER_SIZE = 10
REDACTION_ROUNDS = 3
GATE_ROUNDS = 5
REDACT_TARGET_MS_PER_KB = 5.0
REDACT_P99_TARGET_MS_PER_KB = 20.0
GATE_TARGET_MS = 5.0
GATE_P99_TARGET_MS = 20.0
RECALL_TARGET = {**dict.fromkeys(SECRET_TYPES, 1.0), **dict.fromkeys(PII_TYPES, 0.95)}
PRECISION_TARGET = 0.95


def _lines() -> list[str]:
    """What the bot reads: world logs and database rows, and the corpus's secrets, PII and clean lines."""
    lines: list[str] = []
    for name in bundled_world_names():
        world = load_world(name)
        for logs in world.logs.values():
            lines += logs.current.splitlines() + (logs.previous or "").splitlines()
        lines += (world.database_sql or "").splitlines()
    lines += [item.text for item in positives()] + negatives()
    return [line for line in lines if line.strip()]


def _blocks() -> list[str]:
    rng = random.Random(SEED)  # noqa: S311 - picks a fixed mix of text; nothing secret depends on it
    lines = _lines()
    blocks: list[str] = []
    for kb in BLOCK_KB:
        for _ in range(BLOCKS_PER_SIZE):
            block: list[str] = []
            while sum(len(line) + 1 for line in block) < kb * 1024:
                block.append(rng.choice(lines))
            blocks.append("\n".join(block))
    return blocks


def _redaction_ms_per_kb(redactor: Redactor, blocks: Sequence[str]) -> list[float]:
    redactor.warm_up()
    redactor.redact(blocks[0])
    samples: list[float] = []
    for _ in range(REDACTION_ROUNDS):
        for block in blocks:
            started = time.perf_counter()
            redactor.redact(block)
            samples.append((time.perf_counter() - started) * 1000 / (len(block.encode()) / 1024))
    return samples


def _gate_ms(queries: Sequence[str]) -> list[float]:
    check_sql(queries[0])
    samples: list[float] = []
    for _ in range(GATE_ROUNDS):
        for sql in queries:
            started = time.perf_counter()
            check_sql(sql)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def _percentiles(name: str, samples: list[float], unit: str, p50_target: float, p99_target: float) -> list[Figure]:
    return [
        Figure(f"{name}, p50", percentile(samples, 50), unit, p50_target),
        Figure(f"{name}, p99", percentile(samples, 99), unit, p99_target),
    ]


def _measure() -> list[Figure]:
    redactor = Redactor()
    redaction = _redaction_ms_per_kb(redactor, _blocks())
    figures = _percentiles(
        "redaction per KB, 1-4 KB blocks", redaction, "ms", REDACT_TARGET_MS_PER_KB, REDACT_P99_TARGET_MS_PER_KB
    )
    scores = corpus_scores(redactor)
    figures += [
        Figure(f"  recall {entity}", score.recall, "", RECALL_TARGET.get(entity), lower_is_better=False)
        for entity, score in scores.items()
    ]
    lowest = min(score.precision for score in scores.values())
    figures.append(Figure("  precision, lowest of any type", lowest, "", PRECISION_TARGET, lower_is_better=False))
    for corpus, entries in (("allowed", ALLOWED), ("refused", REFUSED)):
        gate = _gate_ms([entry["sql"] for entry in entries])
        figures += _percentiles(f"sql gate, {corpus} corpus", gate, "ms", GATE_TARGET_MS, GATE_P99_TARGET_MS)
    return figures


async def run() -> list[Figure]:
    return await asyncio.to_thread(_measure)

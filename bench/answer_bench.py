"""The questions of the bundled worlds answered end to end, without a model, as `whisperer ask --world` runs them.

Each world gets the runtime the CLI builds (`bot.session.command_runtime`: its sandbox, every MCP
server, the specialists, redaction and the audit store), so the figures include everything a user
waits for except Slack. Each specialist is timed through the progress sink the Slack message uses
(from `checking` to its verdict; the flagship's are printed): the specialists of a wave run side by
side, so a whole answer should take little more than its slowest specialist; a ratio near the
number of specialists would mean they ran one after another.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from agents.answer import Answer
from agents.progress import SpecialistProgress, SpecialistState
from agents.question import Question
from bench.report import Figure, median, percentile
from bot.session import command_runtime
from sandbox.world import load_world

FLAGSHIP = "payment-outage"
# Each bundled world's main question, by its case id in the world's expect.yaml.
MAIN_CASES = {
    FLAGSHIP: "why-failing",
    "db-pool-exhaustion": "checkouts-timing-out",
    "worker-memory-leak": "why-restarting",
    "cert-expiry": "cert-why-not-renewed",
    "healthy": "anything-wrong",
}
WARM_UPS = 2
REPETITIONS = 20
ANSWER_TARGET_MS = 1500.0
FAN_OUT_TARGET = 1.2


@dataclass
class Timings:
    totals: list[float] = field(default_factory=list)
    fan_out: list[float] = field(default_factory=list)
    specialists: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


class SpecialistClock:
    """A progress sink that times each specialist from `checking` to its verdict."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.took: dict[str, float] = {}

    async def __call__(self, progress: SpecialistProgress) -> None:
        if progress.state is SpecialistState.CHECKING:
            self.started[progress.specialist] = time.perf_counter()
        else:
            self.took[progress.specialist] = time.perf_counter() - self.started[progress.specialist]


def _question(world_name: str) -> Question:
    case_id = MAIN_CASES[world_name]
    [case] = [case for case in load_world(world_name).expectations.cases if case.id == case_id]
    assert case.ask is not None, f"{world_name}/{case_id} is a check, not a question"
    return Question(text=case.ask, channel=case.channel)


def _check(label: str, answer: Answer) -> None:
    """A failed source would make the times meaningless (a fast failure is not a fast answer)."""
    assert answer.refused is None, f"{label} was refused: {answer.refused}"
    assert not answer.sources_failed, f"{label}: sources failed: {answer.sources_failed}"


async def _time_world(world_name: str) -> Timings:
    question = _question(world_name)
    label = f"{world_name}/{MAIN_CASES[world_name]}"
    timings = Timings()
    async with command_runtime(None, world_name) as runtime:
        for _ in range(WARM_UPS):
            _check(label, await runtime.assistant.ask(question))
        for _ in range(REPETITIONS):
            clock = SpecialistClock()
            started = time.perf_counter()
            answer = await runtime.assistant.ask(question, clock)
            total = time.perf_counter() - started
            _check(label, answer)
            timings.totals.append(total * 1000)
            timings.fan_out.append(total / max(clock.took.values()))
            for name, took in clock.took.items():
                timings.specialists[name].append(took * 1000)
    return timings


async def run() -> list[Figure]:
    figures: list[Figure] = []
    for world_name in MAIN_CASES:
        timings = await _time_world(world_name)
        label = f"answer {world_name}"
        figures += [
            Figure(f"{label}, p50", percentile(timings.totals, 50), "ms", ANSWER_TARGET_MS),
            Figure(f"{label}, p99", percentile(timings.totals, 99), "ms", ANSWER_TARGET_MS),
        ]
        figures.append(Figure("  total / slowest specialist, median", median(timings.fan_out), "x", FAN_OUT_TARGET))
        if world_name == FLAGSHIP:
            figures += [
                Figure(f"  specialist {name}, median", median(took), "ms")
                for name, took in sorted(timings.specialists.items())
            ]
    return figures

"""Specialist latency and failures, taken from the progress events every question already reports.

The router tells its progress sink when a specialist starts and how it ended; wrapping the sink
of each question gives the timings without the router or any specialist knowing about metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agents.answer import Answer
from agents.progress import ProgressSink, SpecialistProgress, SpecialistState
from agents.question import Question
from bot.observability.metrics import BotMetrics
from bot.slack.ports import Asker


def timed_sink(sink: ProgressSink, metrics: BotMetrics, clock: Callable[[], float] = time.perf_counter) -> ProgressSink:
    """`sink`, also observing each specialist's time from `checking` to its outcome (one question's worth)."""
    started: dict[str, float] = {}

    async def report(progress: SpecialistProgress) -> None:
        if progress.state is SpecialistState.CHECKING:
            started[progress.specialist] = clock()
        elif progress.specialist in started:
            seconds = clock() - started.pop(progress.specialist)
            metrics.specialist_seconds.labels(source=progress.specialist).observe(seconds)
            if progress.state is SpecialistState.FAILED:
                metrics.specialist_failures.labels(source=progress.specialist).inc()
        await sink(progress)

    return report


class TimedAsker:
    """An `Asker` whose specialists are timed; the answer is the wrapped asker's, unchanged."""

    def __init__(self, asker: Asker, metrics: BotMetrics) -> None:
        self._asker = asker
        self._metrics = metrics

    async def ask(self, question: Question, progress: ProgressSink) -> Answer:
        return await self._asker.ask(question, timed_sink(progress, self._metrics))

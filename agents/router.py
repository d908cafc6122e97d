"""Which specialists a question needs, and running them side by side.

Each specialist runs under its own time limit; one that fails or times out becomes a named entry
in `sources_failed` and the answer goes on with what the others found.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from opentelemetry import trace

from agents.answer import SourceFailure
from agents.intents import Intent, Plan
from agents.progress import ProgressSink, SpecialistProgress, SpecialistState
from agents.specialists.base import Investigation, Report, Specialist
from agents.toolbox import ToolError

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

DEFAULT_TIME_LIMIT_S = 12.0
# Which specialists each intent needs; runbooks are looked up after the others (see `follow_ups`).
_BY_INTENT: Mapping[Intent, tuple[str, ...]] = {
    Intent.STATUS: ("kubernetes",),
    Intent.DIAGNOSE: ("kubernetes", "metrics", "changes"),
    Intent.RESOURCES: ("kubernetes", "metrics"),
    Intent.ACTION: ("kubernetes",),
    Intent.CHANGES: ("changes",),
    Intent.DATA: ("database",),
    Intent.CERTIFICATE: ("certificates",),
    Intent.RUNBOOK: ("runbooks",),
}
RUNBOOKS = "runbooks"
SPECIALIST_NAMES: tuple[str, ...] = tuple(dict.fromkeys(name for names in _BY_INTENT.values() for name in names))
"""Every specialist the router may run, and so every name a model's triage may add."""


def first_wave(plan: Plan, added: Sequence[str] = ()) -> list[str]:
    """The plan's specialists, then those a model's triage `added` (runbooks excepted: see `follow_ups`)."""
    names: list[str] = []
    for intent in Intent:
        if intent in plan.intents:
            names.extend(name for name in _BY_INTENT[intent] if name not in names)
    names.extend(name for name in dict.fromkeys(added) if name not in names and name != RUNBOOKS)
    return names


def follow_ups(plan: Plan, reports: Sequence[Report], added: Sequence[str] = ()) -> list[str]:
    """Runbooks are searched with what the first wave found, so they run second."""
    if plan.wants(Intent.RUNBOOK):
        return []
    if RUNBOOKS in added or (plan.wants(Intent.DIAGNOSE, Intent.CERTIFICATE) and any(r.findings for r in reports)):
        return [RUNBOOKS]
    return []


async def run_specialists(
    names: Sequence[str],
    registry: Mapping[str, Specialist],
    inv: Investigation,
    progress: ProgressSink,
    time_limits: Mapping[str, float] | None = None,
) -> tuple[list[Report], list[SourceFailure]]:
    limits = time_limits or {}

    async def one(name: str) -> Report | SourceFailure:
        await progress(SpecialistProgress(specialist=name, state=SpecialistState.CHECKING))
        limit = limits.get(name, DEFAULT_TIME_LIMIT_S)
        try:
            report = await asyncio.wait_for(registry[name](inv), limit)
        except TimeoutError:
            failure = SourceFailure(source=name, error=f"no answer within {limit:g} s")
        except ToolError as error:
            failure = SourceFailure(source=error.source, error=error.message)
        except Exception as error:
            log.exception("specialist %s failed", name)
            failure = SourceFailure(source=name, error=f"internal error ({type(error).__name__})")
        else:
            found = len(report.findings) + len(report.facts) + len(report.runbooks) + len(report.changes)
            state = SpecialistState.FOUND if report.found_something else SpecialistState.NOTHING
            await progress(SpecialistProgress(specialist=name, state=state, detail=f"{found} items" if found else ""))
            return report
        await progress(SpecialistProgress(specialist=name, state=SpecialistState.FAILED, detail=failure.error))
        return failure

    async def traced(name: str) -> Report | SourceFailure:
        with tracer.start_as_current_span("specialist", attributes={"whisperer.source": name}) as span:
            result = await one(name)
            outcome = (
                "failed" if isinstance(result, SourceFailure) else "found" if result.found_something else "nothing"
            )
            span.set_attribute("whisperer.outcome", outcome)
            return result

    results = await asyncio.gather(*(traced(name) for name in names if name in registry))
    reports = [result for result in results if isinstance(result, Report)]
    failures = [result for result in results if isinstance(result, SourceFailure)]
    return reports, failures

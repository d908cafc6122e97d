"""`whisperer eval`: every case of every world under the given paths, one line each.

Each world gets its own sandbox, Slack stand-in and fresh store, started once for all of its
cases, so the cases of a world run in order against the same (possibly changed)
infrastructure, as a person's session would. Mentions and slash commands go through the real
Slack app; `ask` cases and scheduled checks go straight to the agents, as the CLI does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from bot.evaluation.direct import play_direct
from bot.evaluation.judge import CaseOutcome, judge
from bot.evaluation.slack_player import SlackPlayer
from bot.slack_world import SlackWorld, slack_world
from sandbox.world import BUNDLED_WORLDS, load_world
from sandbox.world_models import Case

POSTED_EXCERPT = 300


def discover_worlds(paths: Iterable[str]) -> list[Path]:
    """World folders at or below each path (a folder with a world.yaml)."""
    found: list[Path] = []
    for raw in list(paths) or [str(BUNDLED_WORLDS)]:
        path = Path(raw)
        if (path / "world.yaml").is_file():
            found.append(path.resolve())
        elif path.is_dir():
            found.extend(sorted(p.parent.resolve() for p in path.rglob("world.yaml")))
        else:
            raise FileNotFoundError(f"{raw}: not a world folder or a directory of worlds")
    return list(dict.fromkeys(found))


async def play(session: SlackWorld, player: SlackPlayer, case: Case) -> CaseOutcome:
    if case.check is not None or case.via == "ask":
        return await play_direct(session.runtime, session.world, case, session.default_channel)
    return await player.play(case)


class CaseResult(BaseModel):
    """One case's verdict, as `whisperer eval` prints it (a line, or a JSON object with `--json`)."""

    world: str
    case: str
    passed: bool
    problems: list[str]
    seconds: float
    posted: str = Field(default="", description="the start of what the bot posted, when the case failed")

    def line(self) -> str:
        name = f"{self.world}/{self.case}"
        if self.passed:
            return f"ok   {name} ({self.seconds:.1f} s)"
        shown = f" — posted: {self.posted!r}" if self.posted else ""
        return f"FAIL {name} ({self.seconds:.1f} s): " + "; ".join(self.problems) + shown


async def evaluate(
    paths: Iterable[str], config_file: str | None, report: Callable[[CaseResult], None]
) -> tuple[int, int]:
    passed = failed = 0
    for folder in discover_worlds(paths):
        if not load_world(str(folder)).expectations.cases:
            continue
        async with slack_world(config_file, str(folder)) as session:
            player = SlackPlayer(session.slack, session.runtime, session.default_channel)
            for case in session.world.expectations.cases:
                started = time.perf_counter()
                posted = ""
                try:
                    outcome = await play(session, player, case)
                    problems = judge(case, outcome)
                    posted = " | ".join(outcome.texts + outcome.after_texts)
                except Exception as error:
                    problems = [f"crashed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"]
                result = CaseResult(
                    world=session.world.name,
                    case=case.id,
                    passed=not problems,
                    problems=problems,
                    seconds=round(time.perf_counter() - started, 2),
                    posted=posted[:POSTED_EXCERPT] if problems else "",
                )
                passed += result.passed
                failed += not result.passed
                report(result)
    return passed, failed

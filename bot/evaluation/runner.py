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

from bot.evaluation.direct import play_direct
from bot.evaluation.judge import CaseOutcome, judge
from bot.evaluation.slack_player import SlackPlayer
from bot.slack_world import SlackWorld, slack_world
from sandbox.world import BUNDLED_WORLDS, load_world
from sandbox.world_models import Case


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


async def evaluate(paths: Iterable[str], config_file: str | None, say: Callable[[str], None]) -> tuple[int, int]:
    passed = failed = 0
    for folder in discover_worlds(paths):
        if not load_world(str(folder)).expectations.cases:
            continue
        async with slack_world(config_file, str(folder)) as session:
            player = SlackPlayer(session.slack, session.runtime, session.default_channel)
            for case in session.world.expectations.cases:
                started = time.perf_counter()
                try:
                    problems = judge(case, await play(session, player, case))
                except Exception as error:
                    problems = [f"crashed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"]
                elapsed = time.perf_counter() - started
                name = f"{session.world.name}/{case.id}"
                if problems:
                    failed += 1
                    say(f"FAIL {name} ({elapsed:.1f} s): " + "; ".join(problems))
                else:
                    passed += 1
                    say(f"ok   {name} ({elapsed:.1f} s)")
    say(f"{passed} passed, {failed} failed")
    return passed, failed

"""`whisperer eval`: every case of every world under the given paths, one line each.

Each world gets its own sandbox and a fresh store, started once for all of its cases, so the
cases of a world run in order against the same (possibly changed) infrastructure, as a
person's session would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.evaluation.direct import play_direct
from bot.evaluation.judge import judge
from bot.session import command_runtime
from sandbox.world import BUNDLED_WORLDS, World, load_world


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


async def evaluate(paths: Iterable[str], config_file: str | None, say: Callable[[str], None]) -> tuple[int, int]:
    passed = failed = 0
    for folder in discover_worlds(paths):
        world: World = load_world(str(folder))
        if not world.expectations.cases:
            continue
        async with command_runtime(config_file, str(folder)) as runtime:
            for case in world.expectations.cases:
                started = time.perf_counter()
                try:
                    problems = judge(case, await play_direct(runtime, world, case))
                except Exception as error:
                    problems = [f"crashed: {type(error).__name__}: {str(error).splitlines()[0][:200]}"]
                elapsed = time.perf_counter() - started
                name = f"{world.name}/{case.id}"
                if problems:
                    failed += 1
                    say(f"FAIL {name} ({elapsed:.1f} s): " + "; ".join(problems))
                else:
                    passed += 1
                    say(f"ok   {name} ({elapsed:.1f} s)")
    say(f"{passed} passed, {failed} failed")
    return passed, failed

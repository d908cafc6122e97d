"""The table `make bench` prints, and the machine-readable copy beside it."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: float | None = None
    # Most figures are times, where lower is better; throughputs and recalls set this to False.
    lower_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        """Value over target for lower-is-better figures, target over value otherwise: <= 1 meets it."""
        if self.target is None or self.value == 0:
            return None
        return self.value / self.target if self.lower_is_better else self.target / self.value


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def percentile(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def print_table(figures: Sequence[Figure]) -> None:
    header = f"{'figure':<48} {'value':>12} {'target':>12} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for figure in figures:
        target = f"{figure.target:g} {figure.unit}" if figure.target is not None else "-"
        ratio = f"{figure.ratio:.2f}" if figure.ratio is not None else "-"
        print(f"{figure.name:<48} {figure.value:>9.2f} {figure.unit:<2} {target:>12} {ratio:>7}")


def write_results(figures: Sequence[Figure], path: Path = RESULTS) -> None:
    path.write_text(json.dumps([{**asdict(f), "ratio": f.ratio} for f in figures], indent=2) + "\n")

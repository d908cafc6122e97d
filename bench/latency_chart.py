"""The PNG beside bench/results.json: Slack ack latency and time to placeholder against concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as Chart

CHART = Path(__file__).resolve().parent / "latency.png"

# what -> [(concurrent users, p50 ms, p99 ms)]
Series = Mapping[str, Sequence[tuple[int, float, float]]]


def write_latency_chart(series: Series, path: Path = CHART) -> Path:
    chart = Chart(figsize=(7.0, 3.6), dpi=100)
    FigureCanvasAgg(chart)
    axes = chart.add_subplot()
    for what, points in series.items():
        users = [point[0] for point in points]
        line = axes.plot(users, [point[1] for point in points], marker="o", label=f"{what} p50")[0]
        axes.plot(users, [point[2] for point in points], marker="x", linestyle="--", color=line.get_color())
    axes.set_xscale("log")
    axes.set_xticks([users for users, _, _ in next(iter(series.values()))])
    axes.get_xaxis().set_major_formatter("{x:g}")
    axes.set_xlabel("concurrent users")
    axes.set_ylabel("ms (solid p50, dashed p99)")
    axes.set_title("Slack surface latency against concurrency", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    chart.tight_layout()
    chart.savefig(path, format="png")
    return path

"""A metric around the incident as a PNG in the thread, with the suspected change marked on it.

"Latency went up right after the deploy" is believed faster from a picture than from numbers.
Charts are drawn with matplotlib's object API on the Agg canvas (no pyplot global state, safe in
a worker thread) and uploaded with files_upload_v2. Their words are drawn into pixels the
redactor cannot read later, so titles and labels pass the redactor before they are drawn.
"""

from __future__ import annotations

import asyncio
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from agents.answer import MetricSeries
from bot.slack.redacting_client import RedactingWebClient

CHART_SIZE = (8.0, 3.2)
CHART_DPI = 100


def render_png(series: MetricSeries) -> bytes:
    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    # Minutes from the change (or from the first sample) read better in a thread than clock times.
    origin = series.change_at or series.points[0][0]
    minutes = [(moment - origin).total_seconds() / 60 for moment, _ in series.points]
    axes.plot(minutes, [value for _, value in series.points], color="#1d3b53", linewidth=1.6)
    anchor = series.change_label if series.change_at is not None else "start"
    axes.set_xlabel(f"minutes from {anchor} ({origin:%H:%M} UTC)", fontsize=8)
    if series.change_at is not None:
        axes.axvline(0.0, color="#d33", linestyle="--", linewidth=1.2, label=series.change_label)
        axes.legend(loc="upper left", fontsize=8)
    axes.set_title(series.title, fontsize=10)
    if series.unit:
        axes.set_ylabel(series.unit, fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def post_chart(client: RedactingWebClient, channel: str, thread_ts: str, series: MetricSeries) -> None:
    """Draw `series` (words redacted first) and upload it into the thread."""
    safe = series.model_copy(
        update={
            "title": await client.redact(series.title),
            "unit": await client.redact(series.unit),
            "change_label": await client.redact(series.change_label),
        }
    )
    png = await asyncio.to_thread(render_png, safe)
    await client.files_upload_v2(
        channel=channel, thread_ts=thread_ts, content=png, filename="chart.png", title=safe.title
    )

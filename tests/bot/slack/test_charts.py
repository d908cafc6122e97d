"""Charts: a PNG of the metric around the change, uploaded into the thread with its words redacted."""

from __future__ import annotations

from datetime import timedelta

from agents.answer import MetricSeries
from bot.slack.charts import post_chart, render_png
from bot.slack.redacting_client import redacting_client
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import utcnow
from tests.bot.slack.conftest import CHANNEL

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def latency_series(title: str = "payment-service p99 latency") -> MetricSeries:
    start = utcnow() - timedelta(minutes=30)
    return MetricSeries(
        title=title,
        unit="ms",
        points=[(start + timedelta(minutes=n), 120.0 if n < 15 else 2300.0) for n in range(30)],
        change_at=start + timedelta(minutes=15),
        change_label="deploy of PR #42",
    )


def test_the_chart_is_a_png() -> None:
    png = render_png(latency_series())
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 5000


async def test_the_chart_is_uploaded_into_the_thread_with_a_redacted_title(
    slack: SlackStandIn, redactor: Redactor
) -> None:
    client = redacting_client(slack.bot_token, slack.base_url, redactor)
    parent = await client.chat_postMessage(channel=CHANNEL, text="Why is checkout slow?")
    await post_chart(client, parent["channel"], parent["ts"], latency_series("latency seen by ops@example.com"))
    await client.close()

    [_, share] = slack.driver.thread(CHANNEL, parent["ts"])
    [chart] = share.files
    assert chart.content.startswith(PNG_SIGNATURE)
    assert (chart.name, chart.mimetype) == ("chart.png", "image/png")
    assert chart.title == "latency seen by <EMAIL_ADDRESS>"

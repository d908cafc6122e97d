"""Charts come with diagnoses: the breached metric around the incident, the suspected change marked."""

from __future__ import annotations

from agents.question import Question
from bot.session import command_runtime


async def test_a_diagnosis_carries_the_saturated_metric_with_the_deploy_marked() -> None:
    async with command_runtime(None, "db-pool-exhaustion") as runtime:
        answer = await runtime.assistant.ask(Question(text="Why are checkouts timing out?", channel="#incident-orders"))
        healthy = await runtime.assistant.ask(Question(text="What pods are running?", channel="#incident-orders"))
    assert answer.series, "a diagnosis with breached metrics draws them"
    pool = answer.series[0]
    assert pool.title == "orders-service db pool utilization" and pool.unit == "%"
    assert max(value for _, value in pool.points) >= 90
    assert pool.change_label == "PR #847 deployed" and pool.change_at is not None
    assert pool.points[0][0] < pool.change_at < pool.points[-1][0]
    assert healthy.series == [], "a status question draws nothing"

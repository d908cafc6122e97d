"""The bot's own observability: the metric families, what moves them, and the health/readiness port.

Counters are read from the real app over the Slack stand-in (a question and a click, as people
make them) and from a demo world played in process, then scraped over HTTP like Prometheus does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.evaluation.runner import play
from bot.evaluation.slack_player import SlackPlayer
from bot.observability.audit_metrics import ObservedStore
from bot.observability.endpoints import MetricsPortError, serving_metrics
from bot.observability.metrics import BotMetrics
from bot.observability.readiness import Readiness
from bot.observability.specialist_timing import TimedAsker
from bot.slack.app import build_app
from bot.slack.deps import SlackDeps
from bot.slack.render.proposal import APPROVE_ACTION
from bot.slack.socket import connect, disconnect
from bot.slack_world import slack_world
from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import Store, open_store
from tests.bot.slack.conftest import CHANNEL, launch
from tests.bot.slack.doubles import ScriptedAsker
from tests.conftest import skip_or_fail

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

FAMILIES = {
    "whisperer_questions": "counter",
    "whisperer_slack_ack_seconds": "histogram",
    "whisperer_specialist_seconds": "histogram",
    "whisperer_specialist_failures": "counter",
    "whisperer_proposals": "counter",
    "whisperer_decisions": "counter",
    "whisperer_executions": "counter",
    "whisperer_verifications": "counter",
    "whisperer_redactions": "counter",
    "whisperer_model_tokens": "counter",
    "whisperer_model_cost_usd": "counter",
    "whisperer_check_runs": "counter",
    "whisperer_check_findings": "gauge",
}


def sample(metrics: BotMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def test_every_family_is_registered_with_its_type() -> None:
    families = {family.name: family.type for family in BotMetrics().registry.collect()}
    assert families == FAMILIES


def test_two_bots_in_one_process_count_apart() -> None:
    first, second = BotMetrics(), BotMetrics()
    first.observe_ack("block_actions", 0.02)
    assert sample(first, "whisperer_slack_ack_seconds_count", kind="block_actions") == 1
    assert sample(second, "whisperer_slack_ack_seconds_count", kind="block_actions") == 0


async def test_a_question_and_an_approval_move_the_counters(
    slack: SlackStandIn, store: Store, redactor: Redactor
) -> None:
    metrics = BotMetrics()
    observed = ObservedStore(store, metrics)
    asker = TimedAsker(ScriptedAsker(), metrics)
    async with launch(slack, observed, redactor, asker=asker, observe_ack=metrics.observe_ack) as bot:  # type: ignore[arg-type]
        driver = bot.slack.driver
        ts = await driver.mention("alice", CHANNEL, "why is payment-service failing?")
        [_, proposal] = await bot.answered(CHANNEL, ts, count=2)
        [stored] = await bot.remediation.pending()
        await driver.click("bob", CHANNEL, proposal.ts, APPROVE_ACTION, value=stored.id)
        await driver.wait_for(lambda: "Verified" in driver.render(proposal), what="the verified proposal")

    assert sample(metrics, "whisperer_slack_ack_seconds_count", kind="event_callback") >= 1
    assert sample(metrics, "whisperer_slack_ack_seconds_count", kind="block_actions") == 1
    assert sample(metrics, "whisperer_specialist_seconds_count", source="kubernetes") == 1
    assert sample(metrics, "whisperer_specialist_failures_total", source="metrics") == 1
    assert sample(metrics, "whisperer_specialist_failures_total", source="kubernetes") == 0
    assert sample(metrics, "whisperer_proposals_total", action="restart_deployment", outcome="offered") == 1
    assert sample(metrics, "whisperer_decisions_total", decision="approve", accepted="true") == 1
    assert sample(metrics, "whisperer_executions_total", action="restart_deployment", result="executed") == 1
    assert sample(metrics, "whisperer_verifications_total", result="verified") == 1


async def test_readyz_follows_the_socket_and_the_store(slack: SlackStandIn, redactor: Redactor) -> None:
    store = await open_store("sqlite:///:memory:")
    readiness = Readiness(store)
    deps = SlackDeps(
        asker=ScriptedAsker(),
        remediation=None,  # type: ignore[arg-type]
        store=store,
        redactor=redactor,
        bot_token=slack.bot_token,
        base_url=slack.base_url,
    )
    async with serving_metrics(BotMetrics(), readiness.problem, "127.0.0.1", 0) as url:
        assert await get(f"{url}/healthz") == (200, "ok\n")
        status, body = await get(f"{url}/readyz")
        assert (status, json.loads(body)) == (503, {"ready": False, "reason": "Socket Mode is not connected"})

        handler = await connect(build_app(deps), slack.app_token)
        readiness.connected(handler)
        try:
            assert (await get(f"{url}/readyz"))[0] == 200
            await store.close()
            status, body = await get(f"{url}/readyz")
            assert (status, json.loads(body)["reason"]) == (503, "the store does not answer")
            assert (await get(f"{url}/healthz"))[0] == 200
        finally:
            await disconnect(handler)
        assert json.loads((await get(f"{url}/readyz"))[1])["reason"] == "Socket Mode is not connected"


async def test_a_taken_port_is_one_clear_line() -> None:
    metrics = BotMetrics()

    async def ready() -> None:
        return None

    async with serving_metrics(metrics, ready, "127.0.0.1", 0) as url:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(MetricsPortError, match=f"cannot serve metrics on 127.0.0.1:{port}: "):
            async with serving_metrics(metrics, ready, "127.0.0.1", port):
                pass


async def test_metrics_show_the_families_after_a_demo_run() -> None:
    metrics = BotMetrics()
    async with slack_world(None, "payment-outage", metrics) as session:
        player = SlackPlayer(session.slack, session.runtime, session.default_channel)
        cases = {case.id: case for case in session.world.expectations.cases}
        for name in ("why-failing", "failed-orders"):
            await play(session, player, cases[name])

        async def ready() -> str | None:
            return None

        async with serving_metrics(metrics, ready, "127.0.0.1", 0) as url:
            status, text = await get(f"{url}/metrics")

    assert status == 200
    for family, kind in FAMILIES.items():
        exposed = f"{family}_total" if kind == "counter" else family  # counters are exposed with _total
        assert f"# TYPE {exposed} {kind}" in text
    assert sample(metrics, "whisperer_questions_total", intent="diagnose", outcome="answered") >= 1
    assert sample(metrics, "whisperer_questions_total", intent="data", outcome="answered") >= 1
    assert sample(metrics, "whisperer_proposals_total", action="restart_deployment", outcome="offered") == 1
    assert sum(sample(metrics, "whisperer_specialist_seconds_count", source=s) for s in ("kubernetes", "database")) >= 2
    assert sample(metrics, "whisperer_redactions_total", entity="EMAIL_ADDRESS") >= 1
    assert sample(metrics, "whisperer_slack_ack_seconds_count", kind="slash_command") == 1


def _exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [expr for value in node.values() for expr in _exprs(value)]
    if isinstance(node, list):
        return [expr for item in node for expr in _exprs(item)]
    return []


def _referenced_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\bwhisperer_[a-z_]+\b", expr)) | set(re.findall(r"\bup\b", expr))


def test_the_dashboard_only_queries_metrics_the_bot_exports() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = _exprs(dashboard["panels"])
    assert len(exprs) >= 6
    exported = BotMetrics().exported_names() | {"up"}
    for expr in exprs:
        unknown = _referenced_metrics(expr) - exported
        assert not unknown, f"{expr!r} queries {unknown}"
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("questions", "ack", "specialist", "proposals", "cost", "findings"):
        assert topic in titles


def test_the_alerting_rules_are_valid_and_use_exported_metrics() -> None:
    rules = DEPLOY / "prometheus-rules.yaml"
    exported = BotMetrics().exported_names() | {"up"}
    alerts = [rule for group in yaml.safe_load(rules.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]
    for alert in alerts:
        unknown = _referenced_metrics(alert["expr"]) - exported
        assert not unknown, f"{alert['alert']} queries {unknown}"
    assert {"WhispererDown", "WhispererNotReady", "WhispererSlowAcks", "WhispererSpecialistFailures"} <= {
        alert["alert"] for alert in alerts
    }
    promtool = shutil.which("promtool")
    if promtool is None:
        skip_or_fail("promtool is not installed")
        return
    result = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

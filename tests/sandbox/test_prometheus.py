"""The sandbox's metrics endpoint: a real Prometheus over a world, and the laptop stand-in.

The stand-in is checked against the real server side by side on the same world: every query
below must give the same series and the same numbers from both, so the fallback cannot drift
into answers a real Prometheus would not give.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException

from sandbox.prometheus import (
    FallbackPrometheusServer,
    PrometheusServer,
    PrometheusStartError,
    real_prometheus_available,
    start_prometheus,
)
from sandbox.world import BUNDLED_WORLDS, World, load_world
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECORDED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
INCIDENT = RECORDED_AT - timedelta(minutes=25)
COUNTER_RESET = RECORDED_AT - timedelta(minutes=60)
STEP_S = 15
START_BUDGET_S = 3.0
ERROR_RATIO = (
    'sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (service) (rate(http_requests_total[5m]))'
)
MISSING_BINARY = "Debian's prometheus/promtool are not installed (make test installs them where apt is available)"


def _series(
    name: str, labels: str, increments: Callable[[datetime], float], restart: datetime | None = None
) -> list[str]:
    """A counter sampled every 15 s for 2 h up to RECORDED_AT.

    With `restart`, the service was down (no samples) for the two minutes before that moment and
    its counters started again from zero, which exercises rate's reset and gap handling.
    """
    lines, value = [], 0.0
    moment = RECORDED_AT - timedelta(hours=2)
    while moment <= RECORDED_AT:
        if moment == restart:
            value = 0.0
        if restart is None or not restart - timedelta(minutes=2) < moment < restart:
            lines.append(f"{name}{{{labels}}} {value:g} {int(moment.timestamp())}")
        value += increments(moment)
        moment += timedelta(seconds=STEP_S)
    return lines


def _after_incident(before: float, after: float) -> Callable[[datetime], float]:
    return lambda moment: after if moment >= INCIDENT else before


def _metrics() -> str:
    checkout = 'service="checkout",namespace="shop"'
    catalog = 'service="catalog",namespace="shop"'
    lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter"]
    # checkout: 100 req/s; 0.5 % errors, 23 % from 25 minutes before the recording.
    lines += _series("http_requests_total", f'{checkout},code="200"', _after_incident(1492.5, 1155))
    lines += _series("http_requests_total", f'{checkout},code="500"', _after_incident(7.5, 345))
    # catalog: 20 req/s, 0.1 % errors, down for two minutes and restarted an hour before the recording.
    lines += _series("http_requests_total", f'{catalog},code="200"', lambda _: 299.7, COUNTER_RESET)
    lines += _series("http_requests_total", f'{catalog},code="500"', lambda _: 0.3, COUNTER_RESET)
    lines += ["# TYPE http_request_duration_seconds histogram"]
    shares = {"0.1": (0.5, 0.2), "0.25": (0.8, 0.4), "1": (0.95, 0.7), "+Inf": (1.0, 1.0)}
    for le, (before, after) in shares.items():
        increments = _after_incident(1500 * before, 1500 * after)
        lines += _series("http_request_duration_seconds_bucket", f'{checkout},le="{le}"', increments)
    lines += _series("http_request_duration_seconds_count", checkout, lambda _: 1500)
    lines += _series("http_request_duration_seconds_sum", checkout, _after_incident(300, 900))
    lines += ["# HELP queue_depth Jobs waiting.", "# TYPE queue_depth gauge"]
    moment = RECORDED_AT - timedelta(hours=2)
    while moment <= RECORDED_AT:
        depth = 3 + max(0.0, (moment - INCIDENT).total_seconds() / 10)
        lines.append(f"queue_depth{{{checkout}}} {depth:g} {int(moment.timestamp())}")
        moment += timedelta(seconds=STEP_S)
    return "\n".join([*lines, "# EOF", ""])


RULES = f"""\
groups:
  - name: slo
    interval: 1m
    rules:
      - record: service:error_ratio:rate5m
        expr: {ERROR_RATIO}
      - alert: HighErrorRate
        expr: service:error_ratio:rate5m > 0.05
        for: 10m
        labels: {{severity: critical}}
        annotations:
          summary: "{{{{ $labels.service }}}} returns {{{{ $value | humanizePercentage }}}} errors"
      - alert: QueueBacklog
        expr: queue_depth > 100000
        for: 5m
        labels: {{severity: warning}}
"""


def _write_world(root: Path, *, metrics: str | None, rules: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "world.yaml").write_text(f"name: {root.name}\nrecorded_at: '{RECORDED_AT.isoformat()}'\n")
    if metrics is not None:
        (root / "metrics.om").write_text(metrics)
    if rules is not None:
        (root / "rules.yaml").write_text(rules)
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return load_world(_write_world(tmp_path_factory.mktemp("worlds") / "outage", metrics=_metrics(), rules=RULES))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def real_started(world: World, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, float]]:
    if not real_prometheus_available():
        skip_or_fail(MISSING_BINARY)
    began = time.perf_counter()
    async with PrometheusServer(world, tmp_path_factory.mktemp("real")) as server:
        assert server.url is not None
        yield server.url, time.perf_counter() - began


@pytest.fixture(scope="module")
def real(real_started: tuple[str, float]) -> PrometheusConnect:
    return PrometheusConnect(real_started[0], disable_ssl=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fallback_url(world: World, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with FallbackPrometheusServer(world, tmp_path_factory.mktemp("fallback")) as server:
        assert server.url is not None
        yield server.url


@pytest.fixture(scope="module")
def fallback(fallback_url: str) -> PrometheusConnect:
    return PrometheusConnect(fallback_url, disable_ssl=True)


async def instant(client: PrometheusConnect, query: str, at: datetime) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await asyncio.to_thread(client.custom_query, query, params={"time": at.timestamp()})
    return result


def by_labels(result: list[Any]) -> dict[frozenset[tuple[str, str]], Any]:
    """Series keyed by their label sets (order is not part of the API); a scalar as one unlabelled entry."""
    if result and not isinstance(result[0], dict):
        return {frozenset(): result}
    return {frozenset(item["metric"].items()): item.get("value", item.get("values")) for item in result}


def ratio_by_service(result: list[dict[str, Any]]) -> dict[str, float]:
    return {item["metric"]["service"]: float(item["value"][1]) for item in result}


async def get_json(url: str, path: str, **params: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url + path, params=params) as response:
        return response.status, await response.json()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(") ", 1)[1].startswith("Z"))


# -- both servers, and the real Prometheus' own behaviour -------------------------------------------


async def test_real_prometheus_starts_within_budget(real_started: tuple[str, float]) -> None:
    assert real_started[1] < START_BUDGET_S


@pytest.fixture(scope="module", params=["real", "fallback"])
def endpoint(request: pytest.FixtureRequest) -> str:
    """The base URL of each server in turn, so the behaviour tests below hold for both."""
    if request.param == "real":
        url: str = request.getfixturevalue("real_started")[0]
        return url
    fallback: str = request.getfixturevalue("fallback_url")
    return fallback


async def test_error_ratio_jumps_when_the_incident_starts(endpoint: str, world: World) -> None:
    client = PrometheusConnect(endpoint, disable_ssl=True)
    now = ratio_by_service(await instant(client, ERROR_RATIO, world.now))
    before = ratio_by_service(await instant(client, ERROR_RATIO, world.now - timedelta(minutes=30)))
    assert now["checkout"] == pytest.approx(0.23)
    assert before["checkout"] == pytest.approx(0.005)
    assert now["catalog"] == before["catalog"] == pytest.approx(0.001)


async def test_queries_at_the_wall_clock_see_the_world_as_live(endpoint: str) -> None:
    result = await asyncio.to_thread(PrometheusConnect(endpoint, disable_ssl=True).custom_query, ERROR_RATIO)
    assert ratio_by_service(result)["checkout"] == pytest.approx(0.23)


async def test_range_query_shows_the_step_change(endpoint: str, world: World) -> None:
    client = PrometheusConnect(endpoint, disable_ssl=True)
    result = await asyncio.to_thread(
        client.custom_query_range, ERROR_RATIO, world.now - timedelta(hours=1), world.now, "60"
    )
    checkout = next(series for series in result if series["metric"] == {"service": "checkout"})
    values = [float(value) for _, value in checkout["values"]]
    assert len(values) == 61
    assert values[0] == pytest.approx(0.005)
    assert values[-1] == pytest.approx(0.23)


async def test_alerting_rules_decide_which_alerts_fire(endpoint: str) -> None:
    status, body = await get_json(endpoint, "/api/v1/alerts")
    assert status == 200
    alerts = body["data"]["alerts"]
    assert [(a["labels"]["alertname"], a["labels"]["service"], a["state"]) for a in alerts] == [
        ("HighErrorRate", "checkout", "firing")
    ]
    assert alerts[0]["labels"]["severity"] == "critical"
    assert alerts[0]["annotations"]["summary"] == "checkout returns 23% errors"
    firing = await asyncio.to_thread(PrometheusConnect(endpoint, disable_ssl=True).custom_query, "ALERTS")
    assert [series["metric"]["alertname"] for series in firing] == ["HighErrorRate"]


async def test_stop_leaves_no_prometheus_even_when_the_body_raises(world: World, tmp_path: Path) -> None:
    if not real_prometheus_available():
        skip_or_fail(MISSING_BINARY)
    server = PrometheusServer(world, tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        async with server:
            pid = server.pid or 0
            assert pid_alive(pid)
            raise RuntimeError("boom")
    assert not pid_alive(pid)
    assert server.pid is None and server.url is None


async def test_prometheus_dies_with_the_process_that_started_it(world: World, tmp_path: Path) -> None:
    if not real_prometheus_available():
        skip_or_fail(MISSING_BINARY)
    script = textwrap.dedent(
        f"""
        import asyncio, pathlib
        from sandbox.prometheus import PrometheusServer
        from sandbox.world import load_world

        async def main():
            server = PrometheusServer(load_world({str(world.root)!r}), pathlib.Path({str(tmp_path)!r}))
            await server.start()
            print(server.pid, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[2]
    )
    try:
        assert parent.stdout is not None
        pid = int(await asyncio.wait_for(parent.stdout.readline(), 30))
        assert pid_alive(pid)
        parent.send_signal(signal.SIGKILL)
        await parent.wait()
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not pid_alive(pid)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()


async def test_unreadable_metrics_fail_with_one_clear_line(tmp_path: Path) -> None:
    broken = load_world(_write_world(tmp_path / "broken", metrics="up{job=api} 1 1793534400\n# EOF\n", rules=None))
    for server in (PrometheusServer(broken, tmp_path / "real"), FallbackPrometheusServer(broken, tmp_path / "fb")):
        if isinstance(server, PrometheusServer) and not real_prometheus_available():
            continue
        with pytest.raises(PrometheusStartError) as raised:
            await server.start()
        assert "metrics.om" in str(raised.value) and "\n" not in str(raised.value)


async def test_invalid_rules_fail_with_prometheus_own_reason(tmp_path: Path) -> None:
    if not real_prometheus_available():
        skip_or_fail(MISSING_BINARY)
    rules = "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) by\n"
    broken = load_world(_write_world(tmp_path / "rules", metrics=None, rules=rules))
    server = PrometheusServer(broken, tmp_path / "real")
    with pytest.raises(PrometheusStartError, match=r"prometheus exited with status 1: .*parse error"):
        await server.start()
    assert server.pid is None


async def test_world_without_metrics_or_rules_serves_an_empty_prometheus(tmp_path: Path) -> None:
    empty = load_world(_write_world(tmp_path / "empty", metrics=None, rules=None))
    servers = [await start_prometheus(empty, tmp_path / "fallback", prefer_real=False)]
    assert isinstance(servers[0], FallbackPrometheusServer)
    if real_prometheus_available():
        servers.append(await start_prometheus(empty, tmp_path / "real"))
        assert isinstance(servers[1], PrometheusServer)
    try:
        for server in servers:
            assert server.url is not None
            client = PrometheusConnect(server.url, disable_ssl=True)
            assert await asyncio.to_thread(client.custom_query, "up") == []
            assert await asyncio.to_thread(client.custom_query, "vector(1)") == [
                {"metric": {}, "value": [pytest.approx(time.time(), abs=5), "1"]}
            ]
            assert (await get_json(server.url, "/api/v1/alerts"))[1]["data"] == {"alerts": []}
    finally:
        for server in servers:
            await server.stop()


# -- the stand-in, side by side with the real one ---------------------------------------------------

PARITY_QUERIES = [
    "http_requests_total",
    'http_requests_total{code!="200", service=~"check.*"}',
    "rate(http_requests_total[5m])",
    "irate(http_requests_total[1m])",
    'increase(http_requests_total{service="catalog"}[10m])',
    "delta(queue_depth[10m])",
    "deriv(queue_depth[10m])",
    "predict_linear(queue_depth[30m], 3600)",
    ERROR_RATIO,
    "sum without (code) (rate(http_requests_total[5m]))",
    "sum(rate(http_requests_total[5m])) by (service) > 20",
    "avg(rate(http_requests_total[5m]))",
    "max by (code) (rate(http_requests_total[5m]))",
    "min(rate(http_requests_total[5m]))",
    "count(http_requests_total)",
    "stddev(rate(http_requests_total[5m]))",
    "quantile(0.5, rate(http_requests_total[5m]))",
    "topk(2, rate(http_requests_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
    "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
    "max_over_time(queue_depth[30m])",
    "avg_over_time(queue_depth[30m])",
    "min_over_time(queue_depth[30m])",
    "queue_depth offset 30m",
    "-queue_depth + 1",
    "clamp_min(queue_depth - 100, 0)",
    "(queue_depth > 50) * 2",
    'rate(http_requests_total{code="500"}[5m]) > bool 1',
    'rate(http_requests_total{code="500"}[5m]) / ignoring(code) sum without (code) (rate(http_requests_total[5m]))',
    "rate(http_requests_total[5m]) / on(service, namespace) group_left sum by (service, namespace) "
    "(rate(http_requests_total[5m]))",
    "http_requests_total and on(service) queue_depth",
    'rate(http_requests_total[5m]) unless on(code) rate(http_requests_total{code="500"}[5m])',
    "time()",
    "scalar(sum(queue_depth)) * 2",
    "1 + 2 * 3 ^ 2 % 5",
    'absent(nonexistent{job="api"})',
    "http_requests_total[1m]",
]
# Now; before the incident; during catalog's outage; just after its restart; at the data's start.
PARITY_OFFSETS = [
    timedelta(0),
    timedelta(minutes=30),
    timedelta(minutes=61, seconds=3),
    timedelta(minutes=58, seconds=7),
    timedelta(minutes=118, seconds=20),
]


def assert_same_numbers(expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for e, a in zip(expected, actual, strict=True):
            assert_same_numbers(e, a, where)
        return
    e, a = float(expected), float(actual)
    assert (math.isnan(e) and math.isnan(a)) or math.isclose(e, a, rel_tol=1e-9, abs_tol=1e-12), where


@pytest.mark.parametrize("query", PARITY_QUERIES)
async def test_fallback_answers_like_prometheus(
    query: str, real: PrometheusConnect, fallback: PrometheusConnect, world: World
) -> None:
    answered = False
    for offset in PARITY_OFFSETS:
        at = world.now - offset
        expected, actual = by_labels(await instant(real, query, at)), by_labels(await instant(fallback, query, at))
        answered = answered or bool(expected)
        assert actual.keys() == expected.keys(), f"{query} at now-{offset}"
        for labels, value in expected.items():
            assert_same_numbers(value, actual[labels], f"{query} at now-{offset} {dict(labels)}")
    assert answered, f"{query} returned nothing at any time: the comparison would prove little"


async def test_fallback_range_query_matches_prometheus(
    real: PrometheusConnect, fallback: PrometheusConnect, world: World
) -> None:
    for query in (ERROR_RATIO, "time()", 'sum(rate(http_requests_total{service="catalog"}[2m]))'):
        start, end = world.now - timedelta(hours=2), world.now
        expected = by_labels(await asyncio.to_thread(real.custom_query_range, query, start, end, "45"))
        actual = by_labels(await asyncio.to_thread(fallback.custom_query_range, query, start, end, "45"))
        assert expected and actual.keys() == expected.keys(), query
        for labels, values in expected.items():
            assert_same_numbers(values, actual[labels], query)


async def test_fallback_alerts_match_prometheus(real_started: tuple[str, float], fallback_url: str) -> None:
    def comparable(body: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (sorted(a["labels"].items()), sorted(a["annotations"].items()), a["state"], a["value"])
            for a in body["data"]["alerts"]
        )

    # Both evaluate at the wall clock, a moment apart, so values are compared with a tolerance.
    expected = comparable((await get_json(real_started[0], "/api/v1/alerts"))[1])
    actual = comparable((await get_json(fallback_url, "/api/v1/alerts"))[1])
    assert [alert[:3] for alert in actual] == [alert[:3] for alert in expected]
    assert [float(alert[3]) for alert in actual] == pytest.approx([float(alert[3]) for alert in expected])
    for url in (real_started[0], fallback_url):
        body = (await get_json(url, "/api/v1/rules", type="alert"))[1]
        rules = {rule["name"]: rule["state"] for group in body["data"]["groups"] for rule in group["rules"]}
        assert rules == {"HighErrorRate": "firing", "QueueBacklog": "inactive"}, url


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("max_over_time(rate(http_requests_total[5m])[30m:1m])", "subquer"),
        ('label_replace(queue_depth, "x", "$1", "service", "(.*)")', "label_replace"),
        ("queue_depth @ 1793534400", "@ modifier"),
    ],
)
async def test_fallback_names_what_it_cannot_evaluate(fallback_url: str, query: str, mentions: str) -> None:
    status, body = await get_json(fallback_url, "/api/v1/query", query=query)
    assert (status, body["status"], body["errorType"]) == (400, "error", "bad_data")
    assert mentions in body["error"] and "fallback" in body["error"]


async def test_malformed_queries_are_bad_data_in_both(real_started: tuple[str, float], fallback_url: str) -> None:
    for url in (real_started[0], fallback_url):
        for query in ("sum(rate(http_requests_total[5m]) by", 'up{job="a"', "rate(queue_depth)"):
            status, body = await get_json(url, "/api/v1/query", query=query)
            assert (status, body["status"], body["errorType"]) == (400, "error", "bad_data"), (url, query)
            assert body["error"].startswith('invalid parameter "query": 1:'), (url, body["error"])
        with pytest.raises(PrometheusApiClientException, match="bad_data"):
            await asyncio.to_thread(PrometheusConnect(url, disable_ssl=True).custom_query, "1 +")


async def test_fallback_serves_the_discovery_endpoints(fallback_url: str) -> None:
    labels = (await get_json(fallback_url, "/api/v1/labels"))[1]["data"]
    assert {"__name__", "code", "le", "namespace", "service"} <= set(labels)
    names = (await get_json(fallback_url, "/api/v1/label/__name__/values"))[1]["data"]
    assert {"http_requests_total", "queue_depth", "ALERTS", "service:error_ratio:rate5m"} <= set(names)
    series = (await get_json(fallback_url, "/api/v1/series", **{"match[]": "queue_depth"}))[1]["data"]
    assert series == [{"__name__": "queue_depth", "namespace": "shop", "service": "checkout"}]
    assert (await get_json(fallback_url, "/api/v1/targets"))[1]["data"]["activeTargets"] == []
    async with aiohttp.ClientSession() as session, session.get(f"{fallback_url}/-/ready") as response:
        assert response.status == 200


# -- a bundled world ---------------------------------------------------------------------------------


async def test_payment_outage_world_fires_the_same_alerts_in_both(tmp_path: Path) -> None:
    if not (BUNDLED_WORLDS / "payment-outage" / "world.yaml").is_file():
        pytest.skip("worlds/payment-outage is not written yet")
    if not real_prometheus_available():
        skip_or_fail(MISSING_BINARY)
    outage = load_world("payment-outage")
    async with (
        PrometheusServer(outage, tmp_path / "real") as real_server,
        FallbackPrometheusServer(outage, tmp_path / "fallback") as fallback_server,
    ):
        assert real_server.url is not None and fallback_server.url is not None
        names = []
        for url in (real_server.url, fallback_server.url):
            alerts = (await get_json(url, "/api/v1/alerts"))[1]["data"]["alerts"]
            names.append(sorted(alert["labels"]["alertname"] for alert in alerts))
        assert names[0], "payment-outage should have a firing alert"
        assert names[0] == names[1]

"""The metrics MCP server: PromQL for the model, and a service summary that needs none.

`service_summary` is what the agents call first: it finds the service's series itself and
returns findings with onsets, so the answer does not depend on the model writing good PromQL.
`query` and `query_range` stay for questions the summary does not cover. Every answer is
bounded (samples, series and points are capped and flagged) because it ends up in a prompt.

Run standalone: `python -m tools.metrics.server --url URL [--insecure] [--transport http]`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from tools.analyzers.kubernetes.fields import parse_time as parse_api_time
from tools.health import Health
from tools.metrics.client import PrometheusBackend, PrometheusError
from tools.metrics.models import (
    Alert,
    AlertList,
    Point,
    QueryResult,
    RangeResult,
    RangeSeries,
    Sample,
    ServiceSummary,
    Target,
    TargetList,
)
from tools.metrics.summary import service_summary as summarize
from tools.metrics.times import parse_duration, parse_time
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import ToolFailure, one_line_errors

SOURCE = "metrics"
MAX_SAMPLES = 500
MAX_SERIES = 50
MAX_POINTS = 500
DEFAULT_POINTS = 120

When = Annotated[str | None, Field(description='ISO 8601, Unix seconds, "now" or relative like "-30m"; default: now')]


def build_server(backend: PrometheusBackend) -> MCPServer:
    server = MCPServer(
        "metrics",
        instructions=(
            "Prometheus metrics. Start with `service_summary` for a service: error rate, p99 latency, "
            "connection pool and memory saturation and restarts, each against its own baseline, with findings "
            "and the time each problem began. Use `get_alerts` for what is firing, `query`/`query_range` for "
            "anything else."
        ),
    )

    @server.tool(description="Whether Prometheus answers, its version and the round-trip time.")
    async def health() -> Health:
        try:
            info, latency = await backend.build_info()
        except PrometheusError as exc:
            return Health(source=SOURCE, ok=False, detail=str(exc))
        detail = f"Prometheus {info.get('version', '?')} at {backend.url}"
        return Health(source=SOURCE, ok=True, detail=detail, latency_ms=round(latency, 1))

    @server.tool(
        description=(
            "Evaluate a PromQL expression at one instant (default now). Returns each series' labels and value "
            '(or one scalar). Example: sum by (code) (rate(http_requests_total{service="api"}[5m])).'
        )
    )
    @one_line_errors
    async def query(promql: Annotated[str, Field(description="PromQL expression")], time: When = None) -> QueryResult:
        at = parse_time(time, datetime.now(UTC))
        result = await backend.instant(promql, at)
        result_type, samples = _samples(result, at)
        return QueryResult(
            promql=promql,
            at=at,
            result_type=result_type,
            total=len(samples),
            truncated=len(samples) > MAX_SAMPLES,
            samples=samples[:MAX_SAMPLES],
        )

    @server.tool(
        description=(
            f"Evaluate a PromQL expression over a time range: one list of points per series. At most {MAX_POINTS} "
            f"points per series (the step grows to fit) and {MAX_SERIES} series."
        )
    )
    @one_line_errors
    async def query_range(
        promql: Annotated[str, Field(description="PromQL expression")],
        start: When = "-1h",
        end: When = None,
        step: Annotated[str | None, Field(description='e.g. "30s", "5m"; default: range / 120')] = None,
    ) -> RangeResult:
        now = datetime.now(UTC)
        begin, finish = parse_time(start, now), parse_time(end, now)
        span = (finish - begin).total_seconds()
        if span <= 0:
            raise ToolFailure(f"start ({begin.isoformat()}) must be before end ({finish.isoformat()})")
        asked = parse_duration(step).total_seconds() if step else span / DEFAULT_POINTS
        step_s = max(asked, math.ceil(span / MAX_POINTS), 1)
        found = await backend.range(promql, begin, finish, step_s)
        series = [
            RangeSeries(
                labels=_labels(item),
                points=[Point(timestamp=_moment(t), value=_number(v)) for t, v in item.get("values") or []],
            )
            for item in found[:MAX_SERIES]
        ]
        return RangeResult(
            promql=promql,
            start=begin,
            end=finish,
            step_seconds=step_s,
            total=len(found),
            truncated=len(found) > MAX_SERIES,
            series=series,
        )

    @server.tool(
        description="Alerts firing or pending now: name, severity, labels, annotations (summary, runbook), since."
    )
    @one_line_errors
    async def get_alerts() -> AlertList:
        alerts = sorted(
            (_alert(raw) for raw in await backend.alerts()),
            key=lambda alert: (alert.state != "firing", _severity_rank(alert.severity), alert.name),
        )
        firing = sum(alert.state == "firing" for alert in alerts)
        return AlertList(firing=firing, pending=len(alerts) - firing, alerts=alerts)

    @server.tool(
        description=(
            "Scrape targets, up or down with their last error. Where Prometheus scrapes nothing itself "
            "(remote-write, federation), the `up` series stand in for them."
        )
    )
    @one_line_errors
    async def get_targets(time: When = None) -> TargetList:
        active = (await backend.targets()).get("activeTargets") or []
        source: Literal["targets", "up series"] = "targets"
        if active:
            targets = [_target(raw) for raw in active]
        else:
            source = "up series"
            up = await backend.instant("up", parse_time(time, datetime.now(UTC)))
            targets = [_up_target(sample) for sample in _samples(up, datetime.now(UTC))[1]]
        targets.sort(key=lambda target: (target.health == "up", target.job or "", target.instance or ""))
        up_count = sum(target.health == "up" for target in targets)
        return TargetList(source=source, up=up_count, down=len(targets) - up_count, targets=targets)

    @server.tool(
        description=(
            "A service's health from its metrics, found by convention (http_requests_total, "
            "http_request_duration_seconds, db_pool_connections_*, container memory vs limits, restarts): "
            "each signal's value now, its baseline (the window before), and when it crossed its threshold, plus "
            "findings such as an error-rate spike, a p99 latency spike, a connection pool or memory near its limit."
        )
    )
    @one_line_errors
    async def service_summary(
        service: Annotated[str, Field(description="service (or workload) name, e.g. payment-service")],
        namespace: Annotated[str | None, Field(description="narrows the series to one namespace")] = None,
        window_minutes: Annotated[int, Field(ge=5, le=1440, description="the window assessed")] = 60,
        at: When = None,
    ) -> ServiceSummary:
        moment = parse_time(at, datetime.now(UTC))
        return await summarize(backend, service, namespace, moment, window_minutes)

    return server


def _samples(result: list[Any], at: datetime) -> tuple[Literal["vector", "scalar", "string", "matrix"], list[Sample]]:
    """The raw `result` of an instant query, whatever its type (the client library drops `resultType`)."""
    if len(result) == 2 and not isinstance(result[0], dict):
        value = _number(result[1])
        kind: Literal["scalar", "string"] = "scalar" if value is not None or _is_number(result[1]) else "string"
        labels = {} if kind == "scalar" else {"value": str(result[1])}
        return kind, [Sample(labels=labels, value=value, timestamp=_moment(result[0]))]
    if result and "values" in result[0]:
        samples = [
            Sample(labels=_labels(item), value=_number(v), timestamp=_moment(t))
            for item in result
            for t, v in item.get("values") or []
        ]
        return "matrix", samples
    return "vector", [
        Sample(labels=_labels(item), value=_number(item["value"][1]), timestamp=_moment(item["value"][0]))
        for item in result
        if isinstance(item, dict) and "value" in item
    ]


def _labels(item: dict[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in (item.get("metric") or {}).items()}


def _moment(unix: Any) -> datetime:
    return datetime.fromtimestamp(float(unix), tz=UTC)


def _is_number(raw: Any) -> bool:
    try:
        float(raw)
    except (TypeError, ValueError):
        return False
    return True


def _number(raw: Any) -> float | None:
    """A sample value; None for NaN and infinities, which JSON cannot carry."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _alert(raw: dict[str, Any]) -> Alert:
    labels = {str(key): str(value) for key, value in (raw.get("labels") or {}).items()}
    return Alert(
        name=labels.get("alertname", "?"),
        state=str(raw.get("state", "firing")),
        severity=labels.get("severity"),
        labels=labels,
        annotations={str(key): str(value) for key, value in (raw.get("annotations") or {}).items()},
        active_at=parse_api_time(raw.get("activeAt")),
        value=str(raw["value"]) if raw.get("value") is not None else None,
    )


def _severity_rank(severity: str | None) -> int:
    return {"critical": 0, "error": 1, "warning": 2, "info": 3}.get((severity or "").lower(), 4)


def _target(raw: dict[str, Any]) -> Target:
    labels = {str(key): str(value) for key, value in (raw.get("labels") or {}).items()}
    return Target(
        job=labels.get("job") or raw.get("scrapePool"),
        instance=labels.get("instance"),
        health=str(raw.get("health") or "unknown"),
        last_error=raw.get("lastError") or None,
        last_scrape=parse_api_time(raw.get("lastScrape")),
        scrape_url=raw.get("scrapeUrl"),
        labels=labels,
    )


def _up_target(sample: Sample) -> Target:
    labels = {key: value for key, value in sample.labels.items() if key != "__name__"}
    health = "unknown" if sample.value is None else ("up" if sample.value >= 1 else "down")
    return Target(
        job=labels.get("job"),
        instance=labels.get("instance"),
        health=health,
        last_scrape=sample.timestamp,
        labels=labels,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[transport_options()])
    parser.add_argument("--url", required=True, help="Prometheus base URL, e.g. http://prometheus:9090")
    parser.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    args = parse_args(parser, argv)
    asyncio.run(serve_from_args(build_server(PrometheusBackend(args.url, disable_ssl=args.insecure)), args))


if __name__ == "__main__":
    main()

"""`FallbackPrometheusServer`: the Prometheus HTTP API served from a world's samples, in-process.

Used only where no `prometheus` binary exists (a user's laptop); see sandbox/promql/__init__.py
for what it supports. Evaluation runs on one worker thread, off the event loop, which also
serialises it with the rule manager's writes so no query ever sees a half-written series.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from aiohttp import web
from multidict import MultiDict

from sandbox.lifecycle import LOOPBACK, SandboxService, listen
from sandbox.promql.ast import Expr, VectorSelector
from sandbox.promql.engine import instant_query, range_query
from sandbox.promql.errors import PrometheusStartError, PromQLError
from sandbox.promql.parser import parse, parse_duration_ms, value_type
from sandbox.promql.rules import EVALUATION_INTERVAL_S, RuleManager
from sandbox.promql.samples import OpenMetricsError, SeriesStore, load_openmetrics
from sandbox.promql.values import Series, result_json
from sandbox.world import World

_MAX_POINTS = 11_000
_DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
_BUILD_INFO = {
    "version": "2.42.0",
    "revision": "infrawhisperer-sandbox-fallback",
    "branch": "",
    "buildUser": "",
    "buildDate": "",
    "goVersion": "",
}

Params = MultiDict[str]  # query string and POST form, merged as Prometheus merges them
_P = ParamSpec("_P")
_T = TypeVar("_T")


class _BadRequest(PromQLError):
    """A request parameter the API rejects before any PromQL runs."""


class FallbackPrometheusServer(SandboxService):
    """Same interface as `sandbox.prometheus.PrometheusServer`; `workdir` is accepted for that
    parity only, since the stand-in keeps everything in memory."""

    def __init__(self, world: World, workdir: Path) -> None:
        self.world = world
        self.workdir = workdir
        self.url: str | None = None
        self._store = SeriesStore()
        self._rules: RuleManager | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._runner: web.AppRunner | None = None
        self._rule_task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promql-fallback")
        try:
            self._rules = RuleManager(self.world.rules, str(self.world.root / "rules.yaml"))
            if self.world.metrics_om:
                await self._run(load_openmetrics, self.world.metrics_om, self._store)
            await self._run(self._rules.evaluate, self._store, datetime.now(UTC))
            self._runner, port = await listen(self._app())
        except OpenMetricsError as exc:
            await self.stop()
            raise PrometheusStartError(f"world {self.world.name}: {exc}") from None
        except BaseException:
            await self.stop()
            raise
        if self._rules.groups:
            self._rule_task = asyncio.create_task(self._evaluate_rules_forever())
        self.url = f"http://{LOOPBACK}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._rule_task is not None:
            self._rule_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rule_task
            self._rule_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self.url = None

    def _run(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> Awaitable[_T]:
        assert self._executor is not None, "the server is not running"
        return asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(func, *args, **kwargs))

    async def _evaluate_rules_forever(self) -> None:
        assert self._rules is not None
        while True:
            await asyncio.sleep(EVALUATION_INTERVAL_S)
            await self._run(self._rules.evaluate, self._store, datetime.now(UTC))

    def _app(self) -> web.Application:
        app = web.Application()
        api: list[tuple[str, Callable[[Params], Awaitable[Any]]]] = [
            ("/api/v1/query", self._query),
            ("/api/v1/query_range", self._query_range),
            ("/api/v1/series", self._series),
            ("/api/v1/labels", self._labels),
        ]
        for path, handler in api:
            wrapped = self._api(handler)
            app.router.add_get(path, wrapped)
            app.router.add_post(path, wrapped)
        app.router.add_get("/api/v1/label/{name}/values", self._label_values)
        app.router.add_get("/api/v1/alerts", self._api(self._alerts))
        app.router.add_get("/api/v1/rules", self._api(self._rules_list))
        app.router.add_get("/api/v1/targets", self._api(_targets))
        app.router.add_get("/api/v1/status/buildinfo", self._api(_build_info))
        app.router.add_get("/-/ready", _text("Prometheus Server is Ready.\n"))
        app.router.add_get("/-/healthy", _text("Prometheus Server is Healthy.\n"))
        app.router.add_get("/", _text("Prometheus API stand-in of the InfraWhisperer sandbox.\n"))
        return app

    def _api(self, handler: Callable[[Params], Awaitable[Any]]) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wraps a handler of request parameters in Prometheus' success / error envelope."""

        async def respond(request: web.Request) -> web.Response:
            params: Params = MultiDict(request.query)
            if request.method == "POST":
                params.extend(await request.post())  # type: ignore[arg-type]
            try:
                data = await handler(params)
            except PromQLError as exc:
                body = {"status": "error", "errorType": exc.error_type, "error": str(exc)}
                return web.json_response(body, status=exc.http_status)
            return web.json_response({"status": "success", "data": data})

        return respond

    async def _query(self, params: Params) -> dict[str, Any]:
        at_ms = _time_ms(params, "time")
        at_ms = _now_ms() if at_ms is None else at_ms
        expr = _parse_query(params.get("query", ""))
        value = await self._run(instant_query, self._store, expr, at_ms)
        return result_json(value, at_ms)

    async def _query_range(self, params: Params) -> dict[str, Any]:
        start_ms = _required_time_ms(params, "start")
        end_ms = _required_time_ms(params, "end")
        if end_ms < start_ms:
            raise _BadRequest('invalid parameter "end": end timestamp must not be before start time')
        step_ms = _step_ms(params.get("step", ""))
        if step_ms <= 0:
            raise _BadRequest(
                'invalid parameter "step": zero or negative query resolution step widths are not accepted. '
                "Try a positive integer"
            )
        if (end_ms - start_ms) // step_ms > _MAX_POINTS:
            raise _BadRequest(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        expr = _parse_query(params.get("query", ""))
        if value_type(expr) == "matrix":
            raise _BadRequest(
                'invalid expression type "range vector" for range query, must be Scalar or instant Vector'
            )
        matrix = await self._run(range_query, self._store, expr, start_ms, end_ms, step_ms)
        return result_json(matrix, end_ms)

    async def _selected(self, params: Params, *, required: bool) -> list[Series]:
        selectors = [_parse_selector(text) for text in params.getall("match[]", [])]
        if required and not selectors:
            raise _BadRequest("no match[] parameter provided")
        start_ms, end_ms = _time_ms(params, "start"), _time_ms(params, "end")

        def select() -> list[Series]:
            if not selectors:
                return self._store.select((), start_ms, end_ms)
            found: dict[int, Series] = {}
            for selector in selectors:
                found.update((id(s), s) for s in self._store.select(selector.matchers, start_ms, end_ms))
            return sorted(found.values(), key=lambda series: series.labels)

        return await self._run(select)

    async def _series(self, params: Params) -> list[dict[str, str]]:
        return [dict(series.labels) for series in await self._selected(params, required=True)]

    async def _labels(self, params: Params) -> list[str]:
        return sorted({name for series in await self._selected(params, required=False) for name, _ in series.labels})

    async def _label_values(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]

        async def values(params: Params) -> list[str]:
            found = await self._selected(params, required=False)
            return sorted({value for series in found for key, value in series.labels if key == name})

        return await self._api(values)(request)

    async def _alerts(self, _: Params) -> dict[str, Any]:
        assert self._rules is not None
        return {"alerts": await self._run(self._rules.alerts_json)}

    async def _rules_list(self, params: Params) -> dict[str, Any]:
        assert self._rules is not None
        return {"groups": await self._run(self._rules.groups_json, params.get("type"))}


async def _targets(_: Params) -> dict[str, Any]:
    return {"activeTargets": [], "droppedTargets": []}


async def _build_info(_: Params) -> dict[str, str]:
    return _BUILD_INFO


def _text(body: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def respond(_: web.Request) -> web.Response:
        return web.Response(text=body)

    return respond


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _parse_query(text: str) -> Expr:
    try:
        return parse(text)
    except PromQLError as exc:
        raise _BadRequest(f'invalid parameter "query": {exc}') from None


def _parse_selector(text: str) -> VectorSelector:
    try:
        expr = parse(text)
    except PromQLError as exc:
        raise _BadRequest(f'invalid parameter "match[]": {exc}') from None
    if not isinstance(expr, VectorSelector):
        raise _BadRequest(f'invalid parameter "match[]": {text!r} is not a series selector')
    return expr


def _time_ms(params: Params, name: str) -> int | None:
    """A timestamp parameter (Unix seconds or RFC 3339) in milliseconds, or None when absent."""
    text = params.get(name, "")
    if not text:
        return None
    try:
        seconds = Decimal(text)
        if seconds.is_finite():
            return math.floor(seconds * 1000)
    except InvalidOperation:
        with contextlib.suppress(ValueError):
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    raise _BadRequest(
        f'invalid parameter "{name}": Invalid time value for \'{name}\': cannot parse "{text}" to a valid timestamp'
    )


def _required_time_ms(params: Params, name: str) -> int:
    found = _time_ms(params, name)
    if found is None:
        raise _BadRequest(f'invalid parameter "{name}": cannot parse "" to a valid timestamp')
    return found


def _step_ms(text: str) -> int:
    try:
        return int(Decimal(text) * 1000)
    except InvalidOperation:
        if _DURATION.fullmatch(text):
            return parse_duration_ms(text)
    raise _BadRequest(f'invalid parameter "step": cannot parse "{text}" to a valid duration')

"""One Prometheus (or PromQL-compatible) endpoint for the metrics server.

prometheus-api-client is blocking, so every call runs in a worker thread. Its default retries
back off for seconds, which a tool call cannot afford: one quick retry here. Its errors embed
the whole response; the API's own `error` field is what a person needs, so that is extracted.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from tools.tool_errors import ToolFailure

_TIMEOUT_S = 20
_ERROR_FIELD = re.compile(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)"')


class PrometheusError(ToolFailure):
    """A query Prometheus refused, or an answer it could not give; str() is its one-line reason."""


class PrometheusUnreachable(PrometheusError):
    """No answer at all (refused, timed out, TLS failure)."""


class PrometheusBackend:
    def __init__(self, url: str, *, disable_ssl: bool = False, headers: dict[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()
        self._session.verify = not disable_ssl
        self._client = PrometheusConnect(
            self.url,
            headers=headers,
            disable_ssl=disable_ssl,
            retry=Retry(total=1, backoff_factor=0.1, status_forcelist=(502, 503, 504)),
            session=self._session,
            timeout=_TIMEOUT_S,
        )

    def close(self) -> None:
        self._session.close()

    async def build_info(self) -> tuple[dict[str, Any], float]:
        """/api/v1/status/buildinfo and the round trip in milliseconds."""
        started = time.perf_counter()
        info = await self._api("/api/v1/status/buildinfo")
        return info, (time.perf_counter() - started) * 1000

    async def instant(self, promql: str, at: datetime) -> list[Any]:
        """The raw `result` of an instant query: a vector's samples, or a scalar's [time, value]."""
        result: list[Any] = await self._run(self._client.custom_query, promql, params={"time": at.timestamp()})
        return result

    async def range(self, promql: str, start: datetime, end: datetime, step_s: float) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._run(
            self._client.custom_query_range, promql, start_time=start, end_time=end, step=f"{step_s:g}"
        )
        return result

    async def series(self, matchers: Sequence[str], start: datetime, end: datetime) -> list[dict[str, str]]:
        found: list[dict[str, str]] = await self._run(
            self._client.get_series, start, end, params={"match[]": list(matchers)}
        )
        return found

    async def targets(self) -> dict[str, Any]:
        found: dict[str, Any] = await self._run(self._client.get_targets, "active")
        return found

    async def alerts(self) -> list[dict[str, Any]]:
        data = await self._api("/api/v1/alerts")
        alerts: list[dict[str, Any]] = data.get("alerts") or []
        return alerts

    async def _api(self, path: str) -> dict[str, Any]:
        """An API endpoint the client library has no method for, over the same session."""

        def get() -> dict[str, Any]:
            response = self._session.get(f"{self.url}{path}", timeout=_TIMEOUT_S)
            if response.status_code != 200:
                raise PrometheusApiClientException(f"HTTP Status Code {response.status_code} ({response.content!r})")
            data: dict[str, Any] = response.json().get("data") or {}
            return data

        result: dict[str, Any] = await self._run(get)
        return result

    async def _run(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            raise PrometheusUnreachable(f"Prometheus {self.url} unreachable: {_reason(exc)}") from None
        except requests.exceptions.Timeout:
            raise PrometheusUnreachable(f"Prometheus {self.url} did not answer within {_TIMEOUT_S} s") from None
        except PrometheusApiClientException as exc:
            raise PrometheusError(f"Prometheus refused the request: {_api_error(str(exc))}") from None
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise PrometheusError(f"Prometheus {self.url} gave no usable answer: {_reason(exc)}") from None


def _api_error(text: str) -> str:
    """The `error` field of Prometheus's JSON answer, which the client library quotes inside its message."""
    match = _ERROR_FIELD.search(text.encode().decode("unicode_escape", errors="replace"))
    if match:
        return str(json.loads(f'"{match.group(1)}"'))
    return text.split(" (", 1)[0]


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    text = re.sub(r"<[^<>]*object at 0x[0-9a-f]+>:?\s*", "", text)
    match = re.search(r"\[Errno[^\]]*\][^')]*", text)
    return " ".join((match.group(0) if match else text).split())[:300]

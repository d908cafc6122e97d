"""Errors of the metrics endpoint, each carrying the Prometheus API's own error type.

The HTTP layer turns a `PromQLError` into Prometheus' error body, so a client sees the same
`errorType` from the stand-in as from a real server and can handle both the same way.
"""

from __future__ import annotations


class PrometheusStartError(Exception):
    """A metrics endpoint (real or stand-in) that could not start; the message is one line."""


class PromQLError(Exception):
    """A query the API rejects; `error_type` and `http_status` are what Prometheus answers."""

    error_type = "bad_data"
    http_status = 400


class ParseError(PromQLError):
    """Malformed PromQL, reported at a `line:column` position as Prometheus does."""

    def __init__(self, message: str, position: int, query: str) -> None:
        line = query.count("\n", 0, position) + 1
        column = position - (query.rfind("\n", 0, position) + 1) + 1
        super().__init__(f"{line}:{column}: parse error: {message}")


class UnsupportedError(PromQLError):
    """Valid PromQL that the stand-in evaluator does not implement (a real Prometheus would run it)."""

    def __init__(self, construct: str) -> None:
        super().__init__(f"not supported by the sandbox's fallback PromQL evaluator: {construct}")


class ExecutionError(PromQLError):
    """A query that parsed but failed while running, such as an ambiguous vector match."""

    error_type = "execution"
    http_status = 422

"""The stand-in's rule manager: evaluates a world's recording and alerting rules like Prometheus.

As in the real server (see sandbox/prometheus.py), `for:` is ignored: a world is one recorded
moment whose alerts have long been pending, so a condition that holds now fires now. Each pass
writes recording-rule results and `ALERTS` series back into the store at the evaluation time,
which is what a real Prometheus does, so queries over them agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sandbox.promql.ast import Expr
from sandbox.promql.engine import instant_query
from sandbox.promql.errors import PrometheusStartError, PromQLError, UnsupportedError
from sandbox.promql.gofloat import format_e
from sandbox.promql.parser import parse, value_type
from sandbox.promql.samples import SeriesStore
from sandbox.promql.templates import expand
from sandbox.promql.values import METRIC_NAME, Labels, Sample, Scalar, Value, Vector, labels_of, without_name

EVALUATION_INTERVAL_S = 1
_NEVER = "0001-01-01T00:00:00Z"  # Go's zero time, which Prometheus reports before a first evaluation


def rfc3339(moment: datetime | None) -> str:
    """RFC 3339 with trimmed fractional seconds, as Go's RFC3339Nano writes times."""
    if moment is None:
        return _NEVER
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


@dataclass
class _Alert:
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at: datetime


@dataclass
class _Rule:
    kind: Literal["alerting", "recording"]
    name: str
    query: str
    expr: Expr | None
    labels: dict[str, str]
    annotations: dict[str, str]
    last_error: str | None = None
    alerts: dict[Labels, _Alert] = field(default_factory=dict)
    last_evaluation: datetime | None = None
    evaluation_time: float = 0.0


@dataclass
class _Group:
    name: str
    rules: list[_Rule]
    last_evaluation: datetime | None = None
    evaluation_time: float = 0.0


class RuleManager:
    def __init__(self, rules: dict[str, Any] | None, file_name: str) -> None:
        self.file_name = file_name
        groups = [_group(raw, file_name) for raw in _list((rules or {}).get("groups"), "groups", file_name)]
        # Sorted by name, the order in which Prometheus lists a file's groups.
        self.groups = sorted(groups, key=lambda group: group.name)

    def evaluate(self, store: SeriesStore, moment: datetime) -> None:
        at_ms = int(moment.timestamp() * 1000)
        for group in self.groups:
            started = time.perf_counter()
            for rule in group.rules:
                rule_started = time.perf_counter()
                _evaluate_rule(rule, store, moment, at_ms)
                rule.last_evaluation = moment
                rule.evaluation_time = time.perf_counter() - rule_started
            group.last_evaluation = moment
            group.evaluation_time = time.perf_counter() - started

    def alerts_json(self) -> list[dict[str, Any]]:
        return [_alert_json(alert) for group in self.groups for rule in group.rules for alert in rule.alerts.values()]

    def groups_json(self, rule_type: str | None) -> list[dict[str, Any]]:
        wanted = {"alert": "alerting", "record": "recording"}.get(rule_type or "")
        return [
            {
                "name": group.name,
                "file": self.file_name,
                "rules": [_rule_json(rule) for rule in group.rules if wanted in (None, rule.kind)],
                "interval": EVALUATION_INTERVAL_S,
                "limit": 0,
                "evaluationTime": group.evaluation_time,
                "lastEvaluation": rfc3339(group.last_evaluation),
            }
            for group in self.groups
        ]


def _list(value: Any, what: str, file_name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PrometheusStartError(f"{file_name}: {what} must be a list")
    return value


def _group(raw: Any, file_name: str) -> _Group:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise PrometheusStartError(f"{file_name}: every rule group needs a name")
    where = f"{file_name}: group {raw['name']}"
    return _Group(str(raw["name"]), [_rule(spec, where) for spec in _list(raw.get("rules"), "rules", where)])


def _rule(spec: Any, where: str) -> _Rule:
    if not isinstance(spec, dict) or not (spec.get("alert") or spec.get("record")) or not spec.get("expr"):
        raise PrometheusStartError(f"{where}: every rule needs 'alert' or 'record', and 'expr'")
    name = str(spec.get("alert") or spec.get("record"))
    query = str(spec["expr"]).strip()
    rule = _Rule(
        kind="alerting" if spec.get("alert") else "recording",
        name=name,
        query=query,
        expr=None,
        labels={str(k): str(v) for k, v in (spec.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (spec.get("annotations") or {}).items()},
    )
    try:
        rule.expr = parse(query)
    except UnsupportedError as exc:
        # Valid PromQL the stand-in cannot run: the rule reports an error, the others still work.
        rule.last_error = str(exc)
    except PromQLError as exc:
        raise PrometheusStartError(f"{where}: rule {name}: {exc}") from None
    if rule.expr is not None and value_type(rule.expr) == "matrix":
        raise PrometheusStartError(f"{where}: rule {name}: expression must be an instant vector or a scalar")
    return rule


def _evaluate_rule(rule: _Rule, store: SeriesStore, moment: datetime, at_ms: int) -> None:
    if rule.expr is None:
        return
    try:
        value = instant_query(store, rule.expr, at_ms)
    except PromQLError as exc:
        rule.last_error = str(exc)
        rule.alerts = {}
        return
    rule.last_error = None
    samples = [Sample((), value.value)] if isinstance(value, Scalar) else _samples(value)
    if rule.kind == "recording":
        for sample in samples:
            labels = {**dict(sample.labels), **rule.labels, METRIC_NAME: rule.name}
            store.append(labels_of(labels), at_ms, sample.value)
        return
    previous = rule.alerts
    rule.alerts = {}
    for sample in samples:
        series_labels = dict(sample.labels)
        labels = dict(without_name(sample.labels))
        labels.update({key: expand(text, series_labels, sample.value) for key, text in rule.labels.items()})
        labels["alertname"] = rule.name
        key = labels_of(labels)
        if key in rule.alerts:
            rule.last_error = "vector contains metrics with the same labelset after applying alert labels"
            rule.alerts = {}
            return
        annotations = {key: expand(text, series_labels, sample.value) for key, text in rule.annotations.items()}
        active_at = previous[key].active_at if key in previous else moment
        rule.alerts[key] = _Alert(dict(key), annotations, sample.value, active_at)
        store.append(labels_of({**labels, METRIC_NAME: "ALERTS", "alertstate": "firing"}), at_ms, 1.0)


def _samples(value: Value) -> list[Sample]:
    assert isinstance(value, Vector), "rules of range-vector type are rejected when loaded"
    return value.samples


def _alert_json(alert: _Alert) -> dict[str, Any]:
    return {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": "firing",
        "activeAt": rfc3339(alert.active_at),
        "value": format_e(alert.value),
    }


def _rule_json(rule: _Rule) -> dict[str, Any]:
    body: dict[str, Any] = {"name": rule.name, "query": rule.query}
    if rule.kind == "alerting":
        body.update(
            state="firing" if rule.alerts else "inactive",
            duration=0,
            keepFiringFor=0,
            labels=rule.labels,
            annotations=rule.annotations,
            alerts=[_alert_json(alert) for alert in rule.alerts.values()],
        )
    elif rule.labels:
        body["labels"] = rule.labels
    body.update(
        health="err" if rule.last_error else "ok" if rule.last_evaluation else "unknown",
        evaluationTime=rule.evaluation_time,
        lastEvaluation=rfc3339(rule.last_evaluation),
        type=rule.kind,
    )
    if rule.last_error:
        body["lastError"] = rule.last_error
    return body

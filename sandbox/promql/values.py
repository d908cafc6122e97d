"""The value types a PromQL expression evaluates to, and their Prometheus JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.promql.gofloat import format_f, format_sample

METRIC_NAME = "__name__"

# A label set as sorted (name, value) pairs: hashable, so it can key groups and match signatures.
Labels = tuple[tuple[str, str], ...]


def labels_of(mapping: dict[str, str]) -> Labels:
    return tuple(sorted((name, value) for name, value in mapping.items() if value != ""))


def without_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != METRIC_NAME)


def label_value(labels: Labels, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""


@dataclass(frozen=True, slots=True)
class Scalar:
    value: float


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    value: float


@dataclass(slots=True)
class Series:
    """One series' samples, oldest first; timestamps are Unix milliseconds as in Prometheus."""

    labels: Labels
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Vector:
    samples: list[Sample]


@dataclass(slots=True)
class Matrix:
    series: list[Series]


Value = Scalar | Vector | Matrix


def json_timestamp(ms: int) -> int | float:
    """Seconds as Prometheus writes them: an integer when whole, else with millisecond decimals."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def result_json(value: Value, at_ms: int) -> dict[str, Any]:
    """The `data` object of a query response."""
    if isinstance(value, Scalar):
        # Prometheus writes a scalar with plain 'f' notation, unlike the samples of a vector.
        return {"resultType": "scalar", "result": [json_timestamp(at_ms), format_f(value.value)]}
    if isinstance(value, Vector):
        return {
            "resultType": "vector",
            "result": [
                {"metric": dict(s.labels), "value": [json_timestamp(at_ms), format_sample(s.value)]}
                for s in value.samples
            ],
        }
    return {
        "resultType": "matrix",
        "result": [
            {
                "metric": dict(series.labels),
                "values": [
                    [json_timestamp(t), format_sample(v)] for t, v in zip(series.timestamps, series.values, strict=True)
                ],
            }
            for series in value.series
        ],
    }

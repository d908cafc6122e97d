"""PromQL functions of the stand-in, ported from Prometheus 2.42 (promql/functions.go).

The arithmetic follows the Go code step by step (extrapolation of `rate`, bucket interpolation
of `histogram_quantile`, the regression of `deriv`) because the stand-in's answers are compared
with a real Prometheus' and must agree with them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.promql.ast import ValueType


@dataclass(frozen=True, slots=True)
class Signature:
    args: tuple[ValueType, ...]
    returns: ValueType = "vector"
    optional: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    """The samples a range selector picked for one evaluation step, and the bounds it asked for."""

    timestamps: Sequence[int]
    values: Sequence[float]
    start_ms: int
    end_ms: int
    eval_ms: int


def extrapolated_rate(window: Window, *, is_counter: bool, is_rate: bool) -> float | None:
    """`rate`, `increase` and `delta`: extrapolate to the window's edges unless a sample is far from them."""
    ts, vs = window.timestamps, window.values
    if len(vs) < 2:
        return None
    result = vs[-1] - vs[0]
    if is_counter:
        last = 0.0
        for value in vs:
            if value < last:
                result += last
            last = value
    to_start = (ts[0] - window.start_ms) / 1000
    to_end = (window.end_ms - ts[-1]) / 1000
    sampled = (ts[-1] - ts[0]) / 1000
    average_gap = sampled / (len(vs) - 1)
    if is_counter and result > 0 and vs[0] >= 0:
        to_start = min(to_start, sampled * (vs[0] / result))
    threshold = average_gap * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average_gap / 2
    interval += to_end if to_end < threshold else average_gap / 2
    factor = interval / sampled
    if is_rate:
        factor /= (window.end_ms - window.start_ms) / 1000
    return result * factor


def instant_value(window: Window, *, is_rate: bool) -> float | None:
    """`irate` and `idelta`: from the last two samples only."""
    ts, vs = window.timestamps, window.values
    if len(vs) < 2:
        return None
    result = vs[-1] if is_rate and vs[-1] < vs[-2] else vs[-1] - vs[-2]
    interval_ms = ts[-1] - ts[-2]
    if interval_ms == 0:
        return None
    return result / (interval_ms / 1000) if is_rate else result


def linear_regression(window: Window, intercept_ms: int) -> tuple[float, float]:
    values = window.values
    if all(v == values[0] for v in values):
        return (math.nan, math.nan) if math.isinf(values[0]) else (0.0, values[0])
    n = len(values)
    xs = [(t - intercept_ms) / 1000 for t in window.timestamps]
    sum_x, sum_y = math.fsum(xs), math.fsum(values)
    sum_xy = math.fsum(x * y for x, y in zip(xs, values, strict=True))
    sum_x2 = math.fsum(x * x for x in xs)
    slope = (sum_xy - sum_x * sum_y / n) / (sum_x2 - sum_x * sum_x / n)
    return slope, sum_y / n - slope * sum_x / n


def _deriv(window: Window) -> float | None:
    return linear_regression(window, window.timestamps[0])[0] if len(window.values) >= 2 else None


def _predict_linear(window: Window, seconds: float) -> float | None:
    if len(window.values) < 2:
        return None
    slope, intercept = linear_regression(window, window.eval_ms)
    return intercept + slope * seconds


def incremental_mean(values: Sequence[float]) -> float:
    """Prometheus' incremental mean (not sum / count), so results agree to the last digit."""
    mean = 0.0
    for count, value in enumerate(values, start=1):
        mean += value / count - mean / count
    return mean


def maximum(values: Sequence[float]) -> float:
    best = values[0]
    for value in values[1:]:
        if value > best or math.isnan(best):
            best = value
    return best


def minimum(values: Sequence[float]) -> float:
    best = values[0]
    for value in values[1:]:
        if value < best or math.isnan(best):
            best = value
    return best


def quantile(q: float, values: Sequence[float]) -> float:
    """The φ-quantile with linear interpolation, as the `quantile` aggregation computes it."""
    if not values:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    lower = max(0, math.floor(rank))
    upper = min(len(ordered) - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """`histogram_quantile` over classic buckets given as (upper bound, cumulative count)."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets, key=lambda bucket: bucket[0])
    if not math.isinf(buckets[-1][0]):
        return math.nan
    merged: list[list[float]] = []
    for bound, count in buckets:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    highest = -math.inf
    for bucket in merged:
        highest = max(highest, bucket[1])
        bucket[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    index = next((i for i, bucket in enumerate(merged[:-1]) if bucket[1] >= rank), len(merged) - 1)
    if index == len(merged) - 1:
        return merged[-2][0]
    if index == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[index][0], merged[index][1]
    if index > 0:
        start = merged[index - 1][0]
        count -= merged[index - 1][1]
        rank -= merged[index - 1][1]
    return start + (end - start) * (rank / count)


def _changes(values: Sequence[float]) -> float:
    return float(sum(1 for a, b in itertools.pairwise(values) if b != a and not (math.isnan(a) and math.isnan(b))))


def _resets(values: Sequence[float]) -> float:
    return float(sum(1 for a, b in itertools.pairwise(values) if b < a))


RangeFunction = Callable[[Window, Sequence[float]], float | None]

# Functions of a range vector: one output sample per input series that has samples in the window;
# the second argument holds the call's scalar arguments.
RANGE_FUNCTIONS: dict[str, RangeFunction] = {
    "rate": lambda w, _: extrapolated_rate(w, is_counter=True, is_rate=True),
    "increase": lambda w, _: extrapolated_rate(w, is_counter=True, is_rate=False),
    "delta": lambda w, _: extrapolated_rate(w, is_counter=False, is_rate=False),
    "irate": lambda w, _: instant_value(w, is_rate=True),
    "idelta": lambda w, _: instant_value(w, is_rate=False),
    "deriv": lambda w, _: _deriv(w),
    "predict_linear": lambda w, s: _predict_linear(w, s[0]),
    "changes": lambda w, _: _changes(w.values),
    "resets": lambda w, _: _resets(w.values),
    "avg_over_time": lambda w, _: incremental_mean(w.values),
    "sum_over_time": lambda w, _: math.fsum(w.values),
    "count_over_time": lambda w, _: float(len(w.values)),
    "max_over_time": lambda w, _: maximum(w.values),
    "min_over_time": lambda w, _: minimum(w.values),
    "last_over_time": lambda w, _: w.values[-1],
    "quantile_over_time": lambda w, s: quantile(s[0], w.values),
}


def _finite_only(func: Callable[[float], float]) -> Callable[[float], float]:
    """Go's math passes NaN and ±Inf through where Python's raises (`math.floor(inf)`, for one)."""
    return lambda value: value if math.isinf(value) or math.isnan(value) else func(value)


def _nan_on_domain_error(func: Callable[[float], float]) -> Callable[[float], float]:
    """Go's math returns NaN outside a function's domain (the root of -1) where Python's raises."""

    def call(value: float) -> float:
        try:
            return func(value)
        except ValueError:
            return math.nan

    return call


def _logarithm(base_log: Callable[[float], float]) -> Callable[[float], float]:
    return _nan_on_domain_error(lambda value: -math.inf if value == 0 else base_log(value))


def _exp(value: float) -> float:
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def _round(value: float, to_nearest: float = 1.0) -> float:
    """Go's `math.Floor(v*inverse+0.5) / inverse`: halves round up, unlike Python's `round`."""
    inverse = 1 / to_nearest
    return _finite_only(lambda v: math.floor(v * inverse + 0.5) / inverse)(value)


# Functions applied to each sample's value; extra arguments are scalars.
ELEMENTWISE: dict[str, Callable[..., float]] = {
    "abs": abs,
    "ceil": _finite_only(lambda v: float(math.ceil(v))),
    "floor": _finite_only(lambda v: float(math.floor(v))),
    "exp": _exp,
    "sqrt": _nan_on_domain_error(math.sqrt),
    "ln": _logarithm(math.log),
    "log2": _logarithm(math.log2),
    "log10": _logarithm(math.log10),
    "round": _round,
    "clamp_min": lambda v, low: math.nan if math.isnan(low) else max(v, low),
    "clamp_max": lambda v, high: math.nan if math.isnan(high) else min(v, high),
}

SIGNATURES: dict[str, Signature] = {
    **{name: Signature(("matrix",)) for name in RANGE_FUNCTIONS},
    "predict_linear": Signature(("matrix", "scalar")),
    "quantile_over_time": Signature(("scalar", "matrix")),
    **{name: Signature(("vector",)) for name in ELEMENTWISE},
    "round": Signature(("vector", "scalar"), optional=1),
    "clamp_min": Signature(("vector", "scalar")),
    "clamp_max": Signature(("vector", "scalar")),
    "histogram_quantile": Signature(("scalar", "vector")),
    "absent": Signature(("vector",)),
    "absent_over_time": Signature(("matrix",)),
    "sort": Signature(("vector",)),
    "sort_desc": Signature(("vector",)),
    "scalar": Signature(("vector",), returns="scalar"),
    "vector": Signature(("scalar",)),
    "time": Signature((), returns="scalar"),
}

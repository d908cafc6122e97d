"""Evaluates a parsed PromQL expression over a `SeriesStore` with Prometheus 2.42's semantics.

What must agree with a real Prometheus, and does: the 5-minute lookback of instant selectors,
range selectors closed at both ends, `rate` extrapolation, the labels each operation keeps or
drops, one-to-one / group_left matching and its errors. A range query evaluates the expression
at every step as an instant query, which is how Prometheus defines it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from sandbox.promql import functions
from sandbox.promql.ast import (
    Aggregate,
    Binary,
    Call,
    Expr,
    Matcher,
    MatrixSelector,
    Negation,
    NumberLiteral,
    VectorMatching,
    VectorSelector,
)
from sandbox.promql.errors import ExecutionError
from sandbox.promql.parser import COMPARISONS, SET_OPERATORS
from sandbox.promql.samples import SeriesStore
from sandbox.promql.values import (
    METRIC_NAME,
    Labels,
    Matrix,
    Sample,
    Scalar,
    Series,
    Value,
    Vector,
    label_value,
    without_name,
)

LOOKBACK_MS = 5 * 60 * 1000


def instant_query(store: SeriesStore, expr: Expr, at_ms: int) -> Value:
    return _Evaluation(store).eval(expr, at_ms)


def range_query(store: SeriesStore, expr: Expr, start_ms: int, end_ms: int, step_ms: int) -> Matrix:
    evaluation = _Evaluation(store)
    collected: dict[Labels, Series] = {}
    for at_ms in range(start_ms, end_ms + 1, step_ms):
        value = evaluation.eval(expr, at_ms)
        samples = [Sample((), value.value)] if isinstance(value, Scalar) else _vector(value).samples
        for sample in samples:
            series = collected.setdefault(sample.labels, Series(sample.labels))
            if series.timestamps and series.timestamps[-1] == at_ms:
                raise ExecutionError("vector cannot contain metrics with the same labelset")
            series.timestamps.append(at_ms)
            series.values.append(sample.value)
    return Matrix(sorted(collected.values(), key=lambda series: series.labels))


def _vector(value: Value) -> Vector:
    assert isinstance(value, Vector), "the parser's type check lets only instant vectors through here"
    return value


def _scalar(value: Value) -> float:
    assert isinstance(value, Scalar), "the parser's type check lets only scalars through here"
    return value.value


def _format_labels(labels: Labels) -> str:
    return "{" + ", ".join(f'{name}="{value}"' for name, value in labels) + "}"


class _Evaluation:
    """One query's evaluation; remembers which series each selector picked, for all its steps."""

    def __init__(self, store: SeriesStore) -> None:
        self.store = store
        self.selected: dict[tuple[Matcher, ...], list[Series]] = {}

    def eval(self, expr: Expr, at_ms: int) -> Value:
        if isinstance(expr, NumberLiteral):
            return Scalar(expr.value)
        if isinstance(expr, VectorSelector):
            return Vector(self.instant_samples(expr, at_ms))
        if isinstance(expr, MatrixSelector):
            return Matrix([Series(s.labels, list(w.timestamps), list(w.values)) for s, w in self.windows(expr, at_ms)])
        if isinstance(expr, Negation):
            inner = self.eval(expr.expr, at_ms)
            if isinstance(inner, Scalar):
                return Scalar(-inner.value)
            return Vector([Sample(without_name(s.labels), -s.value) for s in _vector(inner).samples])
        if isinstance(expr, Call):
            return self.call(expr, at_ms)
        if isinstance(expr, Aggregate):
            return self.aggregate(expr, at_ms)
        return self.binary(expr, at_ms)

    # -- selectors ------------------------------------------------------------------------------

    def series(self, selector: VectorSelector) -> list[Series]:
        found = self.selected.get(selector.matchers)
        if found is None:
            found = sorted(self.store.select(selector.matchers), key=lambda series: series.labels)
            self.selected[selector.matchers] = found
        return found

    def instant_samples(self, selector: VectorSelector, at_ms: int) -> list[Sample]:
        reference = at_ms - selector.offset_ms
        samples = []
        for series in self.series(selector):
            index = bisect.bisect_right(series.timestamps, reference) - 1
            if index >= 0 and series.timestamps[index] >= reference - LOOKBACK_MS:
                samples.append(Sample(series.labels, series.values[index]))
        return samples

    def windows(self, selector: MatrixSelector, at_ms: int) -> list[tuple[Series, functions.Window]]:
        """Each selected series' samples in [end - range, end], skipping series with none there."""
        end = at_ms - selector.vector.offset_ms
        start = end - selector.range_ms
        found = []
        for series in self.series(selector.vector):
            low = bisect.bisect_left(series.timestamps, start)
            high = bisect.bisect_right(series.timestamps, end)
            if high > low:
                window = functions.Window(series.timestamps[low:high], series.values[low:high], start, end, at_ms)
                found.append((series, window))
        return found

    # -- functions ------------------------------------------------------------------------------

    def call(self, call: Call, at_ms: int) -> Value:
        name, args = call.func, call.args
        if name in functions.RANGE_FUNCTIONS:
            return self.range_function(call, at_ms)
        if name == "time":
            return Scalar(at_ms / 1000)
        if name == "vector":
            return Vector([Sample((), _scalar(self.eval(args[0], at_ms)))])
        if name == "absent_over_time":
            matrix = args[0]
            assert isinstance(matrix, MatrixSelector)
            return self.absent(bool(self.windows(matrix, at_ms)), matrix.vector)
        vector = _vector(self.eval(args[0 if name != "histogram_quantile" else 1], at_ms)).samples
        if name in functions.ELEMENTWISE:
            scalars = [_scalar(self.eval(arg, at_ms)) for arg in args[1:]]
            func = functions.ELEMENTWISE[name]
            return Vector([Sample(without_name(s.labels), func(s.value, *scalars)) for s in vector])
        if name == "histogram_quantile":
            return self.histogram_quantile(_scalar(self.eval(args[0], at_ms)), vector)
        if name == "absent":
            selector = args[0]
            return self.absent(bool(vector), selector if isinstance(selector, VectorSelector) else None)
        if name == "scalar":
            return Scalar(vector[0].value if len(vector) == 1 else math.nan)
        descending = name == "sort_desc"
        return Vector(sorted(vector, key=lambda s: (not math.isnan(s.value), -s.value if descending else s.value)))

    def range_function(self, call: Call, at_ms: int) -> Vector:
        matrix_index = 1 if call.func == "quantile_over_time" else 0
        selector = call.args[matrix_index]
        assert isinstance(selector, MatrixSelector)
        scalars = [_scalar(self.eval(arg, at_ms)) for i, arg in enumerate(call.args) if i != matrix_index]
        func = functions.RANGE_FUNCTIONS[call.func]
        samples = []
        for series, window in self.windows(selector, at_ms):
            value = func(window, scalars)
            if value is not None:
                # last_over_time acts like an offset, so it alone keeps the metric name.
                labels = series.labels if call.func == "last_over_time" else without_name(series.labels)
                samples.append(Sample(labels, value))
        return Vector(samples)

    @staticmethod
    def absent(present: bool, selector: VectorSelector | None) -> Vector:
        """Empty when the input has samples; otherwise one sample labelled from its `=` matchers."""
        if present:
            return Vector([])
        labels: dict[str, str] = {}
        repeated: set[str] = set()
        for matcher in selector.matchers if selector else ():
            if matcher.op != "=" or matcher.name == METRIC_NAME:
                continue
            if matcher.name in labels:
                repeated.add(matcher.name)
            labels[matcher.name] = matcher.value
        return Vector([Sample(tuple(sorted((k, v) for k, v in labels.items() if k not in repeated)), 1.0)])

    @staticmethod
    def histogram_quantile(q: float, vector: list[Sample]) -> Vector:
        buckets: dict[Labels, list[tuple[float, float]]] = {}
        for sample in vector:
            try:
                upper_bound = float(label_value(sample.labels, "le"))
            except ValueError:
                continue
            group = tuple(pair for pair in sample.labels if pair[0] != "le")
            buckets.setdefault(group, []).append((upper_bound, sample.value))
        return Vector(
            [Sample(without_name(group), functions.bucket_quantile(q, found)) for group, found in buckets.items()]
        )

    # -- aggregation ----------------------------------------------------------------------------

    def aggregate(self, node: Aggregate, at_ms: int) -> Vector:
        vector = _vector(self.eval(node.expr, at_ms)).samples
        param = _scalar(self.eval(node.param, at_ms)) if node.param is not None else 0.0
        groups: dict[Labels, list[Sample]] = {}
        for sample in vector:
            groups.setdefault(_group_key(sample.labels, node.grouping, node.without), []).append(sample)
        if node.op in ("topk", "bottomk"):
            return Vector(_top(groups, param, bottom=node.op == "bottomk"))
        return Vector([Sample(key, _AGGREGATIONS[node.op](members, param)) for key, members in groups.items()])

    # -- binary operators -----------------------------------------------------------------------

    def binary(self, node: Binary, at_ms: int) -> Value:
        lhs, rhs = self.eval(node.lhs, at_ms), self.eval(node.rhs, at_ms)
        if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
            value, keep = _apply(node.op, lhs.value, rhs.value)
            return Scalar(float(keep) if node.return_bool else value)
        if isinstance(lhs, Scalar):
            return _vector_scalar(node, _vector(rhs).samples, lhs.value, scalar_on_left=True)
        if isinstance(rhs, Scalar):
            return _vector_scalar(node, _vector(lhs).samples, rhs.value, scalar_on_left=False)
        if node.op in SET_OPERATORS:
            return _set_operation(node, _vector(lhs).samples, _vector(rhs).samples)
        return _vector_vector(node, _vector(lhs).samples, _vector(rhs).samples)


def _group_key(labels: Labels, grouping: tuple[str, ...], without: bool) -> Labels:
    if without:
        return tuple(pair for pair in labels if pair[0] not in grouping and pair[0] != METRIC_NAME)
    return tuple(pair for pair in labels if pair[0] in grouping)


def _stdvar(members: list[Sample], _: float) -> float:
    mean = variance = 0.0
    for count, sample in enumerate(members, start=1):
        delta = sample.value - mean
        mean += delta / count
        variance += delta * (sample.value - mean)
    return variance / len(members)


def _sum(members: list[Sample], _: float) -> float:
    total = 0.0
    for sample in members:
        total += sample.value
    return total


_AGGREGATIONS: dict[str, Callable[[list[Sample], float], float]] = {
    "sum": _sum,
    "avg": lambda members, _: functions.incremental_mean([s.value for s in members]),
    "count": lambda members, _: float(len(members)),
    "group": lambda members, _: 1.0,
    "max": lambda members, _: functions.maximum([s.value for s in members]),
    "min": lambda members, _: functions.minimum([s.value for s in members]),
    "stdvar": _stdvar,
    "stddev": lambda members, param: math.sqrt(_stdvar(members, param)),
    "quantile": lambda members, q: functions.quantile(q, [s.value for s in members]),
}


def _top(groups: dict[Labels, list[Sample]], param: float, *, bottom: bool) -> list[Sample]:
    """topk/bottomk keep whole samples (labels and all); NaN counts as the worst value."""
    if not math.isfinite(param) or abs(param) >= 2**63:
        raise ExecutionError(f"Scalar value {param} overflows int64")
    k = int(param)
    if k < 1:
        return []
    chosen: list[Sample] = []
    for members in groups.values():
        if bottom:
            ranked = sorted(members, key=lambda s: (math.isnan(s.value), s.value))
        else:
            ranked = sorted(members, key=lambda s: (not math.isnan(s.value), s.value), reverse=True)
        chosen.extend(ranked[:k])
    return chosen


def _divide(lhs: float, rhs: float) -> float:
    if rhs != 0:
        return lhs / rhs
    if lhs == 0 or math.isnan(lhs):
        return math.nan
    return math.copysign(math.inf, lhs) * math.copysign(1.0, rhs)


def _modulo(lhs: float, rhs: float) -> float:
    try:
        return math.fmod(lhs, rhs)
    except ValueError:
        return math.nan


def _power(lhs: float, rhs: float) -> float:
    try:
        return math.pow(lhs, rhs)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.inf if lhs == 0 else math.nan


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "%": _modulo,
    "^": _power,
    "atan2": math.atan2,
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _apply(op: str, lhs: float, rhs: float) -> tuple[float, bool]:
    """(result, keep): arithmetic always keeps; a comparison keeps the left value when it holds."""
    if op in _COMPARE:
        return lhs, _COMPARE[op](lhs, rhs)
    return _ARITHMETIC[op](lhs, rhs), True


def _vector_scalar(node: Binary, vector: list[Sample], scalar: float, *, scalar_on_left: bool) -> Vector:
    out = []
    drop_name = node.op not in COMPARISONS or node.return_bool
    for sample in vector:
        lhs, rhs = (scalar, sample.value) if scalar_on_left else (sample.value, scalar)
        value, keep = _apply(node.op, lhs, rhs)
        if node.op in COMPARISONS:
            value = sample.value
        if node.return_bool:
            value, keep = float(keep), True
        if keep:
            out.append(Sample(without_name(sample.labels) if drop_name else sample.labels, value))
    return Vector(out)


def _signature(labels: Labels, matching: VectorMatching) -> Labels:
    if matching.on:
        return tuple((name, label_value(labels, name)) for name in matching.labels)
    return tuple(pair for pair in labels if pair[0] not in matching.labels and pair[0] != METRIC_NAME)


def _set_operation(node: Binary, lhs: list[Sample], rhs: list[Sample]) -> Vector:
    right = {_signature(s.labels, node.matching) for s in rhs}
    if node.op == "and":
        return Vector([s for s in lhs if _signature(s.labels, node.matching) in right])
    if node.op == "unless":
        return Vector([s for s in lhs if _signature(s.labels, node.matching) not in right])
    left = {_signature(s.labels, node.matching) for s in lhs}
    return Vector(lhs + [s for s in rhs if _signature(s.labels, node.matching) not in left])


def _vector_vector(node: Binary, lhs: list[Sample], rhs: list[Sample]) -> Vector:
    matching = node.matching
    one_to_many = matching.card == "one-to-many"
    many, one = (rhs, lhs) if one_to_many else (lhs, rhs)
    one_side: dict[Labels, Sample] = {}
    for sample in one:
        signature = _signature(sample.labels, matching)
        if signature in one_side:
            raise ExecutionError(
                f"found duplicate series for the match group {_format_labels(signature)} on the "
                f"{'left' if one_to_many else 'right'} hand-side of the operation: "
                f"[{_format_labels(sample.labels)}, {_format_labels(one_side[signature].labels)}];"
                "many-to-many matching not allowed: matching labels must be unique on one side"
            )
        one_side[signature] = sample
    matched: dict[Labels, set[Labels]] = {}
    out = []
    for sample in many:
        signature = _signature(sample.labels, matching)
        partner = one_side.get(signature)
        if partner is None:
            continue
        lhs_value, rhs_value = (partner.value, sample.value) if one_to_many else (sample.value, partner.value)
        value, keep = _apply(node.op, lhs_value, rhs_value)
        if node.return_bool:
            value, keep = float(keep), True
        if not keep:
            continue
        labels = _result_labels(sample.labels, partner.labels, node)
        seen = matched.setdefault(signature, set())
        if matching.card == "one-to-one" and seen:
            raise ExecutionError(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
            )
        if labels in seen:
            raise ExecutionError(
                "multiple matches for matching labels; many-to-one matching must be explicit (group_left/group_right)"
            )
        seen.add(labels)
        out.append(Sample(labels, value))
    return Vector(out)


def _result_labels(labels: Labels, one_side: Labels, node: Binary) -> Labels:
    matching = node.matching
    result = dict(labels)
    if node.op not in COMPARISONS or node.return_bool:
        result.pop(METRIC_NAME, None)
    if matching.card == "one-to-one":
        if matching.on:
            result = {name: value for name, value in result.items() if name in matching.labels}
        else:
            for name in matching.labels:
                result.pop(name, None)
    for name in matching.include:
        value = label_value(one_side, name)
        if value:
            result[name] = value
        else:
            result.pop(name, None)
    return tuple(sorted(result.items()))

"""The stand-in's time-series store, filled from a world's OpenMetrics text.

The parser is deliberately small: one sample per line (`name{labels} value timestamp`), comment
and metadata lines skipped, histogram `_bucket`/`_sum`/`_count` kept as the plain series a
Prometheus TSDB turns them into. Timestamps are required, because a world records a moment in
the past rather than the scrape time.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator

from sandbox.promql.ast import Matcher
from sandbox.promql.values import METRIC_NAME, Labels, Series, labels_of

_LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class OpenMetricsError(ValueError):
    """A metrics line the stand-in cannot read; the message names the line."""


class SeriesStore:
    def __init__(self) -> None:
        self._series: dict[Labels, Series] = {}

    def __iter__(self) -> Iterator[Series]:
        return iter(self._series.values())

    def append(self, labels: Labels, timestamp_ms: int, value: float) -> None:
        """Adds one sample; a sample older than the series' newest is put in place, a repeat replaces."""
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = Series(labels)
        if not series.timestamps or timestamp_ms > series.timestamps[-1]:
            series.timestamps.append(timestamp_ms)
            series.values.append(value)
            return
        index = bisect.bisect_left(series.timestamps, timestamp_ms)
        if index < len(series.timestamps) and series.timestamps[index] == timestamp_ms:
            series.values[index] = value
        else:
            series.timestamps.insert(index, timestamp_ms)
            series.values.insert(index, value)

    def select(
        self, matchers: Iterable[Matcher], start_ms: int | None = None, end_ms: int | None = None
    ) -> list[Series]:
        """Series whose labels satisfy every matcher and, when bounds are given, with a sample in them."""
        wanted = tuple(matchers)
        return [
            series
            for series in self._series.values()
            if all(m.matches(_get(series.labels, m.name)) for m in wanted)
            and _has_sample_between(series, start_ms, end_ms)
        ]


def _get(labels: Labels, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""


def _has_sample_between(series: Series, start_ms: int | None, end_ms: int | None) -> bool:
    first = bisect.bisect_left(series.timestamps, start_ms) if start_ms is not None else 0
    return first < len(series.timestamps) and (end_ms is None or series.timestamps[first] <= end_ms)


def load_openmetrics(text: str, store: SeriesStore) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            labels, value, timestamp_ms = parse_sample_line(line)
        except (ValueError, IndexError) as exc:
            raise OpenMetricsError(f"metrics.om line {number}: {exc}") from None
        store.append(labels, timestamp_ms, value)


def parse_sample_line(line: str) -> tuple[Labels, float, int]:
    """`name{a="b"} value timestamp [# exemplar]` -> (labels with __name__, value, Unix ms)."""
    brace = line.find("{")
    space = line.find(" ")
    labels: dict[str, str] = {}
    if brace != -1 and (space == -1 or brace < space):
        name = line[:brace]
        rest = _parse_labels(line, brace + 1, labels)
    else:
        name, _, rest = line.partition(" ")
    fields = rest.split("#", 1)[0].split()
    if not name or not fields:
        raise ValueError("expected 'name{labels} value timestamp'")
    if len(fields) < 2:
        raise ValueError(f"sample of {name} has no timestamp (worlds record samples with their time)")
    labels[METRIC_NAME] = name
    value = float(fields[0])
    timestamp = float(fields[1])
    if not math.isfinite(timestamp):
        raise ValueError(f"invalid timestamp {fields[1]!r}")
    return labels_of(labels), value, int(timestamp * 1000)  # truncated, as promtool does


def _parse_labels(line: str, position: int, labels: dict[str, str]) -> str:
    """Reads `a="b",c="d"}` into `labels`; returns what follows the closing brace."""
    while True:
        while line[position] in " ,":
            position += 1
        if line[position] == "}":
            return line[position + 1 :]
        equals = line.index("=", position)
        name = line[position:equals].strip()
        if line[equals + 1] != '"':
            raise ValueError(f"label {name} has an unquoted value")
        chars: list[str] = []
        position = equals + 2
        while line[position] != '"':
            if line[position] == "\\":
                position += 1
                chars.append(_LABEL_ESCAPES.get(line[position], "\\" + line[position]))
            else:
                chars.append(line[position])
            position += 1
        labels[name] = "".join(chars)
        position += 1

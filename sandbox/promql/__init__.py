"""A stand-in for Prometheus, for machines without the `prometheus` binary (a user's laptop).

CI and every machine with Debian's `prometheus` package use the real server instead
(sandbox/prometheus.py); the stand-in exists so that `whisperer demo` and the metrics tools
still work elsewhere. It serves the Prometheus HTTP API from a world's OpenMetrics samples:
/api/v1/query, /api/v1/query_range (GET and POST form), /api/v1/series, /api/v1/labels,
/api/v1/label/NAME/values, /api/v1/alerts, /api/v1/rules, /api/v1/targets (empty),
/api/v1/status/buildinfo, /-/ready and /-/healthy, with Prometheus' JSON shapes and errors.

Its PromQL follows Prometheus 2.42's semantics (5-minute lookback, range selectors closed at
both ends, `rate` extrapolation, matching rules) and covers what the specialists use:
- selectors with `=`, `!=`, `=~`, `!~` matchers, range selectors, `offset`;
- rate, irate, increase, delta, idelta, deriv, predict_linear, changes, resets,
  {avg,sum,count,max,min,last,quantile}_over_time, histogram_quantile, absent,
  absent_over_time, abs, ceil, floor, exp, sqrt, ln, log2, log10, round, clamp_min, clamp_max,
  sort, sort_desc, scalar, vector, time;
- sum, avg, min, max, count, group, stddev, stdvar, topk, bottomk, quantile, with by/without;
- arithmetic, comparison (with `bool`) and set operators between scalars and vectors, with
  on/ignoring and group_left/group_right matching;
- alerting and recording rules, with the common alert templates (sandbox/promql/templates.py).

Anything else (subqueries, `@`, string arguments such as label_replace's, count_values, native
histograms) is answered with a Prometheus-shaped `bad_data` error naming the construct.
"""

from sandbox.promql.errors import PrometheusStartError
from sandbox.promql.server import FallbackPrometheusServer

__all__ = ["FallbackPrometheusServer", "PrometheusStartError"]

"""Writes floats the way Prometheus (Go) does, so JSON from the stand-in matches the real server.

Python's `repr` and Go's `strconv` both produce the shortest digits that round-trip, but they
place the decimal point and the exponent differently ("100.0" vs "100", "1e-05" vs "0.00001").
"""

from __future__ import annotations

import math
from decimal import Decimal


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def _shortest(value: float) -> tuple[str, str, int]:
    """Sign, the shortest round-trip digits, and the decimal point's position (Go's `decimal.dp`)."""
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)
    if digits == "0":
        return "-" if sign else "", "0", 1
    return "-" if sign else "", digits, len(digits) + exponent


def format_sample(value: float) -> str:
    """A sample value in query results: 'f' notation, 'e' below 1e-6 and from 1e21 (like encoding/json)."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21) and not math.isnan(value):
        return format_e(value)
    return format_f(value)


def format_f(value: float) -> str:
    """`strconv.FormatFloat(v, 'f', -1, 64)`."""
    special = _special(value)
    if special is not None:
        return special
    sign, digits, point = _shortest(value)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_e(value: float) -> str:
    """`strconv.FormatFloat(v, 'e', -1, 64)`: how an alert's value appears in /api/v1/alerts."""
    special = _special(value)
    if special is not None:
        return special
    sign, digits, point = _shortest(value)
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    exponent = 0 if digits == "0" else point - 1
    return f"{sign}{mantissa}e{exponent:+03d}"


def format_v(value: float) -> str:
    """Go's `%v` for a float64 (shortest `%g`): how `{{ $value }}` renders in alert templates."""
    special = _special(value)
    if special is not None:
        return special
    _, digits, point = _shortest(value)
    exponent = point - 1
    if digits != "0" and (exponent < -4 or exponent >= 6):
        return format_e(value)
    return format_f(value)


def format_g(value: float, precision: int) -> str:
    """Go's `%.<precision>g`, which Python's `g` matches for finite values."""
    special = _special(value)
    return special if special is not None else f"{value:.{precision}g}"

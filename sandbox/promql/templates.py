"""The common forms of Prometheus alert templating, for the stand-in's alert labels and annotations.

Real Prometheus runs Go's text/template; the stand-in renders what rule files actually use:
`{{ $labels.x }}`, `{{ $value }}`, `{{ .Labels.x }}`, `{{ .Value }}`, the humanize functions
(`{{ $value | humanizePercentage }}` or `{{ humanize $value }}`) and `{{ printf "%.2f" $value }}`.
Any other action is left as written, so an unsupported template is visible rather than wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from sandbox.promql.gofloat import format_g, format_v

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_PRINTF = re.compile(r'printf\s+"((?:[^"\\]|\\.)*)"\s+(\S+)$')
_GO_VERB = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)([vdsfgeq%])")


_LARGE_PREFIXES = ("k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL_PREFIXES = ("m", "u", "n", "p", "f", "a", "z", "y")


def _scaled_up(value: float) -> tuple[float, str]:
    """A magnitude below 1 brought to at least 1 by SI prefixes (0.0012 -> 1.2, "m")."""
    prefix = ""
    for candidate in _SMALL_PREFIXES:
        if abs(value) >= 1:
            break
        prefix, value = candidate, value * 1000
    return value, prefix


def humanize(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return format_g(value, 4)
    if abs(value) < 1:
        scaled, prefix = _scaled_up(value)
        return format_g(scaled, 4) + prefix
    prefix = ""
    for candidate in _LARGE_PREFIXES:
        if abs(value) < 1000:
            break
        prefix, value = candidate, value / 1000
    return format_g(value, 4) + prefix


def humanize_percentage(value: float) -> str:
    return format_g(value * 100, 4) + "%"


def humanize_duration(value: float) -> str:
    if not math.isfinite(value):
        return format_g(value, 4)
    if value == 0:
        return format_g(value, 4) + "s"
    if abs(value) < 1:
        scaled, prefix = _scaled_up(value)
        return f"{format_g(scaled, 4)}{prefix}s"
    sign = "-" if value < 0 else ""
    whole = int(abs(value))
    days, hours, minutes, seconds = whole // 86400, whole // 3600 % 24, whole // 60 % 60, whole % 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{format_g(abs(value), 4)}s"


_FUNCTIONS: dict[str, Callable[[float], str]] = {
    "humanize": humanize,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
}


def expand(text: str, labels: dict[str, str], value: float) -> str:
    def operand(token: str) -> str | float | None:
        if token in ("$value", ".Value"):
            return value
        for prefix in ("$labels.", ".Labels."):
            if token.startswith(prefix):
                return labels.get(token[len(prefix) :], "<no value>")
        return None

    def render(match: re.Match[str]) -> str:
        action = match.group(1)
        printf = _PRINTF.match(action)
        if printf:
            argument = operand(printf.group(2))
            return match.group() if argument is None else _printf(printf.group(1), argument)
        parts = [part.strip() for part in action.split("|")]
        words = parts[0].split()
        if len(words) == 2 and words[0] in _FUNCTIONS:
            parts = [words[1], words[0]]
        result = operand(parts[0])
        if result is None or any(name not in _FUNCTIONS for name in parts[1:]):
            return match.group()
        for name in parts[1:]:
            result = _FUNCTIONS[name](float(result))
        return format_v(result) if isinstance(result, float) else result

    return _ACTION.sub(render, text)


def _printf(layout: str, argument: str | float) -> str:
    def verb(match: re.Match[str]) -> str:
        flags, kind = match.groups()
        if kind == "%":
            return "%"
        if kind in "vsq":
            shown = format_v(argument) if isinstance(argument, float) else argument
            return f'"{shown}"' if kind == "q" else shown
        number = float(argument) if isinstance(argument, float) else _to_float(argument)
        return ("%" + flags + kind) % (int(number) if kind == "d" else number)

    return _GO_VERB.sub(verb, layout.replace('\\"', '"'))


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan

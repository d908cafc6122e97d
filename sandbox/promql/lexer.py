"""Splits PromQL text into tokens, with the positions that error messages point at."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sandbox.promql.errors import ParseError

Kind = Literal["ident", "number", "duration", "string", "op", "punct", "eof"]

_DURATION = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_])")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPERATORS = ("==", "!=", "<=", ">=", "=~", "!~", "=", "<", ">", "+", "-", "*", "/", "%", "^")
_PUNCTUATION = "(){}[],@"
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    position: int


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    bracket_depth = 0
    while position < len(query):
        char = query[position]
        if char.isspace():
            position += 1
            continue
        if char == "#":
            newline = query.find("\n", position)
            position = len(query) if newline < 0 else newline
            continue
        if char in "\"'`":
            text, end = _string(query, position)
            tokens.append(Token("string", text, position))
            position = end
            continue
        if char == ":" and bracket_depth:
            # Inside brackets a colon separates a subquery's range from its step.
            tokens.append(Token("punct", ":", position))
            position += 1
            continue
        if char in _PUNCTUATION:
            bracket_depth += {"[": 1, "]": -1}.get(char, 0)
            tokens.append(Token("punct", char, position))
            position += 1
            continue
        token = _word(query, position)
        tokens.append(token)
        position += len(token.text)
    tokens.append(Token("eof", "", len(query)))
    return tokens


def _word(query: str, position: int) -> Token:
    for kind, pattern in (("duration", _DURATION), ("number", _NUMBER), ("ident", _IDENT)):
        match = pattern.match(query, position)
        if match:
            return Token(kind, match.group(), position)  # type: ignore[arg-type]
    for operator in _OPERATORS:
        if query.startswith(operator, position):
            return Token("op", operator, position)
    raise ParseError(f'unexpected character: "{query[position]}"', position, query)


def _string(query: str, start: int) -> tuple[str, int]:
    """A quoted string (Go escapes) or a raw `backtick` string, and the position after it."""
    quote = query[start]
    chars: list[str] = []
    position = start + 1
    while position < len(query):
        char = query[position]
        if char == quote:
            return "".join(chars), position + 1
        if char == "\\" and quote != "`":
            position += 1
            escaped = query[position : position + 1]
            if escaped == quote:
                chars.append(quote)
            elif escaped in _ESCAPES:
                chars.append(_ESCAPES[escaped])
            else:
                raise ParseError(f'unknown escape sequence "{escaped}"', position, query)
        elif char == "\n" and quote != "`":
            break
        else:
            chars.append(char)
        position += 1
    raise ParseError("unterminated quoted string", start, query)

"""Parses the PromQL subset into a syntax tree, type-checking it as Prometheus' parser does.

Constructs that are valid PromQL but beyond the stand-in (subqueries, `@`, string arguments,
functions it does not implement) raise `UnsupportedError` naming the construct, so a user can
tell "my query is wrong" from "the laptop fallback cannot run this; a real Prometheus can".
"""

from __future__ import annotations

import math
import re

from sandbox.promql.ast import (
    Aggregate,
    Binary,
    Call,
    Expr,
    Matcher,
    MatrixSelector,
    Negation,
    NumberLiteral,
    ValueType,
    VectorMatching,
    VectorSelector,
)
from sandbox.promql.errors import ParseError, UnsupportedError
from sandbox.promql.functions import SIGNATURES
from sandbox.promql.lexer import Token, tokenize
from sandbox.promql.values import METRIC_NAME

AGGREGATIONS = frozenset(
    {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile"}
)
_PARAMETERISED = frozenset({"topk", "bottomk", "quantile"})
_UNSUPPORTED_AGGREGATIONS = frozenset({"count_values"})
# Binary operators from loosest to tightest; `^` alone is right-associative.
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    "<=": 3,
    "<": 3,
    ">=": 3,
    ">": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "^": 6,
}
_UNARY_PRECEDENCE = 5
COMPARISONS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
SET_OPERATORS = frozenset({"and", "or", "unless"})
_DURATION_PART = re.compile(r"([0-9]+)(ms|[smhdwy])")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": 31_536_000_000}


def parse_duration_ms(text: str) -> int:
    return sum(int(amount) * _UNIT_MS[unit] for amount, unit in _DURATION_PART.findall(text))


def value_type(expr: Expr) -> ValueType:
    if isinstance(expr, NumberLiteral):
        return "scalar"
    if isinstance(expr, MatrixSelector):
        return "matrix"
    if isinstance(expr, Call):
        return SIGNATURES[expr.func].returns
    if isinstance(expr, Negation):
        return value_type(expr.expr)
    if isinstance(expr, Binary):
        scalar = value_type(expr.lhs) == "scalar" and value_type(expr.rhs) == "scalar"
        return "scalar" if scalar else "vector"
    return "vector"


def parse(query: str) -> Expr:
    return _Parser(query).parse()


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0

    def parse(self) -> Expr:
        if self.peek().kind == "eof":
            raise ParseError("no expression found in input", 0, self.query)
        expr = self.expression(0)
        if self.peek().kind != "eof":
            raise self.unexpected("expression")
        return expr

    # -- token helpers ------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token.kind in ("punct", "op", "ident") and token.text == text:
            self.index += 1
            return True
        return False

    def expect(self, text: str, context: str) -> Token:
        token = self.peek()
        if token.text != text or token.kind not in ("punct", "op", "ident"):
            raise self.unexpected(context, expected=text)
        return self.advance()

    def unexpected(self, context: str, *, expected: str | None = None) -> ParseError:
        token = self.peek()
        found = "end of input" if token.kind == "eof" else f'{token.kind} "{token.text}"'
        wanted = f', expected "{expected}"' if expected else ""
        return ParseError(f"unexpected {found} in {context}{wanted}", token.position, self.query)

    def error(self, message: str, token: Token) -> ParseError:
        return ParseError(message, token.position, self.query)

    # -- expressions ----------------------------------------------------------------------------

    def expression(self, min_precedence: int) -> Expr:
        lhs = self.unary()
        while True:
            token = self.peek()
            precedence = _PRECEDENCE.get(token.text) if token.kind in ("op", "ident") else None
            if precedence is None or precedence <= min_precedence - (token.text == "^"):
                return lhs
            self.advance()
            return_bool = self.accept("bool")
            matching = self.vector_matching(token.text)
            rhs = self.expression(precedence)
            lhs = self.binary(token, lhs, rhs, matching, return_bool)

    def unary(self) -> Expr:
        token = self.peek()
        if token.kind == "op" and token.text in "+-":
            self.advance()
            operand = self.expression(_UNARY_PRECEDENCE + 1)
            if value_type(operand) == "matrix":
                raise self.error("unary expression only allowed on expressions of type scalar or instant vector", token)
            if token.text == "+":
                return operand
            if isinstance(operand, NumberLiteral):
                return NumberLiteral(-operand.value)
            return Negation(operand)
        return self.postfix(self.primary())

    def vector_matching(self, op: str) -> VectorMatching:
        card: str = "many-to-many" if op in SET_OPERATORS else "one-to-one"
        on = False
        labels: tuple[str, ...] = ()
        include: tuple[str, ...] = ()
        if self.peek().text in ("on", "ignoring") and self.peek().kind == "ident":
            on = self.advance().text == "on"
            labels = self.label_list("grouping opts")
            if self.peek().text in ("group_left", "group_right") and self.peek().kind == "ident":
                token = self.advance()
                if op in SET_OPERATORS:
                    raise self.error(f'no grouping allowed for "{op}" operation', token)
                card = "many-to-one" if token.text == "group_left" else "one-to-many"
                include = self.label_list("grouping opts") if self.peek().text == "(" else ()
        return VectorMatching(card, on, labels, include)  # type: ignore[arg-type]

    def binary(self, token: Token, lhs: Expr, rhs: Expr, matching: VectorMatching, return_bool: bool) -> Binary:
        op = token.text
        types = (value_type(lhs), value_type(rhs))
        if "matrix" in types:
            raise self.error("binary expression must contain only scalar and instant vector types", token)
        if return_bool and op not in COMPARISONS:
            raise self.error("bool modifier can only be used on comparison operators", token)
        if op in COMPARISONS and types == ("scalar", "scalar") and not return_bool:
            raise self.error("comparisons between scalars must use BOOL modifier", token)
        if op in SET_OPERATORS and "scalar" in types:
            raise self.error(f'set operator "{op}" not allowed in binary scalar expression', token)
        return Binary(op, lhs, rhs, matching, return_bool)

    def postfix(self, expr: Expr) -> Expr:
        while True:
            token = self.peek()
            if token.text == "[" and token.kind == "punct":
                expr = self.range_selector(expr)
            elif token.text == "offset" and token.kind == "ident":
                expr = self.offset(expr)
            elif token.text == "@" and token.kind == "punct":
                raise UnsupportedError("the @ modifier")
            else:
                return expr

    def range_selector(self, expr: Expr) -> Expr:
        opening = self.advance()
        duration = self.advance()
        if duration.kind != "duration":
            raise self.error("unexpected token in range selector, expected a duration such as 5m", duration)
        if self.peek().text == ":":
            raise UnsupportedError(f"subqueries ({self.query[opening.position : self.peek().position + 1]}...])")
        self.expect("]", "range selector")
        if not isinstance(expr, VectorSelector):
            raise self.error("ranges only allowed for vector selectors", opening)
        return MatrixSelector(expr, parse_duration_ms(duration.text))

    def offset(self, expr: Expr) -> Expr:
        keyword = self.advance()
        negative = self.accept("-")
        duration = self.advance()
        if duration.kind != "duration":
            raise self.error("unexpected token in offset, expected a duration such as 5m", duration)
        offset_ms = -parse_duration_ms(duration.text) if negative else parse_duration_ms(duration.text)
        if isinstance(expr, VectorSelector) and not expr.offset_ms:
            return VectorSelector(expr.matchers, offset_ms)
        if isinstance(expr, MatrixSelector) and not expr.vector.offset_ms:
            return MatrixSelector(VectorSelector(expr.vector.matchers, offset_ms), expr.range_ms)
        raise self.error("offset modifier must be preceded by a single vector or range selector", keyword)

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind == "number":
            self.advance()
            return NumberLiteral(float(int(token.text, 16)) if token.text[:2].lower() == "0x" else float(token.text))
        if token.kind == "string":
            raise UnsupportedError(f'string literals ("{token.text}")')
        if token.kind == "punct" and token.text == "(":
            self.advance()
            inner = self.expression(0)
            self.expect(")", "parenthesised expression")
            return self.reject_postfix(inner)
        if token.kind == "punct" and token.text == "{":
            return self.selector(None)
        if token.kind == "ident":
            return self.identifier()
        raise self.unexpected("expression")

    def reject_postfix(self, inner: Expr) -> Expr:
        """`(x)[5m]` is a subquery in Prometheus, and `(x) offset 5m` is an error there."""
        token = self.peek()
        if token.text == "[" and token.kind == "punct":
            raise UnsupportedError("subqueries (a range on a parenthesised expression)")
        if token.text == "offset" and token.kind == "ident":
            raise self.error("offset modifier must be preceded by a single vector or range selector", token)
        return inner

    def identifier(self) -> Expr:
        token = self.advance()
        name = token.text
        follows_paren = self.peek().text == "(" and self.peek().kind == "punct"
        if name.lower() in ("inf", "nan"):
            return NumberLiteral(math.inf if name.lower() == "inf" else math.nan)
        if name in AGGREGATIONS:
            return self.aggregate(token)
        if name in _UNSUPPORTED_AGGREGATIONS:
            raise UnsupportedError(f"the {name} aggregation")
        if follows_paren:
            return self.call(token)
        return self.selector(token)

    def call(self, name_token: Token) -> Call:
        name = name_token.text
        signature = SIGNATURES.get(name)
        if signature is None:
            raise UnsupportedError(f'function "{name}"')
        self.expect("(", "function call")
        args: list[Expr] = []
        while not self.accept(")"):
            args.append(self.expression(0))
            if not self.accept(","):
                self.expect(")", "function call arguments")
                break
        required = len(signature.args) - signature.optional
        if not required <= len(args) <= len(signature.args):
            count = str(required) if not signature.optional else f"{required} to {len(signature.args)}"
            raise self.error(f'expected {count} argument(s) in call to "{name}", got {len(args)}', name_token)
        for arg, wanted in zip(args, signature.args, strict=False):
            self.check_type(arg, wanted, f'call to function "{name}"', name_token)
        return Call(name, tuple(args))

    def check_type(self, expr: Expr, wanted: ValueType, where: str, token: Token) -> None:
        got = value_type(expr)
        if got != wanted:
            names = {"scalar": "scalar", "vector": "instant vector", "matrix": "range vector"}
            raise self.error(f"expected type {names[wanted]} in {where}, got {names[got]}", token)

    def aggregate(self, op_token: Token) -> Aggregate:
        op = op_token.text
        grouping: tuple[str, ...] = ()
        without = False
        if self.peek().text in ("by", "without"):
            without = self.advance().text == "without"
            grouping = self.label_list("grouping opts")
        self.expect("(", "aggregation")
        param: Expr | None = None
        if op in _PARAMETERISED:
            param = self.expression(0)
            self.check_type(param, "scalar", "aggregation parameter", op_token)
            self.expect(",", "aggregation")
        expr = self.expression(0)
        self.accept(",")
        self.expect(")", "aggregation")
        self.check_type(expr, "vector", "aggregation expression", op_token)
        if self.peek().text in ("by", "without") and not grouping:
            without = self.advance().text == "without"
            grouping = self.label_list("grouping opts")
        return Aggregate(op, expr, param, grouping, without)

    def label_list(self, context: str) -> tuple[str, ...]:
        self.expect("(", context)
        names: list[str] = []
        while not self.accept(")"):
            token = self.advance()
            if token.kind != "ident":
                self.index -= 1
                raise self.unexpected(context, expected="label name")
            names.append(token.text)
            if not self.accept(","):
                self.expect(")", context)
                break
        return tuple(names)

    def selector(self, name_token: Token | None) -> VectorSelector:
        matchers: list[Matcher] = []
        if name_token is not None:
            matchers.append(Matcher(METRIC_NAME, "=", name_token.text))
        start = self.peek()
        if self.accept("{"):
            while not self.accept("}"):
                matchers.append(self.matcher())
                if not self.accept(","):
                    self.expect("}", "label matching")
                    break
        if not any(not matcher.matches("") for matcher in matchers):
            raise self.error("vector selector must contain at least one non-empty matcher", name_token or start)
        return VectorSelector(tuple(matchers))

    def matcher(self) -> Matcher:
        name = self.advance()
        if name.kind != "ident":
            self.index -= 1
            raise self.unexpected("label matching", expected="label name")
        op = self.advance()
        if op.kind != "op" or op.text not in ("=", "!=", "=~", "!~"):
            self.index -= 1
            raise self.unexpected("label matching", expected="=")
        value = self.advance()
        if value.kind != "string":
            self.index -= 1
            raise self.unexpected("label matching", expected="string")
        if op.text in ("=", "!="):
            return Matcher(name.text, op.text, value.text)  # type: ignore[arg-type]
        try:
            pattern = re.compile(value.text)
        except re.error as exc:
            raise self.error(f"error parsing regexp: {exc}", value) from exc
        return Matcher(name.text, op.text, value.text, pattern)  # type: ignore[arg-type]

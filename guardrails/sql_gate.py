"""The SQL gate: decide whether a query may run against a production database, and rewrite it to the
exact text that will run.

Why an allowlist of parsed nodes and not a list of bad words: PostgreSQL offers too many spellings
for the same call (``"PG_SLEEP"``, ``pg_catalog.pg_sleep``, ``U&"pg_\\0073leep"``), too many places to
hide it (a CTE, a CASE arm, an ORDER BY, a window frame) and statements that look like queries but
write (``WITH d AS (DELETE ...) SELECT``, ``SELECT ... INTO``, ``SELECT ... FOR UPDATE``). A denylist
misses some of them; an allowlist refuses whatever it does not know.

How: parse once with sqlglot (PostgreSQL dialect); require exactly one statement whose root is a
query; walk every node and accept only reviewed node classes, reviewed function names and reviewed
cast types; refuse catalogs that hold secrets or server files. Then re-render the tree (comments
dropped) and cap its rows. The re-rendered text is what runs, never the caller's text, so whatever
sqlglot saw is what PostgreSQL executes. Leaves that sqlglot renders verbatim (bare identifiers,
numbers, keywords) are also checked for shape, so a renderer quirk cannot smuggle SQL through them.

The gate is one layer of three; see ``guardrails.readonly_query`` for the others (a READ ONLY
transaction that is always rolled back, one prepared statement, a non-superuser role).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import sqlglot
from pydantic import BaseModel, ConfigDict
from sqlglot import exp
from sqlglot.errors import SqlglotError

MAX_SQL_CHARS: Final = 20_000
DEFAULT_MAX_ROWS: Final = 100

# Functions a query may call, as PostgreSQL names them. sqlglot turns many unqualified calls into
# typed nodes (checked against _FUNCTION_NODES below); the names here decide for the rest
# (sqlglot's `Anonymous` calls) and for `pg_catalog.`-qualified calls, which it never types.
# Every entry is a pure computation or a read of statistics a diagnosing SRE needs. Not here, on
# purpose: anything that sleeps, reads or lists server files, touches large objects, sequences,
# advisory locks, settings (current_setting can reveal connection strings), other backends, other
# databases (dblink), or runs SQL given as text (query_to_xml and friends).
ALLOWED_FUNCTIONS: Final = frozenset(
    {
        # sqlglot reads the quantifier in `x <> ALL (ARRAY[...])` as a call named ALL
        "all",
        # aggregates
        "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and", "bool_or",
        "every", "bit_and", "bit_or", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
        "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr",
        "covar_pop", "covar_samp", "percentile_cont", "percentile_disc", "mode",
        # window functions
        "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
        "first_value", "last_value", "nth_value",
        # conditionals and math
        "coalesce", "nullif", "greatest", "least", "abs", "ceil", "ceiling", "floor", "round",
        "trunc", "sqrt", "cbrt", "power", "pow", "exp", "ln", "log", "log10", "mod", "sign", "div",
        "pi", "degrees", "radians", "random", "width_bucket",
        # strings
        "lower", "upper", "length", "char_length", "character_length", "octet_length", "bit_length",
        "substring", "substr", "strpos", "position", "trim", "btrim", "ltrim", "rtrim", "replace",
        "split_part", "left", "right", "concat", "concat_ws", "initcap", "lpad", "rpad", "reverse",
        "translate", "md5", "format", "starts_with", "chr", "ascii", "quote_ident", "quote_literal",
        "regexp_replace", "regexp_match", "regexp_matches", "regexp_split_to_array",
        "regexp_split_to_table", "regexp_count", "regexp_substr", "to_char", "to_number",
        # date and time
        "now", "date_trunc", "date_part", "date_bin", "age", "clock_timestamp", "statement_timestamp",
        "transaction_timestamp", "to_timestamp", "to_date", "make_date", "make_time",
        "make_timestamp", "make_timestamptz", "make_interval", "justify_days", "justify_hours",
        "justify_interval", "isfinite", "timezone",
        # arrays and set-returning helpers
        "generate_series", "unnest", "array_length", "cardinality", "array_position", "array_remove",
        "array_append", "array_prepend", "array_cat", "array_upper", "array_lower", "array_dims",
        "array_to_string", "string_to_array",
        # json
        "to_json", "to_jsonb", "row_to_json", "json_build_object", "jsonb_build_object",
        "json_build_array", "jsonb_build_array", "json_object", "jsonb_object", "json_each",
        "jsonb_each", "json_each_text", "jsonb_each_text", "json_array_elements",
        "jsonb_array_elements", "json_array_elements_text", "jsonb_array_elements_text",
        "json_array_length", "jsonb_array_length", "json_object_keys", "jsonb_object_keys",
        "json_typeof", "jsonb_typeof", "json_extract_path", "jsonb_extract_path",
        "json_extract_path_text", "jsonb_extract_path_text", "json_strip_nulls", "jsonb_strip_nulls",
        "jsonb_pretty", "jsonb_set", "jsonb_insert", "jsonb_path_exists", "jsonb_path_match",
        "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_first",
        # diagnostics: sizes, uptime, replication, locks, catalog helpers
        "version", "current_database", "current_schema", "pg_backend_pid", "pg_postmaster_start_time",
        "pg_is_in_recovery", "pg_last_xact_replay_timestamp", "pg_current_wal_lsn", "pg_wal_lsn_diff",
        "pg_blocking_pids", "pg_size_pretty", "pg_relation_size", "pg_total_relation_size",
        "pg_table_size", "pg_indexes_size", "pg_database_size", "to_regclass", "format_type",
        "pg_get_userbyid", "pg_get_indexdef", "pg_get_viewdef", "pg_get_constraintdef", "pg_typeof",
        "obj_description", "col_description",
    }
)  # fmt: skip

# Typed nodes sqlglot builds for allowed calls, each checked to render as the same harmless
# PostgreSQL function (or operator).
_FUNCTION_NODES: Final[frozenset[type[exp.Expr]]] = frozenset(
    {
        exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.ArrayAgg, exp.GroupConcat,
        exp.LogicalAnd, exp.LogicalOr, exp.BitwiseAndAgg, exp.BitwiseOrAgg, exp.JSONArrayAgg,
        exp.JSONObjectAgg, exp.JSONBObjectAgg, exp.Stddev, exp.StddevPop, exp.StddevSamp,
        exp.Variance, exp.VariancePop, exp.Corr, exp.CovarPop, exp.CovarSamp, exp.PercentileCont,
        exp.PercentileDisc, exp.Mode,
        exp.RowNumber, exp.Rank, exp.DenseRank, exp.PercentRank, exp.CumeDist, exp.Ntile, exp.Lag,
        exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue,
        exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least, exp.Abs, exp.Ceil, exp.Floor, exp.Round,
        exp.Trunc, exp.Sqrt, exp.Cbrt, exp.Pow, exp.Exp, exp.Ln, exp.Log, exp.Mod, exp.Sign,
        exp.IntDiv, exp.Pi, exp.Degrees, exp.Radians, exp.Rand, exp.WidthBucket,
        exp.Lower, exp.Upper, exp.Length, exp.BitLength, exp.Substring, exp.StrPosition, exp.Trim,
        exp.Replace, exp.SplitPart, exp.Left, exp.Right, exp.Concat, exp.ConcatWs, exp.Initcap,
        exp.Pad, exp.Reverse, exp.Translate, exp.MD5, exp.Format, exp.StartsWith, exp.Chr,
        exp.Ascii, exp.RegexpReplace, exp.RegexpCount, exp.RegexpSubstr, exp.RegexpLike,
        exp.RegexpILike, exp.TimeToStr, exp.ToNumber, exp.StrToTime, exp.StrToDate,
        exp.UnixToTime,
        exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.Localtime, exp.Localtimestamp,
        exp.TimestampTrunc, exp.Extract, exp.DateBin, exp.MakeInterval, exp.TimestampFromParts,
        exp.JustifyDays, exp.JustifyHours, exp.JustifyInterval, exp.AtTimeZone, exp.Date,
        exp.ExplodingGenerateSeries, exp.GenerateSeries, exp.Explode, exp.Unnest, exp.ArraySize,
        exp.ArrayPosition, exp.ArrayRemove, exp.ArrayAppend, exp.ArrayPrepend, exp.ArrayConcat,
        exp.ArrayToString, exp.StringToArray,
        exp.JSONStripNulls, exp.JSONBExists,
        exp.CurrentVersion, exp.CurrentDatabase, exp.CurrentSchema, exp.CurrentUser,
        exp.SessionUser, exp.CurrentCatalog,
    }
)  # fmt: skip

# Query structure, operators and literals: nothing here calls a function or changes state.
_PLAIN_NODES: Final[frozenset[type[exp.Expr]]] = frozenset(
    {
        exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.With, exp.CTE,
        exp.Subquery, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order,
        exp.Ordered, exp.Limit, exp.Offset, exp.Fetch, exp.LimitOptions, exp.Distinct,
        exp.Lateral, exp.TableAlias, exp.Alias, exp.Column, exp.Star, exp.Window, exp.WindowSpec,
        exp.Filter, exp.WithinGroup, exp.Rollup, exp.Cube, exp.GroupingSets, exp.Tuple,
        exp.Paren, exp.Boolean, exp.Null, exp.Interval, exp.Array, exp.Bracket, exp.Slice,
        exp.Case, exp.If, exp.Cast, exp.DataTypeParam, exp.Kwarg, exp.Exists, exp.In,
        exp.Between, exp.Any, exp.All, exp.Like, exp.ILike, exp.SimilarTo, exp.Escape, exp.Is,
        exp.Not, exp.And, exp.Or, exp.Xor, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
        exp.NullSafeEQ, exp.NullSafeNEQ, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg,
        exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot, exp.BitwiseLeftShift,
        exp.BitwiseRightShift, exp.DPipe, exp.Overlaps, exp.JSONExtract, exp.JSONExtractScalar,
        exp.JSONBExtract, exp.JSONBExtractScalar, exp.JSONPath, exp.JSONPathKey, exp.JSONPathRoot,
        exp.JSONPathSubscript, exp.JSONBContains, exp.JSONBContainsTopKey,
        exp.JSONBContainsAnyTopKeys, exp.JSONBContainsAllTopKeys, exp.JSONBDeleteAtPath,
        exp.ArrayContainsAll, exp.ArrayContainedBy, exp.ArrayOverlaps, exp.ByteString,
        exp.HexString, exp.BitString, exp.UnicodeString, exp.RawString, exp.Collate,
    }
)  # fmt: skip

# Cast targets: built-in types whose input functions only parse text.
_ALLOWED_TYPES: Final = frozenset(
    {
        exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
        exp.DataType.Type.DECIMAL, exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE,
        exp.DataType.Type.MONEY, exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR,
        exp.DataType.Type.CHAR, exp.DataType.Type.BPCHAR, exp.DataType.Type.NAME,
        exp.DataType.Type.BOOLEAN, exp.DataType.Type.DATE, exp.DataType.Type.TIME,
        exp.DataType.Type.TIMETZ, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.INTERVAL, exp.DataType.Type.JSON, exp.DataType.Type.JSONB,
        exp.DataType.Type.UUID, exp.DataType.Type.INET, exp.DataType.Type.VARBINARY,
        exp.DataType.Type.BIT, exp.DataType.Type.ARRAY,
    }
)  # fmt: skip
_ALLOWED_OBJECT_IDENTIFIERS: Final = frozenset({"OID", "REGCLASS", "REGTYPE"})

# Relations that hold password hashes, connection strings or server configuration and files.
# pg_stat_activity, pg_locks, pg_class, pg_stat_* and information_schema stay readable: they are
# what a diagnosis needs, and PostgreSQL already hides other users' query texts from non-superusers.
SECRET_RELATIONS: Final = frozenset(
    {
        "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_subscription",
        "pg_file_settings", "pg_hba_file_rules", "pg_ident_file_mappings", "pg_settings",
        "pg_config", "pg_largeobject", "pg_statistic", "pg_db_role_setting", "pg_foreign_server",
    }
)  # fmt: skip

_DATA_MODIFYING: Final[dict[type[exp.Expr], str]] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
}
_QUERY_ROOTS: Final = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)

# Shapes of the leaves sqlglot renders without quoting or escaping.
_BARE_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")
_NUMBER = re.compile(r"(?=\.?[0-9])[0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")


class SqlRefused(ValueError):
    """A query the gate will not run; ``reason`` is one line starting with ``refused:``."""

    def __init__(self, why: str) -> None:
        reason = "refused: " + _UNPRINTABLE.sub(" ", why)
        super().__init__(reason)
        self.reason = reason


class AllowedQuery(BaseModel):
    """A query that passed the gate. ``normalized`` is the only text that may be executed.

    Its row cap is ``max_rows + 1``: the extra row tells the executor the answer was cut short.
    """

    model_config = ConfigDict(frozen=True)

    normalized: str
    tables: list[str]
    max_rows: int


class GateResult(BaseModel):
    """The gate's verdict as data, for callers that report rather than raise (CLI, tool results)."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    normalized: str | None = None
    reason: str | None = None
    tables: list[str] = []


def gate_sql(sql: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> AllowedQuery:
    """Return the query to execute in place of ``sql``, or raise ``SqlRefused`` saying why not."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    tree = _parse_one_statement(sql)
    if not isinstance(tree, _QUERY_ROOTS):
        raise SqlRefused(f"{_statement_keyword(tree, sql)} is not a read-only query")
    tables = _check_tree(tree)
    try:
        normalized = _cap_rows(tree, max_rows).sql(dialect="postgres", comments=False)
    except RecursionError:
        raise SqlRefused("query is nested too deeply") from None
    return AllowedQuery(normalized=normalized, tables=tables, max_rows=max_rows)


def check_sql(sql: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> GateResult:
    """``gate_sql`` without the exception: a refusal comes back as ``allowed=False`` with its reason."""
    try:
        allowed = gate_sql(sql, max_rows=max_rows)
    except SqlRefused as refusal:
        return GateResult(allowed=False, reason=refusal.reason)
    return GateResult(allowed=True, normalized=allowed.normalized, tables=allowed.tables)


def _parse_one_statement(sql: str) -> exp.Expr:
    if len(sql) > MAX_SQL_CHARS:
        raise SqlRefused(f"query is {len(sql)} characters long; the limit is {MAX_SQL_CHARS}")
    try:
        parsed = sqlglot.parse(sql, read="postgres")
    except SqlglotError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SqlRefused(f"cannot parse SQL: {_shorten(first_line, 120)}") from None
    except RecursionError:
        raise SqlRefused("query is nested too deeply") from None
    # Comments after the last semicolon come back as a bare `Semicolon` node; they are not statements.
    statements = [node for node in parsed if node is not None and not isinstance(node, exp.Semicolon)]
    if not statements:
        raise SqlRefused("no query")
    if len(statements) > 1:
        raise SqlRefused(f"{len(statements)} statements; send one query")
    return statements[0]


def _statement_keyword(tree: exp.Expr, sql: str) -> str:
    """How the refused statement starts, for the refusal message ('DROP', 'LISTEN', ...)."""
    if type(tree) in _DATA_MODIFYING:
        return _DATA_MODIFYING[type(tree)]
    if isinstance(tree, exp.Command):
        return tree.name.upper()
    tokens = sqlglot.tokenize(sql, read="postgres")
    return _shorten(tokens[0].text.upper(), 40) if tokens else type(tree).__name__.upper()


def _check_tree(tree: exp.Expr) -> list[str]:
    """Refuse the first node the allowlists do not cover; return the tables the query reads, sorted."""
    tables: list[exp.Table] = []
    cte_names: set[str] = set()
    for node in tree.walk():
        kind = type(node)
        if kind in _PLAIN_NODES or kind in _FUNCTION_NODES:
            if kind is exp.CTE:
                cte_names.add(_folded(node.args["alias"].this))
            continue
        check = _NODE_CHECKS.get(kind)
        if check is None:
            raise SqlRefused(_describe_refused_node(node))
        check(node)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            tables.append(node)
    return sorted(
        {
            ".".join(_folded(part) for part in table.parts)
            for table in tables
            if table.args.get("db") or _folded(table.this) not in cte_names
        }
    )


def _describe_refused_node(node: exp.Expr) -> str:
    kind = type(node)
    if kind in _DATA_MODIFYING:
        verb = _DATA_MODIFYING[kind]
        if node.find_ancestor(exp.CTE) is not None:
            return f"data-modifying CTE ({verb} inside WITH)"
        return f"{verb} is not a read-only query"
    if isinstance(node, exp.Func):
        return f"function {_shorten(_function_name(node), 60)} is not allowed"
    return f"{node.key.upper()} is not allowed in a read-only query"


def _folded(identifier: exp.Expr | str) -> str:
    """The name PostgreSQL resolves: unquoted identifiers fold to lower case, quoted ones do not."""
    if isinstance(identifier, exp.Identifier):
        return identifier.name if identifier.quoted else identifier.name.lower()
    if isinstance(identifier, str):
        return identifier.lower()
    raise SqlRefused(f"unexpected name {_shorten(identifier.sql(dialect='postgres'), 60)}")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_identifier(node: exp.Expr) -> None:
    if not node.args.get("quoted") and not _BARE_WORD.fullmatch(node.name):
        raise SqlRefused(f"identifier {_shorten(node.name, 60)!r} must be double-quoted")


def _check_literal(node: exp.Expr) -> None:
    if not node.args.get("is_string") and not _NUMBER.fullmatch(node.name):
        raise SqlRefused(f"malformed number {_shorten(node.name, 60)!r}")


def _check_var(node: exp.Expr) -> None:
    # sqlglot keeps keywords it does not model (date parts, interval units) as verbatim words.
    if not _BARE_WORD.fullmatch(node.name):
        raise SqlRefused(f"unexpected word {_shorten(node.name, 60)!r}")


def _check_anonymous(node: exp.Expr) -> None:
    name = _folded(node.this)
    if name not in ALLOWED_FUNCTIONS:
        raise SqlRefused(f"function {_shorten(name, 60)} is not allowed")
    # Execute the canonical spelling, whatever quoting the caller used.
    node.set("this", name)


def _check_qualified_function(qualifier: exp.Expr, function: exp.Expr) -> None:
    """Only built-ins may be schema-qualified: a function in another schema can be anything."""
    if isinstance(qualifier, exp.Identifier) and _folded(qualifier) == "pg_catalog":
        return
    name = f"{qualifier.sql(dialect='postgres')}.{_function_name(function)}"
    raise SqlRefused(f"function {_shorten(name, 60)} is not allowed")


def _function_name(function: exp.Expr) -> str:
    """The name to show in a refusal: typed nodes forget the caller's spelling, so use PostgreSQL's."""
    if isinstance(function, exp.Anonymous):
        return _folded(function.this)
    rendered = function.sql(dialect="postgres").split("(", 1)[0].strip().lower()
    return rendered if _BARE_WORD.fullmatch(rendered) else function.key


def _check_dot(node: exp.Expr) -> None:
    if isinstance(node.expression, exp.Func):
        _check_qualified_function(node.this, node.expression)


def _check_table(node: exp.Expr) -> None:
    if isinstance(node.this, exp.Func):
        # A table function such as generate_series(...) or pg_catalog.jsonb_each(...).
        qualifiers = [part for part in (node.args.get("catalog"), node.args.get("db")) if part]
        if qualifiers:
            _check_qualified_function(exp.Dot.build(qualifiers) if len(qualifiers) > 1 else qualifiers[0], node.this)
        return
    if isinstance(node.this, exp.Identifier) and _folded(node.this) in SECRET_RELATIONS:
        raise SqlRefused(f"{_folded(node.this)} holds secrets or server configuration; it is not readable here")


def _check_data_type(node: exp.Expr) -> None:
    if node.this not in _ALLOWED_TYPES:
        raise SqlRefused(f"cast to type {_shorten(node.sql(dialect='postgres'), 60)} is not allowed")


def _check_object_identifier(node: exp.Expr) -> None:
    if node.name.upper() not in _ALLOWED_OBJECT_IDENTIFIERS:
        raise SqlRefused(f"cast to type {_shorten(node.name, 60)} is not allowed")


def _refuse_into(node: exp.Expr) -> None:
    raise SqlRefused("SELECT ... INTO creates a table")


def _refuse_lock(node: exp.Expr) -> None:
    strength = {
        (True, False): "FOR UPDATE",
        (True, True): "FOR NO KEY UPDATE",
        (False, False): "FOR SHARE",
        (False, True): "FOR KEY SHARE",
    }[(bool(node.args.get("update")), bool(node.args.get("key")))]
    raise SqlRefused(f"{strength} takes row locks")


def _refuse_parameter(node: exp.Expr) -> None:
    raise SqlRefused(f"parameter {_shorten(node.sql(dialect='postgres'), 20)} is not supported; write the value in")


_NODE_CHECKS: Final[dict[type[exp.Expr], Callable[[exp.Expr], None]]] = {
    exp.Identifier: _check_identifier,
    exp.Literal: _check_literal,
    exp.Var: _check_var,
    exp.Anonymous: _check_anonymous,
    exp.Dot: _check_dot,
    exp.Table: _check_table,
    exp.DataType: _check_data_type,
    exp.ObjectIdentifier: _check_object_identifier,
    exp.Into: _refuse_into,
    exp.Lock: _refuse_lock,
    exp.Placeholder: _refuse_parameter,
    exp.Parameter: _refuse_parameter,
}


def _cap_rows(tree: exp.Expr, max_rows: int) -> exp.Expr:
    """Make the query return at most ``max_rows + 1`` rows, keeping a smaller LIMIT of its own.

    A top-level LIMIT is set in place when the root can carry one; anything else (VALUES, a
    parenthesized query, FETCH FIRST, LIMIT ALL or an expression) is wrapped in an outer SELECT.
    """
    cap = max_rows + 1
    limit = tree.args.get("limit")
    if isinstance(limit, exp.Limit):
        count = limit.expression
        if isinstance(count, exp.Literal) and not count.is_string and count.name.isdigit():
            if int(count.name) > cap:
                limit.set("expression", exp.Literal.number(cap))
            return tree
    elif limit is None and isinstance(tree, exp.Select | exp.SetOperation):
        tree.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
        return tree
    wrapped = exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier("q")))
    return exp.select("*").from_(wrapped).limit(cap)

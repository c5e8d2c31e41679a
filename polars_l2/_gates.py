"""Release gates: conditions on a report's columns, row by row.

A condition such as ``"rmse > 12000"`` or ``"skill < -0.02 and n >= 100"``
is read by a small grammar that admits nothing but comparisons of columns
and literals joined by ``and``, ``or`` and ``not`` (with parentheses), then
turned into a Polars expression by :func:`polars.sql_expr`: no Python
``eval``, no function call, no subquery, whatever the text holds.

Grammar (keywords in any case)::

    condition  := conjunct ("or" conjunct)*
    conjunct   := negation ("and" negation)*
    negation   := "not" negation | "(" condition ")" | comparison
    comparison := operand ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") operand
                | operand "is" ["not"] "null"
    operand    := column | number | 'text' | "true" | "false"
    column     := name | "quoted name"
    number     := ["-" | "+"] digits [. digits] [e [-+] digits]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["gate_failures"]

#: The column of :func:`gate_failures` that names the condition broken.
CONDITION = "fail_if"

#: The public function, for messages.
FUNCTION = "polars_l2.gate_failures"

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<text>'(?:[^']|'')*')
    | (?P<quoted>"(?:[^"]|"")+")
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<compare><=|>=|<>|!=|==|=|<|>)
    | (?P<sign>[-+])
    | (?P<open>\()
    | (?P<close>\))
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "is", "null", "true", "false"})
_OPERAND = "a column or a value"


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(condition: str) -> list[_Token]:
    tokens = []
    at = 0
    while at < len(condition):
        match = _TOKEN.match(condition, at)
        if match is None:
            # Refused where the parser meets it, so that the first problem
            # in reading order is the one named.
            tokens.append(_Token("unknown", condition[at], at))
            at += 1
            continue
        kind = match.lastgroup
        assert kind is not None  # every alternative is a named group
        text = match.group()
        if kind == "name" and text.lower() in _KEYWORDS:
            kind = text.lower()
        if kind != "space":
            tokens.append(_Token(kind, text, at))
        at = match.end()
    return tokens


class _Parser:
    """A recursive-descent check of the grammar; it builds nothing."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.columns: list[str] = []

    def peek(self) -> _Token | None:
        if self.position < len(self.tokens):
            return self.tokens[self.position]
        return None

    def take(self, *kinds: str) -> _Token:
        token = self.peek()
        if token is None or token.kind not in kinds:
            wanted = _OPERAND if "name" in kinds else " or ".join(kinds)
            raise ValueError(self.unexpected(token, wanted))
        self.position += 1
        return token

    def unexpected(self, token: _Token | None, wanted: str) -> str:
        if token is None:
            return f"the condition ends where {wanted} was expected"
        if token.kind == "unknown":
            return f"unexpected {token.text!r} at character {token.at + 1}"
        if wanted == _OPERAND and token.kind == "name" and self._next_is_open():
            return f"function calls are not allowed ({token.text}(...))"
        if wanted == _OPERAND and token.kind == "open":
            return f"a subquery or group is not allowed at character {token.at + 1}"
        return (
            f"unexpected {token.text!r} at character {token.at + 1}; expected {wanted}"
        )

    def _next_is_open(self) -> bool:
        following = self.position + 1
        return following < len(self.tokens) and self.tokens[following].kind == "open"

    def condition(self) -> None:
        self.conjunct()
        while (token := self.peek()) is not None and token.kind == "or":
            self.position += 1
            self.conjunct()

    def conjunct(self) -> None:
        self.negation()
        while (token := self.peek()) is not None and token.kind == "and":
            self.position += 1
            self.negation()

    def negation(self) -> None:
        token = self.peek()
        if token is not None and token.kind == "not":
            self.position += 1
            self.negation()
        elif token is not None and token.kind == "open":
            self.position += 1
            self.condition()
            self.take("close")
        else:
            self.comparison()

    def comparison(self) -> None:
        self.operand()
        token = self.peek()
        if token is not None and token.kind == "is":
            self.position += 1
            if (after := self.peek()) is not None and after.kind == "not":
                self.position += 1
            self.take("null")
            return
        if token is None or token.kind != "compare":
            raise ValueError(self.unexpected(token, "a comparison (=, <, >, ...)"))
        self.position += 1
        self.operand()

    def operand(self) -> None:
        token = self.peek()
        if token is not None and token.kind == "name" and self._next_is_open():
            raise ValueError(self.unexpected(token, _OPERAND))
        if token is not None and token.kind == "sign":
            self.position += 1
            self.take("number")
            return
        taken = self.take("name", "quoted", "number", "text", "true", "false")
        if taken.kind == "name":
            self.columns.append(taken.text)
        elif taken.kind == "quoted":
            self.columns.append(taken.text[1:-1].replace('""', '"'))


@dataclass(frozen=True)
class Condition:
    """A checked condition: its text, the columns it reads, its expression."""

    text: str
    columns: tuple[str, ...]
    expr: pl.Expr


def parse(condition: str, *, function: str = FUNCTION) -> Condition:
    """Check `condition` against the grammar and return it as an expression.

    Raises
    ------
    L2InputError
        If `condition` is not a string, or is anything but comparisons of
        columns and literals with and, or, not (a function call, a
        subquery, arithmetic, a statement separator...), naming what is
        wrong.

    Examples
    --------
    >>> parse("rmse > 12000 and not small").columns
    Traceback (most recent call last):
    ...
    polars_l2.exceptions.L2InputError: polars_l2.gate_failures: condition 'rmse > 12000 and not small': the condition ends where a comparison (=, <, >, ...) was expected
    >>> parse("rmse > 12000 and small = false").columns
    ('rmse', 'small')
    """  # noqa: E501 - a doctest's expected line is the message, whole
    if not isinstance(condition, str):
        msg = f"{function}: a condition must be a string, got {condition!r}"
        raise L2InputError(msg)
    try:
        parser = _Parser(_tokens(condition))
        if not parser.tokens:
            msg = "it is empty"
            raise ValueError(msg)
        parser.condition()
        if (extra := parser.peek()) is not None:
            raise ValueError(parser.unexpected(extra, "and, or or the end"))
    except ValueError as error:
        msg = f"{function}: condition {condition!r}: {error}"
        raise L2InputError(msg) from None
    columns = tuple(dict.fromkeys(parser.columns))
    if not columns:
        msg = (
            f"{function}: condition {condition!r} reads no column, so it is the "
            "same on every row; compare a column (by name, or in double "
            "quotes) with a value ('text' in single quotes)"
        )
        raise L2InputError(msg)
    return Condition(condition, columns, pl.sql_expr(condition))


def check_condition(
    table: pl.DataFrame, condition: Condition, *, function: str = FUNCTION
) -> None:
    """Raise :class:`L2InputError` unless `condition` is true or false on each row.

    On an empty table this checks the columns and their dtypes only.
    """
    _evaluated(table, condition, function)


def _evaluated(table: pl.DataFrame, condition: Condition, function: str) -> pl.Series:
    """Return the condition's value on each row (null where it cannot be told)."""
    missing = [name for name in condition.columns if name not in table.columns]
    if missing:
        msg = (
            f"{function}: condition {condition.text!r}: no column {missing[0]!r}"
            f"{quoted_hint(condition)}; the table has {', '.join(table.columns)}"
        )
        raise L2InputError(msg)
    try:
        result = table.select(condition.expr.alias(CONDITION)).to_series()
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError) as error:
        reason = str(error).splitlines()[0]
        hint = quoted_hint(condition)
        msg = f"{function}: condition {condition.text!r}: {reason}{hint}"
        raise L2InputError(msg) from None
    if result.dtype != pl.Boolean or result.len() != table.height:
        msg = (
            f"{function}: condition {condition.text!r} is not true or false on "
            f"each row (it gives {result.dtype}); compare a column with a value"
        )
        raise L2InputError(msg)
    return result


def quoted_hint(condition: Condition) -> str:
    """Return a hint where a column is named in double quotes, as text often is."""
    for name in re.findall(r'"((?:[^"]|"")*)"', condition.text):
        column = name.replace('""', '"')
        if column in condition.columns:
            return (
                f' ("{name}" names the column {column!r}; text goes in single '
                f"quotes: '{column}')"
            )
    return ""


def gate_failures(
    table: pl.DataFrame | pl.LazyFrame, conditions: str | Sequence[str]
) -> pl.DataFrame:
    """Return the rows of a report or comparison that break a release gate.

    Each condition says when a row fails, as ``polars-l2 evaluate
    --fail-if`` does: ``"rmse > 12000"`` (no segment's RMSE above 12,000),
    ``"skill < -0.02"`` (no segment worse than the baseline by more than
    2%), ``"verdict = 'worse' and n >= 100"``. A release passes when the
    result is empty.

    A condition is comparisons of the table's columns (by name; quote an
    unusual one in double quotes) with each other or with literals
    (numbers, ``'text'``, ``true``, ``false``), ``is null`` and
    ``is not null``, joined by ``and``, ``or``, ``not`` and parentheses.
    Nothing else is read: no function, no arithmetic, no subquery, and
    never Python's ``eval``; the text is checked against that grammar, then
    turned into a Polars expression by :func:`polars.sql_expr`.

    Parameters
    ----------
    table
        A report (:func:`polars_l2.report`, :func:`polars_l2.finalize`) or a
        comparison (:func:`polars_l2.compare`); a LazyFrame is collected.
    conditions
        One condition, or a sequence of them: a row fails if it meets any.

    Returns
    -------
    DataFrame
        One row per failing row and condition: ``fail_if`` (String, the
        condition's text), then every column of `table` in its dtype.
        Conditions in the order given, rows in the table's order; empty
        (with that schema) when every row passes.

        A condition is SQL's three-valued logic on Polars' values: a null
        (a segment without counted rows, a small segment's verdict) makes a
        comparison unknown, and an unknown row does not fail; write
        ``rmse > 12000 or rmse is null`` to fail on it. A NaN compares
        above every number, as everywhere in Polars: ``rmse > 12000`` holds
        for a NaN RMSE.

    Raises
    ------
    L2InputError
        If a condition breaks the grammar (a function call, a subquery, a
        character it does not know...), names a column the table does not
        have, or compares values that cannot be compared (a text column with
        a number). Also if `table` has a column named ``fail_if``.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> report = pl.DataFrame(
    ...     {"model": ["a", "a", "b"], "region": ["n", "s", "n"], "rmse": [9.0, 15.0, 7.0]}
    ... )
    >>> polars_l2.gate_failures(report, ["rmse > 12", "rmse < 8 and model = 'b'"])
    shape: (2, 4)
    ┌──────────────────────────┬───────┬────────┬──────┐
    │ fail_if                  ┆ model ┆ region ┆ rmse │
    │ ---                      ┆ ---   ┆ ---    ┆ ---  │
    │ str                      ┆ str   ┆ str    ┆ f64  │
    ╞══════════════════════════╪═══════╪════════╪══════╡
    │ rmse > 12                ┆ a     ┆ s      ┆ 15.0 │
    │ rmse < 8 and model = 'b' ┆ b     ┆ n      ┆ 7.0  │
    └──────────────────────────┴───────┴────────┴──────┘
    >>> polars_l2.gate_failures(report, "__import__('os')")
    Traceback (most recent call last):
    ...
    polars_l2.exceptions.L2InputError: polars_l2.gate_failures: condition "__import__('os')": function calls are not allowed (__import__(...))
    """  # noqa: E501 - a doctest's expected line is the message, whole
    frame = table.collect() if isinstance(table, pl.LazyFrame) else table
    if not isinstance(frame, pl.DataFrame):
        msg = f"{FUNCTION}: table must be a DataFrame, got {type(table).__name__}"
        raise L2InputError(msg)
    if CONDITION in frame.columns:
        msg = f"{FUNCTION}: the table has a column {CONDITION!r}, the result's own"
        raise L2InputError(msg)
    texts = [conditions] if isinstance(conditions, str) else list(conditions)
    parsed = [parse(text) for text in texts]
    failing = [
        frame.filter(
            _evaluated(frame, condition, FUNCTION).fill_null(value=False)
        ).select(pl.lit(condition.text, dtype=pl.String).alias(CONDITION), pl.all())
        for condition in parsed
    ]
    empty = frame.clear().select(
        pl.lit(None, dtype=pl.String).alias(CONDITION), pl.all()
    )
    return pl.concat([empty, *failing], how="vertical")


def undecided(table: pl.DataFrame, condition: Condition) -> pl.DataFrame:
    """Return the rows where `condition` is unknown (it reads a null)."""
    return table.filter(_evaluated(table, condition, FUNCTION).is_null())

"""Checks that refuse rows at run time, from inside a query, in our words.

A rule the schema cannot decide (vectors of one row with different widths)
is checked on the rows, by an ordinary expression: :func:`fail_where`
builds the message where a row breaks the rule, and a strict cast of that
string to UInt8 fails the query, quoting it. The query stays native (no
Python callback, design rule 1). Polars raises its own
``InvalidOperationError`` around the message; :func:`collect` gives an
eager caller the :class:`~polars_l2.exceptions.L2InputError` the message
belongs to, and :func:`refusal` reads the message back for the command line.
A LazyFrame's user, who collects it, gets Polars' error with the message in
it.
"""

from __future__ import annotations

import re

import polars as pl

from polars_l2.exceptions import L2InputError

#: Polars' message of a failed strict cast quotes values that failed (one
#: or more): ours begin with the public function's name.
_QUOTED = re.compile(r'values: \["(polars_l2\.\w+: .*?)"(?:\]$|, ")')


def fail_where(parts: list[pl.Expr]) -> pl.Expr:
    """Return an expression that fails the query, saying `parts`, where they are set.

    `parts` are concatenated (:func:`polars.concat_str`): where any is null
    (a row that keeps the rule), so is the message, and the cast passes.
    The message must begin with ``polars_l2.<function>: ``.
    """
    return pl.concat_str(parts).cast(pl.UInt8, strict=True)


def refusal(error: BaseException) -> str | None:
    """Return the message of a :func:`fail_where` check in `error`, else None.

    Examples
    --------
    >>> x = pl.col("x")
    >>> too_big = pl.when(x > 1).then(x.cast(pl.String))  # null where x <= 1
    >>> query = pl.LazyFrame({"x": [1, 2]}).select(
    ...     fail_where([pl.lit("polars_l2.f: x is too big: "), too_big])
    ... )
    >>> try:
    ...     query.collect()
    ... except pl.exceptions.InvalidOperationError as error:
    ...     print(refusal(error))
    polars_l2.f: x is too big: 2
    >>> print(refusal(ValueError("another error")))
    None
    """
    if not isinstance(error, pl.exceptions.InvalidOperationError):
        return None
    found = _QUOTED.search(str(error).split("\n", 1)[0])
    return None if found is None else found.group(1)


def collect(query: pl.LazyFrame) -> pl.DataFrame:
    """Collect `query`; a row refused by :func:`fail_where` raises L2InputError."""
    try:
        return query.collect()
    except pl.exceptions.InvalidOperationError as error:
        message = refusal(error)
        if message is None:
            raise
        raise L2InputError(message) from None

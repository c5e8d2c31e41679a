"""Vector (Array or List) columns in a frame-level function: one row per output.

:func:`polars_l2.report` and :func:`polars_l2.state` evaluate each output of
vector columns as a segment of its own, numbered in an ``output`` key column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import row_checks
from polars_l2._core.dtypes import is_vector
from polars_l2._core.vectors import Side, check_inner
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from polars_l2._core.arguments import Resolved


#: The key column that numbers the outputs when a frame-level function
#: (:func:`polars_l2.report`) is given vector columns.
OUTPUT_KEY = "output"

#: The output key's internal name, while the query runs.
_OUTPUT = "_l2_output"


def rows_per_output(resolved: Resolved, *, function: str) -> Resolved:
    """Turn vector columns into one row per output, numbered in ``output``.

    For a frame-level function given vector (Array or List) `actual` and
    `predicted` columns (``resolved.vector``): returns the query's input
    with one row per input row and output, the vectors replaced by their
    elements, and an ``output`` key (Int64, from 0) appended to the keys, so
    each output is evaluated as a segment of its own.

    A null vector becomes a null in every output of its row (the row is
    missing), a null element a null in that output only. Array widths that
    disagree, or a scalar among vectors, raise :class:`L2InputError` here;
    List rows whose widths disagree fail the query with a message naming the
    widths.
    """
    spec, user = resolved.spec, resolved.user
    if OUTPUT_KEY in user.by:
        msg = (
            f"{function}: vector columns are evaluated per output in a column "
            f"named {OUTPUT_KEY!r}, which is already a by column; rename that "
            "column first"
        )
        raise L2InputError(msg)
    internal = [spec.actual, *spec.predicted]
    sides, labels = _vector_sides(resolved, function)
    k = _array_width(labels, function)
    lengths = [
        s.expr.list.len() if isinstance(s.dtype, pl.List) else s.expr.arr.len()
        for s in sides
    ]
    # A row's width: that of any vector present (they must agree), else the
    # Array width; a row of null Lists only has no outputs and counts nowhere.
    width = pl.coalesce(*lengths, *([pl.lit(k, pl.UInt32)] if k is not None else []))
    check = _rows_width_check(labels, lengths, width, function)
    vectors = []
    for name, side in zip(internal, sides, strict=True):
        inner = side.inner if side.dtype != pl.Null else pl.Float64()
        as_list = side.expr.cast(pl.List(inner))
        missing = pl.lit(None, inner).repeat_by(width)
        filled = pl.when(side.expr.is_null()).then(missing).otherwise(as_list)
        vectors.append(pl.when(check.is_null()).then(filled).alias(name))
    others = [*spec.by, *([spec.weight] if spec.weight is not None else [])]
    long = (
        resolved.frame.filter(width.is_not_null())
        .select(
            *others,
            *vectors,
            pl.int_ranges(0, width, dtype=pl.Int64).alias(_OUTPUT),
        )
        .explode([*internal, _OUTPUT])
    )
    return resolved.with_key(long, _OUTPUT, OUTPUT_KEY)


def _vector_sides(resolved: Resolved, function: str) -> tuple[list[Side], list[Side]]:
    """Return the vector sides as the query reads them, and as messages name them.

    Raises :class:`L2InputError` where a scalar column is among vectors.
    """
    spec, user = resolved.spec, resolved.user
    internal = [spec.actual, *spec.predicted]
    named = [("actual", user.actual), *(("predicted", p) for p in user.predicted)]
    # A scalar among vectors: the message names the vectors too, since the
    # mistake may be theirs (a List column where a number was meant).
    vector_columns = "; ".join(
        f"{role} column {label!r} has dtype {spec.schema[name]}"
        for name, (role, label) in zip(internal, named, strict=True)
        if is_vector(spec.schema[name])
    )
    sides, labels = [], []
    for name, (role, label) in zip(internal, named, strict=True):
        dtype = spec.schema[name]
        # The label names the user's column in messages; the query reads
        # the internal one.
        labelled = Side(pl.col(label), dtype, role)
        check_inner(labelled, function.removeprefix("polars_l2."))
        if not is_vector(dtype) and dtype != pl.Null:
            msg = (
                f"{function}: {labelled.describe()} has dtype {dtype}, but "
                f"other columns are vectors ({vector_columns}); actual and "
                "every predicted column "
                "must all be vectors (Array or List) of the same width, or all "
                "scalar columns"
            )
            raise L2InputError(msg)
        sides.append(Side(pl.col(name), dtype, role))
        labels.append(labelled)
    return sides, labels


def _array_width(labels: list[Side], function: str) -> int | None:
    """Return the Array columns' common width (None for Lists only).

    Raises :class:`L2InputError` where Array widths differ or are 0.
    """
    widths = [(s.dtype.size, s) for s in labels if isinstance(s.dtype, pl.Array)]
    if len({k for k, _ in widths}) > 1:
        detail = " but ".join(
            f"{s.describe()} has dtype {s.dtype} (width {k})" for k, s in widths
        )
        msg = f"{function}: vector widths differ: {detail}"
        raise L2InputError(msg)
    k = widths[0][0] if widths else None
    if k == 0:
        msg = f"{function}: {widths[0][1].describe()} has width 0"
        raise L2InputError(msg)
    return k


def _rows_width_check(
    sides: list[Side], lengths: list[pl.Expr], width: pl.Expr, function: str
) -> pl.Expr:
    """Return an expression that fails the query where a row's widths differ."""
    bad = pl.any_horizontal([n != width for n in lengths])
    parts: list[pl.Expr] = [
        pl.lit(f"{function}: vectors of different widths in one row: ")
    ]
    for i, (side, n) in enumerate(zip(sides, lengths, strict=True)):
        sep = "" if i == 0 else ", "
        parts += [
            pl.lit(f"{sep}{side.describe()} has width "),
            pl.when(bad).then(n.cast(pl.String).fill_null("null (missing)")),
        ]
    return row_checks.fail_where(parts)

"""Vector (Array or List) columns in a frame-level function: one row per output.

:func:`polars_l2.report` and :func:`polars_l2.state` evaluate each output of
vector columns as a segment of its own, numbered in an ``output`` key column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import columns
from polars_l2._core.vectors import Side, check_inner, is_vector
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence


#: The key column that numbers the outputs when a frame-level function
#: (:func:`polars_l2.report`) is given vector columns.
OUTPUT_KEY = "output"


def rows_per_output(
    frame: pl.DataFrame | pl.LazyFrame,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None,
    weight: str | None,
    function: str,
) -> tuple[pl.LazyFrame, tuple[str, ...]] | None:
    """Turn vector columns into one row per output, numbered in ``output``.

    For a frame-level function given vector (Array or List) `actual` and
    `predicted` columns: returns the frame with one row per input row and
    output, the vectors replaced by their elements and an ``output`` column
    (Int64, from 0), and the segment keys with ``output`` appended, so each
    output is evaluated as a segment of its own. Returns None when the
    columns are scalars (nothing to do), and leaves bad arguments, a missing
    column or an unusable scalar dtype to the caller's own checks.

    A null vector becomes a null in every output of its row (the row is
    missing), a null element a null in that output only. Array widths that
    disagree raise :class:`L2InputError` here; List rows whose widths
    disagree fail the query with a message naming the widths.
    """
    if not isinstance(frame, pl.DataFrame | pl.LazyFrame) or not isinstance(
        actual, str
    ):
        return None
    if weight is not None and not isinstance(weight, str):
        return None
    models = columns.names(predicted, role="predicted", function=function)
    keys_in = columns.names(by, role="by", function=function)
    schema = frame.collect_schema()
    roles = [("actual", actual), *(("predicted", name) for name in models)]
    if not any(name in schema and is_vector(schema[name]) for _, name in roles):
        return None
    if OUTPUT_KEY in {*keys_in, *(name for _, name in roles), weight}:
        msg = (
            f"{function}: vector columns are evaluated per output in a column "
            f"named {OUTPUT_KEY!r}, which is already one of the arguments; "
            "rename that column first"
        )
        raise ValueError(msg)
    sides = []
    for role, name in roles:
        if name not in schema:
            return None  # the caller reports the missing column
        side = Side(pl.col(name), schema[name], role)
        check_inner(side, function.removeprefix("polars_l2."))
        if not is_vector(side.dtype) and side.dtype != pl.Null:
            msg = (
                f"{function}: {side.describe()} has dtype {side.dtype}, but "
                "other columns are vectors; actual and every predicted column "
                "must all be vectors (Array or List) of the same width, or all "
                "scalar columns"
            )
            raise L2InputError(msg)
        sides.append(side)
    widths = [(s.dtype.size, s) for s in sides if isinstance(s.dtype, pl.Array)]
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
    lengths = [
        s.expr.list.len() if isinstance(s.dtype, pl.List) else s.expr.arr.len()
        for s in sides
    ]
    # A row's width: that of any vector present (they must agree), else the
    # Array width; a row of null Lists only has no outputs and counts nowhere.
    width = pl.coalesce(*lengths, *([pl.lit(k, pl.UInt32)] if k is not None else []))
    check = _rows_width_check(sides, lengths, width, function)
    vectors = []
    for side in sides:
        inner = side.inner if side.dtype != pl.Null else pl.Float64()
        as_list = side.expr.cast(pl.List(inner))
        missing = pl.lit(None, inner).repeat_by(width)
        filled = pl.when(side.expr.is_null()).then(missing).otherwise(as_list)
        vectors.append(
            pl.when(check.is_null()).then(filled).alias(side.expr.meta.output_name())
        )
    keys = (*keys_in, OUTPUT_KEY)
    read = [name for _, name in roles]
    long = (
        frame.lazy()
        .filter(width.is_not_null())
        .select(
            *dict.fromkeys([*keys_in, *([weight] if weight is not None else [])]),
            *vectors,
            pl.int_ranges(0, width, dtype=pl.Int64).alias(OUTPUT_KEY),
        )
        .explode([*dict.fromkeys(read), OUTPUT_KEY])
    )
    return long, keys


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
    return pl.concat_str(parts).cast(pl.UInt8, strict=True)

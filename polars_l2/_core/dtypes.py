"""Turn user inputs into validated Float64 expressions, at plan time.

Every metric goes through here. The dtype of an input is only known once the
plan is resolved against a schema, so validation and the choice of casts run
inside :func:`polars.pipe_with_dtype`: its callback runs while the plan is
resolved, never on data, and the plan keeps only the native expression it
returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import columns, options
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from polars_l2.typing import IntoExpr, NanPolicy

_WIDE_INTEGERS = frozenset({pl.Int64, pl.UInt64})
_MAX_DECIMAL_PRECISION = 38


def describe(expr: pl.Expr) -> str:
    """Name an expression the way a user wrote it, for error messages."""
    if expr.meta.is_column():
        return f"column {expr.meta.output_name()!r}"
    return f"expression `{expr}`"


def check_dtype(expr: pl.Expr, dtype: pl.DataType, *, role: str, metric: str) -> None:
    """Raise :class:`L2InputError` unless `dtype` is numeric, Boolean or Null."""
    if dtype.is_numeric() or dtype in (pl.Boolean, pl.Null):
        return
    msg = (
        f"polars_l2.{metric}: {role} {describe(expr)} has dtype {dtype}; "
        "expected a numeric or Boolean column (cast it first, for example "
        "with .cast(pl.Float64))"
    )
    raise L2InputError(msg)


def to_float64(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Cast to Float64 unless already Float64 (keeps the plan minimal)."""
    return expr if dtype == pl.Float64 else expr.cast(pl.Float64)


def exact_difference(
    actual: pl.Expr, a_dtype: pl.DataType, predicted: pl.Expr, p_dtype: pl.DataType
) -> pl.Expr | None:
    """Return actual - predicted computed exactly before one rounding, if possible.

    Casting 64-bit integers or Decimals to Float64 first rounds each side, and
    the difference of two close large values then loses all its digits. Where
    an exact type holds the difference, subtract there and round once.
    """
    if a_dtype.is_integer() and p_dtype.is_integer():
        if {a_dtype, p_dtype} & _WIDE_INTEGERS and not (
            {a_dtype, p_dtype} & {pl.Int128, pl.UInt128}
        ):
            # Any difference of two 64-bit integers fits in Int128.
            return (actual.cast(pl.Int128) - predicted.cast(pl.Int128)).cast(pl.Float64)
        return None
    if isinstance(a_dtype, pl.Decimal) and isinstance(p_dtype, pl.Decimal):
        a_scale, p_scale = a_dtype.scale, p_dtype.scale
        a_int = (a_dtype.precision or _MAX_DECIMAL_PRECISION) - a_scale
        p_int = (p_dtype.precision or _MAX_DECIMAL_PRECISION) - p_scale
        # The difference needs one more integer digit than the wider side;
        # where that would overflow Decimal(38), fall back to Float64.
        if max(a_int, p_int) + 1 + max(a_scale, p_scale) <= _MAX_DECIMAL_PRECISION:
            return (actual - predicted).cast(pl.Float64)
    return None


def error(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    nan_policy: NanPolicy,
    metric: str,
) -> pl.Expr:
    """Float64 expression for ``actual - predicted``, null where either is null.

    The output takes the name of `actual`, as a Polars binary operation does.
    """
    options.check_nan_policy(nan_policy)
    a = columns.parse_into_expr(actual, role="actual")
    p = columns.parse_into_expr(predicted, role="predicted")

    def build(inputs: list[tuple[pl.Expr, pl.DataType]]) -> pl.Expr:
        (a_expr, a_dtype), (p_expr, p_dtype) = inputs
        return difference(
            a_expr, a_dtype, p_expr, p_dtype, nan_policy=nan_policy, metric=metric
        )

    return pl.pipe_with_dtype([a, p], build)


def difference(
    a_expr: pl.Expr,
    a_dtype: pl.DataType,
    p_expr: pl.Expr,
    p_dtype: pl.DataType,
    *,
    nan_policy: NanPolicy,
    metric: str,
) -> pl.Expr:
    """Return the checked Float64 ``actual - predicted`` of inputs of known dtypes.

    The body of :func:`error`, for callers already inside a plan-time callback.
    """
    check_dtype(a_expr, a_dtype, role="actual", metric=metric)
    check_dtype(p_expr, p_dtype, role="predicted", metric=metric)
    diff = exact_difference(a_expr, a_dtype, p_expr, p_dtype)
    if diff is None:
        diff = to_float64(a_expr, a_dtype) - to_float64(p_expr, p_dtype)
    return diff.fill_nan(None) if nan_policy == "omit" else diff


def weight(weight: IntoExpr, *, nan_policy: NanPolicy, metric: str) -> pl.Expr:
    """Float64 expression for a weight column, validated at plan time."""
    w = columns.parse_into_expr(weight, role="weight")

    def build(w_expr: pl.Expr, w_dtype: pl.DataType) -> pl.Expr:
        check_dtype(w_expr, w_dtype, role="weight", metric=metric)
        w64 = to_float64(w_expr, w_dtype)
        return w64.fill_nan(None) if nan_policy == "omit" else w64

    return w.pipe_with_dtype(build)

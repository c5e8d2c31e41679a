"""Check the column arguments of a frame-level function before any data is read.

:func:`polars_l2.report` and :func:`polars_l2.state` take column names, not
expressions: each predicted column becomes a model's name, and the metrics of
every model come from one query. This module resolves the frame's schema
(``collect_schema()`` reads no data) and rejects a missing column, or one of a
dtype the metrics cannot use, with a message that names the column, its dtype
and the columns that exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import dtypes
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import NanPolicy


@dataclass(frozen=True)
class Spec:
    """The validated column arguments of one report or state query."""

    actual: str
    predicted: tuple[str, ...]
    by: tuple[str, ...]
    weight: str | None
    schema: pl.Schema
    nan_policy: NanPolicy

    @property
    def weighted(self) -> bool:
        """Whether the metrics are weighted."""
        return self.weight is not None


def names(
    value: str | Sequence[str] | None, *, role: str, function: str
) -> tuple[str, ...]:
    """Return a column argument as a tuple of names (None gives no names)."""
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str):
            msg = (
                f"{function}: {role} must be a column name or a sequence of "
                f"column names (str), got {item!r}"
            )
            raise TypeError(msg)
    if len(set(items)) != len(items):
        msg = f"{function}: {role} names a column more than once: {list(items)}"
        raise ValueError(msg)
    return items


def _columns_listing(schema: pl.Schema) -> str:
    listing = ", ".join(f"{name!r} ({dtype})" for name, dtype in schema.items())
    return listing or "no columns"


def _is_metric_dtype(dtype: pl.DataType) -> bool:
    return dtypes.is_metric_dtype(dtype)


def spec(
    frame: pl.DataFrame | pl.LazyFrame,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None,
    weight: str | None,
    nan_policy: NanPolicy,
    function: str,
    reserved: Sequence[str],
) -> Spec:
    """Resolve the schema of `frame` and check every column argument against it.

    `reserved` are output column names a `by` column may not take.
    """
    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        msg = (
            f"{function}: expected a Polars DataFrame or LazyFrame, "
            f"got {type(frame).__name__}"
        )
        raise TypeError(msg)
    dtypes.check_nan_policy(nan_policy)
    if not isinstance(actual, str):
        msg = f"{function}: actual must be one column name (str), got {actual!r}"
        raise TypeError(msg)
    actual_name = actual
    models = names(predicted, role="predicted", function=function)
    if not models:
        msg = f"{function}: predicted must name at least one column"
        raise ValueError(msg)
    keys = names(by, role="by", function=function)
    if weight is not None and not isinstance(weight, str):
        msg = f"{function}: weight must be a column name (str) or None, got {weight!r}"
        raise TypeError(msg)
    clash = [key for key in keys if key in reserved]
    if clash:
        msg = (
            f"{function}: by column {clash[0]!r} has the name of an output "
            f"column; rename it first (output columns: {', '.join(reserved)})"
        )
        raise ValueError(msg)

    schema = frame.collect_schema()
    roles = [("actual", actual_name)]
    roles += [("predicted", name) for name in models]
    roles += [("by", name) for name in keys]
    if weight is not None:
        roles.append(("weight", weight))
    for role, name in roles:
        if name not in schema:
            msg = (
                f"{function}: {role} column {name!r} not found; the frame has "
                f"{_columns_listing(schema)}"
            )
            raise L2InputError(msg)
        dtype = schema[name]
        if role == "by":
            _check_key_dtype(name, dtype, schema, function=function)
        elif not _is_metric_dtype(dtype):
            msg = (
                f"{function}: {role} column {name!r} has dtype {dtype}; expected "
                "a numeric or Boolean column (cast it first, for example with "
                f".cast(pl.Float64)); the frame has {_columns_listing(schema)}"
            )
            raise L2InputError(msg)
    return Spec(actual_name, models, keys, weight, schema, nan_policy)


def _check_key_dtype(
    name: str, dtype: pl.DataType, schema: pl.Schema, *, function: str
) -> None:
    # A state stores its keys as strings, so a key must have a string form.
    if dtype.is_nested() or dtype in (pl.Object, pl.Binary):
        msg = (
            f"{function}: by column {name!r} has dtype {dtype}; a segment key "
            "must be a scalar (string, categorical, integer, float, Boolean, "
            f"Decimal or temporal) column; the frame has {_columns_listing(schema)}"
        )
        raise L2InputError(msg)


def _f64(name: str, dtype: pl.DataType, spec: Spec) -> pl.Expr:
    expr = dtypes.to_float64(pl.col(name), dtype)
    return expr.fill_nan(None) if spec.nan_policy == "omit" else expr


def counted(spec: Spec, model: str) -> tuple[pl.Expr, pl.Expr | None, pl.Expr]:
    """Return the error, weight and actual of one model's counted rows.

    A row counts only where the actual, the model's prediction and the
    weight are all present; elsewhere all three are null, so every
    aggregation sees the same rows.
    """
    schema = spec.schema
    error = dtypes.difference(
        pl.col(spec.actual),
        schema[spec.actual],
        pl.col(model),
        schema[model],
        nan_policy=spec.nan_policy,
        metric="report",
    )
    actual = _f64(spec.actual, schema[spec.actual], spec)
    if spec.weight is None:
        return error, None, pl.when(error.is_not_null()).then(actual)
    weight = _f64(spec.weight, schema[spec.weight], spec)
    valid = error.is_not_null() & weight.is_not_null()
    return (
        pl.when(valid).then(error),
        pl.when(valid).then(weight),
        pl.when(valid).then(actual),
    )

"""The rows behind the error: each model's largest squared errors, per segment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import arguments, frames, options
from polars_l2._core.arguments import counted
from polars_l2._core.metrics import share
from polars_l2._frame_kind import same_kind
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import ArrowStreamExportable, NanPolicy

__all__ = ["worst"]

#: The columns a result adds to the input's.
COLUMNS = ("model", "sq_error", "sse_share")

_SQ, _ORDER = "_l2_sq", "_l2_model_order"


@same_kind
def worst(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str,
    predicted: str | Sequence[str],
    *,
    k: int = 10,
    by: str | Sequence[str] | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.DataFrame | pl.LazyFrame:
    """Return the `k` rows with the largest squared errors, per model and segment.

    Where ``top_1pct_share`` is high, a few rows decide the RMSE: these are
    they. Each model's squared errors are ranked with Polars' ``top_k``
    (per segment with `by`), and each row's share of the SSE of its model
    (and segment) is exact: the SSE comes from the same query.

    Parameters
    ----------
    frame
        The data: any table :func:`polars_l2.report` takes.
    actual
        Name of the column of observed values.
    predicted
        Name(s) of the prediction columns, one per model.
    k
        How many rows per model (and segment); fewer where fewer rows count.
    by
        Name(s) of the columns that define the segments, or None.
    nan_policy
        ``"propagate"`` (default) or ``"omit"`` NaN, as in
        :func:`polars_l2.mse`. A NaN squared error ranks above every number
        (it is what makes the MSE NaN); ``"omit"`` leaves such rows out.

    Returns
    -------
    DataFrame or LazyFrame
        A LazyFrame for a LazyFrame, else a DataFrame: every column of the
        input, in its dtype, then ``model`` (String), ``sq_error``
        (Float64, the squared error, in squared units of the target) and
        ``sse_share`` (Float64, its share of the model's SSE, or of the
        segment's with `by`; null where that SSE is 0, as in the report).
        Rows by model (in the order given), segment
        (sorted by key, nulls last), then squared error, largest first.
        Only counted rows (actual and prediction present) appear.

    Raises
    ------
    L2InputError
        For a missing column or a bad option, as :func:`polars_l2.report`,
        or an input column named ``model``, ``sq_error`` or ``sse_share``.

    Notes
    -----
    **Ties.** Among equal squared errors, the earlier row in the input's
    order comes first (the row index breaks the tie): the rows are those
    of numpy's stable ``argsort`` of the negated squared errors. Which rows
    make the `k`-th place is therefore decided by position, not at random.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame(
    ...     {
    ...         "id": [1, 2, 3, 4],
    ...         "y": [1.0, 2.0, 3.0, 4.0],
    ...         "yhat": [1.5, 2.0, 9.0, 3.0],
    ...     }
    ... )
    >>> polars_l2.worst(df, "y", "yhat", k=2)
    shape: (2, 6)
    ┌─────┬─────┬──────┬───────┬──────────┬───────────┐
    │ id  ┆ y   ┆ yhat ┆ model ┆ sq_error ┆ sse_share │
    │ --- ┆ --- ┆ ---  ┆ ---   ┆ ---      ┆ ---       │
    │ i64 ┆ f64 ┆ f64  ┆ str   ┆ f64      ┆ f64       │
    ╞═════╪═════╪══════╪═══════╪══════════╪═══════════╡
    │ 3   ┆ 3.0 ┆ 9.0  ┆ yhat  ┆ 36.0     ┆ 0.966443  │
    │ 4   ┆ 4.0 ┆ 3.0  ┆ yhat  ┆ 1.0      ┆ 0.026846  │
    └─────┴─────┴──────┴───────┴──────────┴───────────┘
    """
    function = "polars_l2.worst"
    options.check(function, k=k, nan_policy=nan_policy)
    data = frames.coerce(frame, function=function)
    lazy = data.frame.lazy()
    names = lazy.collect_schema().names()
    clash = [name for name in COLUMNS if name in names]
    if clash:
        msg = (
            f"{function}: the data has a column named {clash[0]!r}, which the "
            "result adds; rename it first"
        )
        raise L2InputError(msg)
    index = "_l2_row" + "_" * max((len(name) for name in names), default=0)
    indexed = lazy.with_row_index(index)
    keys = arguments.names(by, role="by", function=function)
    spec = arguments.parse(
        actual,
        predicted,
        by=[*keys, index],
        nan_policy=nan_policy,
        function=function,
    )
    resolved = arguments.resolve(indexed, spec, function=function)
    # No frame holds more rows than Polars' row index counts: a larger k
    # asks for every row, which Polars cannot take as a number.
    top = _top(resolved, min(k, _MOST_ROWS))
    result = (
        top.join(indexed, left_on="_l2_index", right_on=index, how="left")
        .sort(
            [_ORDER, *(f"_l2_key{i}" for i in range(len(keys))), _SQ, "_l2_index"],
            descending=[False, *([False] * len(keys)), True, False],
            nulls_last=True,
            maintain_order=True,
        )
        .select(
            *(arguments.column(name) for name in names),
            pl.col("_l2_model").alias("model"),
            pl.col(_SQ).alias("sq_error"),
            pl.col("_l2_share").alias("sse_share"),
        )
    )
    return data.result(result)


#: The most rows a Polars frame holds (its 32-bit row index), a bound on k.
_MOST_ROWS = 2**32 - 1


def _top(resolved: arguments.Resolved, k: int) -> pl.LazyFrame:
    """Per model and segment: the `k` largest squared errors, with their shares."""
    internal = resolved.spec
    *keys, index = internal.by
    inner = [f"_l2_key{i}" for i in range(len(keys))]
    parts = []
    for i, (model, name) in enumerate(
        zip(internal.predicted, resolved.user.predicted, strict=True)
    ):
        e, _, _ = counted(internal, model)
        rows = resolved.frame.select(
            *(pl.col(key).alias(alias) for key, alias in zip(keys, inner, strict=True)),
            pl.col(index).alias("_l2_index"),
            e.pow(2).alias(_SQ),
        ).filter(pl.col(_SQ).is_not_null())
        order = [_SQ, "_l2_index"]
        if inner:
            chosen = (
                rows.group_by(inner)
                .agg(pl.all().top_k_by(order, k=k, reverse=[False, True]))
                .explode(["_l2_index", _SQ])
            )
            totals = rows.group_by(inner).agg(pl.col(_SQ).sum().alias("_l2_sse"))
            chosen = chosen.join(totals, on=inner, how="left", nulls_equal=True)
        else:
            totals = rows.select(pl.col(_SQ).sum().alias("_l2_sse"))
            chosen = rows.top_k(k, by=order, reverse=[False, True]).join(
                totals, how="cross"
            )
        parts.append(
            chosen.select(
                pl.lit(i, pl.Int64).alias(_ORDER),
                pl.lit(name, pl.String).alias("_l2_model"),
                *inner,
                "_l2_index",
                _SQ,
                share(pl.col(_SQ), pl.col("_l2_sse")).alias("_l2_share"),
            )
        )
    return pl.concat(parts, how="vertical_relaxed")

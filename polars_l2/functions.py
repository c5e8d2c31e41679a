"""L2 loss and its aggregates as lazy Polars expressions.

These functions are the package's API; the ``l2`` namespace methods call them.
Each returns an ordinary Polars expression, so it can be used wherever Polars
takes one: ``select``, ``with_columns``, ``group_by().agg()``, ``over``,
``rolling`` and ``group_by_dynamic``, on the in-memory and streaming engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2 import _inputs

if TYPE_CHECKING:
    from polars_l2._typing import IntoExpr, NanPolicy

__all__ = ["loss", "mse", "rmse", "sse"]


def loss(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    nan_policy: NanPolicy = "propagate",
) -> pl.Expr:
    r"""Per-row L2 loss: the squared error :math:`(y_i - \hat{y}_i)^2`.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression. Any integer,
        Decimal, Boolean or float dtype.
    predicted
        The predicted values, as for `actual`.
    nan_policy
        ``"propagate"`` (default) gives NaN where either side is NaN, as numpy
        and Polars do. ``"omit"`` gives null there, treating NaN as missing.

    Returns
    -------
    Expr
        Float64, one value per row, null where either side is null. It takes
        the name of `actual`.

    Raises
    ------
    L2InputError
        When the plan is resolved, if an input is not numeric or Boolean.

    Notes
    -----
    Inputs are computed in Float64, so integer columns never wrap around and
    Decimal columns keep their scale. The difference of two 64-bit integer
    columns (or two Decimal columns) is taken exactly before it is rounded to
    Float64.

    Examples
    --------
    House prices against a model's predictions:

    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame(
    ...     {"price": [200_000, 400_000, 300_000], "pred": [220_000, 385_000, 305_000]}
    ... )
    >>> df.with_columns(loss=polars_l2.loss("price", "pred"))
    shape: (3, 3)
    ┌────────┬────────┬────────┐
    │ price  ┆ pred   ┆ loss   │
    │ ---    ┆ ---    ┆ ---    │
    │ i64    ┆ i64    ┆ f64    │
    ╞════════╪════════╪════════╡
    │ 200000 ┆ 220000 ┆ 4e8    │
    │ 400000 ┆ 385000 ┆ 2.25e8 │
    │ 300000 ┆ 305000 ┆ 2.5e7  │
    └────────┴────────┴────────┘
    """
    return _inputs.error(actual, predicted, nan_policy=nan_policy, metric="loss").pow(2)


def sse(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    weight: IntoExpr | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.Expr:
    r"""Sum of squared errors, :math:`\sum_i w_i (y_i - \hat{y}_i)^2`.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression. Any integer,
        Decimal, Boolean or float dtype.
    predicted
        The predicted values, as for `actual`.
    weight
        Optional non-negative row weights, as for `actual`.
    nan_policy
        ``"propagate"`` (default) or ``"omit"``; see :func:`loss`.

    Returns
    -------
    Expr
        Float64 aggregate, named after `actual`. Rows count only where
        `actual`, `predicted` and `weight` are all present. Null when no row
        counts, when the counted weights sum to zero, or when any counted
        weight is negative.

    See Also
    --------
    mse : The mean of the same squared errors.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
    >>> df.select(polars_l2.sse("y", "yhat"))
    shape: (1, 1)
    ┌─────┐
    │ y   │
    │ --- │
    │ f64 │
    ╞═════╡
    │ 9.0 │
    └─────┘
    """
    e = _inputs.error(actual, predicted, nan_policy=nan_policy, metric="sse")
    if weight is None:
        return pl.when(e.count() > 0).then(e.pow(2).sum())
    w, valid = _counted_weight(e, weight, nan_policy=nan_policy, metric="sse")
    return pl.when(valid).then((e.pow(2) * w).sum())


def mse(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    weight: IntoExpr | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.Expr:
    r"""Mean squared error: the mean L2 loss, the cost of a regression model.

    Unweighted, :math:`\frac{1}{n}\sum_i (y_i - \hat{y}_i)^2`; weighted,
    :math:`\sum_i w_i (y_i - \hat{y}_i)^2 / \sum_i w_i`. Range
    :math:`[0, \infty)`; 0 is a perfect fit. Its unit is the square of the
    target's unit.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression. Any integer,
        Decimal, Boolean or float dtype. A Boolean `actual` against a
        probability `predicted` gives the Brier score.
    predicted
        The predicted values, as for `actual`.
    weight
        Optional non-negative row weights, as for `actual`.
    nan_policy
        ``"propagate"`` (default) or ``"omit"``; see :func:`loss`.

    Returns
    -------
    Expr
        Float64 aggregate, named after `actual`. Rows count only where
        `actual`, `predicted` and `weight` are all present, in both the
        numerator and the denominator. Null when no row counts, when the
        counted weights sum to zero, or when any counted weight is negative.

    See Also
    --------
    rmse : The square root of MSE, in the target's own unit.
    sse : The sum instead of the mean.

    References
    ----------
    .. [1] Wikipedia, "Mean squared error",
           https://en.wikipedia.org/wiki/Mean_squared_error

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
    >>> df.select(polars_l2.mse("y", "yhat"))
    shape: (1, 1)
    ┌──────┐
    │ y    │
    │ ---  │
    │ f64  │
    ╞══════╡
    │ 2.25 │
    └──────┘

    Per segment, and weighted:

    >>> df = pl.DataFrame(
    ...     {
    ...         "region": ["north", "north", "south", "south"],
    ...         "y": [1.0, 2.0, 3.0, None],
    ...         "yhat": [1.5, 2.0, 1.0, 4.0],
    ...         "w": [2.0, 1.0, 1.0, 1.0],
    ...     }
    ... )
    >>> df.group_by("region", maintain_order=True).agg(
    ...     mse=polars_l2.mse("y", "yhat"),
    ...     weighted=polars_l2.mse("y", "yhat", weight="w"),
    ... )
    shape: (2, 3)
    ┌────────┬───────┬──────────┐
    │ region ┆ mse   ┆ weighted │
    │ ---    ┆ ---   ┆ ---      │
    │ str    ┆ f64   ┆ f64      │
    ╞════════╪═══════╪══════════╡
    │ north  ┆ 0.125 ┆ 0.166667 │
    │ south  ┆ 4.0   ┆ 4.0      │
    └────────┴───────┴──────────┘
    """
    e = _inputs.error(actual, predicted, nan_policy=nan_policy, metric="mse")
    if weight is None:
        return e.pow(2).mean()
    w, valid = _counted_weight(e, weight, nan_policy=nan_policy, metric="mse")
    # `e` first: the result takes the name of `actual`.
    return pl.when(valid).then((e.pow(2) * w).sum() / w.sum())


def rmse(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    weight: IntoExpr | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.Expr:
    r"""Root mean squared error: :math:`\sqrt{\mathrm{MSE}}`, in the target's unit.

    Range :math:`[0, \infty)`; 0 is a perfect fit.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression. Any integer,
        Decimal, Boolean or float dtype.
    predicted
        The predicted values, as for `actual`.
    weight
        Optional non-negative row weights, as for `actual`.
    nan_policy
        ``"propagate"`` (default) or ``"omit"``; see :func:`loss`.

    Returns
    -------
    Expr
        Float64 aggregate, named after `actual`, with the same null rules as
        :func:`mse`.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame(
    ...     {"price": [200_000, 400_000, 300_000], "pred": [220_000, 385_000, 305_000]}
    ... )
    >>> df.select(polars_l2.rmse("price", "pred"))
    shape: (1, 1)
    ┌──────────────┐
    │ price        │
    │ ---          │
    │ f64          │
    ╞══════════════╡
    │ 14719.601444 │
    └──────────────┘
    """
    return mse(actual, predicted, weight=weight, nan_policy=nan_policy).sqrt()


def _counted_weight(
    e: pl.Expr, weight: IntoExpr, *, nan_policy: NanPolicy, metric: str
) -> tuple[pl.Expr, pl.Expr]:
    """Return the weights of the counted rows and the condition for a result.

    A weight counts only where the error is present too, so the numerator and
    the denominator sum over the same rows. A negative weight makes the
    weighted mean meaningless (it can go negative), so any counted negative
    weight gives null rather than a wrong number.
    """
    w = _inputs.weight(weight, nan_policy=nan_policy, metric=metric)
    counted = pl.when(e.is_not_null()).then(w)
    # `!= 0` rather than `> 0`: a NaN weight sum must propagate, not hide.
    valid = (counted < 0).any().not_() & (counted.sum() != 0)
    return counted, valid

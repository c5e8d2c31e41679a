"""L2 loss and its aggregates as lazy Polars expressions.

These functions are the package's API; the ``l2`` namespace methods call them.
Each returns an ordinary Polars expression, so it can be used wherever Polars
takes one: ``select``, ``with_columns``, ``group_by().agg()``, ``over``,
``rolling`` and ``group_by_dynamic``, on the in-memory and streaming engines.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from polars_l2 import _docs
from polars_l2._core import arguments, dtypes, metrics, vectors

if TYPE_CHECKING:
    import polars as pl

    from polars_l2.typing import IntoExpr, MultiOutput, NanPolicy

__all__ = ["loss", "mse", "rmse", "sse"]


def loss(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    width: int | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.Expr:
    r"""Per-row L2 loss: the squared error :math:`(y_i - \hat{y}_i)^2`.

    For vector columns (Array or List), the squared Euclidean distance
    :math:`\lVert y_i - \hat{y}_i \rVert^2`.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression. Any integer,
        Decimal, Boolean or float dtype, or an Array or List of one of them.
    predicted
        The predicted values, as for `actual`.
    width
        Optional number of outputs of vector inputs. A List row of another
        width then fails the query; an Array dtype of another width fails it
        when the plan is resolved.
    nan_policy
        ``"propagate"`` (default) gives NaN where either side is NaN, as numpy
        and Polars do. ``"omit"`` gives null there, treating NaN as missing.

    Returns
    -------
    Expr
        Float64, one value per row, null where either side is null. For
        vectors, also null where an element of either vector is null: the
        distance is not known. It takes the name of `actual`.

    Raises
    ------
    L2InputError
        When the plan is resolved, if an input is not numeric or Boolean (or
        a vector of them), if one side is a vector and the other is not, or
        if two Array columns differ in width.

    Notes
    -----
    Inputs are computed in Float64, so integer columns never wrap around and
    Decimal columns keep their scale. The difference of two 64-bit integer
    columns (or two Decimal columns) is taken exactly before it is rounded to
    Float64.

    References
    ----------
    .. [1] T. Hastie, R. Tibshirani and J. Friedman, *The Elements of Statistical
           Learning*, 2nd ed., Springer, 2009, section 2.4 (squared error loss).

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

    Two-dimensional positions, as Arrays:

    >>> xy = pl.DataFrame(
    ...     {"pos": [[0.0, 0.0], [1.0, 2.0]], "pred": [[3.0, 4.0], [1.0, 1.0]]},
    ...     schema={"pos": pl.Array(pl.Float64, 2), "pred": pl.Array(pl.Float64, 2)},
    ... )
    >>> xy.with_columns(loss=polars_l2.loss("pos", "pred"))
    shape: (2, 3)
    ┌───────────────┬───────────────┬──────┐
    │ pos           ┆ pred          ┆ loss │
    │ ---           ┆ ---           ┆ ---  │
    │ array[f64, 2] ┆ array[f64, 2] ┆ f64  │
    ╞═══════════════╪═══════════════╪══════╡
    │ [0.0, 0.0]    ┆ [3.0, 4.0]    ┆ 25.0 │
    │ [1.0, 2.0]    ┆ [1.0, 1.0]    ┆ 1.0  │
    └───────────────┴───────────────┴──────┘
    """
    return vectors.squared_distance(
        actual, predicted, width=width, nan_policy=nan_policy, metric="loss"
    )


@_docs.fill
def sse(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    weight: IntoExpr | None = None,
    multioutput: MultiOutput = "uniform_average",
    width: int | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.Expr:
    r"""Sum of squared errors, :math:`\sum_i w_i (y_i - \hat{y}_i)^2`.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression. Any integer,
        Decimal, Boolean or float dtype, or an Array or List of one of them
        (one element per output).
    predicted
        The predicted values, as for `actual`.
    %(aggregate_options)s

    Returns
    -------
    Expr
        Float64 aggregate, named after `actual`. Rows count only where
        `actual`, `predicted` and `weight` are all present and the weight is
        not zero (a row of weight zero counts for nothing, whatever its
        error). Null when no row counts, when the counted weights sum to
        zero, or when any counted weight is negative.
        %(aggregate_rows)s

    See Also
    --------
    mse : The mean of the same squared errors.

    References
    ----------
    .. [1] T. Hastie, R. Tibshirani and J. Friedman, *The Elements of Statistical
           Learning*, 2nd ed., Springer, 2009, section 2.4 (squared error loss).

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

    For vectors, ``multioutput="sum"`` gives the sum of squared Euclidean
    distances:

    >>> xy = pl.DataFrame(
    ...     {"pos": [[0.0, 0.0], [1.0, 2.0]], "pred": [[3.0, 4.0], [1.0, 1.0]]},
    ...     schema={"pos": pl.Array(pl.Float64, 2), "pred": pl.Array(pl.Float64, 2)},
    ... )
    >>> xy.select(
    ...     per_output=polars_l2.sse("pos", "pred", multioutput="raw_values"),
    ...     total=polars_l2.sse("pos", "pred", multioutput="sum"),
    ... )
    shape: (1, 2)
    ┌───────────────┬───────┐
    │ per_output    ┆ total │
    │ ---           ┆ ---   │
    │ array[f64, 2] ┆ f64   │
    ╞═══════════════╪═══════╡
    │ [9.0, 17.0]   ┆ 26.0  │
    └───────────────┴───────┘
    """
    return vectors.aggregate(
        actual,
        predicted,
        per_output=partial(
            _sse_of, weight=_weight_expr(weight), nan_policy=nan_policy, metric="sse"
        ),
        root=False,
        multioutput=multioutput,
        width=width,
        nan_policy=nan_policy,
        metric="sse",
    )


@_docs.fill
def mse(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    weight: IntoExpr | None = None,
    multioutput: MultiOutput = "uniform_average",
    width: int | None = None,
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
        Decimal, Boolean or float dtype, or an Array or List of one of them
        (one element per output). A Boolean `actual` against a probability
        `predicted` gives the Brier score.
    predicted
        The predicted values, as for `actual`.
    %(aggregate_options)s

    Returns
    -------
    Expr
        Float64 aggregate, named after `actual`. Rows count only where
        `actual`, `predicted` and `weight` are all present and the weight is
        not zero, in both the numerator and the denominator: a row of weight
        zero counts for nothing, whatever its error. An infinite weight
        gives NaN, as in ``numpy.average``. Null when no row counts, when the
        counted weights sum to zero, or when any counted weight is negative.
        %(aggregate_rows)s

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

    Two outputs per row, as a List column; the null element leaves out the
    second output of the second row only:

    >>> two = pl.DataFrame(
    ...     {"y": [[1.0, 10.0], [2.0, None], [3.0, 30.0]], "yhat": [[1.0, 12.0]] * 3}
    ... )
    >>> two.select(
    ...     per_output=polars_l2.mse("y", "yhat", multioutput="raw_values", width=2),
    ...     average=polars_l2.mse("y", "yhat", width=2),
    ... )
    shape: (1, 2)
    ┌───────────────────┬───────────┐
    │ per_output        ┆ average   │
    │ ---               ┆ ---       │
    │ array[f64, 2]     ┆ f64       │
    ╞═══════════════════╪═══════════╡
    │ [1.666667, 164.0] ┆ 82.833333 │
    └───────────────────┴───────────┘
    """
    return vectors.aggregate(
        actual,
        predicted,
        per_output=partial(
            _mse_of, weight=_weight_expr(weight), nan_policy=nan_policy, metric="mse"
        ),
        root=False,
        multioutput=multioutput,
        width=width,
        nan_policy=nan_policy,
        metric="mse",
    )


@_docs.fill
def rmse(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    weight: IntoExpr | None = None,
    multioutput: MultiOutput = "uniform_average",
    width: int | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.Expr:
    r"""Root mean squared error: :math:`\sqrt{\mathrm{MSE}}`, in the target's unit.

    Range :math:`[0, \infty)`; 0 is a perfect fit.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression. Any integer,
        Decimal, Boolean or float dtype, or an Array or List of one of them
        (one element per output).
    predicted
        The predicted values, as for `actual`.
    %(aggregate_options)s

    Returns
    -------
    Expr
        Float64 aggregate, named after `actual`, with the same null rules as
        :func:`mse`. For vector inputs, the per-output RMSEs combined as
        `multioutput` says, except ``"sum"``: the square root of the summed
        per-output MSEs, the root mean squared Euclidean distance.

    Raises
    ------
    L2InputError
        When the plan is resolved, for an input dtype :func:`loss` rejects;
        for List inputs whose width is not given; or where the widths of the
        Array dtypes, `width` and the output weights disagree.

    Notes
    -----
    As in scikit-learn, the default ``multioutput="uniform_average"`` of a
    vector target is the mean of the per-output RMSEs, which is not the
    square root of the averaged MSE (``rmse(..., multioutput="sum")`` divided
    by the square root of the width). A null vector makes the row missing; a
    null element makes that output missing in that row only.

    References
    ----------
    .. [1] T. Hastie, R. Tibshirani and J. Friedman, *The Elements of Statistical
           Learning*, 2nd ed., Springer, 2009, section 2.4 (squared error loss).
    .. [2] R. J. Hyndman and A. B. Koehler, "Another look at measures of
           forecast accuracy", *International Journal of Forecasting* 22(4),
           679-688, 2006 (RMSE and MAE in the target's unit).

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

    For vectors, the default averages the per-output RMSEs, as scikit-learn
    does; ``"sum"`` gives the root mean squared Euclidean distance:

    >>> xy = pl.DataFrame(
    ...     {"pos": [[0.0, 0.0], [1.0, 2.0]], "pred": [[3.0, 4.0], [1.0, 1.0]]},
    ...     schema={"pos": pl.Array(pl.Float64, 2), "pred": pl.Array(pl.Float64, 2)},
    ... )
    >>> xy.select(
    ...     per_output=polars_l2.rmse("pos", "pred", multioutput="raw_values"),
    ...     average=polars_l2.rmse("pos", "pred"),
    ...     distance=polars_l2.rmse("pos", "pred", multioutput="sum"),
    ... )
    shape: (1, 3)
    ┌─────────────────────┬──────────┬──────────┐
    │ per_output          ┆ average  ┆ distance │
    │ ---                 ┆ ---      ┆ ---      │
    │ array[f64, 2]       ┆ f64      ┆ f64      │
    ╞═════════════════════╪══════════╪══════════╡
    │ [2.12132, 2.915476] ┆ 2.518398 ┆ 3.605551 │
    └─────────────────────┴──────────┴──────────┘
    """
    return vectors.aggregate(
        actual,
        predicted,
        per_output=partial(
            _mse_of, weight=_weight_expr(weight), nan_policy=nan_policy, metric="rmse"
        ),
        root=True,
        multioutput=multioutput,
        width=width,
        nan_policy=nan_policy,
        metric="rmse",
    )


def _moments(
    e: pl.Expr, weight: pl.Expr | None, *, nan_policy: NanPolicy, metric: str
) -> metrics.Moments:
    """Return the moments of one output's Float64 error `e`, for the registry.

    The rows that count are those of :func:`arguments.counted_rows`, the
    rule of every path, so the numerator and the denominator sum over the
    same rows.
    """
    if weight is None:
        return metrics.row_moments(e, None)
    w = dtypes.weight(weight, nan_policy=nan_policy, metric=metric)
    counted_e, counted_w, _ = arguments.counted_rows(e, w)
    return metrics.row_moments(counted_e, counted_w)


def _sse_of(
    e: pl.Expr, *, weight: pl.Expr | None, nan_policy: NanPolicy, metric: str
) -> pl.Expr:
    """Sum of (weighted) squares of one output's Float64 error `e`."""
    moments = _moments(e, weight, nan_policy=nan_policy, metric=metric)
    return metrics.REGISTRY["sse"].formula(moments)


def _mse_of(
    e: pl.Expr, *, weight: pl.Expr | None, nan_policy: NanPolicy, metric: str
) -> pl.Expr:
    """(Weighted) mean of the squares of one output's Float64 error `e`.

    Unweighted, the plan is exactly ``(e ** 2).mean()``.
    """
    moments = _moments(e, weight, nan_policy=nan_policy, metric=metric)
    return metrics.REGISTRY["mse"].formula(moments)


def _weight_expr(weight: IntoExpr | None) -> pl.Expr | None:
    """Parse the weight now, so a bad argument fails where it is passed."""
    return None if weight is None else arguments.parse_into_expr(weight, role="weight")

r"""Murphy diagrams per segment: is a model better under every consistent loss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from polars_l2._core import arguments, frames, metrics, options
from polars_l2._core import elementary as el
from polars_l2._state import RESERVED, is_state, load, state_keys, state_query
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import ArrowStreamExportable, NanPolicy

__all__ = ["murphy"]

#: The columns of a Murphy table besides the keys.
COLUMNS = (
    "model",
    "baseline",
    "theta",
    "score",
    "score_diff",
    "score_diff_low",
    "score_diff_high",
    "dominance",
)


def murphy(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str | None,
    predicted: str | Sequence[str] | None,
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    functional: Literal["mean", "median"] = "mean",
    thetas: int | Sequence[float] | None = None,
    baseline: str | None = None,
    confidence: float = 0.95,
    nan_policy: NanPolicy = "propagate",
) -> pl.DataFrame:
    r"""Murphy diagram: each model's mean elementary score at every θ of a grid.

    The elementary score of a prediction :math:`z` of :math:`y` at the
    threshold :math:`\theta` is

    .. math::

        S_\theta(y, z) = (\mathbf 1\{\theta \le z\} - \mathbf 1\{\theta \le y\})
        \, V(y, \theta),

    with :math:`V(y, \theta) = \theta - y` for the mean (what the squared
    error estimates) and :math:`\mathbf 1\{\theta \ge y\} - \tfrac12` for
    the median (what the absolute error estimates), the convention of
    model-diagnostics' ``ElementaryScore``. Every consistent scoring
    function of the functional is a mixture of the :math:`S_\theta` [1]_,
    so a model whose curve is nowhere above another's is better under all
    of them: the choice of loss cannot change the ranking. Where the curves
    cross, it can. The curve integrates to half the loss:
    :math:`\int S_\theta(y, z)\,d\theta = \tfrac12 (z - y)^2` for the mean
    and :math:`\tfrac12 |z - y|` for the median, so the area under a
    model's curve is half its MSE (MAE).

    Parameters
    ----------
    frame
        The data (any table :func:`polars_l2.report` takes), or a (merged)
        state built with ``murphy=`` (:func:`polars_l2.state`): then
        `actual`, `predicted`, `by`, `weight`, `thetas` and `nan_policy`
        come from the state (pass None), and `functional` must be the
        state's.
    actual
        Name of the column of observed values.
    predicted
        Name(s) of the prediction columns, one per model.
    by
        Name(s) of the columns that define the segments, or None.
    weight
        Name of a column of non-negative sample weights, or None: weighted
        means of the elementary scores.
    functional
        ``"mean"`` (default) or ``"median"``.
    thetas
        The grid: a strictly increasing sequence of finite numbers, or the
        most points to choose from the data (default None: 100), in one
        query before the main one: the midpoints of consecutive distinct
        quantiles, at evenly spaced levels, of the actual values and every
        model's predictions, pooled. Midpoints rarely equal an observed
        value, where the median's elementary score jumps (see Notes).
    baseline
        A prediction column, or None. With it, each other model's rows also
        give the paired difference of mean elementary scores, the model
        minus the baseline, over the rows where both predict, its pointwise
        interval and a dominance verdict per segment; the baseline's own
        rows are left out.
    confidence
        Level of the pointwise intervals of ``score_diff``.
    nan_policy
        ``"propagate"`` (default) or ``"omit"`` NaN, as in
        :func:`polars_l2.mse`.

    Returns
    -------
    DataFrame
        One row per model, segment and θ, in the models' order, segments sorted
        by key, θ increasing: ``model`` (String), the `by` keys, ``theta``
        (Float64, in the target's units) and ``score`` (Float64: in the target's
        units for the mean; for the median a share of rows times 1/2, at most
        1/2, negative only at a θ equal to observed values, see Notes; null
        where no row counts). With `baseline`: ``baseline`` (String),
        ``score_diff``, ``score_diff_low``, ``score_diff_high`` (Float64: the
        paired difference and its Student-t interval, with Kish's effective size
        when weighted, as in :func:`polars_l2.compare`) and ``dominance``
        (String, the same on every θ of a segment): ``"better"`` where the
        model's curve is nowhere above the baseline's and somewhere below,
        ``"worse"`` the other way round, ``"equal"``, or ``"crossing"`` (the
        ranking depends on the loss); judged on the point estimates, not on the
        pointwise intervals, which do not hold jointly over θ.

    Raises
    ------
    L2InputError
        For a missing column or a bad option (as :func:`polars_l2.report`),
        a state built without ``murphy=``, with another functional, or with
        another baseline, a baseline that is the only model, or no finite
        value to choose the grid from.

    See Also
    --------
    polars_l2.plot.plot_murphy : Draw the table.
    polars_l2.state : ``murphy=`` keeps the curves in a mergeable state.

    Notes
    -----
    At θ equal to an observed :math:`y`, the median's elementary score of
    a row predicted below :math:`y` is :math:`-1/2` in this convention (it
    is :math:`1/2` just below :math:`y` and 0 above): a grid point on an
    observed value of a discrete target (counts) shows that jump, which
    the chosen grid avoids.

    Each θ is one aggregation per model in the query: the cost grows with
    the number of θ (see the page "Performance of Murphy diagrams"). States
    keep the curves (``murphy_*`` columns) and merge only when their grids
    are equal, so give the same `thetas` to every part of a distributed
    evaluation.

    References
    ----------
    .. [1] W. Ehm, T. Gneiting, A. Jordan and F. Krüger, "Of quantiles and
           expectiles: consistent scoring functions, Choquet representations
           and forecast rankings", *Journal of the Royal Statistical
           Society B* 78(3), 505-562, 2016.
    .. [2] T. Gneiting and J. Resin, "Regression diagnostics meets forecast
           evaluation: conditional calibration, reliability diagrams, and
           coefficient of determination", *Electronic Journal of
           Statistics* 17(2), 3226-3286, 2023.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "yhat": [1.5, 2.0, 2.0, 5.0]})
    >>> polars_l2.murphy(df, "y", "yhat", thetas=[1.5, 2.5, 3.5, 4.5])
    shape: (4, 3)
    ┌───────┬───────┬───────┐
    │ model ┆ theta ┆ score │
    │ ---   ┆ ---   ┆ ---   │
    │ str   ┆ f64   ┆ f64   │
    ╞═══════╪═══════╪═══════╡
    │ yhat  ┆ 1.5   ┆ 0.125 │
    │ yhat  ┆ 2.5   ┆ 0.125 │
    │ yhat  ┆ 3.5   ┆ 0.0   │
    │ yhat  ┆ 4.5   ┆ 0.125 │
    └───────┴───────┴───────┘

    The area under the curve is half the MSE (here on a grid too coarse to
    show it: pass every value, or many θ, for that).
    """
    function = "polars_l2.murphy"
    options.check(
        function,
        functional=functional,
        thetas=thetas,
        confidence=confidence,
        nan_policy=nan_policy,
    )
    data = frames.coerce(frame, function=function).frame
    if is_state(data):
        state = load(data, function=function)
        _check_state(state, functional, thetas, baseline, function=function)
    else:
        state = _frame_state(
            data,
            actual,
            predicted,
            by=by,
            weight=weight,
            functional=functional,
            thetas=thetas,
            baseline=baseline,
            nan_policy=nan_policy,
            function=function,
        )
    keys = state_keys(state.columns, function=function)
    return _curves(state, keys, baseline, confidence)


def _frame_state(
    frame: pl.DataFrame | pl.LazyFrame,
    actual: object,
    predicted: object,
    *,
    by: object,
    weight: object,
    functional: str,
    thetas: int | Sequence[float] | None,
    baseline: object,
    nan_policy: object,
    function: str,
) -> pl.DataFrame:
    """Return the state of the data with the curves (and the paired differences)."""
    models = arguments.names(predicted, role="predicted", function=function)
    if baseline is not None:
        if not isinstance(baseline, str):
            msg = (
                f"{function}: baseline must be a column name or None, got {baseline!r}"
            )
            raise L2InputError(msg)
        models = models if baseline in models else (*models, baseline)
        if models == (baseline,):
            msg = f"{function}: predicted must name a model besides the baseline"
            raise L2InputError(msg)
    reserved = (*COLUMNS, *RESERVED)
    spec = arguments.parse(
        actual,
        models,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        function=function,
        reserved=reserved,
    )
    query = state_query(
        frame,
        spec,
        function=function,
        baseline=None if baseline is None else str(baseline),
        top_share=False,
        murphy=functional,
        thetas=thetas,
    )
    return query.collect()


def _check_state(
    state: pl.DataFrame,
    functional: str,
    thetas: object,
    baseline: object,
    *,
    function: str,
) -> None:
    """Refuse a state without curves, or of another functional or baseline."""
    found = state.get_column(el.FUNCTIONAL).unique().to_list()
    if None in found or not found:
        msg = (
            f"{function}: the state has no Murphy curves; build it with "
            "state(..., murphy='mean' or 'median')"
        )
        raise L2InputError(msg)
    if found != [functional]:
        msg = (
            f"{function}: the state holds the {found[0]!r} functional's curves, "
            f"not {functional!r}; pass functional={found[0]!r}"
        )
        raise L2InputError(msg)
    if thetas is not None:
        msg = f"{function}: thetas come from the state; pass thetas=None"
        raise L2InputError(msg)
    if baseline is not None:
        built = set(state.get_column("baseline").to_list())
        if built != {baseline}:
            shown = ", ".join(sorted(map(str, built)))
            msg = (
                f"{function}: the state was built with baseline {shown}, not "
                f"{baseline!r}; build it with state(..., baseline={baseline!r})"
            )
            raise L2InputError(msg)


def _curves(
    state: pl.DataFrame, keys: list[str], baseline: object, confidence: float
) -> pl.DataFrame:
    """One row per model, segment and θ, from a state with the curves."""
    key_columns = [arguments.column(key) for key in keys]
    valid = metrics.weights_valid(pl.col("weight_sum"), pl.col("negative_weight_count"))
    lists = [el.THETA, el.SCORE]
    if baseline is not None:
        state = state.filter(pl.col("model") != baseline)
        lists += [el.DIFF_MEAN, el.DIFF_M2]
    # Masked after the explode: a null list facing a full θ list would not
    # explode beside it.
    rows = state.explode(lists).with_columns(
        pl.when(valid).then(pl.col(el.SCORE)).alias(el.SCORE)
    )
    score = [pl.col(el.THETA).alias("theta"), pl.col(el.SCORE).alias("score")]
    if baseline is None:
        return rows.select("model", *key_columns, *score)
    paired_valid = metrics.weights_valid(
        pl.col("paired_weight_sum"), pl.col("paired_negative_weight_count")
    )
    se = metrics.standard_error(
        pl.col(el.DIFF_M2),
        pl.col("paired_n"),
        pl.col("paired_weight_sum"),
        pl.col("paired_weight_sq_ratio"),
    )
    size = metrics.effective_n(
        pl.col("paired_weight_sum"), pl.col("paired_weight_sq_ratio")
    )
    table = rows.select(
        "model",
        "baseline",
        *key_columns,
        *score,
        pl.when(paired_valid).then(pl.col(el.DIFF_MEAN)).alias("score_diff"),
        pl.when(paired_valid).then(se).alias("_l2_se"),
        (size - 1).alias("_l2_df"),
    )
    table = _intervals(table, confidence)
    return table.with_columns(
        _dominance(pl.col("score_diff"))
        .over(["model", *key_columns])
        .alias("dominance")
    )


def _intervals(table: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Add the Student-t interval of ``score_diff``, on the aggregated rows."""
    from scipy import stats  # noqa: PLC0415  (see polars_l2.compare)

    diff = table.get_column("score_diff").cast(pl.Float64).to_numpy()
    se = table.get_column("_l2_se").cast(pl.Float64).to_numpy()
    df = table.get_column("_l2_df").cast(pl.Float64).to_numpy()
    usable = np.isfinite(se) & np.isfinite(df) & (df > 0) & np.isfinite(diff)
    quantile = stats.t.ppf(0.5 + confidence / 2, np.where(usable, df, 1.0))
    low = np.where(usable, diff - quantile * se, np.nan)
    high = np.where(usable, diff + quantile * se, np.nan)
    return table.drop("_l2_se", "_l2_df").with_columns(
        pl.Series("score_diff_low", low).fill_nan(None),
        pl.Series("score_diff_high", high).fill_nan(None),
    )


def _dominance(diff: pl.Expr) -> pl.Expr:
    """Return the verdict of one segment's differences over θ (a window expression)."""
    known = diff.is_not_null() & ~diff.is_nan()
    d = diff.filter(known)
    return (
        pl.when(~known.any())
        .then(None)
        .when((d == 0).all())
        .then(pl.lit("equal"))
        .when((d <= 0).all())
        .then(pl.lit("better"))
        .when((d >= 0).all())
        .then(pl.lit("worse"))
        .otherwise(pl.lit("crossing"))
    )

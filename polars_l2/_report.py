"""The model evaluation report: every model's metrics per segment, in one query."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import arguments, frames, moments, options, per_output, report_rows
from polars_l2._core import top_share as top_share_
from polars_l2._docs import fill
from polars_l2._frame_kind import same_kind
from polars_l2._state import RESERVED

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import ArrowStreamExportable, NanPolicy, Variance

__all__ = ["report"]


@same_kind
@fill
def report(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    nan_policy: NanPolicy = "propagate",
    top_share: bool = True,
    min_n: int = 30,
    overall: bool = False,
    variance: Variance = "hc1",
) -> pl.DataFrame | pl.LazyFrame:
    r"""Evaluate one or more models per segment: one row per model and segment.

    One lazy query of plain per-group aggregations that the streaming engine
    runs natively and in bounded memory. Every model's moments come from one
    scan of the data, however many models; the top-1% share reads the key,
    actual, prediction and weight columns again, in one group-by per model
    (up to four models; beyond, one for all of them), since a shared scan
    would make Polars buffer the data (see Notes). ``top_share=False`` reads
    the data exactly once.

    Parameters
    ----------
    frame
        The data, one row per prediction: a DataFrame or a LazyFrame, or any
        table that exports the Arrow PyCapsule stream interface (a pyarrow
        Table or RecordBatchReader, a pandas DataFrame, a DuckDB relation,
        a narwhals frame; read into memory once), or a pyarrow Dataset
        (scanned lazily: only the columns needed are read).
    actual
        Name of the column of observed values. Any integer, Decimal, Boolean
        or float dtype; computed in Float64 as in :func:`polars_l2.mse`. Or a
        vector (Array or List) of them, with vector `predicted` columns of
        the same width: each output is then evaluated on its own, in a
        segment numbered by an ``output`` column (see Returns).
    predicted
        Name of the column of predictions, or a list of names: one per model
        compared. Each name becomes the ``model`` of its rows. Every column
        name is read literally: ``"^y$"`` or ``"*"`` is the column of that
        name, never a pattern.
    by
        Name(s) of the column(s) that define the segments, or None for one
        row per model.
    weight
        Name of a column of non-negative sample weights, or None.
    confidence
        Level of the confidence intervals, strictly between 0 and 1.
    %(nan_policy)s
    top_share
        Compute ``top_1pct_share`` (default). It needs a histogram of every
        model's squared errors per segment (unweighted, only of segments of
        more than 100 rows), one more group-by that can cost more than all
        the other columns together (see Notes); False leaves the column null
        and skips it.
    min_n
        Rows whose effective number of counted rows (Kish's
        :math:`W^2/\sum w^2`, the row count unweighted) is below `min_n` are
        flagged ``small`` (default 30). Nothing is dropped.
    overall
        Add each model's overall row, over all its segments, after them
        (default False). It equals the report without `by`, up to rounding.
    variance
        How the intervals estimate the variance of a weighted mean:
        ``"hc1"`` (default), ``"hc0"`` or ``"kish"``; see
        :func:`polars_l2.compare` and the page "Is the new model better?".
        Unweighted, ``"hc1"`` and ``"kish"`` agree (the usual :math:`s^2/n`).

    Returns
    -------
    DataFrame or LazyFrame
        A LazyFrame for a LazyFrame, else a DataFrame, with these columns,
        in this order:

        ``model`` (String)
            The predicted column's name.
        the `by` columns
            The segment's keys, in their own dtypes.
        ``output`` (Int64, only for vector columns)
            The output (element position, from 0) the row evaluates, the
            last key. A null vector leaves its row out of every output; a
            null element leaves that output only. A row whose vectors are
            all null Lists has no width and counts nowhere.
        ``overall`` (Boolean)
            True on a model's overall row (`overall`), whose keys are null;
            without `by`, every row is overall. Vector columns have one
            overall row per output (its ``output`` kept): the row of that
            output without `by`. An input without rows still gives each
            model its overall row (``n`` 0), as without `by`.
        ``n`` (Int64)
            Rows counted: a row counts for a model only where the actual,
            that model's prediction and the weight are all present and the
            weight is not zero. A row of weight zero counts for nothing,
            whatever its error (infinite or NaN included), here and in every
            metric.
        ``weight_sum`` (Float64, only when weighted)
            Sum of the counted rows' weights.
        ``small`` (Boolean)
            Fewer than `min_n` effective rows, or none.
        ``sse``, ``mse``, ``rmse``
            Sum of (weighted) squared errors, their (weighted) mean, its
            square root.
        ``sse_share``
            The segment's share of the model's SSE over all its segments
            (of the output's, for vector columns): the shares sum to 1 per
            model (1 on the overall row), so the segments that drive the
            error are one sort away. Null where the model's SSE is 0, and
            null in every segment where it is unknown (a segment whose
            rows count but whose SSE is null: a negative weight).
        ``mse_low``, ``mse_high``
            The interval of MSE: the square of RMSE's.
        ``mae_low``, ``mae_high``, ``bias_low``, ``bias_high``
            Intervals of MAE and bias, with se from the (weighted) spread of
            :math:`|e|` and :math:`e` (`variance`). The bias's is normal,
            mean ± z·se. MAE is never negative, so its interval is built on
            the log scale, as RMSE's is (the delta method:
            :math:`\mathrm{MAE}\cdot\exp(\pm z\,se/\mathrm{MAE})`), which
            never leaves :math:`[0, \infty)` and follows the right skew of a
            mean of non-negative values; [0, 0] where MAE is 0. The
            intervals of MSE, RMSE and MAE so never go below 0. Every
            interval uses only mergeable moments; the page "Is the new model
            better?" gives their coverage.
        ``rmse_low``, ``rmse_high``
            The confidence interval of RMSE at level `confidence` (see
            Notes). Null where fewer than two rows count.
        ``mae``
            (Weighted) mean absolute error.
        ``bias``
            (Weighted) mean of the error :math:`e = \hat y - y`, predicted
            minus actual: positive when the model over-predicts. The state's
            ``error_mean`` has the same sign (see :mod:`polars_l2.state`).
        ``r2``
            Coefficient of determination, :math:`1 - SSE/SST` with
            :math:`SST = \sum_i w_i (y_i - \bar y_w)^2` over the counted
            rows. At most 1; 0 for predicting the mean; negative when worse
            than that. A constant target gives 1.0 if the predictions are
            perfect and 0.0 otherwise (scikit-learn's ``force_finite``
            convention), never minus infinity. Constancy is decided exactly,
            from the smallest and largest counted actual (the computed
            variance of ``[0.1] * 7`` is 1.9e-34, not 0), so it holds for
            weighted data and merged states alike; a spread whose square
            underflows to 0 counts as constant, as in scikit-learn. Null
            where fewer than two rows count.
        ``max_error``
            The largest absolute error of the counted rows, whatever their
            (non-zero) weight.
        ``top_1pct_share``, ``top_1pct_share_low``, ``top_1pct_share_high``
            The share of SSE that comes from the 1% of rows with the largest
            squared errors: 0.01 means no concentration, 1.0 that the errors
            are all in a few rows (see Notes). It comes from a histogram, so
            it is approximate: ``_low`` and ``_high`` bound the exact share
            (which lies between them), and the share is their midpoint. They
            merge (a merged state gives the single query's bounds).

        Every Float64 metric is null where no row counts, where the counted
        weights sum to zero, or where a counted weight is negative (as in
        :func:`polars_l2.mse`; ``n``, ``weight_sum`` and ``max_error`` are
        still given). The MSE is the (weighted) mean of the squared errors,
        on every path, so an infinite error gives an infinite ``sse``,
        ``mse`` and ``rmse``, as :func:`polars_l2.mse` does. An infinite
        weight gives NaN (the weighted mean is undefined, as in
        ``numpy.average``); a NaN weight gives NaN with
        ``nan_policy="propagate"`` and leaves its row out with ``"omit"``.
        Squares overflow to inf beyond about 1e154 and underflow to 0 below
        about 1e-162, as in numpy and scikit-learn. Weights are scale-free:
        multiplying every weight by a positive constant from 1e-300 to 1e300
        changes no column but ``weight_sum`` and ``sse`` (while the sum of
        the weights, itself a column, stays below about 1.8e308; beyond, it
        is inf and the means NaN): the squares of the weights are never
        formed, and the top-1% share works with relative
        weights. The centred moments are sums of weights times squared
        deviations, which must stay within Float64 (for the MSE's interval
        a weight times the error to the fourth power: with weights of
        1e300, errors up to about 100). Each metric, with its
        null rule and direction, is defined once, in the registry
        ``polars_l2._core.metrics.REGISTRY``. Rows come in the order of
        `predicted`, then sorted by the keys, nulls last.

    Raises
    ------
    L2InputError
        Before any data is read, if a column is missing or has a dtype the
        metrics cannot use (the message names the column, its dtype and the
        columns that exist). Also for a bad argument: a column named twice
        in one role, a `by` column with the name of an output column, `by`
        not a name or a list of names, `confidence` not strictly between 0
        and 1, `top_share` not a bool, an unknown `nan_policy`, `frame` not
        a table. It is a ``ValueError`` and a ``TypeError``.

    See Also
    --------
    polars_l2.state : The same metrics as a mergeable state.

    Notes
    -----
    **Confidence interval of RMSE.** MSE is the (weighted) mean of the
    squared errors :math:`x_i = e_i^2`, so by the central limit theorem it is
    approximately normal, with standard error
    :math:`se^2 = \frac{n}{n-1} \sum_i w_i^2 (x_i - \bar x_w)^2 / W^2`
    (``variance="hc1"``, the heteroscedasticity-robust variance of a
    weighted mean; unweighted, the usual :math:`s_x^2/n`), or with
    ``variance="kish"`` :math:`s_x^2 / (n_{\mathrm{eff}} - 1)`, where
    :math:`s_x^2 = \sum_i w_i (x_i - \bar x_w)^2 / W` is the weighted
    variance of the squared errors and :math:`n_{\mathrm{eff}} = W^2/\sum_i
    w_i^2` is Kish's effective sample size. The interval is
    built on the log scale (the delta method on :math:`\log \mathrm{MSE}`),
    which keeps it positive and follows the right skew of an MSE, and mapped
    to RMSE by the square root:
    :math:`\mathrm{RMSE}\cdot\exp(\pm z\, se/(2\,\mathrm{MSE}))`, with
    :math:`z` the normal quantile of `confidence`. It uses only moments of
    the squared errors, so it merges exactly across states. Its limits: it
    treats the rows as independent draws (not so for time series or
    clustered rows), it is a large-sample approximation, and it needs the
    errors to have a finite fourth moment. With 200 rows its 95% interval
    covered the true RMSE about 94% of the time for normal and uniform
    errors, 93% for Laplace errors and 91% for Student-t errors with 5
    degrees of freedom; heavier tails need more rows. When MSE is 0 the
    interval is [0, 0].

    **Top-1% share.** The squared errors are sorted from largest, and the
    largest 1% of the rows (of the weight, when weighted) are taken, the
    boundary row counted fractionally: with 150 rows, the largest error and
    half of the second. The share is their sum over SSE. Counting the
    boundary fractionally makes equal errors give exactly 0.01 for every
    row count; with fewer than 100 rows the top 1% is a fraction of the
    largest error. When SSE is 0 the share is 0.01 (equal errors). Sorting
    per segment is not a streaming aggregation, so the share comes from a
    histogram of the squared errors, one bin per power of two, each bin
    keeping its weight, sum, minimum and maximum: bins wholly inside the
    top 1% count exactly, and the bin that straddles the boundary counts
    the midpoint of what its weight, sum, minimum and maximum allow. The
    result is exact when that bin's values are equal and, unweighted, for
    every segment of at most 100 rows; otherwise its error is at most half
    that range, itself at most the boundary bin's share of 1% of the rows
    times the bin's width. In simulations (normal, Student-t with 3 degrees
    of freedom, log-normal, contaminated-normal and uniform errors; 150,
    1,000 and 10,000 rows; 200 samples each) the absolute error was 0.0017
    on average and at most 0.009, against shares from 0.01 to 0.9.
    Unweighted, a segment of at most 100 rows needs no histogram: its top 1%
    lies in its largest squared error, so its share is
    :math:`0.01 \max e^2 / \overline{e^2}`, from the moments, and only the
    larger segments are binned (up to four models; with more, every
    segment), which keeps the report's cost flat in the number of segments
    when most are small. The moments decide which segments are binned, so
    the histograms start once the moments are done. The
    histograms are a group-by per model over segments and bins (with more
    than four models, one group-by of every model's squared errors turned
    long, which is faster with many models and reads the data once), and
    they cost more than every other column together: the report's cost is
    measured against a grouped MSE in ``docs/performance.md`` (cases 3 and
    7), and grows linearly with the number of models. Given a DataFrame
    (or pandas, a pyarrow Table) whose predicted columns have no null, every
    model counts the same rows, so the count and the target's moments are
    computed once for all of them; a LazyFrame cannot tell without reading
    its data, so each model computes its own. Each histogram reads
    the data itself: the streaming engine runs one group-by at a time, so
    sharing one scan between the group-bys (``LazyFrame.cache``) made
    Polars' multiplexer hold every row for the later group-bys, and peak
    memory grew with the data (1.1 GB for 30 million rows, against 0.2 GB
    when each reads the columns it needs). Polars shares the scan itself
    when the frame computes columns in the query (``with_columns`` on a
    ``scan_parquet``, for example): ``polars_l2.state`` of such a frame
    peaked at 1.2 GB on 50 million rows (1.3 GB in memory), against 0.33 GB
    with ``top_share=False``. For bounded memory on such inputs, write the
    computed columns to a file first, or pass ``top_share=False``.

    **Accuracy.** Centred second moments come from Polars' stable ``var``
    and ``cov``, not from raw sums of squares, so R² stays accurate for a
    target around 1e9: the relative rounding error grows like machine
    epsilon times mean/standard deviation of the target (about 1e-10 for a
    target of 1e9 that varies by 1e3), where raw sums of squares square that
    factor.

    References
    ----------
    .. [1] L. Kish, *Survey Sampling*, Wiley, 1965 (the effective sample
           size :math:`W^2/\sum_i w_i^2`).
    .. [2] G. W. Oehlert, "A note on the delta method", *The American
           Statistician* 46(1), 27-29, 1992 (the interval of RMSE on the log
           scale).
    .. [3] T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and
           a pairwise algorithm for computing sample variances", Stanford
           technical report STAN-CS-79-773, 1979 (the centred moments, and
           their merge in :func:`polars_l2.merge_states`).

    Examples
    --------
    Two models of house prices, by region:

    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame(
    ...     {
    ...         "region": ["north", "north", "north", "south", "south", "south"],
    ...         "price": [200.0, 250.0, 300.0, 150.0, 180.0, 210.0],
    ...         "linear": [210.0, 240.0, 310.0, 160.0, 170.0, 200.0],
    ...         "boosted": [205.0, 250.0, 295.0, 150.0, 230.0, 210.0],
    ...     }
    ... )
    >>> polars_l2.report(df, "price", ["linear", "boosted"], by="region").select(
    ...     "model", "region", "n", "rmse", "bias", "r2", "max_error"
    ... )
    shape: (4, 7)
    ┌─────────┬────────┬─────┬───────────┬───────────┬───────────┬───────────┐
    │ model   ┆ region ┆ n   ┆ rmse      ┆ bias      ┆ r2        ┆ max_error │
    │ ---     ┆ ---    ┆ --- ┆ ---       ┆ ---       ┆ ---       ┆ ---       │
    │ str     ┆ str    ┆ i64 ┆ f64       ┆ f64       ┆ f64       ┆ f64       │
    ╞═════════╪════════╪═════╪═══════════╪═══════════╪═══════════╪═══════════╡
    │ linear  ┆ north  ┆ 3   ┆ 10.0      ┆ 3.333333  ┆ 0.94      ┆ 10.0      │
    │ linear  ┆ south  ┆ 3   ┆ 10.0      ┆ -3.333333 ┆ 0.833333  ┆ 10.0      │
    │ boosted ┆ north  ┆ 3   ┆ 4.082483  ┆ 0.0       ┆ 0.99      ┆ 5.0       │
    │ boosted ┆ south  ┆ 3   ┆ 28.867513 ┆ 16.666667 ┆ -0.388889 ┆ 50.0      │
    └─────────┴────────┴─────┴───────────┴───────────┴───────────┴───────────┘
    """
    function = "polars_l2.report"
    spec = arguments.parse(
        actual,
        predicted,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        function=function,
        reserved=RESERVED,
    )
    options.check(
        function,
        confidence=confidence,
        top_share=top_share,
        min_n=min_n,
        overall=overall,
        variance=variance,
    )
    data = frames.coerce(frame, function=function)
    result = report_query(
        data.frame,
        spec,
        confidence=confidence,
        top_share=top_share,
        min_n=min_n,
        overall=overall,
        variance=variance,
    )
    return data.result(result)


def report_query(
    frame: pl.DataFrame | pl.LazyFrame,
    spec: arguments.Spec,
    *,
    confidence: float,
    top_share: bool = True,
    min_n: int = 30,
    overall: bool = False,
    variance: Variance = "hc1",
    function: str = "polars_l2.report",
) -> pl.LazyFrame:
    """Return the report of `frame` for a checked column spec, lazily.

    The body of :func:`report` for callers that hold a
    :class:`~polars_l2._core.arguments.Spec` already (the command line).
    """
    resolved = arguments.resolve(frame, spec, function=function, allow_vectors=True)
    vector = resolved.vector
    if vector:
        # One row per output, with the output number as the last key.
        resolved = per_output.rows_per_output(resolved, function=function)
    internal = resolved.spec
    # Vector columns: the output number is the last key, kept by the overall
    # rows (one per output, as without keys).
    kept = tuple(internal.by[-1:]) if vector else ()
    # report_rows.build() sorts the rows: the moments need not be sorted first.
    rows = moments.long_moments(resolved.frame, internal, sort=False)
    histograms = pooled = None
    if top_share:
        # The moments feed the report and pick the segments to bin: cached,
        # they are computed once (they are small: one row per segment).
        rows = rows.cache()
        # Unweighted, only the segments too large for the moments' exact
        # share are binned; the overall rows then bin every row by model
        # (and kept key).
        histograms = top_share_.histogram(resolved.frame, internal, large=rows)
        if overall and len(internal.by) > len(kept) and not internal.weighted:
            pooled = top_share_.histogram(resolved.frame, replace(internal, by=kept))
    result = report_rows.build(
        rows,
        histograms,
        keys=list(internal.by),
        weighted=internal.weighted,
        confidence=confidence,
        min_n=min_n,
        overall=overall,
        kept=kept,
        empty=moments.no_rows(resolved.frame, internal, kept),
        variance=variance,
        pooled=pooled,
    )
    return result.select(
        resolved.model_column(),
        *(pl.col(key).alias(name) for key, name in resolved.key_names()),
        pl.all().exclude("model", *internal.by),
    )

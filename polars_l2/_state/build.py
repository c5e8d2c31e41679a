"""Build a state: one query reduces a frame to one row per model and segment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

from polars_l2._core import arguments, frames, moments, options, per_output
from polars_l2._core import elementary as _murphy
from polars_l2._core import keys as keys_
from polars_l2._core import losses as losses_
from polars_l2._core import top_share as top_share_
from polars_l2._docs import fill
from polars_l2._frame_kind import same_kind
from polars_l2._state.schema import RESERVED, STATE_VERSION
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import ArrowStreamExportable, Loss, NanPolicy


@same_kind
@fill
def state(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    nan_policy: NanPolicy = "propagate",
    baseline: str | None = None,
    loss: Loss | Sequence[Loss] = "squared",
    huber_delta: float | None = None,
    top_share: bool = True,
    murphy: Literal["mean", "median"] | None = None,
    thetas: int | Sequence[float] | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """Reduce a frame to its metric state: one row per model and segment.

    The state holds what every column of :func:`polars_l2.report` needs,
    ``top_1pct_share``'s histogram included, and with `baseline` what
    :func:`polars_l2.compare` needs; see :mod:`polars_l2.state` for its
    columns.
    It is built by one query of plain per-group aggregations, which the
    streaming engine runs natively, in bounded memory.

    Parameters
    ----------
    frame
        The data: a DataFrame or a LazyFrame, or any other table
        :func:`polars_l2.report` takes (Arrow, pandas, DuckDB...).
    actual
        Name of the column of observed values (numeric or Boolean), or a
        vector (Array or List) column, as in :func:`polars_l2.report`: each
        output is then a segment of its own, numbered in an ``output`` key.
    predicted
        Name of the column of predictions, or a list of names, one per model.
    by
        Name(s) of the column(s) that define the segments, or None for one
        state row per model. The state keeps their dtypes (see
        :mod:`polars_l2.state`).
    weight
        Name of a column of non-negative sample weights, or None.
    %(nan_policy)s
    baseline
        One of `predicted`, or None: each other model then also keeps its
        paired moments against it, which :func:`polars_l2.compare` needs.
        Only these pairs are kept, never every pair of models, so the state
        grows linearly with the number of models.
    loss, huber_delta
        With `baseline`: the losses whose paired moments are kept, as in
        :func:`polars_l2.compare` (``"squared"``, the default,
        ``"absolute"``, ``"huber"`` with its `huber_delta`, or a sequence of
        them); :func:`polars_l2.compare` of the state takes any of them.
        States built with different losses are not merged.
    top_share
        Keep the histogram of the squared errors that ``top_1pct_share``
        needs (default); False leaves it null, and the share null. The
        histogram reads the data again, which a LazyFrame that computes
        columns cannot do in bounded memory on the streaming engine: see
        the Notes of :func:`polars_l2.report`.
    murphy
        ``"mean"`` or ``"median"``: also keep each model's Murphy diagram
        for that functional (and with `baseline`, the paired differences),
        which :func:`polars_l2.murphy` reads; None (default) leaves the
        ``murphy_*`` columns null.
    thetas
        The θ grid of `murphy`: a strictly increasing sequence of finite
        numbers, or a number of points (default 100) to choose from the
        data, as :func:`polars_l2.murphy` does (one more query). States
        merge only with the same grid: give the grid when several states
        will be merged.

    Returns
    -------
    DataFrame or LazyFrame
        A LazyFrame for a LazyFrame, else a DataFrame, with the schema of
        :func:`state_schema`.
        Rows come in the order of `predicted`, then sorted by the keys (in
        their own dtype, nulls last).

    Raises
    ------
    L2InputError
        Before any data is read, if a column is missing or has a dtype the
        metrics cannot use; the message names the column, its dtype and the
        columns that exist. Also for a bad argument, as
        :func:`polars_l2.report`.

    See Also
    --------
    merge_states : Combine states.
    finalize : Turn a state into the report.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and
           a pairwise algorithm for computing sample variances", Stanford
           technical report STAN-CS-79-773, 1979 (the centred moments
           kept in the state).
    .. [2] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations",
           *The American Statistician* 37(3), 242-247, 1983.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 4.0], "yhat": [1.5, 2.0, 3.0]})
    >>> polars_l2.state(df, "y", "yhat").select("model", "n", "error_mean", "error_m2")
    shape: (1, 4)
    ┌───────┬─────┬────────────┬──────────┐
    │ model ┆ n   ┆ error_mean ┆ error_m2 │
    │ ---   ┆ --- ┆ ---        ┆ ---      │
    │ str   ┆ i64 ┆ f64        ┆ f64      │
    ╞═══════╪═════╪════════════╪══════════╡
    │ yhat  ┆ 3   ┆ -0.166667  ┆ 1.166667 │
    └───────┴─────┴────────────┴──────────┘
    """
    function = "polars_l2.state"
    spec = arguments.parse(
        actual,
        predicted,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        function=function,
        reserved=RESERVED,
    )
    options.check(function, top_share=top_share, murphy=murphy, thetas=thetas)
    losses = losses_.parse(loss, huber_delta, function=function)
    data = frames.coerce(frame, function=function)
    result = state_query(
        data.frame,
        spec,
        function=function,
        baseline=baseline,
        losses=losses,
        top_share=top_share,
        murphy=murphy,
        thetas=thetas,
    )
    return data.result(result)


def state_query(
    frame: pl.DataFrame | pl.LazyFrame,
    spec: arguments.Spec,
    *,
    function: str = "polars_l2.state",
    baseline: str | None = None,
    losses: losses_.Losses = losses_.SQUARED,
    top_share: bool = True,
    murphy: str | None = None,
    thetas: int | Sequence[float] | None = None,
) -> pl.LazyFrame:
    """Return the state of `frame` for a checked column spec, lazily.

    The body of :func:`state` for callers that hold a
    :class:`~polars_l2._core.arguments.Spec` already (Ray, Spark, the command
    line).
    """
    resolved = arguments.resolve(frame, spec, function=function, allow_vectors=True)
    vector = resolved.vector
    if murphy is not None and vector:
        msg = (
            f"{function}: a Murphy diagram takes scalar targets, not vectors "
            "(Array or List columns; vector targets: polars_l2.report, compare, "
            "state, loss, sse, mse and rmse)"
        )
        raise L2InputError(msg)
    if vector:
        # One row per output, with the output number as the last key, exactly
        # as in the report.
        resolved = per_output.rows_per_output(resolved, function=function)
    internal = resolved.spec
    position = _baseline_position(spec, baseline, function=function)
    long = moments.long_moments(
        resolved.frame,
        internal,
        baseline=position,
        baseline_name=baseline,
        losses=losses,
    )
    group = [moments.ORDER, *internal.by]
    if top_share:
        histograms = top_share_.histogram(resolved.frame, internal)
        packed = top_share_.pack(histograms, group)
        long = long.join(
            packed, on=group, how="left", nulls_equal=True, maintain_order="left"
        )
        # A segment without a counted row has an empty histogram, not none.
        empty = pl.lit([], top_share_.HISTOGRAM_DTYPE)
        histogram = pl.col(top_share_.HISTOGRAM).fill_null(empty)
    else:
        histogram = pl.lit(None, top_share_.HISTOGRAM_DTYPE)
    murphy_columns = _murphy.absent()
    if murphy is not None:
        grid = _murphy.grid(resolved.frame, internal, murphy, thetas, function=function)
        curves = _murphy.rows(resolved.frame, internal, grid, position)
        long = long.join(
            curves, on=group, how="left", nulls_equal=True, maintain_order="left"
        )
        murphy_columns = [pl.col(name) for name in _murphy.COLUMNS]
    return long.select(
        pl.lit(STATE_VERSION, pl.Int64).alias("state_version"),
        pl.lit(spec.actual, pl.String).alias("actual"),
        resolved.model_column(),
        *(
            keys_.canonical(key, internal.schema[key]).alias(name)
            for key, name in resolved.key_names()
        ),
        pl.lit(spec.weight, pl.String).alias("weight"),
        pl.lit(internal.weighted).alias("weighted"),
        pl.lit(spec.nan_policy, pl.String).alias("nan_policy"),
        pl.lit(vector).alias("per_output"),
        *moments.MOMENTS,
        histogram.alias(top_share_.HISTOGRAM),
        *murphy_columns,
    )


def _baseline_position(
    spec: arguments.Spec, baseline: object, *, function: str
) -> int | None:
    """Return the baseline's position among the predicted columns, or None."""
    if baseline is None:
        return None
    if not isinstance(baseline, str) or baseline not in spec.predicted:
        msg = (
            f"{function}: baseline must be None or one of the predicted columns "
            f"{list(spec.predicted)}, got {baseline!r}"
        )
        raise L2InputError(msg)
    return spec.predicted.index(baseline)

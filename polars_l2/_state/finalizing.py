"""Finalize a state: the report's columns from its merged moments and histograms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import arguments, frames, moments, options, report_rows
from polars_l2._core import top_share as top_share_
from polars_l2._frame_kind import same_kind
from polars_l2._state.checks import check_dtypes, check_version, key_columns, load
from polars_l2._state.merging import check_weighted
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from polars_l2.typing import ArrowStreamExportable, Variance


@same_kind
def finalize(
    state: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    *,
    confidence: float = 0.95,
    weighted: bool | None = None,
    min_n: int = 30,
    overall: bool = False,
    variance: Variance = "hc1",
) -> pl.DataFrame | pl.LazyFrame:
    """Turn a (merged) state into the evaluation report.

    Gives the columns of :func:`polars_l2.report`, in the state's row order,
    with the keys in the report's dtypes (Categorical and Enum keys as
    String; see :mod:`polars_l2.state`). Every column is computed from the
    merged moments by the same formula as the report computes it from the
    whole data (one registry,
    ``polars_l2._core.metrics.REGISTRY``), equal up to rounding: R² of a
    constant target, an infinite error and a zero weight give the same
    values here. That includes ``rmse_low`` and ``rmse_high``, whose
    interval uses only the count, the weight sums and the mean and centred
    second moment of the squared errors, all of which merge exactly, and
    ``top_1pct_share``, from the merged histogram (null where a state was
    built with ``top_share=False``).

    Parameters
    ----------
    state
        A state from :func:`state` or :func:`merge_states`: a DataFrame or a
        LazyFrame, or an Arrow table of one (any table
        :func:`polars_l2.report` takes).
    confidence
        Level of the RMSE confidence interval, strictly between 0 and 1.
    weighted
        Whether the state is of weighted data, whose report has the
        ``weight_sum`` column and weighted formulas. None (default) reads it
        from the state's ``weighted`` column (for a LazyFrame, by collecting
        that column); True or False must agree with that column.
    min_n, overall, variance
        As in :func:`polars_l2.report`: the effective size below which a
        row is ``small``, whether to add each model's overall row, and the
        variance of a mean in the intervals.

    Returns
    -------
    DataFrame or LazyFrame
        A LazyFrame for a LazyFrame, else a DataFrame.

    Raises
    ------
    L2InputError
        If `state` is not a state, mixes weighted and unweighted rows, or was
        written by a newer polars-l2; if `confidence` is not strictly between
        0 and 1, or `weighted` is not True, False or None, or disagrees with
        the state's ``weighted`` column.

    References
    ----------
    .. [1] L. Kish, *Survey Sampling*, Wiley, 1965 (the effective sample
           size of the RMSE interval).
    .. [2] G. W. Oehlert, "A note on the delta method", *The American
           Statistician* 46(1), 27-29, 1992 (the interval on the log scale).

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 4.0], "yhat": [1.5, 2.0, 3.0]})
    >>> polars_l2.finalize(polars_l2.state(df, "y", "yhat")).select(
    ...     "model", "n", "mse", "mae", "bias", "r2"
    ... )
    shape: (1, 6)
    ┌───────┬─────┬──────────┬─────┬───────────┬──────────┐
    │ model ┆ n   ┆ mse      ┆ mae ┆ bias      ┆ r2       │
    │ ---   ┆ --- ┆ ---      ┆ --- ┆ ---       ┆ ---      │
    │ str   ┆ i64 ┆ f64      ┆ f64 ┆ f64       ┆ f64      │
    ╞═══════╪═════╪══════════╪═════╪═══════════╪══════════╡
    │ yhat  ┆ 3   ┆ 0.416667 ┆ 0.5 ┆ -0.166667 ┆ 0.732143 │
    └───────┴─────┴──────────┴─────┴───────────┴──────────┘
    """
    function = "polars_l2.finalize"
    data = frames.coerce(state, function=function, role="state")
    frame = data.frame
    options.check(
        function,
        confidence=confidence,
        weighted=weighted,
        min_n=min_n,
        overall=overall,
        variance=variance,
    )
    schema = frame.collect_schema()
    if isinstance(frame, pl.DataFrame):
        # A state at hand is small: check every value, and go on with the
        # checked state, its columns in their dtypes (a column of nulls from
        # pandas is typed by its name).
        frame = load(frame, function=function)
        found = check_weighted(frame, function=function)
    else:
        check_dtypes(schema, function=function, label="")
        if "state_version" in schema:
            versions = frame.select("state_version").collect()
            check_version(versions, schema.names(), None, function=function)
        key_columns(schema.names(), function=function)
        # One Boolean per row of a state, which is small: read even where
        # `weighted` is given, which it must agree with.
        found = check_weighted(frame.select("weighted").collect(), function=function)
    keys = key_columns(schema.names(), function=function)
    if weighted is None:
        weighted = bool(found)
    elif found is not None and weighted != found:
        # The formulas follow `weighted`: an unweighted report of a weighted
        # state would give wrong intervals and top shares, not only lose its
        # weight_sum column.
        msg = (
            f"{function}: weighted={weighted} but the state was built "
            f"{'with' if found else 'without'} a weight; leave weighted=None "
            "to read it from the state"
        )
        raise L2InputError(msg)
    rows, bins, inner = _internal_rows(frame.lazy(), keys)
    # A state of vector columns numbers the outputs in its last key: each
    # output keeps its own overall row, as in the report.
    per_output = keys and bool(
        frame.lazy().select(pl.col("per_output").any()).collect().item()
    )
    result = report_rows.build(
        rows,
        bins,
        keys=inner,
        weighted=weighted,
        confidence=confidence,
        min_n=min_n,
        overall=overall,
        kept=tuple(inner[-1:]) if per_output else (),
        variance=variance,
    )
    return data.result(result.rename(dict(zip(inner, keys, strict=True))))


def _internal_rows(
    state: pl.LazyFrame, keys: list[str]
) -> tuple[pl.LazyFrame, pl.LazyFrame, list[str]]:
    """Return a checked state's moment rows and histogram bins for the report.

    Also the internal names the keys take in both, in the order of `keys`.
    """
    # Internal key names: a key may be named like a pattern or a moment.
    longest = max((len(key) for key in keys), default=0)
    inner: list[str] = [f"_l2_key{'_' * longest}{i}" for i in range(len(keys))]
    histogram = top_share_.HISTOGRAM
    rows = state.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(moments.ORDER),
        pl.col("model"),
        *(
            arguments.column(key).alias(name)
            for key, name in zip(keys, inner, strict=True)
        ),
        *moments.MOMENTS,
        pl.col(histogram),
        pl.col(histogram).is_not_null().alias(report_rows.KNOWN),
    )
    # Each model's position: its first row.
    rows = rows.with_columns(pl.col(moments.ORDER).min().over("model"))
    bins = top_share_.unpack(
        rows, [pl.col(moments.ORDER), *(pl.col(name) for name in inner)]
    )
    return rows.drop(histogram), bins, inner

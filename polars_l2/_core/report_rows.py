"""From per-segment moments to the report: overall rows, top share, metrics.

One home for what :func:`polars_l2.report` (moments from the data) and
:func:`polars_l2.finalize` (moments from a merged state) do after the moments:

- the **overall row** of each model merges its segments' moments with the
  state's own merge (:func:`polars_l2._core.moments.merge_aggregations`) and
  adds their histograms, so it equals the report of all rows without keys, up
  to rounding, on every path;
- the **top-1% share** walks each segment's histogram
  (:mod:`polars_l2._core.top_share`);
- every metric comes from the registry (:mod:`polars_l2._core.metrics`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import metrics, moments, top_share
from polars_l2._core.moments import ORDER

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import Variance

#: Where the caller says, per row, whether its histogram is known (a state
#: built without it has none): the overall row's share is then unknown too.
KNOWN = "_l2_histogram_known"
_TOP = "_l2_top"


def merged_segments(
    rows: pl.LazyFrame,
    keys: list[str],
    kept: Sequence[str] = (),
    *,
    empty: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Return one row per model, :data:`ORDER`, merging the moments of its rows.

    The keys are null, in their dtypes, except the `kept` ones (the output
    number of vector columns: each output has its overall row, as each has
    its rows without keys). ``model`` and :data:`KNOWN` (when present) are
    carried along. `empty` holds each model's moments of no rows (``ORDER``,
    ``model`` and the moments, the kept keys included): merged in, they
    change nothing, and give a model without rows its overall row, as the
    report without keys gives it.
    """
    schema = rows.collect_schema()
    carried = [pl.col("model").first()]
    if KNOWN in schema:
        carried.append(pl.col(KNOWN).all())
    if empty is not None:
        have = empty.collect_schema().names()
        fill = [pl.lit(None, schema[key]).alias(key) for key in keys if key not in have]
        if KNOWN in schema:
            fill.append(pl.lit(value=True).alias(KNOWN))
        rows = pl.concat(
            [rows, empty.with_columns(fill).select(schema.names())],
            how="vertical_relaxed",
        )
    merged = rows.group_by(ORDER, *kept).agg(*carried, *moments.merge_aggregations())
    return merged.with_columns(
        pl.lit(None, schema[key]).alias(key) for key in keys if key not in kept
    )


def with_overall(
    segments: pl.LazyFrame,
    pooled: pl.LazyFrame | None,
    keys: list[str],
    kept: Sequence[str] = (),
) -> pl.LazyFrame:
    """Return the segment rows, then the `pooled` rows, flagged in ``overall``.

    The one rule of overall rows for the report and the comparison: a
    model's overall rows (from :func:`merged_segments`, one per `kept` key)
    come after its segments; without `pooled`, a row is overall where every
    key is kept (no `by` keys). Rows in the models' order, then
    segments sorted by key (nulls last), the overall rows last.
    """
    grouped = [key for key in keys if key not in kept]
    if pooled is None:
        both = segments.with_columns(pl.lit(not grouped).alias("overall"))
    else:
        columns = segments.collect_schema().names()
        both = pl.concat(
            [
                segments.with_columns(pl.lit(value=False).alias("overall")),
                pooled.with_columns(pl.lit(value=True).alias("overall")).select(
                    *columns, "overall"
                ),
            ],
            how="vertical_relaxed",
        )
    return both.sort([ORDER, "overall", *keys], nulls_last=True, maintain_order=True)


def build(
    rows: pl.LazyFrame,
    histograms: pl.LazyFrame | None,
    *,
    keys: list[str],
    weighted: bool,
    confidence: float,
    min_n: int,
    overall: bool,
    kept: tuple[str, ...] = (),
    empty: pl.LazyFrame | None = None,
    variance: Variance = "hc1",
    pooled: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Return the report's rows: each model's segments, then its overall row.

    Parameters
    ----------
    rows
        One row per model and segment: :data:`ORDER` (Int64, the model's
        position), ``model``, the `keys` (internal names), the state's
        moments, and optionally :data:`KNOWN`.
    histograms
        The bins of every row (:func:`polars_l2._core.top_share.histogram`
        or ``unpack``), keyed by :data:`ORDER` and `keys`; None for no
        top-1% share. Unweighted, the bins of segments of at most
        :data:`~polars_l2._core.top_share.EXACT_UP_TO` rows may be left
        out: their share comes from the moments.
    keys, weighted, confidence, min_n
        The segment keys, whether weighted, the intervals' level, and the
        effective size below which a row is ``small``.
    overall
        Whether to add each model's overall row (with keys only).
    kept, empty
        The keys an overall row keeps (the output number of vector columns:
        one overall row per output), and each model's moments of no rows,
        so that a model without rows has its overall row
        (:func:`merged_segments`).
    variance
        The variance of a mean in the intervals
        (:func:`polars_l2._core.metrics.mean_variance`).
    pooled
        Each model's bins over all its rows (:data:`ORDER` and the bins), for
        the overall rows; None adds up `histograms`, which must then hold
        every segment's bins.

    Returns
    -------
    LazyFrame
        ``model``, the keys, ``overall`` and the report's columns; rows in
        the models' order, segments sorted by key (nulls last), the overall
        row last. Without keys, each model's one row is its overall row.
    """
    group = [ORDER, *keys]
    segments = rows
    if histograms is not None:
        shares = top_share.walk(histograms, group, weighted=weighted, name=_TOP)
        segments = segments.join(
            shares, on=group, how="left", nulls_equal=True, coalesce=True
        )
    pooled_by = [ORDER, *kept]
    pooled_rows = None
    if len(keys) > len(kept) and overall:
        pooled_rows = merged_segments(rows, keys, kept, empty=empty)
        if histograms is not None:
            if pooled is None:
                pooled = top_share.merge(histograms, pooled_by, ordered=True)
            shares = top_share.walk(pooled, pooled_by, weighted=weighted, name=_TOP)
            pooled_rows = pooled_rows.join(
                shares, on=pooled_by, how="left", nulls_equal=True, coalesce=True
            )
    both = with_overall(segments, pooled_rows, keys, kept)
    share = None
    if histograms is not None:
        share = {bound: pl.col(_TOP + bound) for bound in top_share.BOUNDS}
        if not weighted:
            # Small segments: exact from the moments, both bounds alike.
            share = {
                bound: top_share.share(
                    pl.col("n"),
                    pl.col("sq_error_mean"),
                    pl.col("abs_error_max"),
                    value,
                )
                for bound, value in share.items()
            }
        if KNOWN in rows.collect_schema():
            share = {k: pl.when(pl.col(KNOWN)).then(v) for k, v in share.items()}
    metric_columns = metrics.report_columns(
        weighted=weighted,
        confidence=confidence,
        min_n=min_n,
        top_share=share,
        sse_total=metrics.total_sse([*pooled_by, "overall"]),
        variance=variance,
    )
    return both.select("model", *keys, "overall", *metric_columns)

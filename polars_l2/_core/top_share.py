"""The share of SSE in the largest 1% of squared errors, from a histogram."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core.columns import counted

if TYPE_CHECKING:
    from polars_l2._core.columns import Spec

#: The share of the rows (of the weight, when weighted) whose errors
#: `top_share` measures.
TOP_FRACTION = 0.01

#: Bits of a Float64 below the bin index: 52 keeps the sign and exponent,
#: so each bin of the squared errors spans one power of two.
_BIN_SHIFT = 52


def top_share(frame: pl.LazyFrame, spec: Spec, model: str, name: str) -> pl.LazyFrame:
    """Per segment, the share of SSE in the largest 1% of squared errors.

    The largest 1% is counted by weight, the boundary row fractionally: the
    squared errors that make up the top :data:`TOP_FRACTION` of the rows (of
    the weight) once sorted. The squared errors are binned by power of two
    (each bin keeps its weight, sum, minimum and maximum) with plain
    aggregations, then the bins are walked from the top. Bins wholly inside
    the top 1% count exactly; the one bin that straddles the boundary
    contributes the midpoint of the range its weight, sum, minimum and
    maximum allow. That range is zero, and the share exact, when the bin's
    values are equal or, unweighted, when the boundary falls inside its
    largest row, as it does for every segment of at most 100 rows.
    """
    e, w, _ = counted(spec, model)
    keys = list(spec.by)
    x = e.pow(2)
    bins = frame.select(
        *keys, x.alias("_x"), (pl.lit(1.0) if w is None else w).alias("_w")
    ).filter(pl.col("_x").is_not_null())
    bin_index = (pl.col("_x").reinterpret(dtype=pl.Int64) // (1 << _BIN_SHIFT)).alias(
        "_bin"
    )
    mass = pl.col("_w").sum() if w is not None else pl.len().cast(pl.Float64)
    histogram = bins.group_by(*keys, bin_index).agg(
        mass.alias("_mass"),
        (pl.col("_w") * pl.col("_x")).sum().alias("_sum"),
        pl.col("_x").min().alias("_lo"),
        pl.col("_x").max().alias("_hi"),
    )
    descending = [False] * len(keys) + [True]
    histogram = histogram.sort([*keys, "_bin"], descending=descending, nulls_last=True)

    def per_segment(expr: pl.Expr) -> pl.Expr:
        return expr.over(keys) if keys else expr

    m, s, lo, hi = pl.col("_mass"), pl.col("_sum"), pl.col("_lo"), pl.col("_hi")
    above = per_segment(m.cum_sum()) - m
    target = TOP_FRACTION * per_segment(m.sum())
    rem = (target - above).clip(0.0, m)
    rest = m - rem
    if w is None:
        # Each row has weight one: the largest row is in the top part and
        # the smallest in the rest.
        lower = pl.max_horizontal(
            rem * s / m,
            pl.min_horizontal(rem, 1.0) * hi + (rem - 1).clip(lower_bound=0) * lo,
            s - pl.min_horizontal(rest, 1.0) * lo - (rest - 1).clip(lower_bound=0) * hi,
        )
    else:
        lower = pl.max_horizontal(rem * lo, s - rest * hi, rem * s / m)
    upper = pl.min_horizontal(rem * hi, s - rest * lo)
    part = (
        pl.when(rem >= m)
        .then(s)
        .when(rem <= 0)
        .then(0.0)
        .otherwise((lower + upper) / 2)
    )
    walked = histogram.with_columns(
        part.alias("_part"), per_segment(s.sum()).alias("_total")
    )
    summary = [pl.col("_part").sum().alias("_top"), pl.col("_total").first()]
    shares = walked.group_by(keys).agg(summary) if keys else walked.select(summary)
    total = pl.col("_total")
    # Equal errors are the case of no concentration; all-zero errors too.
    share = (
        pl.when(total == 0)
        .then(TOP_FRACTION)
        .otherwise(pl.col("_top") / total)
        .alias(name)
    )
    return shares.select(*keys, share)

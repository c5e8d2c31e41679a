"""Per loss, candidate and segment, then overall: the paired means and their SE.

From :class:`~polars_l2._compare.rows.Paired` moments to one row per loss,
candidate and segment (then the candidate's overall rows, from the
report's own rule, :func:`polars_l2._core.report_rows.with_overall`), with
the mean losses, their difference, and its standard error and degrees of
freedom (:data:`SE`, :data:`DF`) for Student's t
(:mod:`polars_l2._compare.paired_test`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._compare.rows import CLUSTER, CLUSTER_SUM, CLUSTER_WEIGHT
from polars_l2._core import losses as losses_
from polars_l2._core import metrics, report_rows
from polars_l2._core.moments import ORDER

if TYPE_CHECKING:
    from polars_l2._compare.rows import Paired
    from polars_l2.typing import Variance

#: The standard error of the mean difference, and its degrees of freedom.
SE, DF = "_l2_se", "_l2_df"

#: The loss's position among those asked, to sort the blocks by.
LOSS_ORDER = "_l2_loss"

_MEAN, _BASE, _DIFF, _M2, _W2M2 = (
    "_l2_mean",
    "_l2_base",
    "_l2_diff",
    "_l2_m2",
    "_l2_w2m2",
)
_VARIANCE = "_l2_var"


def table(
    paired: Paired, losses: losses_.Losses, *, min_n: int, variance: Variance
) -> pl.LazyFrame:
    """Return one row per loss, candidate and segment, then overall, with SE and DF.

    Columns: ``model``, ``baseline``, the internal keys, ``loss``,
    ``overall``, ``n``, ``clusters`` (with clusters), ``small``, the mean
    losses, ``loss_diff``, ``skill``, :data:`SE` and :data:`DF`.
    """
    keys, kept, rows = paired.keys, paired.kept, paired.rows
    grouped = [key for key in keys if key not in kept]
    pooled = None
    if grouped:
        pooled = report_rows.merged_segments(rows, keys, kept, empty=paired.empty)
    elif not keys and paired.empty is not None:
        # Clustered rows come per cluster: none without rows, unless merged
        # with the moments of no rows (then, as without clusters, one).
        rows = report_rows.merged_segments(rows, [], empty=paired.empty).select(
            rows.collect_schema().names()
        )
    both = report_rows.with_overall(rows, pooled, keys, kept)
    long = pl.concat(
        [_loss_rows(both, keys, i, name) for i, name in enumerate(losses.names)],
        how="vertical_relaxed",
    )
    if paired.clusters is not None:
        variances = _cluster_variances(paired.clusters, keys, kept, variance)
        long = long.join(
            variances,
            on=[ORDER, "loss", *keys, "overall"],
            how="left",
            nulls_equal=True,
        )
    return long.sort(
        [LOSS_ORDER, ORDER, "overall", *keys], nulls_last=True, maintain_order=True
    ).select(
        "model",
        "baseline",
        *keys,
        "loss",
        "overall",
        pl.col("paired_n").fill_null(0).alias("n"),
        *([pl.col("clusters").fill_null(0)] if paired.clusters is not None else []),
        *_columns(
            clustered=paired.clusters is not None, min_n=min_n, variance=variance
        ),
    )


def _loss_rows(
    rows: pl.LazyFrame, keys: list[str], position: int, name: str
) -> pl.LazyFrame:
    """Return the rows with one loss's paired moments under common names."""
    stem = losses_.STEMS[name]
    return rows.select(
        ORDER,
        "model",
        "baseline",
        *keys,
        "overall",
        pl.lit(position).alias(LOSS_ORDER),
        pl.lit(name).alias("loss"),
        "paired_n",
        "paired_negative_weight_count",
        "paired_weight_sum",
        "paired_weight_sq_ratio",
        pl.col(f"paired_{stem}_mean").alias(_MEAN),
        pl.col(f"paired_baseline_{stem}_mean").alias(_BASE),
        pl.col(f"{stem}_diff_mean").alias(_DIFF),
        pl.col(f"{stem}_diff_m2").alias(_M2),
        pl.col(f"{stem}_diff_w2m2").alias(_W2M2),
    )


def _columns(*, clustered: bool, min_n: int, variance: Variance) -> list[pl.Expr]:
    """Return ``small``, the means, their difference, ``skill``, SE and DF."""
    n, total = pl.col("paired_n"), pl.col("paired_weight_sum")
    squares = pl.col("paired_weight_sq_ratio")
    valid = metrics.weights_valid(total, pl.col("paired_negative_weight_count"))
    if clustered:
        se = pl.col(_VARIANCE).sqrt()
        df = (pl.col("clusters") - 1).cast(pl.Float64)
    else:
        se = metrics.mean_variance(
            variance,
            m2=pl.col(_M2),
            w2m2=pl.col(_W2M2),
            n=n,
            weight_sum=total,
            weight_sq_ratio=squares,
        ).sqrt()
        df = metrics.degrees_of_freedom(variance, n, total, squares)
    mean, base = pl.col(_MEAN), pl.col(_BASE)
    return [
        metrics.small(n, total, squares, min_n).alias("small"),
        pl.when(valid).then(mean).alias("mean_loss"),
        pl.when(valid).then(base).alias("mean_loss_baseline"),
        pl.when(valid).then(pl.col(_DIFF)).alias("loss_diff"),
        pl.when(valid & (base != 0)).then(1 - mean / base).alias("skill"),
        pl.when(valid).then(se).alias(SE),
        pl.when(valid).then(df).alias(DF),
    ]


def _cluster_variances(
    sums: pl.LazyFrame, keys: list[str], kept: list[str], variance: Variance
) -> pl.LazyFrame:
    """Per loss, candidate and segment, then overall: the cluster-robust variance."""
    segments = _cluster_variance(sums, [ORDER, "loss", *keys], variance)
    grouped = [key for key in keys if key not in kept]
    if not grouped:
        return segments.with_columns(pl.lit(value=True).alias("overall"))
    totals = sums.group_by(ORDER, "loss", *kept, CLUSTER).agg(
        pl.col(CLUSTER_WEIGHT).sum(), pl.col(CLUSTER_SUM).sum()
    )
    overall = _cluster_variance(totals, [ORDER, "loss", *kept], variance).with_columns(
        pl.lit(value=True).alias("overall"),
        *(pl.lit(None, pl.Null).alias(key) for key in grouped),
    )
    return pl.concat(
        [
            segments.with_columns(pl.lit(value=False).alias("overall")),
            overall.select(*segments.collect_schema().names(), "overall"),
        ],
        how="vertical_relaxed",
    )


def _cluster_variance(
    sums: pl.LazyFrame, group: list[str], variance: Variance
) -> pl.LazyFrame:
    r"""Per `group`: clusters, and the cluster-robust variance of the mean.

    :math:`c \sum_g (S_g - W_g \bar d)^2 / W^2` with :math:`c = G/(G-1)`
    (``variance="hc1"``, statsmodels' default correction) or 1 (``"hc0"``).
    """
    w, s = pl.col(CLUSTER_WEIGHT), pl.col(CLUSTER_SUM)
    total, mean = w.sum(), s.sum() / w.sum()
    g = pl.len()
    # Each term over W before squaring: W^2 may overflow where the
    # variance does not.
    score = ((s - w * mean) / total).pow(2).sum()
    factor = g / (g - 1) if variance == "hc1" else pl.lit(1.0)
    return sums.group_by(group).agg(
        g.cast(pl.Int64).alias("clusters"),
        pl.when(g >= 2).then(factor * score).alias(_VARIANCE),
    )

"""The report's metrics, computed from the per-segment moments."""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl

#: The report's metric columns after ``model``, the keys, ``n`` and ``weight_sum``.
METRICS = (
    "sse",
    "mse",
    "rmse",
    "rmse_low",
    "rmse_high",
    "mae",
    "bias",
    "r2",
    "max_error",
    "top_1pct_share",
)


def z_score(confidence: float) -> float:
    """Return the two-sided standard normal quantile of a confidence level."""
    if not (isinstance(confidence, float | int) and 0 < confidence < 1):
        msg = f"confidence must be strictly between 0 and 1, got {confidence!r}"
        raise ValueError(msg)
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def report_columns(
    *, weighted: bool, confidence: float, top_share: pl.Expr | None
) -> list[pl.Expr]:
    """Return the report's columns after the keys, from the state's moments.

    `top_share` gives ``top_1pct_share``; None gives null (a merged state
    cannot give it).
    """
    z = z_score(confidence)
    n = pl.col("n")
    total = pl.col("weight_sum")
    # No counted row, counted weights summing to zero, or a negative weight:
    # every weighted metric is null, as in the core functions.
    ok = (pl.col("negative_weight_count") == 0) & (total > 0)
    mse = pl.when(ok).then(pl.col("sq_error_mean"))
    sse = mse * total
    rmse = mse.sqrt()
    effective_n = total.pow(2) / pl.col("weight_sq_sum")
    se = pl.when((n >= 2) & (effective_n > 1)).then(
        (pl.col("sq_error_m2") / total / (effective_n - 1)).sqrt()
    )
    half_width = z * se / (2 * mse)
    low = pl.when(mse == 0).then(0.0).otherwise(rmse * (-half_width).exp())
    high = pl.when(mse == 0).then(0.0).otherwise(rmse * half_width.exp())
    # Negating a zero mean would print as -0.0.
    error_mean = pl.col("error_mean")
    bias = pl.when(error_mean == 0).then(0.0).otherwise(-error_mean)
    sst = pl.col("actual_m2")
    r2 = (
        pl.when(ok.not_() | (n < 2))
        .then(None)
        .when(sst.is_nan() | sse.is_nan())
        .then(math.nan)
        .when(sst > 0)
        .then(1 - sse / sst)
        .when(sse == 0)
        .then(1.0)
        .otherwise(0.0)
    )
    share = (
        pl.lit(None, pl.Float64) if top_share is None else pl.when(ok).then(top_share)
    )
    columns = [n]
    if weighted:
        columns.append(total)
    metrics = {
        "sse": sse,
        "mse": mse,
        "rmse": rmse,
        "rmse_low": pl.when(se.is_not_null()).then(low),
        "rmse_high": pl.when(se.is_not_null()).then(high),
        "mae": pl.when(ok).then(pl.col("abs_error_sum") / total),
        "bias": pl.when(ok).then(bias),
        "r2": r2,
        "max_error": pl.col("abs_error_max"),
        "top_1pct_share": share,
    }
    columns += [expr.cast(pl.Float64).alias(name) for name, expr in metrics.items()]
    return columns

"""Independent per-segment references for the report's columns.

scikit-learn for MSE, RMSE, MAE and R²; numpy for everything else, each
written from the definition in :func:`polars_l2.report`'s documentation, one
segment at a time, without Polars expressions.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    root_mean_squared_error,
)

TOP = 0.01


def top_share(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Exact top-1% share (boundary row fractional) and the histogram's bound.

    The bound is the largest error :func:`polars_l2.report` allows itself:
    half of 1% of the weight times the width of the power-of-two bin that
    holds the boundary value, over SSE.
    """
    order = np.argsort(-x, kind="stable")
    xs, ws = x[order], w[order]
    target = TOP * ws.sum()
    total = float(np.sum(ws * xs))
    top, above, boundary = 0.0, 0.0, xs[0]
    for value, weight in zip(xs, ws, strict=True):
        if above >= target:
            break
        take = min(weight, target - above)
        if take > 0:
            top += take * value
            boundary = value
        above += weight
    if total == 0:
        return TOP, 0.0
    width = 2.0 ** math.floor(math.log2(boundary)) if boundary > 0 else 0.0
    return top / total, TOP * ws.sum() * width / 2 / total


def segment(
    y: np.ndarray,
    p: np.ndarray,
    w: np.ndarray | None,
    *,
    confidence: float,
    variance: str = "hc1",
) -> dict[str, Any]:
    """Return the reference metrics of one model on one segment's counted rows.

    The intervals' variance of a weighted mean is, by `variance`, the
    sandwich n/(n-1) sum w^2 (v - m)^2 / W^2 ("hc1"), without the factor
    ("hc0"), or Kish's (sum w (v - m)^2 / W) / (n_eff - 1) ("kish").
    """
    n = len(y)
    weights = np.ones(n) if w is None else w
    row: dict[str, Any] = {"n": n}
    if w is not None:
        row["weight_sum"] = float(weights.sum()) if n else 0.0
    names = [
        "sse",
        "mse",
        "mse_low",
        "mse_high",
        "rmse",
        "rmse_low",
        "rmse_high",
        "mae",
        "mae_low",
        "mae_high",
        "bias",
        "bias_low",
        "bias_high",
        "r2",
        "max_error",
        "top_1pct_share",
    ]
    row.update(dict.fromkeys(names))
    if n == 0 or weights.sum() <= 0 or (weights < 0).any():
        if n:
            row["max_error"] = float(np.max(np.abs(y - p)))
        return row
    sample_weight = None if w is None else weights
    e = y - p
    x = e**2
    mse = mean_squared_error(y, p, sample_weight=sample_weight)
    row["sse"] = float(np.sum(weights * x))
    row["mse"] = mse
    row["rmse"] = root_mean_squared_error(y, p, sample_weight=sample_weight)
    if n >= 2:
        row.update(_intervals(e, weights, confidence=confidence, variance=variance))
    if n >= 2:
        row["r2"] = r2_score(y, p, sample_weight=sample_weight)
    row["mae"] = mean_absolute_error(y, p, sample_weight=sample_weight)
    row["bias"] = float(np.average(p - y, weights=weights))
    row["max_error"] = float(np.max(np.abs(e)))
    row["top_1pct_share"], row["_top_bound"] = top_share(x, weights)
    return row


def _intervals(
    e: np.ndarray, weights: np.ndarray, *, confidence: float, variance: str
) -> dict[str, float]:
    """Return the intervals of MSE, RMSE, MAE and bias from the errors `e`.

    MSE, RMSE and MAE are never negative: their intervals are the delta
    method on their logs, mean * exp(+-z se / mean) ([0, 0] for a mean of
    0); the bias's is the plain mean +- z se. Empty where Kish's effective
    size is 1 or less.
    """
    n, total = len(e), weights.sum()
    effective = total**2 / np.sum(weights**2)
    if variance == "kish" and effective <= 1:
        return {}

    def standard_error(values: np.ndarray) -> float:
        mean = np.sum(weights * values) / total
        if variance == "kish":
            spread = np.sum(weights * (values - mean) ** 2) / total
            return math.sqrt(spread / (effective - 1))
        factor = n / (n - 1) if variance == "hc1" else 1.0
        return math.sqrt(factor * np.sum((weights / total) ** 2 * (values - mean) ** 2))

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    mse = np.sum(weights * e**2) / total
    half = z * standard_error(e**2) / (2 * mse) if mse > 0 else 0.0
    row = {
        "rmse_low": math.sqrt(mse) * math.exp(-half),
        "rmse_high": math.sqrt(mse) * math.exp(half) if half < 700 else math.inf,
    }
    row["mse_low"], row["mse_high"] = row["rmse_low"] ** 2, row["rmse_high"] ** 2
    mae = np.sum(weights * np.abs(e)) / total
    ratio = z * standard_error(np.abs(e)) / mae if mae > 0 else 0.0
    row["mae_low"] = mae * math.exp(-ratio)
    row["mae_high"] = mae * math.exp(ratio) if ratio < 700 else math.inf
    bias = np.sum(weights * -e) / total
    half_width = z * standard_error(-e)
    row["bias_low"], row["bias_high"] = bias - half_width, bias + half_width
    return row


def reference_report(
    df: pl.DataFrame,
    actual: str,
    predicted: list[str],
    *,
    by: list[str],
    weight: str | None = None,
    confidence: float = 0.95,
    variance: str = "hc1",
) -> pl.DataFrame:
    """Return the report, one segment and model at a time, from numpy arrays."""
    keys = df.select(by).unique().sort(by, nulls_last=True) if by else None
    rows = []
    for model in predicted:
        segments = [{}] if keys is None else keys.iter_rows(named=True)
        for key in segments:
            part = df
            for name, value in key.items():
                cond = (
                    pl.col(name).is_null() if value is None else pl.col(name) == value
                )
                part = part.filter(cond)
            needed = [actual, model] + ([weight] if weight else [])
            part = part.drop_nulls(needed)
            y = part[actual].cast(pl.Float64).to_numpy()
            p = part[model].cast(pl.Float64).to_numpy()
            w = None if weight is None else part[weight].cast(pl.Float64).to_numpy()
            rows.append(
                {
                    "model": model,
                    **key,
                    **segment(y, p, w, confidence=confidence, variance=variance),
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)

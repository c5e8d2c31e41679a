r"""The per-segment moments behind the report and the state: build, merge, finish.

One source of truth for :func:`polars_l2.report`, :func:`polars_l2.state`,
:func:`polars_l2.merge_states` and :func:`polars_l2.finalize`:

- :func:`aggregations` turns the rows of one model into the state's moments
  with plain per-group aggregations of element-wise expressions (``sum``,
  ``mean``, ``var``, ``cov``, ``max``), the forms the streaming engine runs
  natively and fast. No aggregation nests another (``y - y.mean()`` inside
  ``agg`` is an order of magnitude slower and falls back to the in-memory
  engine); centred second moments come from Polars' own stable ``var`` and
  ``cov``, never from raw sums of squares (the one exception, a weighted
  state's ``error_m2``, feeds no metric; see :mod:`polars_l2.state`).
- :func:`merge_aggregations` combines states with Chan et al.'s pairwise
  formula, generalised to any number of parts.
- :func:`report_columns` turns (merged) moments into the report's metrics.
- :func:`top_share` is the report's one metric that is not a moment: the
  share of SSE in the largest 1% of squared errors, from a histogram of the
  squared errors by power of two.

Weighted centred moments use the identity
:math:`\sum_i w_i (y_i - \bar y_w)^2 = n\,[\mathrm{cov}(wy, y) - \bar y_w\,
\mathrm{cov}(w, y)]` (population covariances), which Polars evaluates with
its centred, mergeable covariance: its rounding error grows like machine
epsilon times :math:`|\bar y|/s_y`, the same as Polars' unweighted ``var``,
where raw sums of squares grow like its square.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

import polars as pl

from polars_l2 import _inputs

if TYPE_CHECKING:
    from polars_l2._frames import Spec

#: The state's moment columns, in order, with their dtypes.
MOMENTS: dict[str, pl.DataType] = {
    "n": pl.Int64(),
    "negative_weight_count": pl.Int64(),
    "weight_sum": pl.Float64(),
    "weight_sq_sum": pl.Float64(),
    "error_mean": pl.Float64(),
    "error_m2": pl.Float64(),
    "sq_error_mean": pl.Float64(),
    "sq_error_m2": pl.Float64(),
    "actual_mean": pl.Float64(),
    "actual_m2": pl.Float64(),
    "abs_error_sum": pl.Float64(),
    "abs_error_max": pl.Float64(),
}

#: (mean, centred second moment) pairs, each weighted by ``weight_sum``.
CENTRED = (
    ("error_mean", "error_m2"),
    ("sq_error_mean", "sq_error_m2"),
    ("actual_mean", "actual_m2"),
)

#: Moments that merge by summing.
SUMMED = ("n", "negative_weight_count", "weight_sum", "weight_sq_sum", "abs_error_sum")

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

#: The share of the rows (of the weight, when weighted) whose errors
#: `top_share` measures.
TOP_FRACTION = 0.01

#: Bits of a Float64 below the bin index: 52 keeps the sign and exponent,
#: so each bin of the squared errors spans one power of two.
_BIN_SHIFT = 52


def _f64(name: str, dtype: pl.DataType, spec: Spec) -> pl.Expr:
    expr = _inputs.to_float64(pl.col(name), dtype)
    return expr.fill_nan(None) if spec.nan_policy == "omit" else expr


def _counted(spec: Spec, model: str) -> tuple[pl.Expr, pl.Expr | None, pl.Expr]:
    """Return the error, weight and actual of one model's counted rows.

    A row counts only where the actual, the model's prediction and the
    weight are all present; elsewhere all three are null, so every
    aggregation sees the same rows.
    """
    schema = spec.schema
    error = _inputs.difference(
        pl.col(spec.actual),
        schema[spec.actual],
        pl.col(model),
        schema[model],
        nan_policy=spec.nan_policy,
        metric="report",
    )
    actual = _f64(spec.actual, schema[spec.actual], spec)
    if spec.weight is None:
        return error, None, pl.when(error.is_not_null()).then(actual)
    weight = _f64(spec.weight, schema[spec.weight], spec)
    valid = error.is_not_null() & weight.is_not_null()
    return (
        pl.when(valid).then(error),
        pl.when(valid).then(weight),
        pl.when(valid).then(actual),
    )


def aggregations(spec: Spec, model: str, prefix: str) -> list[pl.Expr]:
    """Per-group aggregations of one model's rows, named ``prefix + name``.

    :func:`state_columns` turns them into the state's moments.
    """
    e, w, y = _counted(spec, model)
    x = e.pow(2)
    names: dict[str, pl.Expr]
    if w is None:
        names = {
            "n": e.count(),
            "e_mean": e.mean(),
            "e_var": e.var(ddof=0),
            "x_var": x.var(ddof=0),
            "abs_sum": e.abs().sum(),
            "abs_max": e.abs().nan_max(),
            "y_mean": y.mean(),
            "y_var": y.var(ddof=0),
        }
    else:
        # The second moments leave out rows of zero weight: they add nothing
        # to the sum, but a huge value there (a row "removed" by weight 0)
        # would swamp the covariances the moments are computed from.
        weighted = w != 0
        wp, ep, xp, yp = (pl.when(weighted).then(v) for v in (w, e, x, y))
        names = {
            "n": e.count(),
            "n_weighted": ep.count(),
            "neg": (w < 0).sum(),
            "w_sum": w.sum(),
            "w_sq_sum": w.pow(2).sum(),
            "we_sum": (w * e).sum(),
            "wx_sum": (w * x).sum(),
            "cov_wxx": pl.cov(wp * xp, xp, ddof=0),
            "cov_wx": pl.cov(wp, xp, ddof=0),
            "abs_sum": (w * e.abs()).sum(),
            "abs_max": e.abs().nan_max(),
            "wy_sum": (w * y).sum(),
            "cov_wyy": pl.cov(wp * yp, yp, ddof=0),
            "cov_wy": pl.cov(wp, yp, ddof=0),
        }
    return [expr.alias(prefix + name) for name, expr in names.items()]


#: Relative size, against the terms that cancel, below which a weighted
#: second moment is rounding noise (about 45 units in the last place).
_CANCELLED = 1e-14


def _m2(n: pl.Expr, cov_w_vv: pl.Expr, mean: pl.Expr, cov_w_v: pl.Expr) -> pl.Expr:
    # n * [cov(wv, v) - mean_w * cov(w, v)] = sum w (v - mean_w)^2. Where the
    # two terms cancel to rounding noise the true value is zero (a constant
    # column, or all weight on one value): say so exactly, or R² of a
    # constant target would be -1e16 instead of its documented value.
    first, second = cov_w_vv, mean * cov_w_v
    difference = first - second
    noise = _CANCELLED * (first.abs() + second.abs())
    m2 = pl.when(difference.abs() <= noise).then(0.0).otherwise(n * difference)
    return m2.clip(lower_bound=0.0).fill_null(0.0)


def state_columns(spec: Spec, prefix: str) -> list[pl.Expr]:
    """Expressions for the state's moments from :func:`aggregations`' columns."""

    def col(name: str) -> pl.Expr:
        return pl.col(prefix + name)

    n = col("n").cast(pl.Int64)
    nf = col("n").cast(pl.Float64)
    if spec.weight is None:
        columns = {
            "n": n,
            "negative_weight_count": pl.lit(0, pl.Int64),
            "weight_sum": nf,
            "weight_sq_sum": nf,
            "error_mean": col("e_mean"),
            "error_m2": (col("e_var") * nf).fill_null(0.0),
            "sq_error_mean": col("e_mean").pow(2) + col("e_var"),
            "sq_error_m2": (col("x_var") * nf).fill_null(0.0),
            "actual_mean": col("y_mean"),
            "actual_m2": (col("y_var") * nf).fill_null(0.0),
            "abs_error_sum": col("abs_sum"),
            "abs_error_max": col("abs_max"),
        }
    else:
        total = col("w_sum")
        some = total != 0
        e_mean = pl.when(some).then(col("we_sum") / total)
        nw = col("n_weighted").cast(pl.Float64)
        x_mean = pl.when(some).then(col("wx_sum") / total)
        # Not needed by any metric, so not worth two more covariances: the
        # spread of the errors from their mean and mean square. It loses
        # digits only where the bias dwarfs the spread of the errors.
        e_m2 = (total * (x_mean - e_mean.pow(2))).clip(lower_bound=0.0).fill_null(0.0)
        y_mean = pl.when(some).then(col("wy_sum") / total)
        columns = {
            "n": n,
            "negative_weight_count": col("neg").cast(pl.Int64),
            "weight_sum": total,
            "weight_sq_sum": col("w_sq_sum"),
            "error_mean": e_mean,
            "error_m2": e_m2,
            "sq_error_mean": x_mean,
            "sq_error_m2": _m2(nw, col("cov_wxx"), x_mean, col("cov_wx")),
            "actual_mean": y_mean,
            "actual_m2": _m2(nw, col("cov_wyy"), y_mean, col("cov_wy")),
            "abs_error_sum": col("abs_sum"),
            "abs_error_max": col("abs_max"),
        }
    return [expr.cast(MOMENTS[name]).alias(name) for name, expr in columns.items()]


def merge_aggregations() -> list[pl.Expr]:
    r"""Return the aggregations that merge states grouped by model and keys.

    Chan et al.'s pairwise update, for any number of parts at once: with
    :math:`W = \sum_i W_i` and :math:`\bar m = \sum_i W_i m_i / W`,
    :math:`M_2 = \sum_i M_{2,i} + \sum_i W_i (m_i - \bar m)^2`. Every term
    is non-negative, so nothing cancels. A part with no weight (no rows) has
    a null mean and adds nothing.
    """
    total = pl.col("weight_sum")
    exprs = [pl.col(name).sum().alias(name) for name in SUMMED]
    for mean_name, m2_name in CENTRED:
        mean = pl.col(mean_name)
        has = mean.is_not_null()
        weight = pl.when(has).then(total)
        raw = (weight * mean).sum() / weight.sum()
        lowest, highest = mean.min(), mean.max()
        # A weighted mean lies between the parts' means; holding it there
        # (and exactly on them when they agree) keeps a constant column's
        # spread exactly zero, so a constant target is recognised as one.
        merged = (
            pl.when(has.any().not_())
            .then(None)
            .when(raw.is_nan())
            .then(raw)
            .when(lowest == highest)
            .then(lowest)
            .otherwise(raw.clip(lowest, highest))
        )
        spread = (weight * (mean - merged).pow(2)).sum()
        exprs.append(merged.alias(mean_name))
        exprs.append((pl.col(m2_name).sum() + spread).alias(m2_name))
    exprs.append(pl.col("abs_error_max").nan_max().alias("abs_error_max"))
    return exprs


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
    e, w, _ = _counted(spec, model)
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

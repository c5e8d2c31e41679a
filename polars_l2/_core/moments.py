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
- :func:`long_moments` is the one query behind :func:`polars_l2.report` and
  :func:`polars_l2.state`: every model's moments from one ``group_by().agg()``
  over the data (one wide row per segment, all models side by side), so the
  data is scanned once however many models there are; the wide row is then
  turned long, one row per model and segment.

The metrics are computed from the moments in :mod:`polars_l2._core.metrics`;
the top-1% share, the one metric that is not a moment, in
:mod:`polars_l2._core.top_share`.

Weighted centred moments use the identity
:math:`\sum_i w_i (y_i - \bar y_w)^2 = n\,[\mathrm{cov}(wy, y) - \bar y_w\,
\mathrm{cov}(w, y)]` (population covariances), which Polars evaluates with
its centred, mergeable covariance: its rounding error grows like machine
epsilon times :math:`|\bar y|/s_y`, the same as Polars' unweighted ``var``,
where raw sums of squares grow like its square.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import top_share
from polars_l2._core.columns import counted

if TYPE_CHECKING:
    from polars_l2._core.columns import Spec

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
    "actual_min": pl.Float64(),
    "actual_max": pl.Float64(),
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

#: Moments that merge by their minimum, and by their maximum.
LOWEST = ("actual_min",)
HIGHEST = ("actual_max",)


def aggregations(spec: Spec, model: str, prefix: str) -> list[pl.Expr]:
    """Per-group aggregations of one model's rows, named ``prefix + name``.

    :func:`state_columns` turns them into the state's moments.
    """
    e, w, y = counted(spec, model)
    x = e.pow(2)
    names: dict[str, pl.Expr]
    if w is None:
        names = {
            "n": e.count(),
            "e_mean": e.mean(),
            "e_var": e.var(ddof=0),
            # The MSE is the mean of the squares, never mean² + variance: an
            # infinite error gives inf, as in polars_l2.mse, not NaN.
            "x_mean": x.mean(),
            "x_var": x.var(ddof=0),
            "abs_sum": e.abs().sum(),
            "abs_max": e.abs().nan_max(),
            "y_mean": y.mean(),
            "y_var": y.var(ddof=0),
            "y_min": y.min(),
            "y_max": y.max(),
        }
    else:
        # counted() has left out the rows of zero weight: 0 * inf would be NaN.
        names = {
            "n": e.count(),
            "neg": (w < 0).sum(),
            "w_sum": w.sum(),
            "w_sq_sum": w.pow(2).sum(),
            "we_sum": (w * e).sum(),
            "wx_sum": (w * x).sum(),
            "cov_wxx": pl.cov(w * x, x, ddof=0),
            "cov_wx": pl.cov(w, x, ddof=0),
            "abs_sum": (w * e.abs()).sum(),
            "abs_max": e.abs().nan_max(),
            "wy_sum": (w * y).sum(),
            "cov_wyy": pl.cov(w * y, y, ddof=0),
            "cov_wy": pl.cov(w, y, ddof=0),
            "y_min": y.min(),
            "y_max": y.max(),
        }
    return [expr.alias(prefix + name) for name, expr in names.items()]


def _m2(n: pl.Expr, cov_w_vv: pl.Expr, mean: pl.Expr, cov_w_v: pl.Expr) -> pl.Expr:
    # n * [cov(wv, v) - mean_w * cov(w, v)] = sum w (v - mean_w)^2; rounding
    # can take it below zero, never the true value.
    return (n * (cov_w_vv - mean * cov_w_v)).clip(lower_bound=0.0).fill_null(0.0)


def _negated(value: pl.Expr) -> pl.Expr:
    """Return -value, with 0.0 for zero (negating it would print -0.0)."""
    return pl.when(value == 0).then(0.0).otherwise(-value)


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
            "error_mean": _negated(col("e_mean")),
            "error_m2": (col("e_var") * nf).fill_null(0.0),
            "sq_error_mean": col("x_mean"),
            "sq_error_m2": (col("x_var") * nf).fill_null(0.0),
            "actual_mean": col("y_mean"),
            "actual_m2": (col("y_var") * nf).fill_null(0.0),
            "actual_min": col("y_min"),
            "actual_max": col("y_max"),
            "abs_error_sum": col("abs_sum"),
            "abs_error_max": col("abs_max"),
        }
    else:
        total = col("w_sum")
        some = total != 0
        e_mean = pl.when(some).then(col("we_sum") / total)
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
            "error_mean": _negated(e_mean),
            "error_m2": e_m2,
            "sq_error_mean": x_mean,
            "sq_error_m2": _m2(nf, col("cov_wxx"), x_mean, col("cov_wx")),
            "actual_mean": y_mean,
            "actual_m2": _m2(nf, col("cov_wyy"), y_mean, col("cov_wy")),
            "actual_min": col("y_min"),
            "actual_max": col("y_max"),
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
    exprs += [pl.col(name).min().alias(name) for name in LOWEST]
    exprs += [pl.col(name).max().alias(name) for name in HIGHEST]
    # NaN errors propagate into the maximum, as they do in the state.
    exprs.append(pl.col("abs_error_max").nan_max().alias("abs_error_max"))
    return exprs


_MODEL = "_l2_model_"
_ORDER = "_l2_order"
_TOP = "_l2_top_"


def long_moments(
    frame: pl.DataFrame | pl.LazyFrame, spec: Spec, *, with_top_share: bool
) -> pl.LazyFrame:
    """One row per model and segment: ``model``, the keys, the state's moments.

    With `with_top_share`, a ``_l2_top`` column holds the top-1% share.
    """
    keys = list(spec.by)
    # The top-1% share's group-bys read the data again rather than share one
    # scan: Polars' multiplexer, which a shared scan (``cache()``) needs,
    # buffers every row a slower consumer has not taken yet, and the
    # histograms are slower than the moments, so memory grew with the data
    # (1.1 GB for 30 million rows, against 0.2 GB reading it again).
    source = frame.lazy()
    prefixes = [f"{_MODEL}{i}_" for i in range(len(spec.predicted))]
    aggs = [
        agg
        for model, prefix in zip(spec.predicted, prefixes, strict=True)
        for agg in aggregations(spec, model, prefix)
    ]
    wide = source.group_by(keys).agg(aggs) if keys else source.select(aggs)
    if with_top_share:
        for i, model in enumerate(spec.predicted):
            shares = top_share.top_share(source, spec, model, f"{_TOP}{i}")
            if keys:
                wide = wide.join(
                    shares, on=keys, how="left", nulls_equal=True, coalesce=True
                )
            else:
                wide = pl.concat([wide, shares], how="horizontal")
    structs = []
    for i, prefix in enumerate(prefixes):
        fields = state_columns(spec, prefix)
        if with_top_share:
            fields.append(pl.col(f"{_TOP}{i}").alias("_l2_top"))
        structs.append(pl.struct(fields).alias(f"{_MODEL}{i}"))
    long = wide.select(*keys, *structs).unpivot(
        on=[f"{_MODEL}{i}" for i in range(len(prefixes))],
        index=keys,
        variable_name=_ORDER,
        value_name="_l2_moments",
    )
    # when/then chains, not replace_strict, which the streaming engine runs
    # in memory.
    order: pl.Expr = pl.lit(None, pl.Int64)
    model_name: pl.Expr = pl.lit(None, pl.String)
    for i, name in reversed(list(enumerate(spec.predicted))):
        is_model = pl.col(_ORDER) == f"{_MODEL}{i}"
        order = pl.when(is_model).then(pl.lit(i, pl.Int64)).otherwise(order)
        model_name = (
            pl.when(pl.col(_ORDER) == i).then(pl.lit(name)).otherwise(model_name)
        )
    return (
        long.with_columns(order.alias(_ORDER))
        .sort([_ORDER, *keys], nulls_last=True)
        .select(model_name.alias("model"), *keys, pl.col("_l2_moments"))
        .unnest("_l2_moments")
    )

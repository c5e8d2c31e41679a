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
- :func:`long_moments` is the one query behind :func:`polars_l2.report`,
  :func:`polars_l2.state` and :func:`polars_l2.compare`: every model's moments
  (and, with a baseline, the paired moments of each other model against it)
  from one ``group_by().agg()`` over the data (one wide row per segment, all
  models side by side), so the data is scanned once however many models
  there are; the wide row is then turned long, one row per model and segment.

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

import dataclasses
from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import losses as losses_
from polars_l2._core.arguments import as_float64, counted, counted_rows
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from polars_l2._core.arguments import Spec

#: The paired losses' stems (:data:`polars_l2._core.losses.STEMS`), in order.
_STEMS = tuple(losses_.STEMS.values())


def _paired_loss_moments() -> dict[str, pl.DataType]:
    """Per loss: both models' mean loss, and the difference's moments."""
    columns: dict[str, pl.DataType] = {}
    for stem in _STEMS:
        for name in (
            f"paired_{stem}_mean",
            f"paired_baseline_{stem}_mean",
            f"{stem}_diff_mean",
            f"{stem}_diff_m2",
            f"{stem}_diff_w2m2",
            f"{stem}_diff_w2m1",
        ):
            columns[name] = pl.Float64()
    return columns


#: The state's moment columns, in order, with their dtypes.
MOMENTS: dict[str, pl.DataType] = {
    "n": pl.Int64(),
    "negative_weight_count": pl.Int64(),
    "weight_sum": pl.Float64(),
    "weight_sq_ratio": pl.Float64(),
    "error_mean": pl.Float64(),
    "error_m2": pl.Float64(),
    "sq_error_mean": pl.Float64(),
    "sq_error_m2": pl.Float64(),
    "actual_mean": pl.Float64(),
    "actual_m2": pl.Float64(),
    "actual_min": pl.Float64(),
    "actual_max": pl.Float64(),
    "abs_error_sum": pl.Float64(),
    "abs_error_m2": pl.Float64(),
    "abs_error_max": pl.Float64(),
    # The sandwich moments of the means of e, e^2 and |e| (see SANDWICH):
    # what the heteroscedasticity-robust variance of each mean needs.
    "error_w2m2": pl.Float64(),
    "error_w2m1": pl.Float64(),
    "sq_error_w2m2": pl.Float64(),
    "sq_error_w2m1": pl.Float64(),
    "abs_error_w2m2": pl.Float64(),
    "abs_error_w2m1": pl.Float64(),
    # The paired moments of a candidate against the baseline named when the
    # state was built (null without one, and on the baseline's own rows):
    # the rows where the actual, both predictions and the weight count, and
    # there, for each loss L kept (paired_losses; Huber's delta), the mean
    # loss of both models and the moments of the difference
    # d = L(e_candidate) - L(e_baseline). Losses not kept are null.
    "baseline": pl.String(),
    "paired_losses": pl.String(),
    "huber_delta": pl.Float64(),
    "paired_n": pl.Int64(),
    "paired_negative_weight_count": pl.Int64(),
    "paired_weight_sum": pl.Float64(),
    "paired_weight_sq_ratio": pl.Float64(),
    **_paired_loss_moments(),
}

#: The moments only a state built with a baseline holds.
PAIRED = tuple(list(MOMENTS)[list(MOMENTS).index("baseline") :])

#: What a state built with a baseline records on every row, the baseline's
#: own included: the baseline's name, the losses kept and Huber's delta.
PAIRING = ("baseline", "paired_losses", "huber_delta")

#: (mean, centred second moment or None, weight) triples: each mean merges
#: weighted by its weight column, each second moment by Chan's formula.
#: ``abs_error_m2``'s mean is ``abs_error_sum / weight_sum``.
CENTRED: tuple[tuple[str, str | None, str], ...] = (
    ("weight_sq_ratio", None, "weight_sum"),
    ("paired_weight_sq_ratio", None, "paired_weight_sum"),
    ("error_mean", "error_m2", "weight_sum"),
    ("sq_error_mean", "sq_error_m2", "weight_sum"),
    ("actual_mean", "actual_m2", "weight_sum"),
    *(
        triple
        for stem in _STEMS
        for triple in (
            (f"paired_{stem}_mean", None, "paired_weight_sum"),
            (f"paired_baseline_{stem}_mean", None, "paired_weight_sum"),
            (f"{stem}_diff_mean", f"{stem}_diff_m2", "paired_weight_sum"),
        )
    ),
)

#: The sandwich moments of a weighted mean :math:`m = \sum w v / W`:
#: ``w2m2`` is :math:`\sum w^2 (v - m)^2 / W^2` (the HC0 variance of the
#: mean) and ``w2m1`` is :math:`\sum w^2 (v - m) / W^2`, which the merge
#: needs. Both are free of the weights' scale. (mean, w2m2, w2m1, weight
#: sum, weight square sum); ``abs_error``'s mean is ``abs_error_sum /
#: weight_sum``.
SANDWICH: tuple[tuple[str, str, str, str, str], ...] = (
    ("error_mean", "error_w2m2", "error_w2m1", "weight_sum", "weight_sq_ratio"),
    (
        "sq_error_mean",
        "sq_error_w2m2",
        "sq_error_w2m1",
        "weight_sum",
        "weight_sq_ratio",
    ),
    (
        "abs_error_sum",
        "abs_error_w2m2",
        "abs_error_w2m1",
        "weight_sum",
        "weight_sq_ratio",
    ),
    *(
        (
            f"{stem}_diff_mean",
            f"{stem}_diff_w2m2",
            f"{stem}_diff_w2m1",
            "paired_weight_sum",
            "paired_weight_sq_ratio",
        )
        for stem in _STEMS
    ),
)

#: Moments that merge by summing.
SUMMED = (
    "n",
    "negative_weight_count",
    "weight_sum",
    "abs_error_sum",
    "paired_n",
    "paired_negative_weight_count",
    "paired_weight_sum",
)

#: Moments that merge by their minimum, and by their maximum.
LOWEST = ("actual_min",)
HIGHEST = ("actual_max",)


def aggregations(
    spec: Spec, model: str, prefix: str, *, rows: bool = True
) -> list[pl.Expr]:
    """Per-group aggregations of one model's rows, named ``prefix + name``.

    :func:`state_columns` turns them into the state's moments. Without
    `rows`, the moments of which rows count (:func:`_row_moments`) are left
    to another model that counts the same rows.
    """
    return _aggregations_of(*counted(spec, model), prefix, rows=rows)


def _aggregations_of(
    e: pl.Expr, w: pl.Expr | None, y: pl.Expr, prefix: str, *, rows: bool = True
) -> list[pl.Expr]:
    """:func:`aggregations` of a counted error, weight and actual.

    Without `rows`, the aggregations of the rows alone (:func:`_row_moments`)
    are left out: another model's give them.
    """
    named = _error_moments(e, w) | (_row_moments(e, w, y) if rows else {})
    return [expr.alias(prefix + name) for name, expr in named.items()]


def _error_moments(e: pl.Expr, w: pl.Expr | None) -> dict[str, pl.Expr]:
    """Return the aggregations of a model's counted error."""
    x = e.pow(2)
    if w is None:
        return {
            "e_mean": e.mean(),
            "e_var": e.var(ddof=0),
            # The MSE is the mean of the squares, never mean² + variance: an
            # infinite error gives inf, as in polars_l2.mse, not NaN.
            "x_mean": x.mean(),
            "x_var": x.var(ddof=0),
            "abs_sum": e.abs().sum(),
            "abs_var": e.abs().var(ddof=0),
            "abs_max": e.abs().nan_max(),
        }
    # counted() has left out the rows of zero weight: 0 * inf would be NaN.
    return {
        **_weighted("e", e, w, "we_sum"),
        **_weighted("x", x, w, "wx_sum"),
        **_weighted("a", e.abs(), w, "abs_sum"),
        "abs_max": e.abs().nan_max(),
    }


def _row_moments(e: pl.Expr, w: pl.Expr | None, y: pl.Expr) -> dict[str, pl.Expr]:
    """Return the aggregations of which rows count: the count, weights, actual.

    They depend on the model only through its counted rows, so models that
    count the same rows (:func:`polars_l2._core.arguments.same_rows`) share
    them.
    """
    if w is None:
        return {
            "n": e.count(),
            "y_mean": y.mean(),
            "y_var": y.var(ddof=0),
            "y_min": y.min(),
            "y_max": y.max(),
        }
    return {
        "n": e.count(),
        "neg": (w < 0).sum(),
        "w_sum": w.sum(),
        **_square_sums(w, "w_sq"),
        **_scaled_weights("w", w),
        "wy_sum": (w * y).sum(),
        "cov_wyy": pl.cov(w * y, y, ddof=0),
        "cov_wy": pl.cov(w, y, ddof=0),
        "y_min": y.min(),
        "y_max": y.max(),
    }


#: The bounds of the weights' classes (:func:`_weight_class`): powers of two.
_BOUNDS = (2.0**-768, 2.0**-256, 2.0**256, 2.0**768)


def _weight_class(w: pl.Expr) -> pl.Expr:
    """Return the class of a weight's magnitude, from -2 to 2.

    Class k holds the weights from about :math:`2^{512k - 256}` to
    :math:`2^{512k + 256}`; scaled by :math:`2^{-512k}` (:func:`_in_range`)
    they lie between :math:`2^{-256}` and :math:`2^{256}`, where their
    squares, times those of the values, stay within Float64. Comparisons
    only: no logarithm per row.
    """
    size = w.abs()
    lowest, low, high, highest = _BOUNDS
    return (
        (size >= high).cast(pl.Int8)
        + (size >= highest).cast(pl.Int8)
        - (size < low).cast(pl.Int8)
        - (size < lowest).cast(pl.Int8)
    )


def _in_range(w: pl.Expr) -> pl.Expr:
    """Return `w` scaled by its class's power of two (exact factors of 2**512)."""
    size = w.abs()
    lowest, low, high, highest = _BOUNDS
    near = pl.when(size >= high).then(2.0**-512).when(size < low).then(2.0**512)
    far = pl.when(size >= highest).then(2.0**-512).when(size < lowest).then(2.0**512)
    return w * near.otherwise(1.0) * far.otherwise(1.0)


def _scaled_weights(prefix: str, w: pl.Expr) -> dict[str, pl.Expr]:
    r"""Return the aggregations of the scaled weights the sandwich moments need.

    The sum and sum of squares of the weights scaled into range
    (:func:`_in_range`),
    and the lowest and highest class: where they differ, the rows of a
    group were scaled differently and its sandwich moments are unknown
    (:func:`_spreads`), which takes weights more than :math:`2^{256}`
    (about 1e77) apart, or straddling :math:`2^{\pm 256}` or
    :math:`2^{\pm 768}`.
    """
    scaled, k = _in_range(w), _weight_class(w)
    return {
        f"{prefix}s_sum": scaled.sum(),
        f"{prefix}s_sq": scaled.pow(2).sum(),
        f"{prefix}_lo": k.min(),
        f"{prefix}_hi": k.max(),
    }


def _weighted(name: str, v: pl.Expr, w: pl.Expr, total: str) -> dict[str, pl.Expr]:
    r"""Return the aggregations of a weighted mean of `v` and its spreads.

    The weighted sum (named `total`), ``cov_w<name><name>`` =
    cov(wv, v) and ``cov_w<name>`` = cov(w, v) for the centred moment, and,
    with the weights scaled into range (:func:`_in_range`), ``sq_w<name>``
    = :math:`\sum (wv)^2` and ``ww_<name>`` = :math:`\sum w^2 v` for the
    sandwich moments.
    """
    wv, scaled = w * v, _in_range(w)
    return {
        total: wv.sum(),
        f"cov_w{name}{name}": pl.cov(wv, v, ddof=0),
        f"cov_w{name}": pl.cov(w, v, ddof=0),
        f"sq_w{name}": (scaled * v).pow(2).sum(),
        f"ww_{name}": (scaled.pow(2) * v).sum(),
    }


def paired_aggregations(
    spec: Spec, model: str, baseline: str, prefix: str, losses: losses_.Losses
) -> list[pl.Expr]:
    """Per-group aggregations of a candidate's rows paired with the baseline's.

    A row is paired where the actual, both predictions and the weight count;
    :func:`paired_columns` turns the aggregations into the paired moments of
    each of `losses`.
    """
    e, w, _ = counted(spec, model)
    return _paired_aggregations_of(e, w, counted(spec, baseline)[0], prefix, losses)


def _paired_aggregations_of(
    e: pl.Expr,
    w: pl.Expr | None,
    e_base: pl.Expr,
    prefix: str,
    losses: losses_.Losses,
) -> list[pl.Expr]:
    """:func:`paired_aggregations` of counted errors and the candidate's weight."""
    both = e.is_not_null() & e_base.is_not_null()
    names: dict[str, pl.Expr] = {"pn": both.sum()}
    wp = None if w is None else pl.when(both).then(w)
    if wp is not None:
        names |= {
            "pneg": (wp < 0).sum(),
            "pw_sum": wp.sum(),
            **_square_sums(wp, "pw_sq"),
            **_scaled_weights("pw", wp),
        }
    for i, name in enumerate(losses.names):
        x = pl.when(both).then(losses.of(name, e))
        x_base = pl.when(both).then(losses.of(name, e_base))
        d = x - x_base
        if wp is None:
            names |= {
                f"px_mean{i}": x.mean(),
                f"pb_mean{i}": x_base.mean(),
                f"d_mean{i}": d.mean(),
                f"d_var{i}": d.var(ddof=0),
            }
        else:
            names |= {
                f"wpx_sum{i}": (wp * x).sum(),
                f"wpb_sum{i}": (wp * x_base).sum(),
                **_weighted(f"d{i}_", d, wp, f"wd_sum{i}"),
            }
    return [expr.alias(prefix + name) for name, expr in names.items()]


def paired_columns(
    spec: Spec,
    prefix: str,
    baseline: str | None,
    losses: losses_.Losses,
    *,
    candidate: bool = True,
) -> list[pl.Expr]:
    """Return the paired moments from :func:`paired_aggregations`' columns.

    `baseline` is the baseline's name (None: no baseline, every paired
    moment null). On the baseline's own rows (not `candidate`), only
    :data:`PAIRING` is set.
    """

    def col(name: str) -> pl.Expr:
        return pl.col(prefix + name)

    columns: dict[str, pl.Expr] = dict.fromkeys(PAIRED, pl.lit(None))
    if baseline is None:
        return _cast(columns)
    columns |= {
        "baseline": pl.lit(baseline),
        "paired_losses": pl.lit(losses.label),
        "huber_delta": pl.lit(losses.huber_delta, pl.Float64),
    }
    if not candidate:
        return _cast(columns)
    n = col("pn").cast(pl.Int64)
    nf = n.cast(pl.Float64)
    if spec.weight is None:
        columns |= {
            "paired_n": n,
            "paired_negative_weight_count": pl.lit(0),
            "paired_weight_sum": nf,
            "paired_weight_sq_ratio": pl.when(n > 0).then(1.0),
        }
    else:
        columns |= {
            "paired_n": n,
            "paired_negative_weight_count": col("pneg"),
            "paired_weight_sum": col("pw_sum"),
            "paired_weight_sq_ratio": _square_ratio(col("pw_sum"), col, "pw_sq"),
        }
    for i, name in enumerate(losses.names):
        stem = losses_.STEMS[name]
        if spec.weight is None:
            mean, base, d_mean = (
                col(f"px_mean{i}"),
                col(f"pb_mean{i}"),
                col(f"d_mean{i}"),
            )
            spreads = _unweighted_spreads(col(f"d_var{i}"), nf)
        else:
            total = col("pw_sum")
            some = total != 0
            mean = pl.when(some).then(col(f"wpx_sum{i}") / total)
            base = pl.when(some).then(col(f"wpb_sum{i}") / total)
            d_mean = pl.when(some).then(col(f"wd_sum{i}") / total)
            spreads = _spreads(col, f"d{i}_", n=nf, mean=d_mean, weights="pw")
        m2, w2m2, w2m1 = spreads
        columns |= {
            f"paired_{stem}_mean": mean,
            f"paired_baseline_{stem}_mean": base,
            f"{stem}_diff_mean": d_mean,
            f"{stem}_diff_m2": m2,
            f"{stem}_diff_w2m2": w2m2,
            f"{stem}_diff_w2m1": w2m1,
        }
    return _cast(columns)


def _cast(columns: dict[str, pl.Expr]) -> list[pl.Expr]:
    return [expr.cast(MOMENTS[name]).alias(name) for name, expr in columns.items()]


#: The powers of two the weights are scaled by before squaring
#: (:func:`_square_sums`): squares of weights from about 1e-300 to 1e300
#: stay within Float64 at one of them.
_SQUARE_SCALES = {"_lo": 2.0**-512, "": 1.0, "_hi": 2.0**512}


def _square_sums(w: pl.Expr, name: str) -> dict[str, pl.Expr]:
    """Return the sums of squared weights scaled by each of :data:`_SQUARE_SCALES`.

    A weight's square overflows beyond about 1e154 and underflows below
    about 1e-154; scaled by an exact power of two first, one of the three
    sums is representable for weights from about 1e-300 to 1e300 (with room
    for 2**60 rows), and :func:`_square_ratio` takes that one. Three plain
    sums, not a division by the group's largest weight: that would nest an
    aggregation, which the streaming engine runs an order of magnitude
    slower.
    """
    return {name + suffix: (w * c).pow(2).sum() for suffix, c in _SQUARE_SCALES.items()}


def _square_ratio(total: pl.Expr, col: Callable[[str], pl.Expr], name: str) -> pl.Expr:
    r"""Return :math:`\sum w^2 / W` from :func:`_square_sums`' columns `name`*.

    The ratio is the weights' own (weighted) mean, of the weights' scale, so
    it merges as a mean and never overflows where the squares would; Kish's
    effective size is :math:`W` over it. Null where the weights sum to 0.
    """
    mid = col(name)
    lo, hi = col(name + "_lo"), col(name + "_hi")
    c_lo, c_hi = _SQUARE_SCALES["_lo"], _SQUARE_SCALES["_hi"]
    # Each step stays in range: lo / W is about c² times a weight.
    ratio = (
        pl.when(mid.is_nan())
        .then(mid)
        .when(mid > 2.0**1000)
        .then(lo / total / c_lo / c_lo)
        .when(mid.abs() < 2.0**-900)
        .then(hi / total / c_hi / c_hi)
        .otherwise(mid / total)
    )
    return pl.when(total != 0).then(ratio)


def _unweighted_spreads(var: pl.Expr, n: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    r"""Return m2, w2m2 and w2m1 of an unweighted mean from its variance (ddof 0).

    With unit weights :math:`\sum (v - m)^2 / n^2 = \mathrm{var}/n` and
    :math:`\sum (v - m) = 0`.
    """
    return (
        (var * n).fill_null(0.0),
        pl.when(n > 0).then(var / n).fill_null(0.0),
        pl.lit(0.0),
    )


def _spreads(
    col: Callable[[str], pl.Expr],
    name: str,
    *,
    n: pl.Expr,
    mean: pl.Expr,
    weights: str,
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    r"""Return m2, w2m2 and w2m1 of a weighted mean from :func:`_weighted`'s columns.

    :math:`\sum w^2 (v - m)^2 = \sum (wv)^2 - 2m \sum w^2 v + m^2 \sum w^2`
    and :math:`\sum w^2 (v - m) = \sum w^2 v - m \sum w^2`, both divided by
    :math:`W^2`: free of the weights' scale, so computed with the weights
    scaled into range (:func:`_scaled_weights`, whose columns begin with
    `weights`), one :math:`W` at a time. Plain sums, the cheapest
    aggregations; their rounding grows like machine epsilon times
    :math:`(m/s)^2`, with :math:`s` the spread of :math:`v`, which only the
    bias's can make large (these moments feed intervals, not the metrics).
    NaN where the rows' weights were scaled differently.
    """
    m2 = _m2(n, col(f"cov_w{name}{name}"), mean, col(f"cov_w{name}"))
    total, squares = col(f"{weights}s_sum"), col(f"{weights}s_sq")
    sq_wv, ww_v = col(f"sq_w{name}"), col(f"ww_{name}")
    square = (sq_wv - 2 * mean * ww_v + mean.pow(2) * squares) / total / total
    linear = (ww_v - mean * squares) / total / total
    one_scale = col(f"{weights}_lo") == col(f"{weights}_hi")
    return (
        m2,
        pl.when(one_scale.not_())
        .then(float("nan"))
        .otherwise(square.clip(lower_bound=0.0).fill_null(0.0)),
        pl.when(one_scale.not_()).then(float("nan")).otherwise(linear.fill_null(0.0)),
    )


def _m2(n: pl.Expr, cov_w_vv: pl.Expr, mean: pl.Expr, cov_w_v: pl.Expr) -> pl.Expr:
    # n * [cov(wv, v) - mean_w * cov(w, v)] = sum w (v - mean_w)^2; rounding
    # can take it below zero, never the true value.
    return (n * (cov_w_vv - mean * cov_w_v)).clip(lower_bound=0.0).fill_null(0.0)


def _negated(value: pl.Expr) -> pl.Expr:
    """Return -value, with 0.0 for zero (negating it would print -0.0)."""
    return pl.when(value == 0).then(0.0).otherwise(-value)


def state_columns(
    spec: Spec, prefix: str, rows_prefix: str | None = None
) -> list[pl.Expr]:
    """Expressions for the state's moments from :func:`aggregations`' columns.

    The row moments (:func:`_row_moments`) are read under `rows_prefix`
    when given: another model's, which counts the same rows.
    """
    col = _reader(spec, prefix, rows_prefix)
    n = col("n").cast(pl.Int64)
    nf = col("n").cast(pl.Float64)
    if spec.weight is None:
        e, x, a = (
            _unweighted_spreads(col(v), nf) for v in ("e_var", "x_var", "abs_var")
        )
        columns = {
            "n": n,
            "negative_weight_count": pl.lit(0, pl.Int64),
            "weight_sum": nf,
            "weight_sq_ratio": pl.when(n > 0).then(1.0),
            "error_mean": _negated(col("e_mean")),
            "sq_error_mean": col("x_mean"),
            "actual_mean": col("y_mean"),
            "actual_m2": (col("y_var") * nf).fill_null(0.0),
            "abs_error_sum": col("abs_sum"),
        }
    else:
        total = col("w_sum")
        some = total != 0
        e_mean = pl.when(some).then(col("we_sum") / total)
        x_mean = pl.when(some).then(col("wx_sum") / total)
        y_mean = pl.when(some).then(col("wy_sum") / total)
        a_mean = pl.when(some).then(col("abs_sum") / total)
        e, x, a = (
            _spreads(col, name, n=nf, mean=mean, weights="w")
            for name, mean in (("e", e_mean), ("x", x_mean), ("a", a_mean))
        )
        columns = {
            "n": n,
            "negative_weight_count": col("neg").cast(pl.Int64),
            "weight_sum": total,
            "weight_sq_ratio": _square_ratio(total, col, "w_sq"),
            "error_mean": _negated(e_mean),
            "sq_error_mean": x_mean,
            "actual_mean": y_mean,
            "actual_m2": _m2(nf, col("cov_wyy"), y_mean, col("cov_wy")),
            "abs_error_sum": col("abs_sum"),
        }
    columns |= {
        "error_m2": e[0],
        "sq_error_m2": x[0],
        "actual_min": col("y_min"),
        "actual_max": col("y_max"),
        "abs_error_m2": a[0],
        "abs_error_max": col("abs_max"),
        "error_w2m2": e[1],
        # The state's error is predicted minus actual, counted()'s the other
        # way round: its linear moment changes sign with it.
        "error_w2m1": _negated(e[2]),
        "sq_error_w2m2": x[1],
        "sq_error_w2m1": x[2],
        "abs_error_w2m2": a[1],
        "abs_error_w2m1": a[2],
    }
    return _cast({name: columns[name] for name in MOMENTS if name not in PAIRED})


def _reader(
    spec: Spec, prefix: str, rows_prefix: str | None
) -> Callable[[str], pl.Expr]:
    """Return the reader of aggregations by name that :func:`state_columns` uses."""
    zero = pl.lit(0.0)
    shared = set(_row_moments(zero, None if spec.weight is None else zero, zero))

    def col(name: str) -> pl.Expr:
        if rows_prefix is not None and name in shared:
            return pl.col(rows_prefix + name)
        return pl.col(prefix + name)

    return col


def merge_aggregations() -> list[pl.Expr]:
    r"""Return the aggregations that merge states grouped by model and keys.

    Chan et al.'s pairwise update, for any number of parts at once: with
    :math:`W = \sum_i W_i` and :math:`\bar m = \sum_i W_i m_i / W`,
    :math:`M_2 = \sum_i M_{2,i} + \sum_i W_i (m_i - \bar m)^2`. Every term
    is non-negative, so nothing cancels. A part with no weight (no rows) has
    a null mean and adds nothing. The sandwich moments merge by
    :func:`_merged_sandwich`. The states must share one baseline and the
    same losses (:func:`check_baselines`).
    """
    exprs = [_sum(name).alias(name) for name in SUMMED]
    merged_means: dict[str, pl.Expr] = {}
    for mean_name, m2_name, weight_name in CENTRED:
        merged, spread = _merged_mean(pl.col(mean_name), pl.col(weight_name))
        merged_means[mean_name] = merged
        exprs.append(merged.alias(mean_name))
        if m2_name is not None:
            exprs.append((_sum(m2_name) + spread).alias(m2_name))
    abs_mean = pl.col("abs_error_sum") / pl.col("weight_sum")
    merged_means["abs_error_sum"], abs_spread = _merged_mean(
        abs_mean, pl.col("weight_sum")
    )
    exprs.append((pl.col("abs_error_m2").sum() + abs_spread).alias("abs_error_m2"))
    for mean_name, w2m2, w2m1, weight, weight_sq in SANDWICH:
        mean = abs_mean if mean_name == "abs_error_sum" else pl.col(mean_name)
        exprs += _merged_sandwich(
            mean, merged_means[mean_name], (w2m2, w2m1, weight, weight_sq)
        )
    exprs += [pl.col(name).min().alias(name) for name in LOWEST]
    exprs += [pl.col(name).max().alias(name) for name in HIGHEST]
    # NaN errors propagate into the maximum, as they do in the state.
    exprs.append(pl.col("abs_error_max").nan_max().alias("abs_error_max"))
    exprs += [pl.col(name).drop_nulls().first().alias(name) for name in PAIRING]
    return exprs


def _merged_sandwich(
    mean: pl.Expr, merged: pl.Expr, names: tuple[str, str, str, str]
) -> list[pl.Expr]:
    r"""Return the merged sandwich moments (see :data:`SANDWICH`) of parts.

    With :math:`S_k = \sum_k w^2 (v - m_k)^2 / W_k^2`, :math:`T_k = \sum_k
    w^2 (v - m_k) / W_k^2`, :math:`P_k = \sum_k w^2 / W_k^2`,
    :math:`r_k = W_k / W` and :math:`\delta_k = m_k - m`, expanding
    :math:`v - m = (v - m_k) + \delta_k` over each part gives
    :math:`S = \sum_k r_k^2 (S_k + 2\delta_k T_k + \delta_k^2 P_k)` and
    :math:`T = \sum_k r_k^2 (T_k + \delta_k P_k)`. Only ratios of weight
    sums enter, so the result is free of the weights' scale. `names`: the
    w2m2, w2m1, weight sum and ``weight_sq_ratio`` columns.
    """
    w2m2, w2m1, weight, weight_sq = names
    total, square_ratio = pl.col(weight), pl.col(weight_sq)
    has = mean.is_not_null() & (total != 0)
    part = pl.when(has).then(total)
    share = (part / part.sum()).pow(2)
    delta = mean - merged
    spread = _squares_share(square_ratio, total)
    s, t = pl.col(w2m2), pl.col(w2m1)
    known = s.is_not_null().any()
    square = (share * (s + 2 * delta * t + delta.pow(2) * spread)).sum()
    linear = (share * (t + delta * spread)).sum()
    return [
        pl.when(known).then(square.clip(lower_bound=0.0)).alias(w2m2),
        pl.when(known).then(linear).alias(w2m1),
    ]


def _squares_share(square_ratio: pl.Expr, total: pl.Expr) -> pl.Expr:
    r"""Return :math:`\sum w^2 / W^2` of a part, from its ``weight_sq_ratio``."""
    return square_ratio / total


def _sum(name: str) -> pl.Expr:
    """Return the sum of a column; a paired moment without a baseline stays null."""
    column = pl.col(name)
    if name in PAIRED:
        return pl.when(column.is_not_null().any()).then(column.sum())
    return column.sum()


#: The powers of two :func:`_weighted_mean` scales the parts' weights by.
_MERGE_SCALES = (2.0**-1000, 1.0, 2.0**1000)


def _weighted_mean(weight: pl.Expr, mean: pl.Expr) -> pl.Expr:
    r"""Return :math:`\sum_k W_k m_k / \sum_k W_k` of the parts, as plain sums.

    A weight sum times a mean of the weights' own scale (``weight_sq_ratio``)
    would overflow from weights of about 1e154 on, and underflow below
    1e-154: where the weights sum beyond :math:`2^{\pm 500}`, they are
    scaled by an exact power of two first. Three plain sums each, which
    the group-by runs on its fast path, where a division by the group's
    largest weight would nest one aggregation in another (benchmark: merging
    states of many segments).
    """
    lo, mid, hi = (
        (weight * scale * mean).sum() / (weight * scale).sum()
        for scale in _MERGE_SCALES
    )
    size = weight.abs().sum()
    return (
        pl.when(size > 2.0**500).then(lo).when(size < 2.0**-500).then(hi).otherwise(mid)
    )


def _merged_mean(mean: pl.Expr, total: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Return the merged mean of parts, and their spread about it."""
    has = mean.is_not_null() & (total != 0)
    weight = pl.when(has).then(total)
    raw = _weighted_mean(weight, mean)
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
    return merged, spread


def check_baselines(stacked: pl.DataFrame, *, function: str) -> None:
    """Raise :class:`L2InputError` if states to merge were paired differently.

    Paired moments of a part built without the baseline (or with another,
    or without a loss the others kept) would be missing from the merge: the
    comparison would silently cover part of the data.
    """
    found = stacked.get_column("baseline").unique().to_list()
    if len(found) > 1:
        shown = ", ".join("none" if name is None else repr(name) for name in found)
        msg = (
            f"{function}: cannot merge states built with different baselines "
            f"({shown}); build every state with the same baseline="
        )
        raise L2InputError(msg)
    pairs = stacked.select("paired_losses", "huber_delta").unique()
    if pairs.height > 1:
        shown = "; ".join(
            _losses_text(label, delta) for label, delta in sorted(pairs.rows(), key=str)
        )
        msg = (
            f"{function}: cannot merge states built with different losses "
            f"({shown}); build every state with the same loss= and huber_delta="
        )
        raise L2InputError(msg)


def _losses_text(label: str | None, delta: float | None) -> str:
    """Describe a state's losses in a message."""
    if label is None:
        return "none"
    return label if delta is None else f"{label} with huber_delta={delta!r}"


_MODEL = "_l2_model_"
_PAIR = "_l2_pair_"
#: The model's position in the spec's predicted columns, an Int64 column of
#: :func:`long_moments` (and of the histograms of
#: :mod:`polars_l2._core.top_share`), to join on and to sort by.
ORDER = "_l2_order"


#: From this many models on, :func:`long_moments` turns the counted errors
#: long before the group-by (:func:`_long_first`): one row per input row and
#: model, grouped by model and keys. Below it, one wide group-by of every
#: model's aggregations side by side (:func:`_wide_first`). The wide form's
#: plan grows faster than the models where rows are few; the long form
#: multiplies each batch of rows by the models where rows are many; the row
#: count is not known when the plan is built, so the threshold sits where
#: both are acceptable (benchmark case 7, linear in models).
LONG_FROM = 400


def long_moments(
    frame: pl.DataFrame | pl.LazyFrame,
    spec: Spec,
    *,
    baseline: int | None = None,
    baseline_name: str | None = None,
    losses: losses_.Losses = losses_.SQUARED,
    sort: bool = True,
) -> pl.LazyFrame:
    """One row per model and segment: :data:`ORDER`, ``model``, keys, moments.

    Every model's moments come from one ``group_by().agg()`` over the data:
    for fewer than :data:`LONG_FROM` models one wide row per segment, all
    models side by side, then turned long; for more, the counted rows turned
    long first, then grouped by model and segment. With `baseline` (the
    baseline's position in ``spec.predicted``, and `baseline_name` its name
    in the ``baseline`` column), each other model also gets its paired
    moments against it, for each of `losses`; without, those are null. With
    `sort`, rows come in the order of the models, then of the keys (nulls
    last); without, in any order (for a caller that sorts them later).
    """
    keys = list(spec.by)
    build = _long_first if len(spec.predicted) >= LONG_FROM else _wide_first
    pairing = None if baseline is None else (baseline, baseline_name, losses)
    long = build(frame.lazy(), spec, pairing)
    return long.sort([ORDER, *keys], nulls_last=True) if sort else long


_MOMENTS = "_l2_moments"


def no_rows(
    frame: pl.DataFrame | pl.LazyFrame,
    spec: Spec,
    kept: tuple[str, ...] = (),
    *,
    baseline: int | None = None,
    baseline_name: str | None = None,
    losses: losses_.Losses = losses_.SQUARED,
) -> pl.LazyFrame:
    """Return each model's moments of no rows: what a segment without data holds.

    :func:`long_moments` of none of `frame`'s rows, grouped by the `kept`
    keys only (no row at all where there are kept keys: a group-by of no
    rows has no groups, as the report without other keys has none), with
    the paired moments against `baseline` as :func:`long_moments` gives
    them. Reads no data.
    """
    keys = set(spec.by) - set(kept)
    alone = dataclasses.replace(spec, by=tuple(k for k in spec.by if k not in keys))
    return long_moments(
        frame.lazy().head(0),
        alone,
        baseline=baseline,
        baseline_name=baseline_name,
        losses=losses,
    )


#: The baseline's position and name, and the losses of the paired moments.
_Pairing = tuple[int, str | None, losses_.Losses]


def _model_names(spec: Spec) -> pl.Expr:
    """Return ``model``: each row's predicted column, gathered by :data:`ORDER`.

    O(1) per row, where a when/then chain per model (or a join) made the
    query quadratic in the models (replace_strict runs in memory on the
    streaming engine).
    """
    names = pl.lit(pl.Series(list(spec.predicted), dtype=pl.String))
    return names.gather(pl.col(ORDER)).alias("model")


def _wide_first(
    source: pl.LazyFrame, spec: Spec, pairing: _Pairing | None
) -> pl.LazyFrame:
    """Return :func:`long_moments`' rows (unsorted) from one wide group-by.

    Each model's rows are a projection of the wide result (one row per
    segment), the projections stacked: no struct, no unpivot, which cost
    more than the group-by itself with a million segments.
    """
    keys = list(spec.by)
    prefixes = [f"{_MODEL}{i}_" for i in range(len(spec.predicted))]
    # Models that count the same rows read the first model's row moments.
    rows_prefix = prefixes[0] if spec.same_rows else None
    aggs = [
        agg
        for i, (model, prefix) in enumerate(zip(spec.predicted, prefixes, strict=True))
        for agg in aggregations(spec, model, prefix, rows=i == 0 or rows_prefix is None)
    ]
    baseline, name, losses = (
        (None, None, losses_.SQUARED) if pairing is None else pairing
    )
    paired = [
        i for i in range(len(spec.predicted)) if baseline is not None and i != baseline
    ]
    for i in paired:
        assert baseline is not None
        aggs += paired_aggregations(
            spec, spec.predicted[i], spec.predicted[baseline], f"{_PAIR}{i}_", losses
        )
    wide = source.group_by(keys).agg(aggs) if keys else source.select(aggs)
    if len(prefixes) > 1:
        # Every model's rows read it: computed once (one row per segment).
        wide = wide.cache()
    parts = []
    for i, prefix in enumerate(prefixes):
        fields = state_columns(spec, prefix, rows_prefix)
        # The baseline's own rows name it too: one baseline per state.
        fields += paired_columns(
            spec, f"{_PAIR}{i}_", name, losses, candidate=i in paired
        )
        order = pl.lit(i, pl.Int64).alias(ORDER)
        model = pl.lit(spec.predicted[i], pl.String).alias("model")
        parts.append(wide.select(order, model, *keys, *fields))
    return pl.concat(parts)


def _long_first(
    source: pl.LazyFrame, spec: Spec, pairing: _Pairing | None
) -> pl.LazyFrame:
    """Return what :func:`_wide_first` does, from the counted rows turned long."""
    keys = list(spec.by)
    baseline = None if pairing is None else pairing[0]
    e, w, y, b = "_l2_e", "_l2_w", "_l2_y", "_l2_b"
    schema = spec.schema
    # Only the errors are turned long; the actual, the weight and the
    # baseline's error are the same for every model, so they ride along as
    # the unpivot's index and are masked by the model's error below: a row
    # counts for a model exactly where its counted error is not null
    # (arguments.counted). Structs of all three per model cost twice the
    # memory.
    index = [
        *(pl.col(key) for key in keys),
        as_float64(spec.actual, schema[spec.actual], spec).alias(y),
    ]
    if spec.weight is not None:
        index.append(as_float64(spec.weight, schema[spec.weight], spec).alias(w))
    if baseline is not None:
        index.append(counted(spec, spec.predicted[baseline])[0].alias(b))
    errors = [
        counted(spec, model)[0].alias(f"{_MODEL}{i}")
        for i, model in enumerate(spec.predicted)
    ]
    rows = source.select(*index, *errors).unpivot(
        index=[expr.meta.output_name() for expr in index],
        variable_name=ORDER,
        value_name=e,
    )
    weight_col = None if spec.weight is None else pl.col(w)
    error, weight_col, actual = counted_rows(pl.col(e), weight_col, pl.col(y))
    assert actual is not None  # an actual was given
    aggs = _aggregations_of(error, weight_col, actual, _MODEL)
    fields = state_columns(spec, _MODEL)
    if pairing is None:
        fields += paired_columns(spec, "", None, losses_.SQUARED)
    else:
        _, name, losses = pairing
        aggs += _paired_aggregations_of(pl.col(e), weight_col, pl.col(b), _PAIR, losses)
        # The baseline's own rows have no paired moments, but name it.
        is_candidate = pl.col(ORDER) != f"{_MODEL}{baseline}"
        fields += [
            expr
            if expr.meta.output_name() in PAIRING
            else pl.when(is_candidate).then(expr).alias(expr.meta.output_name())
            for expr in paired_columns(spec, _PAIR, name, losses)
        ]
    grouped = rows.group_by(ORDER, *keys).agg(aggs)
    order = pl.col(ORDER).str.slice(len(_MODEL)).cast(pl.Int64)
    return (
        grouped.select(order.alias(ORDER), *keys, pl.struct(fields).alias(_MOMENTS))
        .select(ORDER, _model_names(spec), *keys, pl.col(_MOMENTS))
        .unnest(_MOMENTS)
    )

r"""The registry of metrics: each report metric defined once, over the moments.

Every metric of :func:`polars_l2.report` is one :class:`Metric` in
:data:`REGISTRY`: a formula over a segment's mergeable moments (the columns
of a state, see :mod:`polars_l2._state`), its null rule, its direction, whether
it merges exactly, which properties it has, and the line that documents it.
:func:`report_columns` builds the report's and :func:`polars_l2.finalize`'s
columns from it; :func:`polars_l2.sse`, :func:`polars_l2.mse` and
:func:`polars_l2.rmse` apply the same formulas and null rule to moments
computed from the rows (:func:`row_moments`); the plots take the null rule
(:func:`weights_valid`). Nothing else computes a metric.

The error is :math:`e = \hat y - y` (predicted minus actual), in the state
(``error_mean``) and the report (``bias``) alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal, get_args

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable

    from polars_l2.typing import Variance

#: Properties a metric can claim; tests/test_common.py checks each claim.
#: ``row_order``: invariant to the order of the rows. ``weight_repeats``: an
#: integer weight k equals repeating the row k times. ``weight_scale``:
#: multiplying every weight by a positive constant changes nothing.
#: ``zero_weight``: a row of weight zero equals no row. ``pairwise_nulls``: a
#: row with a null actual or prediction equals no row. ``symmetric``:
#: swapping actual and predicted changes nothing.
Property = Literal[
    "row_order",
    "weight_repeats",
    "weight_scale",
    "zero_weight",
    "pairwise_nulls",
    "symmetric",
]

#: Every property, in order: what tests/test_common.py checks on every route.
PROPERTIES: tuple[Property, ...] = get_args(Property)

_ALL: frozenset[Property] = frozenset(PROPERTIES)


@dataclass(frozen=True)
class Moments:
    """A segment's mergeable moments, as expressions, by state column name.

    `moment` maps a name of :data:`polars_l2._core.moments.MOMENTS` to an
    expression. `valid` is the null rule's condition (:func:`weights_valid`);
    None when the moments are themselves null wherever the rule would give
    null (unweighted means of the rows: no rows, no mean), so a formula needs
    no guard and keeps the plain plan ``((y - p) ** 2).mean()``.
    `top_share` maps ``""``, ``"_low"`` and ``"_high"`` to the top-1% share
    and the bounds of its histogram approximation, or is None where it
    cannot be known;
    `sse_total` the model's SSE over the segments ``sse_share`` divides by;
    `variance` how the intervals estimate a mean's variance.
    """

    moment: Callable[[str], pl.Expr]
    valid: pl.Expr | None
    top_share: dict[str, pl.Expr] | None = None
    #: The SSE of the model over all its segments (null: unknown).
    sse_total: pl.Expr | None = None
    #: The variance of a mean in the intervals (:func:`mean_variance`).
    variance: Variance = "hc1"

    def __getitem__(self, name: str) -> pl.Expr:
        """Return the expression of moment `name`."""
        return self.moment(name)

    def guard(self, value: pl.Expr) -> pl.Expr:
        """Return `value`, null where the null rule says so."""
        return value if self.valid is None else pl.when(self.valid).then(value)


def weights_valid(weight_sum: pl.Expr, negative_weight_count: pl.Expr) -> pl.Expr:
    """Return the null rule's condition: some weight counted, and none negative.

    A metric is null where no row counts (``weight_sum`` 0), where the
    counted weights sum to zero, or where a counted weight is negative (a
    weighted mean is then meaningless: it can go negative). With no negative
    weight, ``!= 0`` and ``> 0`` agree, NaN included (Polars sorts NaN above
    every number, so ``NaN > 0`` is true): a NaN weight sum passes, and the
    metric is NaN, not null.
    """
    return (negative_weight_count == 0) & (weight_sum != 0)


@dataclass(frozen=True)
class Metric:
    """One report metric: its formula over the moments and what it claims."""

    name: str
    doc: str
    #: ``"lower"`` or ``"higher"`` is better, or ``"zero"`` (closest to zero).
    direction: Literal["lower", "higher", "zero"]
    #: Whether :func:`polars_l2.finalize` of merged states gives it (up to
    #: rounding) as :func:`polars_l2.report` of all the data does.
    exact_merge: bool
    #: The properties it has (see :data:`Property`).
    properties: frozenset[Property]
    #: One line saying where it is null.
    null_rule: str
    #: The value, null rule applied, from a segment's moments.
    formula: Callable[[Moments], pl.Expr]

    def expr(self, moments: Moments) -> pl.Expr:
        """Return the metric as a Float64 expression named after it."""
        return self.formula(moments).cast(pl.Float64).alias(self.name)


_WEIGHTS = "null where no row counts, the weights sum to 0 or one is negative"


def _mse(m: Moments) -> pl.Expr:
    return m.guard(m["sq_error_mean"])


def _sse(m: Moments) -> pl.Expr:
    # The mean times the weight: one formula for every path.
    return _mse(m) * m["weight_sum"]


def _rmse(m: Moments) -> pl.Expr:
    return _mse(m).sqrt()


def effective_n(weight_sum: pl.Expr, weight_sq_ratio: pl.Expr) -> pl.Expr:
    """Return Kish's effective sample size, W² / Σw² (the row count unweighted).

    From the state's ``weight_sq_ratio`` (Σw² / W), as W over it: neither
    W² nor Σw² is formed, so weights of any scale give the same size.
    """
    return weight_sum / weight_sq_ratio


def mean_variance(
    variance: Variance,
    *,
    m2: pl.Expr,
    w2m2: pl.Expr,
    n: pl.Expr,
    weight_sum: pl.Expr,
    weight_sq_ratio: pl.Expr,
) -> pl.Expr:
    r"""Return the variance of a (weighted) mean from its mergeable moments.

    ``"hc1"``: :math:`\frac{n}{n-1}\sum_i w_i^2 (v_i - m)^2 / W^2` (`w2m2`
    is the sum over :math:`W^2`), the heteroscedasticity-robust variance of
    an intercept-only weighted least-squares fit with the small-sample
    factor (statsmodels' ``cov_type="HC1"``); ``"hc0"`` without the factor;
    ``"kish"``: :math:`M_2 / W / (n_{\mathrm{eff}} - 1)` with Kish's
    effective size. Unweighted, ``"hc1"`` and ``"kish"`` are both the usual
    :math:`s^2/n` with ``ddof=1``. Null where fewer than two rows count (and,
    for ``"kish"``, where the effective size is at most 1).
    """
    if variance == "kish":
        size = effective_n(weight_sum, weight_sq_ratio)
        return pl.when((n >= 2) & (size > 1)).then(m2 / weight_sum / (size - 1))
    rows = n.cast(pl.Float64)
    factor = rows / (rows - 1) if variance == "hc1" else pl.lit(1.0)
    return pl.when(n >= 2).then(w2m2 * factor)


def standard_error(
    m2: pl.Expr, n: pl.Expr, weight_sum: pl.Expr, weight_sq_ratio: pl.Expr
) -> pl.Expr:
    """Return the standard error of a weighted mean with Kish's effective size.

    :func:`mean_variance` with ``"kish"``, its square root.
    """
    return mean_variance(
        "kish",
        m2=m2,
        w2m2=pl.lit(None, pl.Float64),
        n=n,
        weight_sum=weight_sum,
        weight_sq_ratio=weight_sq_ratio,
    ).sqrt()


def degrees_of_freedom(
    variance: Variance, n: pl.Expr, weight_sum: pl.Expr, weight_sq_ratio: pl.Expr
) -> pl.Expr:
    r"""Return the degrees of freedom of Student's t for a mean's variance.

    :math:`n - 1` for the sandwich variances (statsmodels' ``use_t=True``),
    :math:`n_{\mathrm{eff}} - 1` for Kish's.
    """
    if variance == "kish":
        return effective_n(weight_sum, weight_sq_ratio) - 1
    return (n - 1).cast(pl.Float64)


def small(
    n: pl.Expr, weight_sum: pl.Expr, weight_sq_ratio: pl.Expr, min_n: int
) -> pl.Expr:
    """Return the ``small`` flag: no row counts, or Kish's effective size < `min_n`."""
    size = effective_n(weight_sum, weight_sq_ratio)
    # An effective size that is unknown (weights summing to 0) is small.
    return (
        pl.when(n.fill_null(0) == 0)
        .then(pl.lit(value=True))
        .otherwise(~(size >= min_n).fill_null(value=False))
    )


def _se(m: Moments, stem: str = "sq_error") -> pl.Expr:
    """Return the standard error of the mean of `stem` (``error``, ``abs_error``...)."""
    return mean_variance(
        m.variance,
        m2=m[f"{stem}_m2"],
        w2m2=m[f"{stem}_w2m2"],
        n=m["n"],
        weight_sum=m["weight_sum"],
        weight_sq_ratio=m["weight_sq_ratio"],
    ).sqrt()


def _rmse_bound(z: float, sign: float) -> Callable[[Moments], pl.Expr]:
    """One end of RMSE's interval: the delta method on log MSE, then the root."""

    def bound(m: Moments) -> pl.Expr:
        se, mse = _se(m), _mse(m)
        spread = (sign * z * se / (2 * mse)).exp()
        value = pl.when(mse == 0).then(0.0).otherwise(_rmse(m) * spread)
        return pl.when(se.is_not_null()).then(value)

    return bound


def _mse_bound(z: float, sign: float) -> Callable[[Moments], pl.Expr]:
    """One end of MSE's interval: the square of RMSE's, on the log scale."""
    rmse_bound = _rmse_bound(z, sign)
    return lambda m: rmse_bound(m).pow(2)


def _log_bound(
    mean: Callable[[Moments], pl.Expr], stem: str, z: float, sign: float
) -> Callable[[Moments], pl.Expr]:
    r"""One end of a non-negative mean's interval: the delta method on its log.

    :math:`m \cdot \exp(\pm z\, se / m)`: never below 0, and skewed right
    as the mean of a non-negative quantity is; [0, 0] where the mean is 0.
    """

    def bound(m: Moments) -> pl.Expr:
        se, value = _se(m, stem), mean(m)
        spread = (sign * z * se / value).exp()
        bounded = pl.when(value == 0).then(0.0).otherwise(value * spread)
        return pl.when(se.is_not_null()).then(bounded)

    return bound


def _mean_bound(
    mean: Callable[[Moments], pl.Expr], stem: str, z: float, sign: float
) -> Callable[[Moments], pl.Expr]:
    """One end of a mean's normal interval, mean ± z·se."""

    def bound(m: Moments) -> pl.Expr:
        return mean(m) + sign * z * _se(m, stem)

    return bound


def share(part: pl.Expr, total: pl.Expr) -> pl.Expr:
    """Return `part` as a share of `total`: null where the total is 0.

    No share of nothing: a model (or segment) without squared error has no
    shares. ``sse_share`` and :func:`polars_l2.worst`'s share follow it.
    """
    return pl.when(total != 0).then(part / total)


def _sse_share(m: Moments) -> pl.Expr:
    if m.sse_total is None:
        return pl.lit(None, pl.Float64)
    return share(_sse(m), m.sse_total)


def _r2(m: Moments) -> pl.Expr:
    sse, sst = _sse(m), m["actual_m2"]
    # Constancy is decided exactly, from the extremes (a variance of
    # [0.1] * 7 is 1.9e-34, not 0): SST is then 0, and R² is 1.0 for a
    # perfect fit and 0.0 otherwise (scikit-learn's force_finite). A spread
    # whose square underflows to 0 (below about 1e-162) is taken as
    # constant too, as scikit-learn does.
    constant = (m["actual_min"] == m["actual_max"]) | (sst == 0)
    # R² comes from a state's moments (never from row_moments), which carry
    # the null rule.
    assert m.valid is not None
    enough = m.valid & (m["n"] >= 2)
    return (
        pl.when(enough.not_())
        .then(None)
        .when(sst.is_nan() | sse.is_nan())
        .then(math.nan)
        .when(constant)
        .then(pl.when(sse == 0).then(1.0).otherwise(0.0))
        .otherwise(1 - sse / sst)
    )


def _mae(m: Moments) -> pl.Expr:
    return m.guard(m["abs_error_sum"] / m["weight_sum"])


def _bias(m: Moments) -> pl.Expr:
    return m.guard(m["error_mean"])


def _max_error(m: Moments) -> pl.Expr:
    return m["abs_error_max"]


def _top_share(bound: str) -> Callable[[Moments], pl.Expr]:
    """Return the formula of the top-1% share (`bound` ``""``) or of a bound."""

    def share(m: Moments) -> pl.Expr:
        if m.top_share is None:
            return pl.lit(None, pl.Float64)
        return m.guard(m.top_share[bound])

    return share


def _metric(
    name: str,
    doc: str,
    direction: Literal["lower", "higher", "zero"],
    formula: Callable[[Moments], pl.Expr],
    *,
    lacks: frozenset[Property] = frozenset(),
    exact_merge: bool = True,
    null_rule: str = _WEIGHTS,
) -> Metric:
    return Metric(name, doc, direction, exact_merge, _ALL - lacks, null_rule, formula)


def _registry(z: float) -> dict[str, Metric]:
    """Return every metric, in the report's column order; `z` sets the interval."""
    two_rows = _WEIGHTS + ", or fewer than two rows count"
    top = _WEIGHTS + ", or the state was built without it"
    # Kish's effective size is not the row count, so an integer weight is
    # not a repeated row for the interval.
    interval = frozenset[Property]({"weight_repeats"})
    metrics = [
        _metric("sse", "Sum of (weighted) squared errors.", "lower", _sse,
                lacks=frozenset({"weight_scale"})),
        _metric("sse_share", "The segment's share of the model's SSE over all "
                "segments.", "lower", _sse_share,
                null_rule=_WEIGHTS + ", or the model's SSE is 0"),
        _metric("mse", "(Weighted) mean squared error.", "lower", _mse),
        _metric("mse_low", "Lower end of the MSE's confidence interval.",
                "lower", _mse_bound(z, -1.0), lacks=interval, null_rule=two_rows),
        _metric("mse_high", "Upper end of the MSE's confidence interval.",
                "lower", _mse_bound(z, 1.0), lacks=interval, null_rule=two_rows),
        _metric("rmse", "Square root of the MSE.", "lower", _rmse),
        _metric("rmse_low", "Lower end of the RMSE's confidence interval.",
                "lower", _rmse_bound(z, -1.0), lacks=interval, null_rule=two_rows),
        _metric("rmse_high", "Upper end of the RMSE's confidence interval.",
                "lower", _rmse_bound(z, 1.0), lacks=interval, null_rule=two_rows),
        _metric("mae", "(Weighted) mean absolute error.", "lower", _mae),
        _metric("mae_low", "Lower end of the MAE's confidence interval.", "lower",
                _log_bound(_mae, "abs_error", z, -1.0), lacks=interval,
                null_rule=two_rows),
        _metric("mae_high", "Upper end of the MAE's confidence interval.", "lower",
                _log_bound(_mae, "abs_error", z, 1.0), lacks=interval,
                null_rule=two_rows),
        _metric("bias", "(Weighted) mean of predicted minus actual.", "zero", _bias,
                lacks=frozenset({"symmetric"})),
        _metric("bias_low", "Lower end of the bias's confidence interval.", "zero",
                _mean_bound(_bias, "error", z, -1.0),
                lacks=interval | {"symmetric"}, null_rule=two_rows),
        _metric("bias_high", "Upper end of the bias's confidence interval.", "zero",
                _mean_bound(_bias, "error", z, 1.0),
                lacks=interval | {"symmetric"}, null_rule=two_rows),
        _metric("r2", "Coefficient of determination, 1 - SSE/SST.", "higher", _r2,
                lacks=frozenset({"symmetric"}), null_rule=two_rows),
        _metric("max_error", "Largest absolute error of the counted rows.", "lower",
                _max_error, null_rule="null where no row counts"),
        _metric("top_1pct_share", "Share of SSE in the largest 1% of squared errors "
                "(from a histogram: the midpoint of its bounds).", "lower",
                _top_share(""), null_rule=top),
        _metric("top_1pct_share_low", "Lower bound of the top-1% share: the exact "
                "share is at least this.", "lower", _top_share("_low"),
                null_rule=top),
        _metric("top_1pct_share_high", "Upper bound of the top-1% share: the exact "
                "share is at most this.", "lower", _top_share("_high"),
                null_rule=top),
    ]  # fmt: skip
    return {metric.name: metric for metric in metrics}


#: The registry at the default confidence level (the interval's level is the
#: only parameter a formula takes).
REGISTRY: dict[str, Metric] = _registry(NormalDist().inv_cdf(0.975))

#: The report's metric columns after ``model``, the keys, ``n`` and ``weight_sum``.
METRICS = tuple(REGISTRY)


def z_score(confidence: float) -> float:
    """Return the two-sided standard normal quantile of a checked confidence level.

    The level is checked where the user gives it (``options.RULES``).
    """
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def state_moments(
    top_share: dict[str, pl.Expr] | None = None,
    sse_total: pl.Expr | None = None,
    variance: Variance = "hc1",
) -> Moments:
    """Return the moments of a state (or of the report's query), by column."""
    valid = weights_valid(pl.col("weight_sum"), pl.col("negative_weight_count"))
    return Moments(pl.col, valid, top_share, sse_total, variance)


def row_moments(e: pl.Expr, w: pl.Expr | None) -> Moments:
    """Return the moments :func:`polars_l2.mse` and friends need, from rows.

    `e` is the Float64 error, null where a row does not count; `w` the
    weight of the counted rows (null elsewhere, and where it is zero), or
    None unweighted.
    """
    x = e.pow(2)
    if w is None:
        # Unweighted, the weight sum is the count and the mean is null
        # without rows: no guard, so the plan stays ``(e ** 2).mean()``.
        unweighted = {"sq_error_mean": x.mean(), "weight_sum": e.count()}
        return Moments(unweighted.__getitem__, None)
    total = w.sum()
    weighted = {"sq_error_mean": (x * w).sum() / total, "weight_sum": total}
    return Moments(weighted.__getitem__, weights_valid(total, (w < 0).sum()))


def report_columns(
    *,
    weighted: bool,
    confidence: float,
    min_n: int,
    top_share: dict[str, pl.Expr] | None,
    sse_total: pl.Expr | None,
    variance: Variance = "hc1",
) -> list[pl.Expr]:
    """Return the report's columns after ``overall``, from the state's moments.

    `top_share` gives ``top_1pct_share`` and its bounds (None: null),
    `sse_total` the SSE ``sse_share`` divides by (None: null), `variance`
    the variance of a mean in the intervals (:func:`mean_variance`).
    ``small`` is :func:`small`.
    """
    registry = _registry(z_score(confidence))
    moments = state_moments(top_share, sse_total, variance)
    columns = [pl.col("n")]
    if weighted:
        columns.append(pl.col("weight_sum"))
    flag = small(pl.col("n"), pl.col("weight_sum"), pl.col("weight_sq_ratio"), min_n)
    columns.append(flag.alias("small"))
    columns += [metric.expr(moments) for metric in registry.values()]
    return columns


def total_sse(group: list[str]) -> pl.Expr:
    """Return the SSE summed over the rows of each `group`, or null if unknown.

    A row without counted rows has no SSE and adds nothing; a row whose
    rows count but whose SSE is null (a negative weight) leaves the total
    unknown, so that every share of the group is null rather than shares
    of part of the error that sum to 1.
    """
    sse = REGISTRY["sse"].formula(state_moments())
    unknown = (sse.is_null() & (pl.col("n") > 0)).any()
    return pl.when(unknown.not_()).then(sse.sum()).over(group)

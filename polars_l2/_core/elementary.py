r"""Elementary scores over a grid of θ: per-row scores, grids, state columns.

For a functional :math:`T` (the mean, which the squared error estimates, or
the median, which the absolute error estimates) with identification
function :math:`V`, the elementary score of a prediction :math:`z` of an
observation :math:`y` at the threshold :math:`\theta` is

.. math::

    S_\theta(y, z) = (\mathbf 1\{\theta \le z\} - \mathbf 1\{\theta \le y\})
    \, V(y, \theta),

with :math:`V(y, \theta) = \theta - y` for the mean and
:math:`\mathbf 1\{\theta \ge y\} - 1/2` for the median (the convention of
model-diagnostics' ``ElementaryScore``). Every consistent scoring function
of :math:`T` is a mixture of them (Ehm, Gneiting, Jordan and Krüger, 2016):
a model whose mean elementary score is no higher at every θ is better under
all of them, the squared (or absolute) error included.

Each θ is one aggregation per model in the query (:func:`rows`): native
expressions, no callback. The grid is fixed before the query (given, or
chosen from the data in one query of quantiles, :func:`choose`), kept in
the state's ``murphy_theta`` column, and only states of one grid merge
(:func:`merge_into`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from polars_l2._core.arguments import as_float64, counted
from polars_l2._core.moments import ORDER, _m2, _merged_mean
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2._core.arguments import Spec

#: The number of θ a grid chosen from the data has at most.
DEFAULT_POINTS = 100

FUNCTIONAL = "murphy_functional"
THETA = "murphy_theta"
SCORE = "murphy_score"
DIFF_MEAN = "murphy_diff_mean"
DIFF_M2 = "murphy_diff_m2"
_FLOATS = pl.List(pl.Float64())

#: The state's Murphy columns (null unless the state was built with
#: ``murphy=``): the functional; the grid; per θ the (weighted) mean
#: elementary score over the model's counted rows; and, with a baseline,
#: per θ the mean and centred second moment of the paired difference
#: :math:`S_\theta(y, z) - S_\theta(y, z_b)` over the paired rows.
COLUMNS: dict[str, pl.DataType] = {
    FUNCTIONAL: pl.String(),
    THETA: _FLOATS,
    SCORE: _FLOATS,
    DIFF_MEAN: _FLOATS,
    DIFF_M2: _FLOATS,
}

_PAIRED = (DIFF_MEAN, DIFF_M2)
_AGG = "_l2_mu"
_STRUCT = "_l2_murphy"


@dataclass(frozen=True)
class Grid:
    """A functional and its θ grid, fixed before the query."""

    functional: str
    thetas: tuple[float, ...]


def elementary(y: pl.Expr, z: pl.Expr, theta: float, functional: str) -> pl.Expr:
    r"""Return the elementary score :math:`S_\theta(y, z)` per row (Float64).

    Null where `y` or `z` is null; NaN where either is NaN (Polars orders
    NaN above every number, so the indicators alone would give a number).
    """
    t = pl.lit(theta, pl.Float64)
    step = (t <= z).cast(pl.Float64) - (t <= y).cast(pl.Float64)
    v = t - y if functional == "mean" else (t >= y).cast(pl.Float64) - 0.5
    return pl.when(y.is_nan() | z.is_nan()).then(float("nan")).otherwise(step * v)


def prediction(spec: Spec, model: str) -> tuple[pl.Expr, pl.Expr | None, pl.Expr]:
    """Return a model's counted prediction (Float64), weight and actual."""
    e, w, y = counted(spec, model)
    z = pl.when(e.is_not_null()).then(as_float64(model, spec.schema[model], spec))
    return z, w, y


def choose(
    frame: pl.LazyFrame, spec: Spec, points: int, *, function: str
) -> tuple[float, ...]:
    """Choose θ from the data in one query: between quantiles of the values.

    The quantiles at `points` + 1 levels evenly spaced from 0 to 1 of the
    finite counted actual values and predictions of every model, pooled;
    θ are the midpoints of consecutive distinct quantiles (at most
    `points`). Midpoints rarely equal an observed value, where the
    elementary scores jump (for the median, model-diagnostics' convention
    gives -1/2 at θ = y to a row predicted below y); outside the range of
    the values every elementary score is zero.
    """
    models = [prediction(spec, model) for model in spec.predicted]
    # Each actual value once: where any model counts it.
    pooled = pl.coalesce([y for _, _, y in models])
    for z, _, _ in models:
        pooled = pooled.append(z)
    finite = pooled.filter(pooled.is_finite())
    levels = np.linspace(0.0, 1.0, points + 1).tolist()
    found = frame.select(finite.quantile(levels, "linear").alias("q")).collect().item()
    listed = [] if found is None else found.to_list()
    quantiles = sorted({float(v) for v in listed if v is not None})
    values = [(a + b) / 2 for a, b in itertools.pairwise(quantiles)] or quantiles
    if not values:
        msg = (
            f"{function}: no finite actual value or prediction to choose the "
            "thetas from; pass thetas= (a sequence of numbers)"
        )
        raise L2InputError(msg)
    return tuple(values)


def grid(
    frame: pl.LazyFrame,
    spec: Spec,
    functional: str,
    thetas: int | Sequence[float] | None,
    *,
    function: str,
) -> Grid:
    """Return the grid: `thetas` as given, or chosen from the data."""
    if thetas is None or isinstance(thetas, int):
        points = DEFAULT_POINTS if thetas is None else thetas
        return Grid(functional, choose(frame, spec, points, function=function))
    return Grid(functional, tuple(float(t) for t in thetas))


def _aggregations(
    spec: Spec, grid: Grid, i: int, baseline: int | None
) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """One model's per-θ aggregations, and the fields that make its lists."""
    model = spec.predicted[i]
    z, w, y = prediction(spec, model)
    scores = [elementary(y, z, t, grid.functional) for t in grid.thetas]
    p = f"{_AGG}{i}_"
    aggs: list[pl.Expr] = []
    if w is None:
        aggs += [s.mean().alias(f"{p}s{j}") for j, s in enumerate(scores)]
        score = _listed([pl.col(f"{p}s{j}") for j in range(len(scores))])
    else:
        aggs.append(w.sum().alias(f"{p}w"))
        aggs += [(w * s).sum().alias(f"{p}s{j}") for j, s in enumerate(scores)]
        total = pl.col(f"{p}w")
        score = _listed(
            [
                pl.when(total != 0).then(pl.col(f"{p}s{j}") / total)
                for j in range(len(scores))
            ]
        )
    fields = [
        pl.lit(grid.functional, pl.String).alias(FUNCTIONAL),
        pl.lit(list(grid.thetas), _FLOATS).alias(THETA),
        score.alias(SCORE),
    ]
    if baseline is None or baseline == i:
        return aggs, [*fields, *(pl.lit(None, _FLOATS).alias(c) for c in _PAIRED)]
    zb, _, _ = prediction(spec, spec.predicted[baseline])
    both = z.is_not_null() & zb.is_not_null()
    diffs = [
        pl.when(both).then(s - elementary(y, zb, t, grid.functional))
        for s, t in zip(scores, grid.thetas, strict=True)
    ]
    paired_aggs, paired_fields = _paired(
        diffs, None if w is None else pl.when(both).then(w), p
    )
    return [*aggs, *paired_aggs], [*fields, *paired_fields]


def _listed(columns: list[pl.Expr]) -> pl.Expr:
    """Return one list of the per-θ columns, in the grid's order."""
    return pl.concat_list(columns)


def _paired(
    diffs: Sequence[pl.Expr], wp: pl.Expr | None, p: str
) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """Per-θ mean and centred second moment of the paired differences.

    `wp` is the weight of the paired rows (None unweighted); the moments are
    the state's paired moments' (``moments._m2`` for the weighted spread).
    """
    n_theta = len(diffs)
    aggs = [diffs[0].count().alias(f"{p}n")]
    nf = pl.col(f"{p}n").cast(pl.Float64)
    if wp is None:
        aggs += [d.mean().alias(f"{p}d{j}") for j, d in enumerate(diffs)]
        aggs += [d.var(ddof=0).alias(f"{p}v{j}") for j, d in enumerate(diffs)]
        means = [pl.col(f"{p}d{j}") for j in range(n_theta)]
        m2s = [(pl.col(f"{p}v{j}") * nf).fill_null(0.0) for j in range(n_theta)]
        return aggs, [_listed(means).alias(DIFF_MEAN), _listed(m2s).alias(DIFF_M2)]
    aggs.append(wp.sum().alias(f"{p}pw"))
    for j, d in enumerate(diffs):
        aggs += [
            (wp * d).sum().alias(f"{p}d{j}"),
            pl.cov(wp * d, d, ddof=0).alias(f"{p}c{j}"),
            pl.cov(wp, d, ddof=0).alias(f"{p}k{j}"),
        ]
    total = pl.col(f"{p}pw")
    means = [
        pl.when(total != 0).then(pl.col(f"{p}d{j}") / total) for j in range(n_theta)
    ]
    m2s = [
        _m2(nf, pl.col(f"{p}c{j}"), mean, pl.col(f"{p}k{j}"))
        for j, mean in enumerate(means)
    ]
    return aggs, [_listed(means).alias(DIFF_MEAN), _listed(m2s).alias(DIFF_M2)]


def rows(
    frame: pl.LazyFrame, spec: Spec, grid: Grid, baseline: int | None
) -> pl.LazyFrame:
    """Per model and segment: :data:`ORDER`, the keys and the Murphy columns.

    One group-by over the data, every model's per-θ aggregations side by
    side, turned long.
    """
    keys = list(spec.by)
    aggs: list[pl.Expr] = []
    structs: list[pl.Expr] = []
    for i in range(len(spec.predicted)):
        model_aggs, fields = _aggregations(spec, grid, i, baseline)
        aggs += model_aggs
        structs.append(pl.struct(fields).alias(str(i)))
    wide = frame.group_by(keys).agg(aggs) if keys else frame.select(aggs)
    long = wide.select(*keys, *structs).unpivot(
        on=[str(i) for i in range(len(spec.predicted))],
        index=keys,
        variable_name=ORDER,
        value_name=_STRUCT,
    )
    return long.select(pl.col(ORDER).cast(pl.Int64), *keys, pl.col(_STRUCT)).unnest(
        _STRUCT
    )


def absent() -> list[pl.Expr]:
    """Return the Murphy columns of a state built without ``murphy=``: null."""
    return [pl.lit(None, dtype).alias(name) for name, dtype in COLUMNS.items()]


def check_grids(stacked: pl.DataFrame, *, function: str) -> bool:
    """Refuse states of different functionals or grids; whether all have one.

    Returns False when some part was built without ``murphy=`` (the merged
    columns are then null, as a histogram is unknown when a part lacks it).
    """
    found = stacked.select(FUNCTIONAL, THETA).unique()
    present = found.filter(pl.col(FUNCTIONAL).is_not_null())
    if present.height > 1:
        shown = "; ".join(
            f"{row[FUNCTIONAL]!r} at {len(row[THETA] or [])} thetas "
            f"from {_span(row[THETA])}"
            for row in present.iter_rows(named=True)
        )
        msg = (
            f"{function}: cannot merge states with different Murphy grids "
            f"({shown}); build every state with the same murphy= and thetas="
        )
        raise L2InputError(msg)
    return present.height == 1 and found.height == 1


def _span(thetas: list[float] | None) -> str:
    if not thetas:
        return "none"
    return f"{thetas[0]:g} to {thetas[-1]:g}"


def merged(stacked: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    """Merge the Murphy lists of `stacked` per `group`, θ by θ.

    Scores: the mean weighted by ``weight_sum``; paired differences: Chan
    et al.'s merge of mean and centred second moment, weighted by
    ``paired_weight_sum`` (:func:`polars_l2._core.moments.merge_aggregations`'
    formulas, per θ).
    """
    j = "_l2_theta_index"
    # A part without a baseline: a null per θ, so every list explodes alike.
    nulls = pl.col(SCORE).list.eval(pl.when(pl.lit(value=False)).then(pl.element()))
    long = stacked.select(
        *group,
        "weight_sum",
        "paired_weight_sum",
        FUNCTIONAL,
        THETA,
        SCORE,
        *(pl.col(name).fill_null(nulls) for name in _PAIRED),
        pl.int_ranges(pl.col(SCORE).list.len()).alias(j),
    ).explode([SCORE, DIFF_MEAN, DIFF_M2, j])
    score, _ = _merged_mean(pl.col(SCORE), pl.col("weight_sum"))
    diff, spread = _merged_mean(pl.col(DIFF_MEAN), pl.col("paired_weight_sum"))
    m2 = pl.when(pl.col(DIFF_M2).is_not_null().any()).then(
        pl.col(DIFF_M2).sum() + spread
    )
    per_theta = (
        long.group_by(*group, j)
        .agg(
            pl.col(FUNCTIONAL).first(),
            pl.col(THETA).first(),
            score.alias(SCORE),
            diff.alias(DIFF_MEAN),
            m2.alias(DIFF_M2),
        )
        .sort(j)
    )
    lists = per_theta.group_by(group, maintain_order=True).agg(
        pl.col(FUNCTIONAL).first(),
        pl.col(THETA).first(),
        pl.col(SCORE),
        pl.col(DIFF_MEAN),
        pl.col(DIFF_M2),
    )
    no_diff = pl.col(DIFF_MEAN).list.eval(pl.element().is_null().all()).list.first()
    return lists.with_columns(
        pl.when(~no_diff).then(pl.col(name)).alias(name)
        for name in (DIFF_MEAN, DIFF_M2)
    )

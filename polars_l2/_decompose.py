r"""The score's decomposition: miscalibration, discrimination and uncertainty (CORP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from polars_l2._core import arguments, frames, metrics, options
from polars_l2._core.arguments import counted
from polars_l2._core.elementary import prediction
from polars_l2._core.moments import ORDER, _m2
from polars_l2._state import RESERVED
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from polars_l2.typing import ArrowStreamExportable, NanPolicy

__all__ = ["decompose"]

#: The columns of a decomposition besides the keys.
COLUMNS = (
    "model",
    "n",
    "miscalibration",
    "discrimination",
    "uncertainty",
    "score",
    "bound",
)

#: The most cells (prediction bins times distinct actual values) the
#: absolute error's exact decomposition holds for one model and segment.
MAX_CELLS = 20_000_000

_Z, _YK, _N, _W, _WY, _M2, _WZ, _S = (
    "_l2_z",
    "_l2_yk",
    "_l2_n",
    "_l2_w",
    "_l2_wy",
    "_l2_m2",
    "_l2_wz",
    "_l2_s",
)
_LO, _HI, _NEG, _KEY = "_l2_lo", "_l2_hi", "_l2_neg", "_l2_key_"


def decompose(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    loss: Literal["squared", "absolute"] = "squared",
    bins: int | Sequence[float] | None = None,
    nan_policy: NanPolicy = "propagate",
) -> pl.DataFrame:
    r"""Split each model's score into miscalibration, discrimination and uncertainty.

    The CORP decomposition [1]_ [2]_ of the mean squared error (``loss=
    "squared"``) or the mean absolute error (``"absolute"``):
    :math:`S = \mathrm{MCB} - \mathrm{DSC} + \mathrm{UNC}`, where, with
    :math:`\hat r` the isotonic regression of the actual values on the
    predictions (the recalibrated predictions: the conditional mean, or
    median, that is monotone in the prediction) and :math:`m` the marginal
    mean (median) of the actual values,

    - :math:`\mathrm{MCB} = S(z) - S(\hat r(z)) \ge 0`, what recalibrating
      the predictions would gain;
    - :math:`\mathrm{DSC} = S(m) - S(\hat r(z)) \ge 0`, how much better the
      recalibrated predictions are than the constant :math:`m`;
    - :math:`\mathrm{UNC} = S(m)`, the score of that constant, which no
      model changes.

    The rows are reduced in the query to a small table per model and
    segment: per bin of the predictions (with the absolute error, per bin
    and distinct actual value), the weight, the mean and centred second
    moment of the actual values and the score's sum. The pool-adjacent-
    violators step then runs on that table (scipy's
    ``isotonic_regression`` for the mean; a weighted lower median, then the
    upper median of the same blocks and their midpoint, for the median, as
    model-diagnostics does).

    Parameters
    ----------
    frame
        The data: any table :func:`polars_l2.report` takes.
    actual
        Name of the column of observed values.
    predicted
        Name(s) of the prediction columns, one per model.
    by
        Name(s) of the columns that define the segments, or None.
    weight
        Name of a column of non-negative sample weights, or None.
    loss
        ``"squared"`` (default; the functional is the mean) or
        ``"absolute"`` (the median).
    bins
        None (default): one bin per distinct prediction (and, with the
        absolute error, per distinct actual value), which is exact; the
        table then grows with the distinct values. An integer :math:`B`:
        :math:`B` bins at quantiles of each model's predictions (and, with
        the absolute error, :math:`B` quantile bins of the actual values),
        chosen in one more query; a sequence: the inner edges of the
        prediction bins (each bin is :math:`(e_{k-1}, e_k]`). With bins, the
        isotonic fit is constant within a bin, and ``bound`` says by how
        much each part can differ from the exact decomposition (see Notes).
    nan_policy
        ``"propagate"`` (default) or ``"omit"`` NaN, as in
        :func:`polars_l2.mse`.

    Returns
    -------
    DataFrame
        One row per model and segment (models in order, segments sorted by
        key): ``model`` (String), the `by` keys, ``n`` (Int64, rows
        counted), ``miscalibration``, ``discrimination``, ``uncertainty``,
        ``score`` (Float64, in squared units of the target for the squared
        error, in its units for the absolute error; ``score`` is the MSE or
        MAE, exactly, and ``miscalibration - discrimination + uncertainty``
        equals it up to rounding), and ``bound`` (Float64): 0 where the
        decomposition is exact, else the largest difference of each of the
        three parts from the exact one. Null where no row counts or a
        weight is negative; NaN where a counted value (a weight too) is
        NaN, as in :func:`polars_l2.report`.

    Raises
    ------
    L2InputError
        For a missing column or a bad option, as :func:`polars_l2.report`;
        for the absolute error without bins, when a model and segment would
        need more than :data:`MAX_CELLS` cells (pass `bins`).

    See Also
    --------
    polars_l2.plot.reliability_curve : The table behind it, per bin.

    Notes
    -----
    **Exactness.** With one bin per distinct prediction, the isotonic
    regression of the rows is constant on equal predictions, so running it
    on the bins' weighted means gives the same fit; the recalibrated score
    :math:`\sum_b [M_{2,b} + W_b (\bar y_b - \hat r_b)^2]/W` is then exact
    (and matches model-diagnostics' ``decompose``). The median needs the
    actual values themselves; one cell per distinct actual value keeps
    them.

    **With bins** the fit is the best one constant within each bin, never
    better than the exact fit, so the recalibrated score is too high by
    some :math:`\Delta \ge 0` and MCB and DSC are too low by the same
    :math:`\Delta`. Taking the exact fit's value at each bin's lowest
    prediction shows :math:`\Delta \le 2 R^2 \max_b W_b / W` for the
    squared error and :math:`\Delta \le R \max_b W_b / W` for the absolute
    error, with :math:`R` the range of the actual values and :math:`W_b`
    the weight of the largest bin (the fit's jumps inside the bins add up
    to at most :math:`R`). With the absolute error, the actual values of a
    cell are represented by their mean, which changes any score by at most
    :math:`W_c (y_{\max,c} - y_{\min,c})/2` per cell where the fit falls
    inside it; ``bound`` adds these (per bin the largest, and for the
    uncertainty the largest over the actual values' bins) to
    :math:`\Delta`. Quantile bins keep :math:`\max_b W_b / W` near
    :math:`1/B`.

    Against model-diagnostics (1.5): the squared error's parts equal its
    ``decompose`` with ``SquaredError()``; the absolute error's are twice
    its ``PinballLoss(level=0.5)`` (the pinball loss at 1/2 is half the
    absolute error), unweighted (it has no weighted median).

    References
    ----------
    .. [1] T. Dimitriadis, T. Gneiting and A. I. Jordan, "Stable reliability
           diagrams for probabilistic classifiers", *PNAS* 118(8),
           e2016191118, 2021.
    .. [2] T. Gneiting and J. Resin, "Regression diagnostics meets forecast
           evaluation: conditional calibration, reliability diagrams, and
           coefficient of determination", *Electronic Journal of
           Statistics* 17(2), 3226-3286, 2023.
    .. [3] A. I. Jordan, A. Mühlemann and J. F. Ziegel, "Characterizing the
           optimal solutions to the isotonic regression problem for
           identifiable functionals", *Annals of the Institute of
           Statistical Mathematics* 74, 489-514, 2022.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [0.0, 0.0, 1.0, 1.0], "yhat": [-1.0, 1.0, 1.0, 2.0]})
    >>> polars_l2.decompose(df, "y", "yhat").drop("model", "n", "bound")
    shape: (1, 4)
    ┌────────────────┬────────────────┬─────────────┬───────┐
    │ miscalibration ┆ discrimination ┆ uncertainty ┆ score │
    │ ---            ┆ ---            ┆ ---         ┆ ---   │
    │ f64            ┆ f64            ┆ f64         ┆ f64   │
    ╞════════════════╪════════════════╪═════════════╪═══════╡
    │ 0.625          ┆ 0.125          ┆ 0.25        ┆ 0.75  │
    └────────────────┴────────────────┴─────────────┴───────┘
    """
    function = "polars_l2.decompose"
    options.check(function, score_loss=loss, bins=bins, nan_policy=nan_policy)
    table = bin_table(
        frame,
        actual,
        predicted,
        by=by,
        weight=weight,
        loss=loss,
        bins=bins,
        nan_policy=nan_policy,
        function=function,
    )
    return table.summary()


@dataclass(frozen=True)
class Fit:
    """One model and segment's decomposition, and its bins with the fit."""

    n: int
    parts: tuple[float, float, float, float, float] | None
    #: Per bin: mean prediction, actual mean (median), the fit, the weight.
    bins: tuple[NDArray[np.float64], ...]


@dataclass(frozen=True)
class BinTable:
    """The binned table of every model and segment, and how to fit it."""

    table: pl.DataFrame
    keys: list[str]
    user_keys: list[str]
    models: tuple[str, ...]
    loss: str
    exact: bool
    #: The data's segments (under `user_keys`), with or without counted rows.
    segments: pl.DataFrame | None = None

    def fits(self) -> list[tuple[int, tuple[object, ...], Fit]]:
        """Fit each model and segment: (model's position, keys, fit)."""
        group = [ORDER, *self.keys]
        parts = self.table.sort(
            [*group, _Z, *([_YK] if self.loss == "absolute" else [])], nulls_last=True
        ).partition_by(group, maintain_order=True, as_dict=True)
        fit = _fit_mean if self.loss == "squared" else _fit_median
        # An infinite weight or value makes NaN parts (the metrics' rule),
        # not numpy's warnings on the way there.
        with np.errstate(all="ignore"):
            return [
                (int(str(key[0])), key[1:], fit(part, exact=self.exact))
                for key, part in parts.items()
            ]

    def summary(self) -> pl.DataFrame:
        """Return the decomposition: one row per model and segment."""
        rows = []
        for order, keys, fit in self.fits():
            parts = fit.parts or (None,) * 5
            rows.append((self.models[order], *keys, fit.n, *parts))
        names = ["model", *self.user_keys, *COLUMNS[1:]]
        schema: dict[str, pl.DataType] = {
            "model": pl.String(),
            **{
                u: self.table.schema[k]
                for k, u in zip(self.keys, self.user_keys, strict=True)
            },
            "n": pl.Int64(),
            **dict.fromkeys(COLUMNS[2:], pl.Float64()),
        }
        found = pl.DataFrame(rows, schema=schema, orient="row").select(names)
        return self._every_segment(found)

    def _every_segment(self, found: pl.DataFrame) -> pl.DataFrame:
        """Give every model a row in every segment: n 0 where no row counts.

        As in :func:`polars_l2.report`: a model with no counted row in a
        segment of the data is there, with nulls, not left out.
        """
        order = pl.DataFrame(
            {"model": list(self.models), ORDER: range(len(self.models))},
            schema={"model": pl.String, ORDER: pl.Int64},
        )
        keys = self.user_keys
        grid = (
            order if self.segments is None else order.join(self.segments, how="cross")
        )
        whole = grid.join(
            found, on=["model", *keys], how="left", nulls_equal=True
        ).with_columns(pl.col("n").fill_null(0))
        return whole.sort([ORDER, *keys], nulls_last=True).select(found.columns)

    def curve(self) -> pl.DataFrame:
        """Return the reliability table: per model, segment and bin, with the fit."""
        parts = []
        key_types = {
            u: self.table.schema[k]
            for k, u in zip(self.keys, self.user_keys, strict=True)
        }
        for order, keys, fit in self.fits():
            predicted, observed, fitted, weight = fit.bins
            size = predicted.shape[0]
            columns: dict[str, pl.Series] = {
                "model": pl.Series([self.models[order]] * size, dtype=pl.String),
                **{
                    name: pl.Series([value] * size, dtype=key_types[name])
                    for name, value in zip(self.user_keys, keys, strict=True)
                },
                "predicted": pl.Series(predicted, dtype=pl.Float64),
                "actual": pl.Series(observed, dtype=pl.Float64),
                "fit": pl.Series(fitted, dtype=pl.Float64),
                "weight": pl.Series(weight, dtype=pl.Float64),
            }
            parts.append(pl.DataFrame(columns))
        if not parts:
            schema = {
                "model": pl.String(),
                **key_types,
                **dict.fromkeys(("predicted", "actual", "fit", "weight"), pl.Float64()),
            }
            return pl.DataFrame(schema=schema)
        return pl.concat(parts, how="vertical")


def bin_table(
    frame: object,
    actual: object,
    predicted: object,
    *,
    by: object,
    weight: object,
    loss: str,
    bins: int | Sequence[float] | None,
    nan_policy: object,
    function: str,
) -> BinTable:
    """Reduce the data to the binned table (one query, two with quantile bins)."""
    spec = arguments.parse(
        actual,
        predicted,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        function=function,
        reserved=(*COLUMNS, *RESERVED),
    )
    data = frames.coerce(frame, function=function)
    resolved = arguments.resolve(data.frame, spec, function=function)
    internal = resolved.spec
    lazy = resolved.frame
    edges = _edges(lazy, internal, loss, bins)
    parts = [
        _model_cells(lazy, internal, i, loss, edges) for i in range(len(spec.predicted))
    ]
    queries = [pl.concat(parts, how="vertical")]
    if internal.by:
        # Every segment of the data, with or without counted rows: in the
        # same collect as the cells, so Polars may share their scan.
        keys = zip(internal.by, spec.by, strict=True)
        queries.append(lazy.select(pl.col(k).alias(u) for k, u in keys).unique())
    table, *found = pl.collect_all(queries)
    segments = found[0] if found else None
    inner = [f"{_KEY}{i}" for i in range(len(internal.by))]
    table = table.rename(dict(zip(internal.by, inner, strict=True)))
    exact = bins is None
    if loss == "absolute" and exact:
        _check_cells(table, [ORDER, *inner], function=function)
    return BinTable(table, inner, list(spec.by), spec.predicted, loss, exact, segments)


@dataclass(frozen=True)
class _Edges:
    """Inner bin edges per model (None: the distinct predictions), and of y."""

    predictions: list[list[float] | None]
    actual: list[float] | None


def _edges(
    frame: pl.LazyFrame,
    spec: arguments.Spec,
    loss: str,
    bins: int | Sequence[float] | None,
) -> _Edges:
    """Return the bins' edges: given, or quantiles of the data in one query."""
    models = len(spec.predicted)
    if bins is None:
        return _Edges([None] * models, None)
    count = bins if isinstance(bins, int) else len(list(bins)) + 1
    levels = np.linspace(0.0, 1.0, count + 1)[1:-1].tolist()
    chosen = isinstance(bins, int)
    queries = []
    for i, model in enumerate(spec.predicted):
        z, _, y = prediction(spec, model)
        if chosen:
            queries.append(z.filter(z.is_finite()).quantile(levels).alias(f"z{i}"))
        if loss == "absolute":
            queries.append(y.filter(y.is_finite()).quantile(levels).alias(f"y{i}"))
    found: dict[str, object] = {}
    if queries and levels:
        found = frame.select(queries).collect().row(0, named=True)

    def unique(values: object) -> list[float]:
        listed = values if isinstance(values, list) else []
        return sorted({float(v) for v in listed if v is not None})

    if isinstance(bins, int):
        zs: list[list[float] | None] = [
            unique(found.get(f"z{i}")) for i in range(models)
        ]
    else:
        zs = [[float(e) for e in bins] for _ in range(models)]
    pooled = sorted({v for i in range(models) for v in unique(found.get(f"y{i}"))})
    return _Edges(zs, pooled if loss == "absolute" else None)


def _bin_of(values: pl.Expr, edges: list[float] | None) -> pl.Expr:
    """Return the bin of each value: itself (no edges), else its bin's index."""
    if edges is None:
        return values
    index = pl.lit(pl.Series(edges, dtype=pl.Float64)).search_sorted(
        values, side="left"
    )
    return pl.when(values.is_not_null()).then(index.cast(pl.Float64))


def _model_cells(
    frame: pl.LazyFrame, spec: arguments.Spec, i: int, loss: str, edges: _Edges
) -> pl.LazyFrame:
    """One model's cells: per segment and bin (and actual value), the sums."""
    keys = list(spec.by)
    model = spec.predicted[i]
    z, w, y = prediction(spec, model)
    e = counted(spec, model)[0]
    score = e.pow(2) if loss == "squared" else e.abs()
    weight = pl.when(z.is_not_null()).then(1.0) if w is None else w
    rows = frame.select(
        *keys,
        y.alias("_l2_y"),
        z.alias(_Z),
        _bin_of(z, edges.predictions[i]).alias("_l2_zk"),
        weight.alias("_l2_wt"),
        score.alias("_l2_sc"),
    ).filter(pl.col(_Z).is_not_null())
    yv, zv, wv = pl.col("_l2_y"), pl.col(_Z), pl.col("_l2_wt")
    group: list[str | pl.Expr] = [*keys, "_l2_zk"]
    if loss == "absolute":
        group.append(_bin_of(yv, edges.actual).alias(_YK))
    total = wv.sum()
    mean_y = (wv * yv).sum() / total
    aggs = [
        pl.len().alias(_N),
        total.alias(_W),
        (wv * yv).sum().alias(_WY),
        (
            (yv.var(ddof=0) * pl.len()).fill_null(0.0)
            if w is None
            else _m2(
                pl.len().cast(pl.Float64),
                pl.cov(wv * yv, yv, ddof=0),
                mean_y,
                pl.cov(wv, yv, ddof=0),
            )
        ).alias(_M2),
        (wv * zv).sum().alias(_WZ),
        (wv * pl.col("_l2_sc")).sum().alias(_S),
        yv.min().alias(_LO),
        yv.max().alias(_HI),
        (wv < 0).sum().alias(_NEG),
    ]
    cells = rows.group_by(group).agg(aggs)
    return cells.select(
        pl.lit(i, pl.Int64).alias(ORDER),
        *keys,
        pl.col("_l2_zk").alias(_Z),
        *(
            [pl.col(_YK)]
            if loss == "absolute"
            else [pl.lit(None, pl.Float64).alias(_YK)]
        ),
        _N,
        _W,
        _WY,
        _M2,
        _WZ,
        _S,
        _LO,
        _HI,
        _NEG,
    )


def _check_cells(table: pl.DataFrame, group: list[str], *, function: str) -> None:
    """Refuse an exact absolute-error table too large to fit in memory."""
    sizes = table.group_by(group).agg(
        (pl.col(_Z).n_unique() * pl.col(_YK).n_unique()).alias("cells")
    )
    largest = sizes.get_column("cells").max()
    if isinstance(largest, int) and largest > MAX_CELLS:
        msg = (
            f"{function}: the exact decomposition of the absolute error would "
            f"need {largest:,} cells (distinct predictions times distinct "
            "actual values) for one model and segment; pass bins= (for "
            "example bins=1000) for a bounded one"
        )
        raise L2InputError(msg)


def _invalid(part: pl.DataFrame) -> tuple[int, bool]:
    """Return the rows counted, and whether the part has no valid decomposition."""
    n = int(part.get_column(_N).sum())
    # The metrics' null rule: a NaN weight passes it (the parts are NaN).
    rule = metrics.weights_valid(pl.col(_W).sum(), pl.col(_NEG).sum())
    return n, n == 0 or not part.select(rule).item()


def _fit_mean(part: pl.DataFrame, *, exact: bool) -> Fit:
    """Return the squared error's decomposition of one model and segment."""
    from scipy.optimize import isotonic_regression  # noqa: PLC0415

    n, invalid = _invalid(part)
    w = part.get_column(_W).to_numpy()
    wy = part.get_column(_WY).to_numpy()
    m2 = part.get_column(_M2).to_numpy()
    mean_z = part.get_column(_WZ).to_numpy() / np.where(w != 0, w, np.nan)
    if invalid:
        return Fit(n, None, (mean_z, wy / w, wy / w, w))
    total = w.sum()
    mean = wy / w
    overall = wy.sum() / total
    score = part.get_column(_S).sum() / total
    if not np.all(np.isfinite(mean)) or not np.isfinite(score):
        nan = float("nan")
        return Fit(n, (nan, nan, nan, score, nan), (mean_z, mean, mean, w))
    fit = isotonic_regression(mean, weights=w, increasing=True).x
    recalibrated = (m2.sum() + (w * (mean - fit) ** 2).sum()) / total
    uncertainty = (m2.sum() + (w * (mean - overall) ** 2).sum()) / total
    bound = 0.0
    if not exact:
        spread = float(part.get_column(_HI).to_numpy().max()) - float(
            part.get_column(_LO).to_numpy().min()
        )
        bound = 2.0 * spread**2 * float(w.max()) / total
    parts = (
        score - recalibrated,
        uncertainty - recalibrated,
        uncertainty,
        score,
        bound,
    )
    return Fit(n, parts, (mean_z, mean, fit, w))


def _lower(weights: NDArray[np.float64], values: NDArray[np.float64]) -> float:
    """Return the weighted lower median (half the weight at or below it)."""
    cum = np.cumsum(weights)
    return float(values[np.searchsorted(cum, 0.5 * cum[-1], side="left")])


def _upper(weights: NDArray[np.float64], values: NDArray[np.float64]) -> float:
    """Return the weighted upper median (half the weight at or above it)."""
    above = np.cumsum(weights[::-1])
    return float(values[::-1][np.searchsorted(above, 0.5 * above[-1], side="left")])


def _blocks(
    cumulative: NDArray[np.float64], values: NDArray[np.float64]
) -> list[tuple[int, int, float]]:
    """Pool adjacent violators with the lower median: (start, end, value) blocks.

    Bins are pooled while the previous block's value is at least the
    current one's, so the blocks' values increase strictly.
    """
    blocks: list[tuple[int, int, float]] = []
    for b in range(cumulative.shape[0] - 1):
        start, end = b, b + 1
        value = _lower(cumulative[end] - cumulative[start], values)
        while blocks and blocks[-1][2] >= value:
            start = blocks.pop()[0]
            value = _lower(cumulative[end] - cumulative[start], values)
        blocks.append((start, end, value))
    return blocks


def _fit_median(part: pl.DataFrame, *, exact: bool) -> Fit:
    """Return the absolute error's decomposition of one model and segment."""
    n, invalid = _invalid(part)
    zkey = part.get_column(_Z).to_numpy()
    w = part.get_column(_W).to_numpy()
    wy = part.get_column(_WY).to_numpy()
    rep = part.get_column(_YK).to_numpy() if exact else wy / w
    zbins, zindex = np.unique(zkey, return_inverse=True)
    values, uindex = np.unique(rep, return_inverse=True)
    matrix = np.zeros((zbins.shape[0], values.shape[0]))
    np.add.at(matrix, (zindex, uindex), w)
    per_bin = matrix.sum(axis=1)
    mean_z = np.bincount(zindex, part.get_column(_WZ).to_numpy()) / per_bin
    total = float(w.sum())
    score = float(part.get_column(_S).sum()) / total if total else float("nan")
    if invalid or not np.all(np.isfinite(values)) or not np.isfinite(score):
        nan = float("nan")
        parts = None if invalid else (nan, nan, nan, score, nan)
        return Fit(n, parts, (mean_z, mean_z * nan, mean_z * nan, per_bin))
    cumulative = np.vstack([np.zeros(values.shape[0]), np.cumsum(matrix, axis=0)])
    blocks = _blocks(cumulative, values)
    upper = np.array(
        [_upper(cumulative[e] - cumulative[s], values) for s, e, _ in blocks]
    )
    upper = np.minimum.accumulate(upper[::-1])[::-1]
    fitted = np.empty(zbins.shape[0])
    for (start, end, lower), up in zip(blocks, upper, strict=True):
        fitted[start:end] = 0.5 * (lower + up)
    everything = matrix.sum(axis=0)
    marginal = 0.5 * (_lower(everything, values) + _upper(everything, values))
    recalibrated = float((w * np.abs(rep - fitted[zindex])).sum()) / total
    uncertainty = float((w * np.abs(rep - marginal)).sum()) / total
    medians = np.array(
        [0.5 * (_lower(row, values) + _upper(row, values)) for row in matrix]
    )
    bound = 0.0 if exact else _median_bound(part, zindex, per_bin, total)
    parts = (
        score - recalibrated,
        uncertainty - recalibrated,
        uncertainty,
        score,
        bound,
    )
    return Fit(n, parts, (mean_z, medians, fitted, per_bin))


def _median_bound(
    part: pl.DataFrame,
    zindex: NDArray[np.intp],
    per_bin: NDArray[np.float64],
    total: float,
) -> float:
    """Return the absolute error's bound with bins (see :func:`decompose`'s Notes)."""
    lo = part.get_column(_LO).to_numpy()
    hi = part.get_column(_HI).to_numpy()
    w = part.get_column(_W).to_numpy()
    spread = float(hi.max() - lo.min())
    coarse = spread * float(per_bin.max()) / total
    cell = w * (hi - lo) / 2.0
    within = np.zeros(per_bin.shape[0])
    np.maximum.at(within, zindex, cell)
    ybins = part.get_column(_YK).to_numpy()
    keys, yindex = np.unique(ybins, return_inverse=True)
    low = np.full(keys.shape[0], np.inf)
    high = np.full(keys.shape[0], -np.inf)
    np.minimum.at(low, yindex, lo)
    np.maximum.at(high, yindex, hi)
    marginal = float((np.bincount(yindex, w) * (high - low)).max()) / 2.0
    return coarse + (float(within.sum()) + marginal) / total

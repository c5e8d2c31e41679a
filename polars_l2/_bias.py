"""Bias per bin of a feature: is the model calibrated across a feature's range."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from polars_l2._core import arguments, frames, metrics, moments, multiplicity, options
from polars_l2._core.moments import ORDER
from polars_l2._state import RESERVED
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import ArrowStreamExportable, NanPolicy

__all__ = ["bias_by"]

#: The columns of the table besides the keys and the feature's value.
COLUMNS = (
    "model",
    "bin_low",
    "bin_high",
    "n",
    "small",
    "bias",
    "bias_low",
    "bias_high",
    "p_value",
    "p_value_adjusted",
    "verdict",
)

_SE, _DF = "_l2_se", "_l2_df"


def bias_by(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str,
    predicted: str | Sequence[str],
    feature: str,
    *,
    bins: int | Sequence[float] | None = 10,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    adjust: str | None = "holm",
    min_n: int = 30,
    nan_policy: NanPolicy = "propagate",
) -> pl.DataFrame:
    r"""Test each model's bias per bin of a feature: the calibration check by feature.

    A model can look fine overall and still over-predict for small values of
    a feature and under-predict for large ones. Per bin of a numeric
    `feature` (quantile bins, or given edges) or per value of any other
    (String, Categorical, Boolean, dates...), the mean error
    :math:`\bar e`, :math:`e = \hat y - y` (the report's ``bias``), with
    its Student-t interval and the p-value of the t-test of zero bias,
    adjusted for the many bins of a model as :func:`polars_l2.compare`
    adjusts for segments.

    Parameters
    ----------
    frame
        The data: any table :func:`polars_l2.report` takes.
    actual
        Name of the column of observed values.
    predicted
        Name(s) of the prediction columns, one per model.
    feature
        Name of the column to bin by.
    bins
        For a numeric `feature`: the number of quantile bins (default 10;
        the edges are the feature's quantiles, from one more query, equal
        edges once), or a strictly increasing sequence of inner edges (bin
        :math:`k` is :math:`(e_{k-1}, e_k]`). None: one bin per distinct
        value, as for a non-numeric feature. Ignored for other features.
    by
        Name(s) of further segment columns, or None.
    weight
        Name of a column of non-negative sample weights, or None: weighted
        means, with Kish's effective size in the test.
    confidence
        Level of the interval; ``1 - confidence`` is the level of the test
        that gives the verdict.
    adjust
        ``"holm"`` (default), ``"bh"`` or None, as in
        :func:`polars_l2.compare`: across the bins (and segments) of each
        model that are not small.
    min_n
        Bins whose effective size is below `min_n` are ``small``: no
        adjusted p-value nor verdict, and not counted among those adjusted
        for.
    nan_policy
        ``"propagate"`` (default) or ``"omit"`` NaN, as in
        :func:`polars_l2.mse`.

    Returns
    -------
    DataFrame
        One row per model, segment and bin (models in order, then by key and
        bin, null last): ``model`` (String), the `by` keys; for a numeric
        binned feature ``bin_low`` and ``bin_high`` (Float64, the bin's
        edges, infinite at the ends; NaN for the rows whose feature is NaN,
        a bin of their own after the others; null for the rows whose
        feature is null), else the feature's values in its own dtype (a column named
        `feature`); ``n`` (Int64), ``small`` (Boolean); ``bias``,
        ``bias_low``, ``bias_high`` (Float64, the target's units);
        ``p_value``, ``p_value_adjusted`` (Float64); ``verdict`` (String):
        ``"over"`` or ``"under"`` (the model over- or under-predicts there)
        where the adjusted p-value is below ``1 - confidence``, else
        ``"inconclusive"``; null for small bins.

    Raises
    ------
    L2InputError
        For a missing column or a bad option, as :func:`polars_l2.report`,
        or a numeric feature without a finite value to bin.

    Notes
    -----
    With :math:`s^2 = \sum_i w_i (e_i - \bar e)^2 / W`, the standard error
    is :math:`\sqrt{s^2/(n_{\mathrm{eff}} - 1)}` and the statistic
    :math:`t = \bar e / se` on :math:`n_{\mathrm{eff}} - 1` degrees of
    freedom: ``scipy.stats.ttest_1samp`` of the errors, unweighted. The
    moments are the state's (:func:`polars_l2.state` with the bin as a
    key), so bins merge as segments do.

    References
    ----------
    .. [1] S. Holm, "A simple sequentially rejective multiple test
           procedure", *Scandinavian Journal of Statistics* 6(2), 65-70, 1979.
    .. [2] Y. Benjamini and Y. Hochberg, "Controlling the false discovery
           rate", *Journal of the Royal Statistical Society B* 57(1),
           289-300, 1995.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame(
    ...     {
    ...         "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...         "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...         "yhat": [1.5, 2.4, 3.6, 3.5, 4.6, 5.4],
    ...     }
    ... )
    >>> polars_l2.bias_by(df, "y", "yhat", "x", bins=2, min_n=2).select(
    ...     "bin_low", "bin_high", "n", "bias", "p_value"
    ... )
    shape: (2, 5)
    ┌─────────┬──────────┬─────┬──────┬──────────┐
    │ bin_low ┆ bin_high ┆ n   ┆ bias ┆ p_value  │
    │ ---     ┆ ---      ┆ --- ┆ ---  ┆ ---      │
    │ f64     ┆ f64      ┆ i64 ┆ f64  ┆ f64      │
    ╞═════════╪══════════╪═════╪══════╪══════════╡
    │ -inf    ┆ 3.5      ┆ 3   ┆ 0.5  ┆ 0.013072 │
    │ 3.5     ┆ inf      ┆ 3   ┆ -0.5 ┆ 0.013072 │
    └─────────┴──────────┴─────┴──────┴──────────┘

    The model over-predicts small ``x`` and under-predicts large ones.
    """
    function = "polars_l2.bias_by"
    options.check(
        function,
        bins=bins,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
        nan_policy=nan_policy,
    )
    keys = arguments.names(by, role="by", function=function)
    if not isinstance(feature, str):
        msg = f"{function}: feature must be one column name, got {feature!r}"
        raise L2InputError(msg)
    spec = arguments.parse(
        actual,
        predicted,
        by=[*keys, feature] if feature not in keys else keys,
        weight=weight,
        nan_policy=nan_policy,
        function=function,
        reserved=(*COLUMNS, *RESERVED),
    )
    if feature in keys:
        msg = f"{function}: feature {feature!r} is also a by column"
        raise L2InputError(msg)
    data = frames.coerce(frame, function=function)
    resolved = arguments.resolve(data.frame, spec, function=function)
    internal = resolved.spec
    column = internal.by[-1]
    dtype = internal.schema[column]
    edges = None
    source = resolved.frame
    if bins is not None and dtype.is_numeric():
        edges = _edges(source, column, bins, function=function)
        index = pl.lit(pl.Series(edges, dtype=pl.Float64)).search_sorted(
            pl.col(column).cast(pl.Float64), side="left"
        )
        # A NaN feature lies in no interval: its rows are a bin of their own,
        # after the others (NaN edges), as a NaN key is in the report.
        binned = (
            pl.when(pl.col(column).is_nan())
            .then(len(edges) + 2)
            .when(pl.col(column).is_not_null())
            .then(index.cast(pl.Int64))
        )
        source = source.with_columns(binned.alias(column))
        types = dict(internal.schema.items())
        types[column] = pl.Int64()
        internal = replace(internal, resolved=pl.Schema(types))
    rows = moments.long_moments(source, internal).with_columns(resolved.model_column())
    table = _tests(_moments_table(rows, internal), confidence)
    return _finish(
        table, resolved, edges=edges, adjust=adjust, alpha=1 - confidence, min_n=min_n
    )


def _edges(
    frame: pl.LazyFrame, column: str, bins: int | Sequence[float], *, function: str
) -> list[float]:
    """Return the inner edges: given, or the feature's quantiles in one query."""
    if not isinstance(bins, int):
        return [float(edge) for edge in bins]
    values = pl.col(column).cast(pl.Float64)
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1].tolist()
    if not levels:
        return []
    found = (
        frame.select(values.filter(values.is_finite()).quantile(levels, "linear"))
        .collect()
        .item()
    )
    listed = [] if found is None else found.to_list()
    edges = sorted({float(v) for v in listed if v is not None})
    if not edges:
        msg = f"{function}: feature {column!r} has no finite value to bin"
        raise L2InputError(msg)
    return edges


def _moments_table(rows: pl.LazyFrame, spec: arguments.Spec) -> pl.DataFrame:
    """Per model, segment and bin: the bias, its standard error and freedom."""
    valid = metrics.weights_valid(pl.col("weight_sum"), pl.col("negative_weight_count"))
    size = metrics.effective_n(pl.col("weight_sum"), pl.col("weight_sq_ratio"))
    se = metrics.standard_error(
        pl.col("error_m2"), pl.col("n"), pl.col("weight_sum"), pl.col("weight_sq_ratio")
    )
    return rows.select(
        ORDER,
        "model",
        *spec.by,
        pl.col("n").fill_null(0),
        size.alias("_l2_size"),
        pl.when(valid).then(pl.col("error_mean")).alias("bias"),
        pl.when(valid).then(se).alias(_SE),
        pl.when(valid).then(size - 1).alias(_DF),
    ).collect()


def _tests(table: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Add the interval and the two-sided p-value of the t-test, on the table."""
    from scipy import stats  # noqa: PLC0415  (see polars_l2.compare)

    bias = table.get_column("bias").cast(pl.Float64).fill_null(np.nan).to_numpy()
    se = table.get_column(_SE).cast(pl.Float64).fill_null(np.nan).to_numpy()
    df = table.get_column(_DF).cast(pl.Float64).fill_null(np.nan).to_numpy()
    usable = np.isfinite(se) & np.isfinite(df) & (df > 0) & np.isfinite(bias)
    safe = np.where(usable, df, 1.0)
    quantile = stats.t.ppf(0.5 + confidence / 2, safe)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(se > 0, bias / se, np.where(bias == 0, 0.0, np.inf))
    p_value = 2 * stats.t.sf(np.abs(statistic), safe)

    def shown(values: np.ndarray, name: str) -> pl.Series:
        return pl.Series(name, np.where(usable, values, np.nan)).fill_nan(None)

    return table.with_columns(
        shown(bias - quantile * se, "bias_low"),
        shown(bias + quantile * se, "bias_high"),
        shown(p_value, "p_value"),
    )


def _finish(
    table: pl.DataFrame,
    resolved: arguments.Resolved,
    *,
    edges: list[float] | None,
    adjust: str | None,
    alpha: float,
    min_n: int,
) -> pl.DataFrame:
    """Adjust, give verdicts, name the keys as the user did, show the bins."""
    small = ~(pl.col("_l2_size") >= min_n)
    table = table.with_columns(small.fill_null(value=True).alias("small"))
    p = pl.col("p_value")
    tested = ~pl.col("small") & p.is_not_null()
    table = table.with_columns(
        multiplicity.adjusted(
            table, p_value="p_value", tested=tested, group=["model"], method=adjust
        )
    )
    verdict = (
        pl.when(pl.col("p_value_adjusted").is_null())
        .then(None)
        .when(pl.col("p_value_adjusted") < alpha)
        .then(
            pl.when(pl.col("bias") > 0).then(pl.lit("over")).otherwise(pl.lit("under"))
        )
        .otherwise(pl.lit("inconclusive"))
    )
    table = table.with_columns(verdict.alias("verdict"))
    pairs = resolved.key_names()
    *segments, (feature, name) = pairs
    shown = [arguments.column(key).alias(user) for key, user in segments]
    if edges is None:
        shown.append(pl.col(feature).alias(name))
    else:
        bounds = pl.Series([-np.inf, *edges, np.inf, np.nan, np.nan], dtype=pl.Float64)
        index = pl.col(feature)
        shown += [
            pl.lit(bounds).gather(index).alias("bin_low"),
            pl.lit(bounds).gather(index + 1).alias("bin_high"),
        ]
    return table.sort([ORDER, *(k for k, _ in pairs)], nulls_last=True).select(
        "model",
        *shown,
        "n",
        "small",
        "bias",
        "bias_low",
        "bias_high",
        "p_value",
        "p_value_adjusted",
        "verdict",
    )

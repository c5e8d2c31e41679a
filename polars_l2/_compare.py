r"""Is the new model better? Paired comparison of squared errors, per segment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from polars_l2._core import (
    arguments,
    metrics,
    moments,
    multiplicity,
    options,
    report_rows,
)
from polars_l2._core.moments import ORDER
from polars_l2._state import RESERVED, is_state, state_keys
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import NanPolicy

__all__ = ["compare"]

_KEY = "_l2_key_"
_CLUSTER = "_l2_cluster"
_SE, _DF = "_l2_se", "_l2_df"

#: The columns of a comparison besides the keys; a `by` column may not take them.
COLUMNS = (
    "model",
    "baseline",
    "overall",
    "n",
    "clusters",
    "small",
    "mse",
    "mse_baseline",
    "mse_diff",
    "mse_diff_low",
    "mse_diff_high",
    "skill",
    "p_value",
    "p_value_adjusted",
    "verdict",
)


def compare(
    frame: pl.DataFrame | pl.LazyFrame,
    actual: str | None,
    baseline: str,
    candidates: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    cluster: str | None = None,
    confidence: float = 0.95,
    adjust: str | None = "holm",
    nan_policy: NanPolicy = "propagate",
    min_n: int = 30,
) -> pl.DataFrame:
    r"""Compare candidate models with a baseline, per segment: is the MSE lower.

    For each candidate and segment, the paired t-test on the per-row
    differences of squared errors :math:`d_i = e_{c,i}^2 - e_{b,i}^2` over
    the rows where the actual, both predictions and the weight are present.
    At horizon 1 this is the Diebold-Mariano test with the
    Harvey-Leybourne-Newbold small-sample correction [1]_ [2]_. The
    differences of one row are paired, so their spread is far smaller than
    that of either MSE: the test sees differences two separate intervals
    would hide.

    Parameters
    ----------
    frame
        The data (DataFrame or LazyFrame, one row per prediction), or a
        merged state built with ``baseline=`` (:func:`polars_l2.state`,
        :func:`polars_l2.merge_states`): then `actual`, `by`, `weight` and
        `nan_policy` come from the state and are not read.
    actual
        Name of the column of observed values (None for a state).
    baseline
        Name of the baseline model's prediction column.
    candidates
        Name(s) of the candidate models' prediction columns.
    by
        Name(s) of the columns that define the segments, or None.
    weight
        Name of a column of non-negative sample weights, or None. Weighted
        means, with Kish's effective size :math:`n_{\mathrm{eff}} =
        W^2/\sum w^2` in place of :math:`n`, as in the report's intervals.
    cluster
        Name of a column of cluster ids (days, customers, stores), or None:
        cluster-robust standard errors with Student's t on :math:`G - 1`
        degrees of freedom (see Notes). Rows of a null id are one cluster.
        Only with a frame: a state keeps no per-cluster sums.
    confidence
        Level of the interval of ``mse_diff``; ``1 - confidence`` is the
        level of the test that gives the verdict.
    adjust
        ``"holm"`` (default, Holm's step-down, controls the family-wise
        error), ``"bh"`` (Benjamini-Hochberg, controls the false discovery
        rate) or None: how ``p_value_adjusted`` accounts for testing every
        segment of a candidate. The overall row is not adjusted.
    nan_policy
        ``"propagate"`` (default) or ``"omit"`` NaN, as in
        :func:`polars_l2.mse`.
    min_n
        Segments whose effective size of paired rows is below `min_n` are
        ``small``: they get no adjusted p-value and no verdict, and do not
        count among the segments adjusted for.

    Returns
    -------
    DataFrame
        One row per candidate and segment, then the candidate's overall row:

        ``model``, ``baseline`` (String), the `by` keys;
        ``overall`` (Boolean): the all-rows row, whose keys are null;
        ``n`` (Int64): paired rows; ``clusters`` (Int64, with `cluster`):
        clusters with a paired row; ``small`` (Boolean);
        ``mse``, ``mse_baseline`` (Float64): both models' MSE on the paired
        rows; ``mse_diff``: their difference, candidate minus baseline
        (negative: the candidate is better); ``mse_diff_low``,
        ``mse_diff_high``: its interval at `confidence`;
        ``skill``: :math:`1 - \mathrm{MSE}/\mathrm{MSE}_{\mathrm{baseline}}`;
        ``p_value``: two-sided, of the paired test; ``p_value_adjusted``;
        ``verdict`` (String): ``"better"`` or ``"worse"`` where the
        adjusted p-value is below ``1 - confidence``, else
        ``"inconclusive"``; null for small segments.

        Always a DataFrame: the query runs (Student's t distribution is
        evaluated on the aggregated rows, and the adjustment needs every
        segment).

    Raises
    ------
    L2InputError
        For a missing column or a bad option (as :func:`polars_l2.report`),
        a baseline among the candidates, a state built without this
        baseline or without a candidate, or `cluster` with a state.

    Notes
    -----
    With :math:`\bar d` the (weighted) mean of the differences and
    :math:`s_d^2 = \sum_i w_i (d_i - \bar d)^2 / W`, the standard error is
    :math:`\sqrt{s_d^2 / (n_{\mathrm{eff}} - 1)}` (unweighted,
    :math:`s_d/\sqrt{n}` with ``ddof=1``), the statistic
    :math:`t = \bar d / se` on :math:`n_{\mathrm{eff}} - 1` degrees of
    freedom: ``scipy.stats.ttest_rel`` unweighted. With `cluster`, the
    variance is :math:`\frac{G}{G-1} \sum_g S_g^2 / W^2` with
    :math:`S_g = \sum_{i \in g} w_i (d_i - \bar d)`, on :math:`G - 1`
    degrees of freedom: an intercept-only regression with cluster-robust
    errors (statsmodels' ``cov_type="cluster"``, ``use_t=True``). Use it
    when rows within a cluster are correlated, as in time series.

    References
    ----------
    .. [1] F. X. Diebold and R. S. Mariano, "Comparing predictive accuracy",
           *Journal of Business & Economic Statistics* 13(3), 253-263, 1995.
    .. [2] D. Harvey, S. Leybourne and P. Newbold, "Testing the equality of
           prediction mean squared errors", *International Journal of
           Forecasting* 13(2), 281-291, 1997.
    .. [3] S. Holm, "A simple sequentially rejective multiple test
           procedure", *Scandinavian Journal of Statistics* 6(2), 65-70, 1979.
    .. [4] Y. Benjamini and Y. Hochberg, "Controlling the false discovery
           rate", *Journal of the Royal Statistical Society B* 57(1),
           289-300, 1995.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame(
    ...     {
    ...         "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...         "old": [1.5, 2.6, 2.4, 4.7, 4.2, 6.8],
    ...         "new": [1.1, 2.2, 2.9, 4.1, 4.8, 6.3],
    ...     }
    ... )
    >>> polars_l2.compare(df, "y", "old", "new", min_n=2).select(
    ...     "model", "n", "mse_diff", "p_value", "verdict"
    ... )
    shape: (1, 5)
    ┌───────┬─────┬───────────┬──────────┬─────────┐
    │ model ┆ n   ┆ mse_diff  ┆ p_value  ┆ verdict │
    │ ---   ┆ --- ┆ ---       ┆ ---      ┆ ---     │
    │ str   ┆ i64 ┆ f64       ┆ f64      ┆ str     │
    ╞═══════╪═════╪═══════════╪══════════╪═════════╡
    │ new   ┆ 6   ┆ -0.423333 ┆ 0.000742 ┆ better  │
    └───────┴─────┴───────────┴──────────┴─────────┘
    """
    function = "polars_l2.compare"
    options.check(
        function,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
        nan_policy=nan_policy,
    )
    models = arguments.names(candidates, role="candidates", function=function)
    if not isinstance(baseline, str):
        msg = f"{function}: baseline must be one column name, got {baseline!r}"
        raise L2InputError(msg)
    if not models or baseline in models:
        msg = (
            f"{function}: candidates must name at least one column other than "
            f"the baseline {baseline!r}, got {list(models)}"
        )
        raise L2InputError(msg)
    if is_state(frame):
        if cluster is not None:
            msg = (
                f"{function}: cluster= needs the rows; a state keeps no "
                "per-cluster sums: compare the data frame itself"
            )
            raise L2InputError(msg)
        rows, keys, user_keys = _state_rows(frame, baseline, models, function)
        clusters = empty = None
    else:
        rows, keys, user_keys, clusters, empty = _frame_rows(
            frame,
            actual,
            baseline,
            models,
            by=by,
            weight=weight,
            cluster=cluster,
            nan_policy=nan_policy,
            function=function,
        )
    table = _table(rows, clusters, keys, min_n=min_n, empty=empty).collect()
    table = _tests(table, confidence)
    table = _adjusted(table, adjust, 1 - confidence)
    shown = [
        c for c in COLUMNS if c in table.columns and c not in ("model", "baseline")
    ]
    return table.select(
        "model",
        "baseline",
        *(pl.col(key).alias(name) for key, name in zip(keys, user_keys, strict=True)),
        *shown,
    )


def _frame_rows(
    frame: pl.DataFrame | pl.LazyFrame,
    actual: object,
    baseline: str,
    models: tuple[str, ...],
    *,
    by: object,
    weight: object,
    cluster: object,
    nan_policy: object,
    function: str,
) -> tuple[pl.LazyFrame, list[str], list[str], pl.LazyFrame | None, pl.LazyFrame]:
    """Paired moments per candidate and segment from the rows.

    With `cluster`, also each cluster's weight and weighted sum of the
    differences, per candidate and segment; and each candidate's paired
    moments of no rows (for its overall row when no row counts).
    """
    reserved = (*COLUMNS, *RESERVED)
    keys_given = arguments.names(by, role="by", function=function, reserved=reserved)
    clustered: tuple[str, ...] = ()
    if cluster is not None:
        if not isinstance(cluster, str):
            msg = f"{function}: cluster must be a column name or None, got {cluster!r}"
            raise L2InputError(msg)
        clustered = (cluster,)
    spec = arguments.parse(
        actual,
        [baseline, *models],
        by=[*keys_given, *clustered],
        weight=weight,
        nan_policy=nan_policy,
        function=function,
    )
    resolved = arguments.resolve(frame, spec, function=function)
    internal = resolved.spec
    long = moments.long_moments(
        resolved.frame, internal, baseline=0, baseline_name=baseline
    ).filter(pl.col(ORDER) != 0)
    empty = moments.no_rows(
        resolved.frame, internal, baseline=0, baseline_name=baseline
    ).filter(pl.col(ORDER) != 0)
    empty = _user_models(empty.select(ORDER, "model", *moments.MOMENTS), resolved)
    # Internal key names: the user's may be patterns or clash with ours.
    inner = [f"{_KEY}{i}" for i in range(len(keys_given))]
    names = [name for name, _ in resolved.key_names()]
    renamed = [
        pl.col(name).alias(alias)
        for name, alias in zip(names[: len(inner)], inner, strict=True)
    ]
    if cluster is None:
        rows = long.select(ORDER, "model", *renamed, *moments.MOMENTS)
        return _user_models(rows, resolved), inner, list(keys_given), None, empty
    per_cluster = long.select(
        ORDER, "model", *renamed, pl.col(names[-1]).alias(_CLUSTER), *moments.MOMENTS
    )
    per_cluster = _user_models(per_cluster, resolved)
    rows = per_cluster.group_by(ORDER, *inner).agg(
        pl.col("model").first(), *moments.merge_aggregations()
    )
    sums = per_cluster.select(
        ORDER,
        *inner,
        _CLUSTER,
        pl.col("paired_weight_sum").alias("_l2_w"),
        (pl.col("paired_weight_sum") * pl.col("sq_error_diff_mean"))
        .fill_null(0.0)
        .alias("_l2_s"),
    ).filter(pl.col("_l2_w") != 0)
    return rows, inner, list(keys_given), sums, empty


def _user_models(rows: pl.LazyFrame, resolved: arguments.Resolved) -> pl.LazyFrame:
    """Name the models as the user did."""
    return rows.with_columns(resolved.model_column())


def _state_rows(
    state: pl.DataFrame | pl.LazyFrame,
    baseline: str,
    models: tuple[str, ...],
    function: str,
) -> tuple[pl.LazyFrame, list[str], list[str]]:
    """Paired moments per candidate and segment from a (merged) state."""
    names = state.collect_schema().names()
    user_keys = state_keys(names, function=function)
    found = state.lazy().select("model", "baseline").unique().collect()
    baselines = set(found.get_column("baseline").to_list())
    if baselines != {baseline}:
        shown = ", ".join(sorted(map(str, baselines)))
        msg = (
            f"{function}: the state was built with baseline {shown}, not "
            f"{baseline!r}; build it with state(..., baseline={baseline!r})"
        )
        raise L2InputError(msg)
    present = set(found.get_column("model").to_list())
    missing = [model for model in models if model not in present]
    if missing:
        msg = (
            f"{function}: the state has no model {missing[0]!r}; it has "
            f"{', '.join(map(repr, sorted(present)))}"
        )
        raise L2InputError(msg)
    inner = [f"{_KEY}{i}" for i in range(len(user_keys))]
    order: pl.Expr = pl.lit(None, pl.Int64)
    for i, model in reversed(list(enumerate(models))):
        order = pl.when(pl.col("model") == model).then(i).otherwise(order)
    rows = (
        state.lazy()
        .filter(pl.col("model").is_in(list(models)))
        .select(
            order.cast(pl.Int64).alias(ORDER),
            "model",
            *(
                arguments.column(key).alias(a)
                for key, a in zip(user_keys, inner, strict=True)
            ),
            *moments.MOMENTS,
        )
    )
    return rows, inner, user_keys


def _cluster_variance(sums: pl.LazyFrame, group: list[str]) -> pl.LazyFrame:
    """Per `group`: clusters, and the cluster-robust variance of the mean."""
    # Relative to the group's largest cluster weight: the variance is
    # scale-free, and the squares below never overflow or underflow,
    # whatever the weights' scale (one row per cluster: a small table).
    scale = pl.col("_l2_w").abs().max()
    w, s = pl.col("_l2_w") / scale, pl.col("_l2_s") / scale
    total, mean = w.sum(), s.sum() / w.sum()
    g = pl.len()
    score = ((s - w * mean).pow(2)).sum()
    return sums.group_by(group).agg(
        g.cast(pl.Int64).alias("clusters"),
        pl.when(g >= 2).then(g / (g - 1) * score / total.pow(2)).alias("_l2_var"),
    )


def _table(
    rows: pl.LazyFrame,
    sums: pl.LazyFrame | None,
    keys: list[str],
    *,
    min_n: int,
    empty: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Per candidate and segment, then overall: the paired means and their SE.

    `empty` (each candidate's moments of no rows) gives a candidate without
    rows its overall row, as without keys.
    """
    pooled = report_rows.merged_segments(rows, keys, empty=empty)
    if not keys and empty is not None:
        # Clustered rows come per cluster: none without rows, unless merged
        # with the moments of no rows.
        rows = pooled.select(rows.collect_schema().names())
    both = pl.concat(
        [
            rows.with_columns(pl.lit(value=False).alias("overall")),
            pooled.with_columns(pl.lit(value=True).alias("overall")).select(
                *rows.collect_schema().names(), "overall"
            ),
        ]
        if keys
        else [rows.with_columns(pl.lit(value=True).alias("overall"))],
        how="vertical_relaxed",
    )
    if sums is not None:
        per_cluster_total = sums.group_by(ORDER, _CLUSTER).agg(
            pl.col("_l2_w").sum(), pl.col("_l2_s").sum()
        )
        variances = _cluster_variance(sums, [ORDER, *keys]).with_columns(
            pl.lit(value=False).alias("overall")
        )
        overall = _cluster_variance(per_cluster_total, [ORDER]).with_columns(
            pl.lit(value=True).alias("overall"),
            *(pl.lit(None, pl.Null).alias(key) for key in keys),
        )
        if keys:
            variances = pl.concat(
                [variances, overall.select(variances.collect_schema().names())],
                how="vertical_relaxed",
            )
        else:
            variances = overall
        both = both.join(
            variances, on=[ORDER, *keys, "overall"], how="left", nulls_equal=True
        )
    size = metrics.effective_n(
        pl.col("paired_weight_sum"), pl.col("paired_weight_sq_ratio")
    )
    valid = metrics.weights_valid(
        pl.col("paired_weight_sum"), pl.col("paired_negative_weight_count")
    )
    if sums is None:
        se = metrics.standard_error(
            pl.col("sq_error_diff_m2"),
            pl.col("paired_n"),
            pl.col("paired_weight_sum"),
            pl.col("paired_weight_sq_ratio"),
        )
        df = size - 1
    else:
        se = pl.col("_l2_var").sqrt()
        df = (pl.col("clusters") - 1).cast(pl.Float64)
    mse, base = pl.col("paired_sq_error_mean"), pl.col("paired_baseline_sq_error_mean")
    small = (
        pl.when(pl.col("paired_n") == 0)
        .then(pl.lit(value=True))
        .otherwise(~(size >= min_n))
    )
    return both.sort([ORDER, "overall", *keys], nulls_last=True).select(
        "model",
        "baseline",
        *keys,
        "overall",
        pl.col("paired_n").fill_null(0).alias("n"),
        *([pl.col("clusters").fill_null(0)] if sums is not None else []),
        small.alias("small"),
        pl.when(valid).then(mse).alias("mse"),
        pl.when(valid).then(base).alias("mse_baseline"),
        pl.when(valid).then(pl.col("sq_error_diff_mean")).alias("mse_diff"),
        pl.when(valid & (base != 0)).then(1 - mse / base).alias("skill"),
        pl.when(valid).then(se).alias(_SE),
        pl.when(valid).then(df).alias(_DF),
    )


def _tests(table: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Add the interval and the p-value: Student's t, on the aggregated rows."""
    # Imported here, not with the package: scipy.stats adds about 100 MiB of
    # resident memory and a second to every `import polars_l2` (and to every
    # command-line run), and only a comparison needs it.
    from scipy import stats  # noqa: PLC0415

    diff = table.get_column("mse_diff").to_numpy().astype(float)
    se = table.get_column(_SE).to_numpy().astype(float)
    df = table.get_column(_DF).to_numpy().astype(float)
    usable = np.isfinite(se) & np.isfinite(df) & (df > 0) & np.isfinite(diff)
    safe_df = np.where(usable, df, 1.0)
    quantile = stats.t.ppf(0.5 + confidence / 2, safe_df)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.inf))
    p_value = 2 * stats.t.sf(np.abs(statistic), safe_df)
    nulls = ~usable
    return table.with_columns(
        pl.Series("mse_diff_low", np.where(nulls, np.nan, diff - quantile * se)),
        pl.Series("mse_diff_high", np.where(nulls, np.nan, diff + quantile * se)),
        pl.Series("p_value", np.where(nulls, np.nan, p_value)),
    ).with_columns(
        pl.when(pl.Series(nulls).not_()).then(pl.col(name)).alias(name)
        for name in ("mse_diff_low", "mse_diff_high", "p_value")
    )


def _adjusted(table: pl.DataFrame, adjust: str | None, alpha: float) -> pl.DataFrame:
    """Add ``p_value_adjusted`` (per candidate, across its segments) and ``verdict``."""
    p = pl.col("p_value")
    tested = ~pl.col("overall") & ~pl.col("small") & p.is_not_null()
    result = table.with_columns(
        multiplicity.adjusted(
            table, p_value="p_value", tested=tested, group=["model"], method=adjust
        )
    )
    adjusted_p = (
        pl.when(pl.col("overall")).then(p).when(tested).then(pl.col("p_value_adjusted"))
    )
    diff = pl.col("mse_diff")
    verdict = (
        pl.when(adjusted_p.is_null())
        .then(None)
        .when(adjusted_p < alpha)
        .then(pl.when(diff < 0).then(pl.lit("better")).otherwise(pl.lit("worse")))
        .otherwise(pl.lit("inconclusive"))
    )
    return result.with_columns(
        adjusted_p.alias("p_value_adjusted"),
        pl.when(~pl.col("small")).then(verdict).alias("verdict"),
    ).drop(_SE, _DF)

r"""Is the new model better? Paired comparison of losses, per segment.

:func:`compare` is put together from the modules of this package:
:mod:`~polars_l2._compare.rows` (the paired moments, from the rows or a
state), :mod:`~polars_l2._compare.table` (per loss, candidate and segment,
the mean difference and its standard error),
:mod:`~polars_l2._compare.paired_test` (Student's t) and
:mod:`~polars_l2._compare.adjustment` (many segments: adjusted p-values,
verdicts; many losses: whether they agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2._compare import adjustment, paired_test, rows
from polars_l2._compare.table import table as paired_table
from polars_l2._core import arguments, frames, options, row_checks
from polars_l2._core import losses as losses_
from polars_l2._docs import fill
from polars_l2._state import is_state
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import ArrowStreamExportable, Loss, NanPolicy, Variance

__all__ = ["COLUMNS", "compare"]

#: The columns of a comparison besides the keys; a `by` column may not take them.
COLUMNS = (
    "model",
    "baseline",
    "loss",
    "overall",
    "n",
    "clusters",
    "small",
    "mean_loss",
    "mean_loss_baseline",
    "loss_diff",
    "loss_diff_low",
    "loss_diff_high",
    "skill",
    "p_value",
    "p_value_adjusted",
    "verdict",
    "losses_agree",
)


@fill
def compare(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str | None,
    baseline: str,
    candidates: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    cluster: str | None = None,
    loss: Loss | Sequence[Loss] = "squared",
    huber_delta: float | None = None,
    variance: Variance = "hc1",
    confidence: float = 0.95,
    adjust: str | None = "holm",
    nan_policy: NanPolicy = "propagate",
    min_n: int = 30,
) -> pl.DataFrame:
    r"""Compare candidate models with a baseline, per segment: is the loss lower.

    For each loss, candidate and segment, the paired t-test on the per-row
    differences of the loss, :math:`d_i = L(e_{c,i}) - L(e_{b,i})` (the
    squared error by default: :math:`e_{c,i}^2 - e_{b,i}^2`), over the rows
    where the actual, both predictions and the weight are present. At
    horizon 1 this is the Diebold-Mariano test with the
    Harvey-Leybourne-Newbold small-sample correction [1]_ [2]_. The
    differences of one row are paired, so their spread is far smaller than
    that of either mean loss: the test sees differences two separate
    intervals would hide.

    Parameters
    ----------
    frame
        The data, one row per prediction: any table :func:`polars_l2.report`
        takes (a Polars DataFrame or LazyFrame, a pyarrow Table, Dataset or
        RecordBatchReader, a pandas DataFrame, a DuckDB relation, a narwhals
        frame). Or a merged state built with ``baseline=``
        (:func:`polars_l2.state`, :func:`polars_l2.merge_states`): then
        `actual`, `by`, `weight` and `nan_policy` come from the state and
        are not read.
    actual
        Name of the column of observed values (None for a state). A vector
        (Array or List) column, with vector predictions of the same width,
        is compared per output, as :func:`polars_l2.report` evaluates it: an
        ``output`` key numbers the outputs, and the overall rows are per
        output, never pooled across outputs.
    baseline
        Name of the baseline model's prediction column.
    candidates
        Name(s) of the candidate models' prediction columns.
    by
        Name(s) of the columns that define the segments, or None.
    weight
        Name of a column of non-negative sample weights, or None: weighted
        means, with the variance `variance` says.
    cluster
        Name of a column of cluster ids (days, customers, stores), or None:
        cluster-robust standard errors with Student's t on :math:`G - 1`
        degrees of freedom (see Notes). Rows of a null id are one cluster.
        Only with a frame: a state keeps no per-cluster sums.
    loss
        The loss whose paired differences are tested: ``"squared"``
        (default; the MSE's), ``"absolute"`` (the MAE's), ``"huber"``
        (:math:`e^2/2` up to :math:`|e| = \delta`, linear beyond, as
        ``scipy.special.huber``), or a sequence of them: one block of rows
        per loss, with the column ``losses_agree``. From a state, only
        losses it was built with.
    huber_delta
        Huber's :math:`\delta`, in the target's units: required with
        ``"huber"`` (no value is right for every scale), refused without it.
        From a state, None takes the state's.
    variance
        The variance of a weighted mean difference: ``"hc1"`` (default),
        ``"hc0"`` or ``"kish"``; see Notes. Unweighted, ``"hc1"`` and
        ``"kish"`` are both ``scipy.stats.ttest_rel``. With `cluster`,
        ``"hc1"`` and ``"hc0"`` give the cluster-robust variance with and
        without :math:`G/(G-1)`; ``"kish"`` is refused.
    confidence
        Level of the interval of ``loss_diff``; ``1 - confidence`` is the
        level of the test that gives the verdict.
    adjust
        ``"holm"`` (default, Holm's step-down, controls the family-wise
        error), ``"bh"`` (Benjamini-Hochberg, controls the false discovery
        rate) or None: how ``p_value_adjusted`` accounts for testing every
        segment of a candidate (per loss). The overall rows are not adjusted.
    %(nan_policy)s
    min_n
        Segments whose effective size of paired rows (Kish's
        :math:`W^2/\sum w^2`, the row count unweighted) is below `min_n` are
        ``small``: they get no adjusted p-value and no verdict, and do not
        count among the segments adjusted for.

    Returns
    -------
    DataFrame
        Per loss (in the order of `loss`), one row per candidate and
        segment, then the candidate's overall row(s):

        ``model``, ``baseline`` (String), the `by` keys (and ``output``,
        Int64, for vector targets); ``loss`` (String); ``overall``
        (Boolean): the all-rows row, whose `by` keys are null; ``n``
        (Int64): paired rows; ``clusters`` (Int64, with `cluster`):
        clusters with a paired row; ``small`` (Boolean);
        ``mean_loss``, ``mean_loss_baseline`` (Float64): both models' mean
        loss on the paired rows (the MSE for ``"squared"``, the MAE for
        ``"absolute"``); ``loss_diff``: their difference, candidate minus
        baseline (negative: the candidate is better); ``loss_diff_low``,
        ``loss_diff_high``: its interval at `confidence`; ``skill``:
        :math:`1 - \bar L/\bar L_{\mathrm{baseline}}`; ``p_value``:
        two-sided, of the paired test; ``p_value_adjusted``; ``verdict``
        (String): ``"better"`` or ``"worse"`` where the adjusted p-value is
        below ``1 - confidence``, else ``"inconclusive"``; without a test,
        ``"worse"`` where the candidate's mean loss is NaN or infinite and
        the baseline's finite (``"better"`` the other way round); null for
        small segments; ``losses_agree`` (Boolean, with several losses): whether
        every loss gives the row's candidate and segment the same verdict
        (null where one is null).

        Always a DataFrame: the query runs (Student's t distribution is
        evaluated on the aggregated rows, and the adjustment needs every
        segment).

    Raises
    ------
    L2InputError
        For a missing column or a bad option (as :func:`polars_l2.report`),
        a baseline among the candidates, a state built without this
        baseline, a candidate or a loss, `cluster` with a state, `huber_delta`
        missing with ``"huber"`` (or given without it), or
        ``variance="kish"`` with `cluster`.

    Notes
    -----
    With :math:`\bar d = \sum_i w_i d_i / W` the (weighted) mean
    difference, the variance of :math:`\bar d` is, by `variance`:

    - ``"hc1"``: :math:`\frac{n}{n-1} \sum_i w_i^2 (d_i - \bar d)^2 / W^2`,
      the heteroscedasticity-robust (sandwich) variance of an
      intercept-only weighted least-squares fit of :math:`d` with the
      small-sample factor: statsmodels' ``WLS(d, 1, weights=w)`` with
      ``cov_type="HC1"`` and ``use_t=True``, on :math:`n - 1` degrees of
      freedom. It assumes nothing about how the spread of :math:`d` relates
      to the weights; unweighted it is :math:`s_d^2/n` (``ddof=1``), so the
      test is exactly ``scipy.stats.ttest_rel``. The default.
    - ``"hc0"``: the same without :math:`n/(n-1)` (``cov_type="HC0"``).
    - ``"kish"``: :math:`s_d^2 / (n_{\mathrm{eff}} - 1)` with
      :math:`s_d^2 = \sum_i w_i (d_i - \bar d)^2 / W` and Kish's effective
      size :math:`n_{\mathrm{eff}} = W^2/\sum w^2`, on
      :math:`n_{\mathrm{eff}} - 1` degrees of freedom. Right only when the
      spread of :math:`d` does not depend on the weights; it can be too
      wide or too narrow otherwise.

    The statistic is :math:`t = \bar d / se`. With `cluster`, the variance
    is :math:`\frac{G}{G-1} \sum_g S_g^2 / W^2` with
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
    .. [5] H. White, "A heteroskedasticity-consistent covariance matrix
           estimator and a direct test for heteroskedasticity",
           *Econometrica* 48(4), 817-838, 1980 (HC0); J. G. MacKinnon and
           H. White, *Journal of Econometrics* 29(3), 305-325, 1985 (HC1).
    .. [6] P. J. Huber, "Robust estimation of a location parameter",
           *Annals of Mathematical Statistics* 35(1), 73-101, 1964.

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
    >>> polars_l2.compare(
    ...     df, "y", "old", "new", loss=["squared", "absolute"], min_n=2
    ... ).select("loss", "n", "loss_diff", "p_value", "verdict", "losses_agree")
    shape: (2, 6)
    ┌──────────┬─────┬───────────┬──────────┬─────────┬──────────────┐
    │ loss     ┆ n   ┆ loss_diff ┆ p_value  ┆ verdict ┆ losses_agree │
    │ ---      ┆ --- ┆ ---       ┆ ---      ┆ ---     ┆ ---          │
    │ str      ┆ i64 ┆ f64       ┆ f64      ┆ str     ┆ bool         │
    ╞══════════╪═════╪═══════════╪══════════╪═════════╪══════════════╡
    │ squared  ┆ 6   ┆ -0.423333 ┆ 0.000742 ┆ better  ┆ true         │
    │ absolute ┆ 6   ┆ -0.5      ┆ 0.000037 ┆ better  ┆ true         │
    └──────────┴─────┴───────────┴──────────┴─────────┴──────────────┘
    """
    function = "polars_l2.compare"
    options.check(
        function,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
        nan_policy=nan_policy,
        variance=variance,
        loss=loss,
    )
    models = _candidates(baseline, candidates, function=function)
    data = frames.coerce(frame, function=function)
    if is_state(data.frame):
        if cluster is not None:
            msg = (
                f"{function}: cluster= needs the rows; a state keeps no "
                "per-cluster sums: compare the data frame itself"
            )
            raise L2InputError(msg)
        losses = _state_losses(data.frame, loss, huber_delta, function=function)
        paired = rows.from_state(
            data.frame, baseline, models, losses, function=function
        )
    else:
        losses = losses_.parse(loss, huber_delta, function=function)
        if cluster is not None and variance == "kish":
            msg = (
                f"{function}: variance='kish' has no cluster-robust form; with "
                "cluster= use variance='hc1' (default) or 'hc0'"
            )
            raise L2InputError(msg)
        spec = rows.frame_spec(
            actual,
            baseline,
            models,
            by=by,
            weight=weight,
            cluster=cluster,
            nan_policy=nan_policy,
            reserved=COLUMNS,
            function=function,
        )
        paired = rows.from_frame(
            data.frame, spec, cluster=cluster, losses=losses, function=function
        )
    return _finish(
        paired,
        losses,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
        variance=variance,
    )


def _state_losses(
    state: pl.DataFrame | pl.LazyFrame,
    loss: Loss | Sequence[Loss],
    huber_delta: float | None,
    *,
    function: str,
) -> losses_.Losses:
    """Return the losses asked of a state; Huber's delta, if not given, the state's."""
    names = (loss,) if isinstance(loss, str) else tuple(loss)
    if "huber" in names and huber_delta is None:
        huber_delta = rows.state_huber_delta(state)
    return losses_.parse(names, huber_delta, function=function)


def _candidates(
    baseline: object, candidates: object, *, function: str
) -> tuple[str, ...]:
    """Return the candidates' names, checked against the baseline's."""
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
    return models


def _finish(
    paired: rows.Paired,
    losses: losses_.Losses,
    *,
    confidence: float,
    adjust: str | None,
    min_n: int,
    variance: Variance,
) -> pl.DataFrame:
    """Return the comparison's table from the paired moments: test, adjust, name."""
    table = row_checks.collect(
        paired_table(paired, losses, min_n=min_n, variance=variance)
    )
    table = paired_test.student_t(table, confidence)
    table = adjustment.adjusted(table, adjust, 1 - confidence)
    if len(losses.names) > 1:
        table = adjustment.losses_agree(table, paired.keys)
    shown = [
        c for c in COLUMNS if c in table.columns and c not in ("model", "baseline")
    ]
    renamed = zip(paired.keys, paired.user_keys, strict=True)
    return table.select(
        "model",
        "baseline",
        *(pl.col(key).alias(name) for key, name in renamed),
        *shown,
    )

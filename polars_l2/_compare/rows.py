"""The paired moments a comparison starts from: from the rows, or from a state.

Both give a :class:`Paired`: one row per candidate and segment with the
state's moments (the paired moments of each loss among them), the keys
under internal names, and, from the rows with ``cluster=``, the sums per
cluster that the cluster-robust variance needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from polars_l2._core import arguments, moments, per_output
from polars_l2._core import losses as losses_
from polars_l2._core.moments import ORDER
from polars_l2._state import RESERVED, state_keys
from polars_l2.exceptions import L2InputError

#: Internal names of the keys, and of the cluster id.
KEY = "_l2_key_"
CLUSTER = "_l2_cluster"

#: Per cluster, candidate, segment and loss: the paired weight, and the
#: weighted sum of the loss differences.
CLUSTER_WEIGHT, CLUSTER_SUM = "_l2_w", "_l2_s"


@dataclass(frozen=True)
class Paired:
    """The paired moments of a comparison, before the test."""

    #: ORDER (the candidate's position), ``model``, the internal keys and
    #: the state's moments, one row per candidate and segment.
    rows: pl.LazyFrame
    #: The internal keys, in order, and the user's names for them.
    keys: list[str]
    user_keys: list[str]
    #: The internal keys an overall row keeps: the output of vector targets.
    kept: list[str]
    #: With ``cluster=``: ORDER, ``loss``, the internal keys, CLUSTER,
    #: CLUSTER_WEIGHT and CLUSTER_SUM; else None.
    clusters: pl.LazyFrame | None = None
    #: Each candidate's moments of no rows (ORDER, ``model``, the moments):
    #: merged into its overall row, they give a candidate without rows one,
    #: as without keys (None from a state, or per output).
    empty: pl.LazyFrame | None = None


def from_frame(
    frame: pl.DataFrame | pl.LazyFrame,
    spec: arguments.Spec,
    *,
    cluster: str | None,
    losses: losses_.Losses,
    function: str,
) -> Paired:
    """Return the paired moments per candidate and segment from the rows.

    `spec` lists the baseline first, then the candidates; its keys end
    with `cluster` when given. Vector targets are evaluated per output, as
    in :func:`polars_l2.report` (:mod:`polars_l2._core.per_output`).
    """
    resolved = arguments.resolve(frame, spec, function=function, allow_vectors=True)
    vector = resolved.vector
    if vector:
        resolved = per_output.rows_per_output(resolved, function=function)
    baseline = spec.predicted[0]
    long = moments.long_moments(
        resolved.frame,
        resolved.spec,
        baseline=0,
        baseline_name=baseline,
        losses=losses,
    ).filter(pl.col(ORDER) != 0)
    pairs = [
        (internal, user)
        for internal, user in resolved.key_names()
        if cluster is None or user != cluster
    ]
    inner = [f"{KEY}{i}" for i in range(len(pairs))]
    renamed = [
        pl.col(name).alias(alias) for (name, _), alias in zip(pairs, inner, strict=True)
    ]
    user_keys = [user for _, user in pairs]
    kept = [inner[-1]] if vector else []
    model = resolved.model_column()
    empty = None
    if not vector:
        empty = moments.no_rows(
            resolved.frame,
            resolved.spec,
            baseline=0,
            baseline_name=baseline,
            losses=losses,
        ).filter(pl.col(ORDER) != 0)
        empty = empty.select(ORDER, "model", *moments.MOMENTS).with_columns(model)
    if cluster is None:
        rows = long.select(ORDER, "model", *renamed, *moments.MOMENTS)
        return Paired(rows.with_columns(model), inner, user_keys, kept, empty=empty)
    (cluster_key,) = [name for name, user in resolved.key_names() if user == cluster]
    per_cluster = long.select(
        ORDER, "model", *renamed, pl.col(cluster_key).alias(CLUSTER), *moments.MOMENTS
    ).with_columns(model)
    rows = per_cluster.group_by(ORDER, *inner).agg(
        pl.col("model").first(), *moments.merge_aggregations()
    )
    return Paired(
        rows,
        inner,
        user_keys,
        kept,
        _cluster_sums(per_cluster, inner, losses),
        empty=empty,
    )


def _cluster_sums(
    per_cluster: pl.LazyFrame, keys: list[str], losses: losses_.Losses
) -> pl.LazyFrame:
    """Each cluster's paired weight and weighted sum of differences, per loss.

    Clusters without a paired row are left out: they are no cluster of the
    test, and would count in the number of clusters.
    """
    parts = [
        per_cluster.select(
            ORDER,
            pl.lit(name).alias("loss"),
            *keys,
            CLUSTER,
            pl.col("paired_weight_sum").alias(CLUSTER_WEIGHT),
            (pl.col("paired_weight_sum") * pl.col(f"{losses_.STEMS[name]}_diff_mean"))
            .fill_null(0.0)
            .alias(CLUSTER_SUM),
        )
        for name in losses.names
    ]
    return pl.concat(parts).filter(pl.col(CLUSTER_WEIGHT) != 0)


def frame_spec(
    actual: object,
    baseline: str,
    models: tuple[str, ...],
    *,
    by: object,
    weight: object,
    cluster: object,
    nan_policy: object,
    reserved: tuple[str, ...],
    function: str,
) -> arguments.Spec:
    """Return the column spec of a comparison of rows: baseline first, cluster last."""
    keys = arguments.names(
        by, role="by", function=function, reserved=(*reserved, *RESERVED)
    )
    clustered: tuple[str, ...] = ()
    if cluster is not None:
        if not isinstance(cluster, str):
            msg = f"{function}: cluster must be a column name or None, got {cluster!r}"
            raise L2InputError(msg)
        clustered = (cluster,)
    return arguments.parse(
        actual,
        [baseline, *models],
        by=[*keys, *clustered],
        weight=weight,
        nan_policy=nan_policy,
        function=function,
    )


def from_state(
    state: pl.DataFrame | pl.LazyFrame,
    baseline: str,
    models: tuple[str, ...],
    losses: losses_.Losses,
    *,
    function: str,
) -> Paired:
    """Return the paired moments per candidate and segment of a (merged) state.

    Refuses a state built without this baseline, without a candidate, or
    without a loss asked for (or with another Huber delta). A state of no
    rows measured nothing and names no model: its comparison has no row, as
    :func:`polars_l2.finalize` gives none (see :mod:`polars_l2.state`).
    """
    names = state.collect_schema().names()
    user_keys = state_keys(names, function=function)
    found = (
        state.lazy()
        .select("model", "baseline", "paired_losses", "huber_delta", "per_output")
        .unique()
        .collect()
    )
    inner = [f"{KEY}{i}" for i in range(len(user_keys))]
    if not found.is_empty():
        _check_baseline(found, baseline, models, function=function)
        _check_losses(found, losses, function=function)
    order: pl.Expr = pl.lit(None, pl.Int64)
    for i, model in reversed(list(enumerate(models))):
        order = pl.when(pl.col("model") == model).then(i + 1).otherwise(order)
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
    # A state of vector targets numbers the outputs in its last key.
    kept = inner[-1:] if found.get_column("per_output").any() else []
    return Paired(rows, inner, user_keys, kept)


def _check_baseline(
    found: pl.DataFrame, baseline: str, models: tuple[str, ...], *, function: str
) -> None:
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


def _check_losses(
    found: pl.DataFrame, losses: losses_.Losses, *, function: str
) -> None:
    label = found.get_column("paired_losses").drop_nulls()
    kept = losses_.from_label(
        str(label[0]) if len(label) else "",
        found.get_column("huber_delta").drop_nulls().first(),  # type: ignore[arg-type]
    )
    missing = [name for name in losses.names if name not in kept.names]
    if missing:
        msg = (
            f"{function}: the state keeps the paired moments of "
            f"{', '.join(map(repr, kept.names))}, not of {missing[0]!r}; build "
            f"it with state(..., loss=[...]) naming every loss to compare"
        )
        raise L2InputError(msg)
    if "huber" in losses.names and losses.huber_delta != kept.huber_delta:
        msg = (
            f"{function}: the state was built with huber_delta="
            f"{kept.huber_delta!r}, not {losses.huber_delta!r}"
        )
        raise L2InputError(msg)


def state_huber_delta(state: pl.DataFrame | pl.LazyFrame) -> float | None:
    """Return the Huber delta a state was built with (None: none)."""
    found = state.lazy().select(pl.col("huber_delta").drop_nulls().first()).collect()
    value = found.item()
    return None if value is None else float(value)

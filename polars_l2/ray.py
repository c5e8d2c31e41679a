"""Evaluate a Ray Data ``Dataset``: the metric report, computed on the cluster.

Needs the ``ray`` extra: ``pip install "polars-l2[ray]"``.

Each block of the dataset is reduced to a small metric state
(:func:`polars_l2.state`) by a Ray task, with ``map_batches`` on whole blocks
as Arrow tables. The states are combined, exactly and in any order, by
:func:`polars_l2.merge_states`, and finalised into the report
(:func:`polars_l2.finalize`): the columns of :func:`polars_l2.report` on one
machine, equal up to rounding, with the keys in their dtypes;
``top_1pct_share`` comes from the merged histograms, as for any merged state.

Where the block states are combined:

- ``combine="driver"``: fetched to the driver and merged there. Right for up
  to some thousands of segments (``by`` groups), the usual case.
- ``combine="ray"``: hash-partitioned by model and segment with Ray's own
  shuffle (``Dataset.repartition(keys=...)``) and merged by Ray tasks, so the
  driver receives one state row per model and segment. Right when blocks
  times segments is more rows than the driver should hold.
- ``combine="auto"`` (default): ``"driver"`` when the block states have at
  most :data:`DRIVER_COMBINE_MAX_ROWS` rows in all, else ``"ray"``.

Polars runs with one thread inside the adapter's Ray tasks
(``POLARS_MAX_THREADS=1`` in their ``runtime_env``), as Ray already runs one
task per CPU; a job whose own ``runtime_env`` sets ``POLARS_MAX_THREADS``
keeps its value. The adapter never calls ``ray.init``: it runs on the cluster
the caller connected to, or the local one Ray starts on first use.

Failures are never a partial result: a task that fails fails the evaluation,
with the column named when it is an input error, and a dataset whose
``DataContext`` lets Ray skip failing blocks (``max_errored_blocks``) is
refused.
"""

from __future__ import annotations

import functools
import math
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import pyarrow as pa

import polars_l2
from polars_l2 import _distributed, _docs, _extras
from polars_l2._core import options

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import polars as pl
    import ray.data

    from polars_l2._core.arguments import Spec
    from polars_l2.typing import Loss, NanPolicy, Variance

__all__ = ["DRIVER_COMBINE_MAX_ROWS", "Combine", "compare", "report", "state"]

#: Most block-state rows ``combine="auto"`` merges on the driver; above it,
#: Ray merges them. A state row is about 150 bytes.
DRIVER_COMBINE_MAX_ROWS = 1_000_000

#: Where block states are combined (see the module documentation).
Combine: TypeAlias = Literal["auto", "driver", "ray"]

#: Block-state rows per Ray task in the ``combine="ray"`` merge.
_ROWS_PER_MERGE_TASK = 100_000

_FUNCTION = "polars_l2.ray.state"
_REPORT = "polars_l2.ray.report"
_COMPARE = "polars_l2.ray.compare"


def _block_state(
    table: pa.Table,
    spec: Spec,
    schema: pa.Schema | None,
    pairing: _distributed.Pairing,
) -> pa.Table:
    return _distributed.table_state(
        table, spec, function=_FUNCTION, schema=schema, pairing=pairing
    )


def _merge_block(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    return _distributed.merge_tables([table], schema)


def _task_options() -> dict[str, Any]:
    """``map_batches`` options for the adapter's tasks: one Polars thread."""
    import ray  # noqa: PLC0415 - the optional extra, imported on use

    job_env = ray.get_runtime_context().runtime_env or {}
    if "POLARS_MAX_THREADS" in (job_env.get("env_vars") or {}):
        return {}
    # Ray starts the workers for a task's runtime_env with its env_vars set,
    # so Polars reads the variable when it is first imported there.
    return {"runtime_env": {"env_vars": {"POLARS_MAX_THREADS": "1"}}}


def _check_context(dataset: ray.data.Dataset) -> None:
    errored = dataset.context.max_errored_blocks
    if errored != 0:
        msg = (
            f"{_FUNCTION}: the dataset's DataContext has max_errored_blocks="
            f"{errored}, which lets Ray skip blocks that fail and would leave "
            "their rows out of the metrics without a word; set it to 0"
        )
        raise ValueError(msg)


@contextmanager
def _worker_errors() -> Iterator[None]:
    """Raise a task's input error as :class:`polars_l2.L2InputError` again."""
    import ray  # noqa: PLC0415 - the optional extra, imported on use

    try:
        yield
    except ray.exceptions.RayError as error:
        input_error = _distributed.input_error_from_worker(error, engine="Ray")
        if input_error is not None:
            raise input_error from error
        raise


def _known_schema(
    dataset: ray.data.Dataset, *, fetch: bool = False
) -> pa.Schema | None:
    """Return the dataset's Arrow schema if Ray knows it without reading data.

    With `fetch`, Ray runs the dataset up to its first block to find it.
    """
    try:
        known = dataset.schema(fetch_if_missing=fetch)
    except pa.ArrowException:
        # Blocks of incompatible schemas: each block is checked by its task.
        return None
    base = getattr(known, "base_schema", None)
    return base if isinstance(base, pa.Schema) else None


def _merge_on_cluster(
    blocks: ray.data.Dataset,
    rows: int,
    spec: Spec,
    schema: pa.Schema | None,
    options: dict[str, Any],
) -> ray.data.Dataset:
    """Merge block states with Ray: hash-partition by segment, merge each part.

    The driver merges the parts' states once more, so a segment that a
    shuffle strategy without hashing leaves in several parts is still merged
    right, only later.
    """
    keys = ["model", *spec.by]
    parts = max(1, math.ceil(rows / _ROWS_PER_MERGE_TASK))
    return blocks.repartition(parts, keys=keys).map_batches(
        functools.partial(_merge_block, schema=schema),
        batch_format="pyarrow",
        batch_size=None,
        **options,
    )


@_docs.fill
def state(
    dataset: ray.data.Dataset,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    nan_policy: NanPolicy = "propagate",
    baseline: str | None = None,
    loss: Loss | Sequence[Loss] = "squared",
    huber_delta: float | None = None,
    top_share: bool = True,
    combine: Combine = "auto",
) -> pl.DataFrame:
    """Return the merged metric state of a Ray ``Dataset``.

    The state :func:`polars_l2.state` gives for all the data on one machine,
    up to rounding, computed by Ray tasks block by block. Save it, merge it
    with other states (:func:`polars_l2.merge_states`) or finalise it
    (:func:`polars_l2.finalize`).

    Parameters
    ----------
    dataset
        The data, one row per prediction, with Arrow blocks.
    %(adapter_columns)s
    %(nan_policy)s
    %(adapter_pairing)s
    combine
        Where the block states are merged: ``"driver"``, ``"ray"`` or
        ``"auto"`` (see :mod:`polars_l2.ray`).

    Returns
    -------
    DataFrame
        One row per model and segment, with the schema of
        :func:`polars_l2.state_schema`: models in the order of `predicted`,
        then segments sorted by key (by value, nulls last). The keys keep
        their dtypes.

    Raises
    ------
    L2InputError
        If a column is missing or has a dtype the metrics cannot use: before
        any data is read when Ray knows the dataset's schema, else from the
        first block that has it (for a dataset without rows, from the
        schema Ray finds by running it). The message names the column.
    ValueError
        If the dataset's ``DataContext`` lets Ray skip failing blocks.
    ImportError
        Without Ray; the message names the extra: ``polars-l2[ray]``.
    ray.exceptions.RayError
        If a task fails for another reason, such as an error upstream in the
        dataset's own pipeline.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations",
           *The American Statistician* 37(3), 242-247, 1983.

    Examples
    --------
    >>> import ray  # doctest: +SKIP
    >>> import polars_l2.ray
    >>> ds = ray.data.read_parquet("predictions/")  # doctest: +SKIP
    >>> polars_l2.ray.state(ds, "y", "yhat", by="region")  # doctest: +SKIP
    """
    ray = _extras.require("ray", user="polars_l2.ray", library="ray", extra="ray")
    spec = _distributed.parse(
        actual,
        predicted,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        function=_FUNCTION,
    )
    pairing = _distributed.pairing(
        spec,
        baseline=baseline,
        loss=loss,
        huber_delta=huber_delta,
        top_share=top_share,
        function=_FUNCTION,
    )
    if combine not in ("auto", "driver", "ray"):
        msg = f"{_FUNCTION}: combine must be 'auto', 'driver' or 'ray', got {combine!r}"
        raise ValueError(msg)
    _check_context(dataset)
    # The state of no rows checks the columns before any data is read when
    # Ray knows the schema (else each block is checked by its task), and is
    # the result for a dataset without rows.
    known = _known_schema(dataset)
    base = _distributed.empty_state(known, spec, function=_FUNCTION, pairing=pairing)
    # Keys keep their dtypes: with a known schema every block state has the
    # same one; else each block's own, merged in their common dtype.
    schema = None if known is None else _distributed.state_schema(base)
    options = _task_options()
    with _worker_errors():
        blocks = dataset.map_batches(
            functools.partial(_block_state, spec=spec, schema=schema, pairing=pairing),
            batch_format="pyarrow",
            batch_size=None,
            **options,
        ).materialize()
        rows = blocks.count()
        if combine == "ray" or (combine == "auto" and rows > DRIVER_COMBINE_MAX_ROWS):
            blocks = _merge_on_cluster(blocks, rows, spec, schema, options)
        tables = ray.get(blocks.to_arrow_refs())
    if known is None and not any(table.num_rows for table in tables):
        # No block had rows, so no task checked the columns and no block
        # state carries the keys' dtypes: ask Ray for the schema (this runs
        # the dataset once more, which gave no rows), as for a known one.
        fetched = _known_schema(dataset, fetch=True)
        base = _distributed.empty_state(
            fetched, spec, function=_FUNCTION, pairing=pairing
        )
    return _distributed.merge_in_order(base, tables, spec)


@_docs.fill
def report(
    dataset: ray.data.Dataset,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    nan_policy: NanPolicy = "propagate",
    top_share: bool = True,
    min_n: int = 30,
    overall: bool = False,
    variance: Variance = "hc1",
    combine: Combine = "auto",
) -> pl.DataFrame:
    """Return the model evaluation report of a Ray ``Dataset``.

    :func:`polars_l2.finalize` of :func:`polars_l2.ray.state`: the columns of
    :func:`polars_l2.report` for the same data on one machine, equal up to
    rounding, with the keys in their dtypes, sorted by value
    (``top_1pct_share`` from the merged histograms).

    Parameters
    ----------
    dataset
        The data, one row per prediction, with Arrow blocks.
    %(adapter_columns)s
    %(adapter_report)s
    %(nan_policy)s
    combine
        Where the block states are merged: ``"driver"``, ``"ray"`` or
        ``"auto"`` (see :mod:`polars_l2.ray`).

    Returns
    -------
    DataFrame
        One row per model and segment (then each model's overall row, with
        `overall`).

    Raises
    ------
    L2InputError
        If a column is missing or has a dtype the metrics cannot use, or an
        option is bad.
    ValueError
        If the dataset's ``DataContext`` lets Ray skip failing blocks.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations",
           *The American Statistician* 37(3), 242-247, 1983.

    Examples
    --------
    >>> import ray  # doctest: +SKIP
    >>> import polars_l2.ray
    >>> ds = ray.data.read_parquet("predictions/")  # doctest: +SKIP
    >>> polars_l2.ray.report(ds, "y", ["model_a", "model_b"])  # doctest: +SKIP
    """
    # Fails before any work.
    options.check(
        _REPORT,
        confidence=confidence,
        top_share=top_share,
        min_n=min_n,
        overall=overall,
        variance=variance,
    )
    merged = state(
        dataset,
        actual,
        predicted,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        top_share=top_share,
        combine=combine,
    )
    return polars_l2.finalize(
        merged,
        confidence=confidence,
        # A state of no rows does not say it was weighted; the caller does.
        weighted=weight is not None,
        min_n=min_n,
        overall=overall,
        variance=variance,
    )


@_docs.fill
def compare(
    dataset: ray.data.Dataset,
    actual: str,
    baseline: str,
    candidates: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    loss: Loss | Sequence[Loss] = "squared",
    huber_delta: float | None = None,
    variance: Variance = "hc1",
    confidence: float = 0.95,
    adjust: str | None = "holm",
    nan_policy: NanPolicy = "propagate",
    min_n: int = 30,
    combine: Combine = "auto",
) -> pl.DataFrame:
    """Compare candidate models with a baseline on a Ray ``Dataset``, per segment.

    :func:`polars_l2.compare` of the merged state: each block is reduced to
    a state that keeps the paired moments of every candidate against the
    baseline (:func:`state` with ``baseline=``), the states are merged, and
    the paired test runs on the merged moments on the driver. The table
    equals :func:`polars_l2.compare` of the same data on one machine, up to
    rounding. ``cluster=`` needs the rows, which a state does not keep: it
    is not offered here.

    Parameters
    ----------
    dataset
        The data, one row per prediction, with Arrow blocks.
    %(adapter_compare)s
    combine
        Where the block states are merged: ``"driver"``, ``"ray"`` or
        ``"auto"`` (see :mod:`polars_l2.ray`).

    Returns
    -------
    DataFrame
        The columns of :func:`polars_l2.compare`.

    Raises
    ------
    L2InputError
        If a column is missing or has a dtype the metrics cannot use, or an
        option is bad (as :func:`polars_l2.compare`).
    ValueError
        If the dataset's ``DataContext`` lets Ray skip failing blocks.

    Examples
    --------
    >>> import ray  # doctest: +SKIP
    >>> import polars_l2.ray
    >>> ds = ray.data.read_parquet("predictions/")  # doctest: +SKIP
    >>> polars_l2.ray.compare(ds, "y", "old", "new", by="region")  # doctest: +SKIP
    """
    models = _distributed.compare_models(
        baseline,
        candidates,
        loss=loss,
        variance=variance,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
        function=_COMPARE,
    )
    merged = state(
        dataset,
        actual,
        [baseline, *models],
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        baseline=baseline,
        loss=loss,
        huber_delta=huber_delta,
        top_share=False,
        combine=combine,
    )
    return polars_l2.compare(
        merged,
        None,
        baseline,
        models,
        loss=loss,
        huber_delta=huber_delta,
        variance=variance,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
    )

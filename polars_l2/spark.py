r"""Evaluate a PySpark ``DataFrame``: the metric report, computed by Spark.

Needs the ``spark`` extra: ``pip install "polars-l2[spark]"`` (and Java 17 or
newer for Spark itself).

Each partition is reduced to a small metric state (:func:`polars_l2.state`)
by ``mapInArrow``, declared with the state's fixed Arrow schema
(:func:`polars_l2.state_schema`). Spark then shuffles the partition states by
model and segment, and each worker merges the states it receives with
:func:`polars_l2.merge_states` itself (Chan et al.'s pairwise formulas), so
the merge is the package's one merge, not a copy in Spark SQL.

Only the merged state, one row per model and segment, comes back to the
driver, which finalises it (:func:`polars_l2.finalize`): the columns of
:func:`polars_l2.report` on one machine, equal up to rounding, with the keys
in the dtypes Spark's schema gives them (sorted by value);
``top_1pct_share`` comes from the merged histograms, as for any merged state.

It works on classic and Spark Connect DataFrames alike (Databricks' shared
and serverless compute run Connect; ``SparkSession.builder.remote(...)``).
Spark's Python workers must run an interpreter with polars-l2 installed; in
local mode, the driver's: set ``PYSPARK_PYTHON`` to ``sys.executable`` before
the session starts. It refuses a session that lets Spark skip files it
cannot read (``spark.sql.files.ignoreCorruptFiles`` or
``ignoreMissingFiles``), which would leave their rows out of the report.
Spark runs one task per core, so start the session with
``spark.executorEnv.POLARS_MAX_THREADS=1`` to give Polars one thread in each.
"""

from __future__ import annotations

import functools
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

import polars_l2
from polars_l2 import _distributed, _docs, _extras
from polars_l2._core import options
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import polars as pl
    import pyspark.sql

    from polars_l2._core.arguments import Spec
    from polars_l2.typing import Loss, NanPolicy, Variance

__all__ = ["compare", "report", "state"]

_FUNCTION = "polars_l2.spark.state"
_REPORT = "polars_l2.spark.report"
_COMPARE = "polars_l2.spark.compare"

#: Prefix of the positional names under which columns reach mapInArrow.
_TMP = "__polars_l2_"

#: Rows a worker gathers from Spark's Arrow batches before reducing them to a
#: state: enough that Polars, not Python, does the work; few enough to bound
#: the worker's memory whatever the size of the partition.
_CHUNK_ROWS = 1_000_000


def _partition_state(
    batches: Iterator[pa.RecordBatch],
    spec: Spec,
    schema: pa.Schema,
    pairing: _distributed.Pairing,
) -> Iterator[pa.RecordBatch]:
    """Reduce one partition's Arrow batches to its state (runs on a worker)."""
    states: list[pa.Table] = []
    chunk: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        chunk.append(batch)
        rows += batch.num_rows
        if rows >= _CHUNK_ROWS:
            states.append(_chunk_state(chunk, spec, schema, pairing))
            chunk, rows = [], 0
    if chunk:
        states.append(_chunk_state(chunk, spec, schema, pairing))
    if states:
        merged = (
            states[0] if len(states) == 1 else _distributed.merge_tables(states, schema)
        )
        yield from merged.to_batches()


def _chunk_state(
    chunk: list[pa.RecordBatch],
    spec: Spec,
    schema: pa.Schema,
    pairing: _distributed.Pairing,
) -> pa.Table:
    # The columns come under positional names (see `state`); name them back.
    table = pa.Table.from_batches(chunk).rename_columns(spec.needed)
    return _distributed.table_state(
        table, spec, function=_FUNCTION, schema=schema, pairing=pairing
    )


def _quote(name: str) -> str:
    """Quote a column name for Spark to read it literally (dots, spaces...)."""
    return "`" + name.replace("`", "``") + "`"


def _arrow_schema(df: pyspark.sql.DataFrame, spec: Spec) -> pa.Schema:
    """Return the Arrow schema the workers get `df` in; raise naming a column.

    Spark hands a ``timestamp`` (an instant) to Python in the session's time
    zone, so a key of that type is a ``Datetime`` in that zone.
    """
    from pyspark.sql.pandas.types import to_arrow_type  # noqa: PLC0415
    from pyspark.sql.types import TimestampType  # noqa: PLC0415

    zone = df.sparkSession.conf.get("spark.sql.session.timeZone")
    fields = []
    for field in df.schema.fields:
        try:
            # Here, not by to_arrow_type, whose time zone argument differs
            # between PySpark versions.
            if isinstance(field.dataType, TimestampType):
                arrow_type = pa.timestamp("us", tz=zone)
            else:
                arrow_type = to_arrow_type(field.dataType)
        except Exception as error:  # PySpark raises several types here
            spark_type = field.dataType.simpleString()
            if field.name in spec.by:
                msg = (
                    f"{_FUNCTION}: by column {field.name!r} has Spark type "
                    f"{spark_type}, which has no Arrow type, so no state can "
                    "hold it; cast it first (for example to a string)"
                )
            else:
                msg = (
                    f"{_FUNCTION}: column {field.name!r} has Spark type "
                    f"{spark_type}; expected a numeric or Boolean column"
                )
            raise L2InputError(msg) from error
        fields.append(pa.field(field.name, arrow_type))
    return pa.schema(fields)


def _unsupported_key_error(
    error: BaseException, df: pyspark.sql.DataFrame, spec: Spec
) -> L2InputError | None:
    """Return the input error for a key type Spark cannot send to the driver.

    Spark Connect (4.x) sends no ``time`` column in its Arrow results
    (``UNSUPPORTED_TIME_TYPE``), and the merged state carries the keys.
    """
    from pyspark.errors import PySparkException  # noqa: PLC0415

    if not (
        isinstance(error, PySparkException)
        and error.getCondition() == "UNSUPPORTED_TIME_TYPE"
    ):
        return None
    times = [
        field.name
        for field in df.schema.fields
        if field.name in spec.by and field.dataType.typeName() == "time"
    ]
    named = ", ".join(repr(name) for name in times)
    keys = f"by column {named} has" if len(times) == 1 else f"by columns {named} have"
    msg = (
        f"{_FUNCTION}: {keys} Spark type time, which this "
        "Spark session cannot send to Python (Spark Connect has no time type "
        "in its results: UNSUPPORTED_TIME_TYPE); cast it first (for example "
        "to a string, or to a timestamp on a day)"
    )
    return L2InputError(msg)


def _merge_partition(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Merge the states a shuffle brought together (runs on a worker).

    :func:`polars_l2.merge_states` itself: the merge exists once.
    """
    # The states come under positional names (see `_combine`); name them back.
    tables = [
        pa.Table.from_batches([batch]).rename_columns(schema.names)
        for batch in batches
        if batch.num_rows
    ]
    if tables:
        yield from _distributed.merge_tables(tables, schema).to_batches()


def _combine(
    partitions: pyspark.sql.DataFrame,
    spec: Spec,
    schema: pa.Schema,
) -> pyspark.sql.DataFrame:
    """Merge partition states per model and segment, on Spark's workers.

    A shuffle by model and keys brings every state row of a segment to one
    partition, where :func:`polars_l2.merge_states` merges them (Chan et
    al.'s pairwise formulas); the result has one row per model and segment.
    """
    from pyspark.sql import functions as F  # noqa: N812, PLC0415 - the extra, on use
    from pyspark.sql.pandas.types import from_arrow_schema  # noqa: PLC0415

    keys = [F.col(_quote(name)) for name in ["model", *spec.by]]
    # mapInArrow resolves its input's column names unquoted, which fails on
    # a name with a backtick: the workers get the columns by position.
    positional = [f"{_TMP}{i}" for i in range(len(schema.names))]
    with warnings.catch_warnings():
        # PySpark checks the pandas version for mapInArrow, which uses none.
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas"
        )
        return (
            partitions.repartition(*keys)
            .toDF(*positional)
            .mapInArrow(
                functools.partial(_merge_partition, schema=schema),
                from_arrow_schema(schema),
            )
        )


#: Settings that let Spark skip files it cannot read, leaving their rows out.
_SKIPPING_SETTINGS = (
    "spark.sql.files.ignoreCorruptFiles",
    "spark.sql.files.ignoreMissingFiles",
)


def _check_settings(df: pyspark.sql.DataFrame) -> None:
    """Refuse a session that would skip files it cannot read, without a word.

    With either setting on, Spark drops a corrupt or vanished file from the
    scan and the report covers part of the data. ``spark.conf`` answers in
    classic and Connect sessions alike. A reader's own option
    (``spark.read.option("ignoreCorruptFiles", "true")``) is not visible in
    the DataFrame and cannot be checked here.
    """
    conf = df.sparkSession.conf
    for name in _SKIPPING_SETTINGS:
        value = conf.get(name, "false")
        if str(value).strip().lower() == "true":
            msg = (
                f"{_FUNCTION}: the Spark session has {name}=true, which lets "
                "Spark skip files it cannot read and would leave their rows out "
                f"of the metrics without a word; set it to false "
                f'(spark.conf.set("{name}", "false"))'
            )
            raise ValueError(msg)


def _worker_python(df: pyspark.sql.DataFrame) -> str | None:
    """Return the interpreter Spark's Python workers run, if the session can say.

    A classic session knows it (``sparkContext.pythonExec``); a Spark Connect
    client has no ``sparkContext`` (JVM_ATTRIBUTE_NOT_SUPPORTED) and cannot.
    """
    session = df.sparkSession
    if type(session).__module__.startswith("pyspark.sql.connect"):
        return None
    python: str | None = session.sparkContext.pythonExec
    return python


@contextmanager
def _worker_errors(
    df: pyspark.sql.DataFrame, spec: Spec | None = None
) -> Iterator[None]:
    """Raise a worker's input error as :class:`polars_l2.L2InputError` again.

    With `spec`, also a key whose type Spark cannot send to the driver. And
    a worker's failed import of polars-l2 as a RuntimeError that says what
    to do, the same in classic and Spark Connect sessions.
    """
    try:
        yield
    except Exception as error:
        input_error = _distributed.input_error_from_worker(error, engine="Spark")
        if input_error is None and spec is not None:
            input_error = _unsupported_key_error(error, df, spec)
        if input_error is not None:
            raise input_error from error
        missing = _distributed.missing_module_on_worker(error)
        if missing is not None:
            python = _worker_python(df)
            workers = (
                "Spark's Python workers"
                if python is None
                else f"Spark's Python workers run {python!r}, which"
            )
            msg = (
                f"{_FUNCTION}: {workers} cannot import polars-l2 (no module "
                f"named {missing!r}); set PYSPARK_PYTHON to an interpreter that "
                "has it (locally: sys.executable) before the session starts, or "
                "install polars-l2 where the workers run"
            )
            raise RuntimeError(msg) from error
        raise


@_docs.fill
def state(
    df: pyspark.sql.DataFrame,
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
) -> pl.DataFrame:
    """Return the merged metric state of a PySpark ``DataFrame``.

    The state :func:`polars_l2.state` gives for all the data on one machine,
    up to rounding, computed by Spark partition by partition and merged by
    Spark. Save it, merge it with other states
    (:func:`polars_l2.merge_states`) or finalise it
    (:func:`polars_l2.finalize`).

    Parameters
    ----------
    df
        The data, one row per prediction.
    %(adapter_columns)s
    %(nan_policy)s
    %(adapter_pairing)s

    Returns
    -------
    DataFrame
        One row per model and segment, with the schema of
        :func:`polars_l2.state_schema`: models in the order of `predicted`,
        then segments sorted by key (by value, nulls last). The keys keep
        the dtypes of Spark's schema (through Arrow): a ``timestamp`` key is
        a ``Datetime("us")`` in the session's time zone
        (``spark.sql.session.timeZone``), a ``timestamp_ntz`` one has none.

    Raises
    ------
    L2InputError
        Before any data is read, if a column is missing or has a type the
        metrics cannot use; the message names the column. Also if a by
        column has a type the session cannot send to Python (Spark
        Connect's ``time``).
    ValueError
        If the session lets Spark skip files it cannot read
        (``spark.sql.files.ignoreCorruptFiles`` or
        ``spark.sql.files.ignoreMissingFiles`` is true).
    RuntimeError
        If Spark's Python workers cannot import polars-l2.
    ImportError
        Without PySpark; the message names the extra: ``polars-l2[spark]``.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations",
           *The American Statistician* 37(3), 242-247, 1983.

    Examples
    --------
    >>> import polars_l2.spark
    >>> df = spark.read.parquet("predictions/")  # doctest: +SKIP
    >>> polars_l2.spark.state(df, "y", "yhat", by="region")  # doctest: +SKIP
    """
    _extras.require(
        "pyspark.sql", user="polars_l2.spark", library="pyspark", extra="spark"
    )
    from pyspark.sql.pandas.types import from_arrow_schema  # noqa: PLC0415

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
    spec.check_present(df.columns, function=_FUNCTION)
    _check_settings(df)
    selected = df.select(*[_quote(name) for name in spec.needed])
    # The state of no rows checks every column on the driver before Spark
    # reads any data, and is the result for a DataFrame without rows.
    base = _distributed.empty_state(
        _arrow_schema(selected, spec), spec, function=_FUNCTION, pairing=pairing
    )
    # mapInArrow needs the output schema up front: the keys' types are those
    # of the state of no rows, which come from the DataFrame's schema.
    schema = _distributed.state_schema(base)
    # mapInArrow resolves its input's column names unquoted, which fails on
    # a name with a backtick: the workers get the columns by position.
    selected = selected.toDF(*(f"{_TMP}{i}" for i in range(len(spec.needed))))
    with warnings.catch_warnings():
        # PySpark checks the pandas version for mapInArrow, which uses none.
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas"
        )
        partitions = selected.mapInArrow(
            functools.partial(
                _partition_state, spec=spec, schema=schema, pairing=pairing
            ),
            from_arrow_schema(schema),
        )
    with _worker_errors(df, spec):
        merged: Any = _combine(partitions, spec, schema).toArrow()
    # Spark hands timestamps back in its session's time zone: the declared
    # schema's types again, so that the keys merge with the driver's state.
    return _distributed.merge_in_order(base, [merged.cast(schema)], spec)


@_docs.fill
def report(
    df: pyspark.sql.DataFrame,
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
) -> pl.DataFrame:
    """Return the model evaluation report of a PySpark ``DataFrame``.

    :func:`polars_l2.finalize` of :func:`polars_l2.spark.state`: the columns of
    :func:`polars_l2.report` for the same data on one machine, equal up to
    rounding, with the keys in their dtypes, sorted by value
    (``top_1pct_share`` from the merged histograms).

    Parameters
    ----------
    df
        The data, one row per prediction.
    %(adapter_columns)s
    %(adapter_report)s
    %(nan_policy)s

    Returns
    -------
    DataFrame
        One row per model and segment (then each model's overall row, with
        `overall`).

    Raises
    ------
    L2InputError
        If a column is missing or has a type the metrics cannot use, or an
        option is bad.
    ValueError
        If the session lets Spark skip files it cannot read (see :func:`state`).
    RuntimeError
        If Spark's Python workers cannot import polars-l2.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations",
           *The American Statistician* 37(3), 242-247, 1983.

    Examples
    --------
    >>> import polars_l2.spark
    >>> df = spark.read.parquet("predictions/")  # doctest: +SKIP
    >>> polars_l2.spark.report(df, "y", ["model_a", "model_b"])  # doctest: +SKIP
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
        df,
        actual,
        predicted,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        top_share=top_share,
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
    df: pyspark.sql.DataFrame,
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
) -> pl.DataFrame:
    """Compare candidate models with a baseline on a PySpark ``DataFrame``.

    :func:`polars_l2.compare` of the merged state: each partition is reduced
    to a state that keeps the paired moments of every candidate against the
    baseline (:func:`state` with ``baseline=``), Spark's workers merge the
    states per segment, and the paired test runs on the merged moments on
    the driver. The table equals :func:`polars_l2.compare` of the same data
    on one machine, up to rounding. ``cluster=`` needs the rows, which a
    state does not keep: it is not offered here.

    Parameters
    ----------
    df
        The data, one row per prediction.
    %(adapter_compare)s

    Returns
    -------
    DataFrame
        The columns of :func:`polars_l2.compare`.

    Raises
    ------
    L2InputError
        If a column is missing or has a type the metrics cannot use, or an
        option is bad (as :func:`polars_l2.compare`).
    ValueError
        If the session lets Spark skip files it cannot read (see :func:`state`).
    RuntimeError
        If Spark's Python workers cannot import polars-l2.

    Examples
    --------
    >>> import polars_l2.spark
    >>> df = spark.read.parquet("predictions/")  # doctest: +SKIP
    >>> polars_l2.spark.compare(df, "y", "old", "new", by="region")  # doctest: +SKIP
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
        df,
        actual,
        [baseline, *models],
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        baseline=baseline,
        loss=loss,
        huber_delta=huber_delta,
        top_share=False,
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

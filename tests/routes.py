"""Every way to get the evaluation report of a frame, and how to compare them.

A *path* takes a :class:`Query` (a DataFrame and the arguments of
:func:`polars_l2.report`) and returns the report as a DataFrame:

==================  =====================================================
path                how
==================  =====================================================
``functions``       ``polars_l2.sse``, ``mse`` and ``rmse`` in a select or a
                    group-by: only those three columns (the ``any_route``
                    fixture; ``path`` gives the whole-report paths below)
``eager``           ``report`` on the DataFrame
``lazy``            ``report`` on a LazyFrame, collected in memory
``streaming``       ``report`` on a LazyFrame, collected on the streaming engine
``state``           ``state`` then ``finalize``
``chunks``          ``state`` of random row chunks, merged in random order
                    (``merge_states``), then ``finalize``
``cli-file``        ``polars-l2 evaluate`` on one parquet file, ``--format csv``
``cli-files``       ``polars-l2 evaluate`` on three parquet files, ``--format json``
``ray``             ``polars_l2.ray.report`` on a local Ray dataset (distributed)
``spark``           ``polars_l2.spark.report`` on a local SparkSession (distributed)
``spark-connect``   the same on a local Spark Connect session (distributed)
==================  =====================================================

Each path states its documented properties as attributes (:class:`Path`),
the distributed ones also the types their engine holds data in
(:func:`arrow_dtype`, :func:`spark_dtype`) and the key types it cannot give
back (``unsupported_keys``),
and :func:`as_route_gives` applies them to the right report before
:func:`assert_same_report` compares: that is the one place where the
differences between paths are written. The differences that a fix will
remove are the module constants below; set one to False when the fix lands,
and every test that relied on it starts checking the full result.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2.cli import main

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from polars_l2.typing import NanPolicy

#: Relative tolerance between two paths: merging moments (Chan et al.)
#: and summing in another order change the last few bits, never more than
#: about 1e-13 relative on these small frames; 1e-9 leaves room for the
#: cancellation in R² and the interval.
REL_TOL = 1e-9
#: Absolute tolerance, for values that are zero on one path and a rounding
#: residue (1e-17) on another, such as the bias of a perfect model.
ABS_TOL = 1e-12


@dataclass(frozen=True)
class Query:
    """A frame and the arguments of :func:`polars_l2.report` to run on it."""

    frame: pl.DataFrame
    actual: str = "y"
    predicted: str | Sequence[str] = "p"
    by: Sequence[str] = ()
    weight: str | None = None
    nan_policy: NanPolicy = "propagate"
    confidence: float = 0.95

    def kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of the library functions."""
        return {
            "by": list(self.by) or None,
            "weight": self.weight,
            "nan_policy": self.nan_policy,
        }

    def models(self) -> list[str]:
        """Return the predicted columns as a list."""
        return (
            [self.predicted] if isinstance(self.predicted, str) else [*self.predicted]
        )


@dataclass(frozen=True)
class Route:
    """One way to get a report, and what its documentation says it gives."""

    name: str
    run: Callable[[Query, Context], pl.DataFrame]
    #: The report is finalised from a (merged) state.
    from_state: bool = False
    #: The report went through text (the command line): keys are compared as
    #: the text the same output format gives for the expected report.
    text: Literal["csv", "json"] | None = None
    #: Whether the path takes a ``nan_policy`` (the command line has none).
    nan_policy: bool = True
    #: Whether the path reports a frame without rows (the command line
    #: refuses an input without data rows, by design).
    empty_input: bool = True
    distributed: bool = False
    #: The metric columns the path gives, if not the whole report (the
    #: expression functions give sse, mse and rmse, and no count).
    metrics: tuple[str, ...] | None = None
    #: The dtype the path's engine holds a column of each dtype in: the data
    #: is handed to the engine so, and the keys come back so (None: as is).
    holds: Callable[[pl.DataType], pl.DataType] | None = None
    #: Key dtypes the engine cannot give back, with why: a documented
    #: limitation of the engine, not of polars-l2 (the test is skipped).
    unsupported_keys: dict[type[pl.DataType], str] = field(default_factory=dict)

    @property
    def marks(self) -> tuple[pytest.MarkDecorator, ...]:
        """The pytest marks of a test on this path."""
        return DISTRIBUTED_MARKS if self.distributed else ()

    def supports(self, query: Query) -> str | None:
        """Return why this path cannot run `query`, or None if it can."""
        if query.nan_policy != "propagate" and not self.nan_policy:
            return f"{self.name} has no nan_policy option"
        if query.frame.height == 0 and not self.empty_input:
            return f"{self.name} refuses an input without data rows"
        for key in query.by:
            reason = self.unsupported_keys.get(type(query.frame.schema[key]))
            if reason is not None:
                return f"{self.name}: {reason}"
        return None


@dataclass
class Context:
    """What a path may need: a scratch directory and the engines' sessions."""

    tmp: FilePath
    engines: dict[str, Any] = field(default_factory=dict)
    seed: int = 20261129


@dataclass(frozen=True)
class BoundRoute:
    """A path with what it needs to run: what the ``path`` fixture gives."""

    path: Route
    context: Context

    @property
    def name(self) -> str:
        """The path's name."""
        return self.path.name

    def report(self, query: Query) -> pl.DataFrame:
        """Return the report of `query` through this path (skip if unsupported)."""
        reason = self.path.supports(query)
        if reason is not None:
            pytest.skip(reason)
        return report_through(self.path, query, self.context)

    def expected(self, right: pl.DataFrame) -> pl.DataFrame:
        """Return what this path documents it gives when `right` is right."""
        return as_route_gives(self.path, right)


# --- in-process paths -------------------------------------------------------


def _eager(q: Query, _: Context) -> pl.DataFrame:
    return polars_l2.report(
        q.frame, q.actual, q.predicted, confidence=q.confidence, **q.kwargs()
    )


def _lazy(
    engine: Literal["in-memory", "streaming"],
) -> Callable[[Query, Context], pl.DataFrame]:
    def run(q: Query, _: Context) -> pl.DataFrame:
        lazy = polars_l2.report(
            q.frame.lazy(), q.actual, q.predicted, confidence=q.confidence, **q.kwargs()
        )
        return lazy.collect(engine=engine)

    return run


def _state(q: Query, _: Context) -> pl.DataFrame:
    state = polars_l2.state(q.frame, q.actual, q.predicted, **q.kwargs())
    return polars_l2.finalize(state, confidence=q.confidence)


def chunks(frame: pl.DataFrame, parts: int, *, seed: int) -> list[pl.DataFrame]:
    """Cut `frame` into `parts` contiguous chunks (some may be empty), shuffled."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, frame.height + 1, parts - 1)).tolist()
    bounds = [0, *cuts, frame.height]
    pieces = [frame.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    order = rng.permutation(len(pieces))
    return [pieces[i] for i in order]


def _chunks(q: Query, ctx: Context) -> pl.DataFrame:
    states = [
        polars_l2.state(part, q.actual, q.predicted, **q.kwargs())
        for part in chunks(q.frame, 4, seed=ctx.seed)
    ]
    return polars_l2.finalize(polars_l2.merge_states(states), confidence=q.confidence)


FUNCTIONS = ("sse", "mse", "rmse")


def _functions(q: Query, _: Context) -> pl.DataFrame:
    """Return sse, mse and rmse from the expression functions, per model and key.

    Keys are renamed for the group-by, so that the harness never reads a
    user's column name as a pattern itself.
    """
    keys = {name: f"key{i}" for i, name in enumerate(q.by)}
    frame = q.frame.rename(keys)
    vector = isinstance(frame.schema[q.actual], (pl.Array, pl.List))
    options: dict[str, Any] = {"weight": q.weight, "nan_policy": q.nan_policy}
    if vector:
        options["multioutput"] = "raw_values"
    if isinstance(frame.schema[q.actual], pl.List):
        # A List has no width in its dtype; the caller states it.
        options["width"] = frame[q.actual].list.len().max()
    parts = []
    for model in q.models():
        exprs = [
            getattr(polars_l2, name)(q.actual, model, **options).alias(name)
            for name in FUNCTIONS
        ]
        if keys:
            out = frame.group_by(list(keys.values())).agg(exprs)
            out = out.sort(list(keys.values()), nulls_last=True)
        else:
            out = frame.select(exprs)
        if vector:
            lists = [pl.col(name).cast(pl.List(pl.Float64)) for name in FUNCTIONS]
            out = out.with_columns(lists).with_columns(
                pl.int_ranges(0, pl.col("mse").list.len()).alias("output")
            )
            out = out.explode(["output", *FUNCTIONS])
        ordered = [*keys.values(), *(["output"] if vector else []), *FUNCTIONS]
        parts.append(out.select(pl.lit(model).alias("model"), *ordered))
    return pl.concat(parts).rename({v: k for k, v in keys.items()})


# --- the command line -------------------------------------------------------


def _command(q: Query, files: list[FilePath], fmt: str, out: FilePath) -> list[str]:
    argv = ["evaluate", *map(str, files), "--actual", q.actual]
    for model in q.models():
        argv += ["--predicted", model]
    for key in q.by:
        argv += ["--by", key]
    if q.weight is not None:
        argv += ["--weight", q.weight]
    return [*argv, "--confidence", repr(q.confidence), "--format", fmt, "-o", str(out)]


def read_text(text: str, fmt: str) -> pl.DataFrame:
    """Parse the command line's csv or json report back into a DataFrame.

    The naming columns (those before ``n``) stay text, which is all the
    output says of them; ``n`` is Int64, ``overall`` and ``small`` Boolean,
    and every other later column Float64.
    """
    if fmt == "csv":
        frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    else:
        rows = pl.read_json(io.StringIO(text), infer_schema_length=None)
        frame = rows.select(pl.all().cast(pl.String))
    names = frame.columns
    if "n" not in names:
        return frame
    flags = [name for name in ("overall", "small") if name in names]
    later = [name for name in names[names.index("n") + 1 :] if name not in flags]
    return frame.with_columns(
        pl.col("n").cast(pl.Int64),
        pl.col(later).cast(pl.Float64),
        pl.col(flags).str.to_lowercase().replace_strict({"true": True, "false": False}),
    )


def _cli(
    parts: int, fmt: Literal["csv", "json"]
) -> Callable[[Query, Context], pl.DataFrame]:
    def run(q: Query, ctx: Context) -> pl.DataFrame:
        directory = FilePath(tempfile.mkdtemp(prefix=f"cli-{parts}-", dir=ctx.tmp))
        pieces = [q.frame] if parts == 1 else chunks(q.frame, parts, seed=ctx.seed)
        files = []
        for i, piece in enumerate(pieces):
            files.append(directory / f"part-{i}.parquet")
            piece.write_parquet(files[-1])
        out = directory / f"report.{fmt}"
        status = main(_command(q, files, fmt, out))
        assert status == 0, f"polars-l2 evaluate exited with {status}"
        return pl.DataFrame({"text": [out.read_text()]})

    return run


# --- distributed engines ----------------------------------------------------


#: The marks of a test on a path through Ray or Spark.
DISTRIBUTED_MARKS = (
    pytest.mark.distributed,
    # Ray's DataContext warns about its own deprecated fields when created.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
    # PySpark 4 warns that it does not fully support pandas 3 (it is not used).
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
)

#: The time zone of the test Spark session (conftest.py sets it): Spark
#: gives a ``timestamp`` (an instant) back in the session's time zone.
SPARK_TIME_ZONE = "America/Sao_Paulo"


def arrow_dtype(dtype: pl.DataType) -> pl.DataType:
    """Return the dtype an Arrow-based engine (Ray) holds a column of `dtype` in.

    Arrow has no 128-bit integer (Polars exports one in a format pyarrow
    cannot read): it arrives as the type a user of the engine has for it,
    ``decimal(38, 0)``.
    """
    if dtype in (pl.Int128, pl.UInt128):
        return pl.Decimal(38, 0)
    return dtype


def spark_dtype(dtype: pl.DataType) -> pl.DataType:
    """Return the dtype Spark holds a column of `dtype` in.

    As :func:`arrow_dtype`, and: Spark has no unsigned integer (the next
    wider signed type, ``decimal(38, 0)`` for UInt64); its timestamps and
    intervals are in microseconds, a naive Datetime as ``timestamp_ntz``
    (as Spark reads it from Polars' parquet files), one with a time zone as
    ``timestamp``, an instant Spark gives back in its session's time zone.
    """
    if dtype == pl.UInt64:
        return pl.Decimal(38, 0)
    if dtype in (pl.UInt8, pl.UInt16):
        return pl.Int32()
    if dtype == pl.UInt32:
        return pl.Int64()
    if isinstance(dtype, pl.Datetime):
        zone = None if dtype.time_zone is None else SPARK_TIME_ZONE
        return pl.Datetime("us", zone)
    if isinstance(dtype, pl.Duration):
        return pl.Duration("us")
    return arrow_dtype(dtype)


def as_engine_types(
    frame: pl.DataFrame, holds: Callable[[pl.DataType], pl.DataType]
) -> pl.DataFrame:
    """Return `frame` in the types an engine holds its columns in (`holds`)."""
    casts = {name: holds(dtype) for name, dtype in frame.schema.items()}
    return frame.cast({k: v for k, v in casts.items() if v != frame.schema[k]})


def arrow_chunks(frame: pl.DataFrame, parts: int, *, seed: int) -> list[Any]:
    """Return Arrow tables of the shuffled chunks, without empty ones (one kept)."""
    pieces = [p for p in chunks(frame, parts, seed=seed) if p.height] or [frame]
    return [as_engine_types(piece, arrow_dtype).to_arrow() for piece in pieces]


def _ray(q: Query, ctx: Context) -> pl.DataFrame:
    import polars_l2.ray  # noqa: PLC0415  (needs the ray extra)

    ray_data = ctx.engines["ray"]
    dataset = ray_data.from_arrow(arrow_chunks(q.frame, 3, seed=ctx.seed))
    return polars_l2.ray.report(
        dataset, q.actual, q.predicted, confidence=q.confidence, **q.kwargs()
    )


def spark_frame(session: Any, frame: pl.DataFrame) -> Any:
    """Return the frame as a Spark DataFrame (see :func:`spark_dtype`)."""
    from pyspark.sql.pandas.types import from_arrow_schema  # noqa: PLC0415

    table = as_engine_types(frame, spark_dtype).to_arrow()
    # The schema is given: Spark Connect infers none from an empty table,
    # and Spark would infer a naive timestamp as one in its time zone.
    return session.createDataFrame(table, schema=from_arrow_schema(table.schema))


@contextlib.contextmanager
def connect_mode(*, on: bool) -> Iterator[None]:
    """Make PySpark build Spark Connect columns, for as long as the block runs.

    PySpark's functions (``F.col``...) build classic or Connect columns
    depending on this variable, read at each call; the classic session and
    the Connect client share this process, so it is set only around a
    Connect query.
    """
    if not on:
        yield
        return
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    try:
        yield
    finally:
        del os.environ["SPARK_CONNECT_MODE_ENABLED"]


def _spark(engine: str) -> Callable[[Query, Context], pl.DataFrame]:
    def run(q: Query, ctx: Context) -> pl.DataFrame:
        import polars_l2.spark  # noqa: PLC0415  (needs the spark extra)

        session = ctx.engines[engine]
        with connect_mode(on=engine == "spark-connect"):
            # Three partitions, so that states of parts are merged.
            df = spark_frame(session, q.frame).repartition(3)
            return polars_l2.spark.report(
                df, q.actual, q.predicted, confidence=q.confidence, **q.kwargs()
            )

    return run


ROUTES: dict[str, Route] = {
    p.name: p
    for p in [
        Route("functions", _functions, metrics=FUNCTIONS),
        Route("eager", _eager),
        Route("lazy", _lazy("in-memory")),
        Route("streaming", _lazy("streaming")),
        Route("state", _state, from_state=True),
        Route("chunks", _chunks, from_state=True),
        Route(
            "cli-file", _cli(1, "csv"), text="csv", nan_policy=False, empty_input=False
        ),
        Route(
            "cli-files",
            _cli(3, "json"),
            from_state=True,
            text="json",
            nan_policy=False,
            empty_input=False,
        ),
        Route("ray", _ray, from_state=True, distributed=True, holds=arrow_dtype),
        Route(
            "spark",
            _spark("spark"),
            from_state=True,
            distributed=True,
            holds=spark_dtype,
        ),
        Route(
            "spark-connect",
            _spark("spark-connect"),
            from_state=True,
            distributed=True,
            holds=spark_dtype,
            # polars_l2.spark says so in an L2InputError (tests/test_spark_types.py).
            unsupported_keys={
                pl.Time: "Spark Connect sends no time column to the client "
                "(UNSUPPORTED_TIME_TYPE), so no time key comes back"
            },
        ),
    ]
}


def key_columns(report: pl.DataFrame) -> list[str]:
    """Return the columns that name a row: model, output and the segment keys."""
    first = next(
        (name for name in ("overall", "n") if name in report.columns), FUNCTIONS[0]
    )
    return report.columns[: report.columns.index(first)]


def route_keys(path: Route, keys: pl.Series) -> pl.Series:
    """Return the naming column `keys` of a right report as `path` gives it.

    A path through an engine gives keys in the dtype the engine holds them
    in (``holds``); a path through text gives the text its output format
    writes (the ``model`` column is a string everywhere).
    """
    if path.holds is not None:
        keys = keys.cast(path.holds(keys.dtype))
    if path.text is None:
        return keys
    frame = keys.to_frame()
    if isinstance(keys.dtype, pl.Duration):
        # Both text formats write a Duration as ISO 8601 (docs/cli.md).
        frame = frame.with_columns(pl.all().dt.to_string("iso"))
    text = frame.write_csv() if path.text == "csv" else frame.write_json()
    if path.text == "csv":
        return pl.read_csv(io.StringIO(text), infer_schema=False).to_series()
    return pl.read_json(io.StringIO(text)).to_series().cast(pl.String)


def as_route_gives(path: Route, expected: pl.DataFrame) -> pl.DataFrame:
    """Return what `path` documents it gives when the right report is `expected`.

    This is the one place where the documented differences of a path are
    applied to a whole report.
    """
    keys = key_columns(expected)
    expected = expected.with_columns(route_keys(path, expected[k]) for k in keys)
    if path.metrics is not None:
        expected = expected.select(*keys, *path.metrics)
    return expected


def assert_same_report(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Check a report against another, to rounding.

    Columns, their order and the row order must be equal; the naming columns
    (model, output, keys) and the count ``n`` exactly, with their dtypes;
    every float to a relative :data:`REL_TOL` (absolute :data:`ABS_TOL`),
    NaN equal to NaN, null to null, and infinities equal in sign. Apply
    :func:`as_route_gives` to `expected` first for a path's documented
    differences.
    """
    assert got.columns == expected.columns, (got.columns, expected.columns)
    assert got.height == expected.height, (got, expected)
    exact = [*key_columns(expected), *(["n"] if "n" in expected.columns else [])]
    assert_frame_equal(got.select(exact), expected.select(exact))
    assert_frame_equal(
        got.drop(exact),
        expected.drop(exact),
        check_exact=False,
        rel_tol=REL_TOL,
        abs_tol=ABS_TOL,
    )


def report_through(path: Route, query: Query, ctx: Context) -> pl.DataFrame:
    """Return the report of `query` through `path` (parsed back from text)."""
    got = path.run(query, ctx)
    if path.text is None:
        return got
    return read_text(got["text"].item(), path.text)


def isclose(a: float | None, b: float | None) -> bool:
    """Whether two metric values agree to :data:`REL_TOL` (None and NaN equal)."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL)

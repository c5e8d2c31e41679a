"""Every route to a report, every input kind, and how to compare them.

A *route* takes a :class:`Query` (a DataFrame, the input kind to hand it over
as, and the arguments of :func:`polars_l2.report`) and returns the report as
a DataFrame:

==================  =====================================================
route               how
==================  =====================================================
``functions``       ``polars_l2.sse``, ``mse`` and ``rmse`` in a select or a
                    group-by: only those three columns (the ``any_route``
                    fixture; ``route`` gives the whole-report routes below)
``namespace``       the same through the expression namespace,
                    ``pl.col(actual).l2.sse(predicted)``
``accessor``        the typed accessor, ``polars_l2.l2(data).report(...)``
``eager``           ``report`` on the data as given (collected if lazy)
``lazy``            ``report`` on a LazyFrame, collected in memory
``streaming``       ``report`` on a LazyFrame, collected on the streaming engine
``state``           ``state`` then ``finalize``
``chunks``          ``state`` of random row chunks, merged in random order
                    (``merge_states``), then ``finalize``
``compare``         ``polars_l2.compare`` (paired; its own table: right
                    when it equals ``compare`` of the Polars DataFrame)
``cli-file``        ``polars-l2 evaluate`` on one file or table, ``--format csv``
``cli-files``       ``polars-l2 evaluate`` on three files or tables, ``--format json``
``ray``             ``polars_l2.ray.report`` on a local Ray dataset (distributed)
``spark``           ``polars_l2.spark.report`` on a local SparkSession (distributed)
``spark-connect``   the same on a local Spark Connect session (distributed)
``ray-compare``,    ``polars_l2.ray.compare`` / ``polars_l2.spark.compare``
``spark-compare``   on a local Ray dataset, SparkSession (distributed)
==================  =====================================================

An *input kind* (:data:`KINDS`) is how the data reaches the entrance: a
Polars DataFrame or LazyFrame, a pyarrow Table, Dataset or
RecordBatchReader, a pandas DataFrame of NumPy, nullable or pyarrow dtypes,
a DuckDB relation, a narwhals frame, a Delta or Iceberg table written by
the test (read by ``pl.scan_delta`` / ``pl.scan_iceberg``; the command line
reads the table's directory), parquet files (the command line), or the
engine's own dataset (Ray, Spark). Each kind states how it holds a Polars
frame (``holds``: pandas with NumPy dtypes has no null float, only NaN);
the right answer of a cell is the report of the frame *as the kind holds
it*, by :func:`polars_l2.report` on that Polars DataFrame.

The *route matrix* (:func:`matrix`) is every entrance x every input kind it
takes (:func:`takes`) x every feature that differs (:data:`FEATURES`:
weights across the whole Float64 range, ``overall``, vector targets, NaN,
nulls, no rows). Each cell gives the right answer to rounding
(:data:`MATRIX_REL_TOL`), or the documented one-line refusal
(:data:`REFUSALS`).

Each route states its documented properties as attributes (:class:`Route`),
the distributed ones also the types their engine holds data in
(:func:`arrow_dtype`, :func:`spark_dtype`) and the key types it cannot give
back (``unsupported_keys``), and :func:`as_route_gives` applies them to the
right report before :func:`assert_same_report` compares: that is the one
place where the differences between routes are written.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
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

#: Relative tolerance between two routes: merging moments (Chan et al.)
#: and summing in another order change the last few bits, never more than
#: about 1e-13 relative on these small frames; 1e-9 leaves room for the
#: cancellation in R² and the interval.
REL_TOL = 1e-9
#: Absolute tolerance, for values that are zero on one route and a rounding
#: residue (1e-17) on another, such as the bias of a perfect model.
ABS_TOL = 1e-12
#: The route matrix's tolerance: relative only (its weights reach 1e-300,
#: where any absolute tolerance would pass everything), and tight: every
#: route computes the same moments, merged in another order at most.
MATRIX_REL_TOL = 1e-12


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
    #: How the data reaches the entrance (a name of :data:`KINDS`).
    kind: str = "polars"
    #: Each model's overall row (the routes that take ``overall``).
    overall: bool = False

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

    @property
    def weighted(self) -> bool:
        """Whether the query is weighted (``finalize`` of no rows cannot tell)."""
        return self.weight is not None

    def given(self, ctx: Context) -> Any:
        """Return the data as its input kind hands it to an entrance."""
        return KINDS[self.kind].make(self.frame, ctx)

    def held(self) -> pl.DataFrame:
        """Return the data as its input kind holds it, as a Polars DataFrame."""
        return KINDS[self.kind].holds(self.frame)


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
    #: Whether the route takes a ``nan_policy`` (the command line has none).
    nan_policy: bool = True
    #: Whether the route reports a frame without rows (the command line
    #: refuses an input without data rows, by design).
    empty_input: bool = True
    distributed: bool = False
    #: The metric columns the route gives, if not the whole report (the
    #: expression functions give sse, mse and rmse, and no count).
    metrics: tuple[str, ...] | None = None
    #: The dtype the route's engine holds a column of each dtype in: the data
    #: is handed to the engine so, and the keys come back so (None: as is).
    holds: Callable[[pl.DataType], pl.DataType] | None = None
    #: Key dtypes the engine cannot give back, with why: a documented
    #: limitation of the engine, not of polars-l2 (the test is skipped).
    unsupported_keys: dict[type[pl.DataType], str] = field(default_factory=dict)
    #: The route gives ``compare``'s table (right: ``compare`` of the Polars
    #: DataFrame), not the report.
    compare: bool = False
    #: The route takes ``overall`` (the expression functions have no such
    #: option: their right answer is the report without overall rows).
    overall: bool = True

    @property
    def marks(self) -> tuple[pytest.MarkDecorator, ...]:
        """The pytest marks of a test on this route."""
        return DISTRIBUTED_MARKS if self.distributed else ()

    def supports(self, query: Query) -> str | None:
        """Return why this route cannot run `query`, or None if it can."""
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
    """What a route may need: scratch directories and the engines' sessions.

    `tables` is where the Delta and Iceberg tables of the input kinds are
    written, once per session and frame (:func:`written_table`); None: a
    directory below `tmp`.
    """

    tmp: FilePath
    engines: dict[str, Any] = field(default_factory=dict)
    seed: int = 20261129
    tables: FilePath | None = None


@dataclass(frozen=True)
class BoundRoute:
    """A route with what it needs to run: what the ``route`` fixture gives."""

    route: Route
    context: Context

    @property
    def name(self) -> str:
        """The route's name."""
        return self.route.name

    def report(self, query: Query) -> pl.DataFrame:
        """Return the report of `query` through this route (skip if unsupported)."""
        reason = self.route.supports(query)
        if reason is not None:
            pytest.skip(reason)
        return report_through(self.route, query, self.context)

    def expected(self, right: pl.DataFrame) -> pl.DataFrame:
        """Return what this route documents it gives when `right` is right."""
        return as_route_gives(self.route, right)


# --- in-process routes -------------------------------------------------------


def collected(result: object) -> pl.DataFrame:
    """Return a route's result as a DataFrame (a LazyFrame is collected)."""
    if isinstance(result, pl.LazyFrame):
        return result.collect()
    assert isinstance(result, pl.DataFrame), type(result)
    return result


def _eager(q: Query, ctx: Context) -> pl.DataFrame:
    return collected(
        polars_l2.report(
            q.given(ctx),
            q.actual,
            q.predicted,
            confidence=q.confidence,
            overall=q.overall,
            **q.kwargs(),
        )
    )


def _accessor(q: Query, ctx: Context) -> pl.DataFrame:
    namespace = polars_l2.l2(q.given(ctx))
    return collected(
        namespace.report(
            q.actual,
            q.predicted,
            confidence=q.confidence,
            overall=q.overall,
            **q.kwargs(),
        )
    )


def _lazy(
    engine: Literal["in-memory", "streaming"],
) -> Callable[[Query, Context], pl.DataFrame]:
    def run(q: Query, ctx: Context) -> pl.DataFrame:
        given = q.given(ctx)
        lazy = given.lazy() if isinstance(given, pl.DataFrame) else given
        report = polars_l2.report(
            lazy,
            q.actual,
            q.predicted,
            confidence=q.confidence,
            overall=q.overall,
            **q.kwargs(),
        )
        assert isinstance(report, pl.LazyFrame)
        return report.collect(engine=engine)

    return run


def _state(q: Query, ctx: Context) -> pl.DataFrame:
    state = polars_l2.state(q.given(ctx), q.actual, q.predicted, **q.kwargs())
    return collected(
        polars_l2.finalize(
            state, confidence=q.confidence, overall=q.overall, weighted=q.weighted
        )
    )


def compare_arguments(q: Query) -> dict[str, Any]:
    """Return :func:`polars_l2.compare`'s arguments for `q`.

    The first model is the baseline, the others the candidates.
    """
    first, *others = q.models()
    return {
        "actual": q.actual,
        "baseline": first,
        "candidates": others,
        "confidence": q.confidence,
        **q.kwargs(),
    }


def _compare(q: Query, ctx: Context) -> pl.DataFrame:
    return polars_l2.compare(q.given(ctx), **compare_arguments(q))


def chunks(frame: pl.DataFrame, parts: int, *, seed: int) -> list[pl.DataFrame]:
    """Cut `frame` into `parts` contiguous chunks (some may be empty), shuffled."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, frame.height + 1, parts - 1)).tolist()
    bounds = [0, *cuts, frame.height]
    pieces = [frame.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    order = rng.permutation(len(pieces))
    return [pieces[i] for i in order]


def _chunks(q: Query, ctx: Context) -> pl.DataFrame:
    kind = KINDS[q.kind]
    states = [
        polars_l2.state(kind.make(part, ctx), q.actual, q.predicted, **q.kwargs())
        for part in chunks(q.frame, 4, seed=ctx.seed)
    ]
    merged = polars_l2.merge_states([collected(state) for state in states])
    return collected(
        polars_l2.finalize(
            merged, confidence=q.confidence, overall=q.overall, weighted=q.weighted
        )
    )


FUNCTIONS = ("sse", "mse", "rmse")


def _functions(q: Query, ctx: Context) -> pl.DataFrame:
    """Return sse, mse and rmse from the expression functions."""
    return _expressions(q, ctx, namespace=False)


def _namespace(q: Query, ctx: Context) -> pl.DataFrame:
    """Return sse, mse and rmse from the expression namespace (``.l2``)."""
    return _expressions(q, ctx, namespace=True)


def _metric(
    name: str, q: Query, model: str, *, namespace: bool
) -> Callable[..., pl.Expr]:
    """Return metric `name` of `model` as the functions or the namespace build it."""
    if namespace:
        # The user's own expression: a literal column, even for "^y$" or "*".
        actual = pl.col(f"^{re.escape(q.actual)}$")
        method: Callable[..., pl.Expr] = getattr(actual.l2, name)  # type: ignore[attr-defined]
        return lambda **options: method(model, **options)
    function: Callable[..., pl.Expr] = getattr(polars_l2, name)
    return lambda **options: function(q.actual, model, **options)


def _expressions(q: Query, ctx: Context, *, namespace: bool) -> pl.DataFrame:
    """Return sse, mse and rmse per model and key, from expressions.

    The data is a Polars DataFrame or LazyFrame (the expression entrances
    run in a Polars query). Keys are renamed for the group-by, so that the
    harness never reads a user's column name as a pattern itself.
    """
    keys = {name: f"key{i}" for i, name in enumerate(q.by)}
    given = q.given(ctx)
    assert isinstance(given, pl.DataFrame | pl.LazyFrame), type(given)
    frame = given.rename(keys)
    schema = frame.collect_schema()
    vector = isinstance(schema[q.actual], (pl.Array, pl.List))
    options: dict[str, Any] = {"weight": q.weight, "nan_policy": q.nan_policy}
    if vector:
        options["multioutput"] = "raw_values"
    if isinstance(schema[q.actual], pl.List):
        # A List has no width in its dtype; the caller states it.
        width = frame.select(pl.col(q.actual).list.len().max())
        options["width"] = collected(width).item()
    parts = []
    for model in q.models():
        exprs = [
            _metric(name, q, model, namespace=namespace)(**options).alias(name)
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
        parts.append(collected(out.select(pl.lit(model).alias("model"), *ordered)))
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
            if KINDS[q.kind].table:  # a Delta or Iceberg table: its directory
                files.append(written_table(q.kind, piece, ctx)[0])
            else:
                files.append(directory / f"part-{i}.parquet")
                piece.write_parquet(files[-1])
        out = directory / f"report.{fmt}"
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors):
            status = main(_command(q, files, fmt, out))
        if status == 2:
            raise Refused(errors.getvalue())
        assert status == 0, f"polars-l2 evaluate exited with {status}: {errors}"
        return pl.DataFrame({"text": [out.read_text()]})

    return run


class Refused(Exception):  # noqa: N818  (what the command did, not a failure)
    """The command line refused its input: exit status 2, one error line.

    Notes may come first (an input skipped as the same content as another).
    """

    def __init__(self, stderr: str) -> None:
        *notes, error = stderr.splitlines()
        assert all(line.startswith("polars-l2: note: ") for line in notes), stderr
        assert stderr.endswith("\n")
        super().__init__(error)


# --- distributed engines ----------------------------------------------------


#: The marks of a test on a route through Ray or Spark.
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
        dataset,
        q.actual,
        q.predicted,
        confidence=q.confidence,
        **q.kwargs(),
        **_overall(q),
    )


def _overall(q: Query) -> dict[str, Any]:
    """``overall=True`` where the query asks for it (the adapters lack it today)."""
    return {"overall": True} if q.overall else {}


def _ray_compare(q: Query, ctx: Context) -> pl.DataFrame:
    import polars_l2.ray  # noqa: PLC0415  (needs the ray extra)

    dataset = ctx.engines["ray"].from_arrow(arrow_chunks(q.frame, 3, seed=ctx.seed))
    compare: Callable[..., pl.DataFrame] = getattr(polars_l2.ray, "compare")  # noqa: B009
    return compare(dataset, **compare_arguments(q))


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
                df,
                q.actual,
                q.predicted,
                confidence=q.confidence,
                **q.kwargs(),
                **_overall(q),
            )

    return run


def _spark_compare(q: Query, ctx: Context) -> pl.DataFrame:
    import polars_l2.spark  # noqa: PLC0415  (needs the spark extra)

    df = spark_frame(ctx.engines["spark"], q.frame).repartition(3)
    compare: Callable[..., pl.DataFrame] = getattr(polars_l2.spark, "compare")  # noqa: B009
    return compare(df, **compare_arguments(q))


ROUTES: dict[str, Route] = {
    p.name: p
    for p in [
        Route("functions", _functions, metrics=FUNCTIONS, overall=False),
        Route("namespace", _namespace, metrics=FUNCTIONS, overall=False),
        Route("accessor", _accessor),
        Route("eager", _eager),
        Route("lazy", _lazy("in-memory")),
        Route("streaming", _lazy("streaming")),
        Route("state", _state, from_state=True),
        Route("chunks", _chunks, from_state=True),
        Route("compare", _compare, compare=True),
        Route(
            "cli-file",
            _cli(1, "csv"),
            text="csv",
            nan_policy=False,
            empty_input=False,
            overall=False,
        ),
        Route(
            "cli-files",
            _cli(3, "json"),
            from_state=True,
            text="json",
            nan_policy=False,
            empty_input=False,
            overall=False,
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
        Route(
            "ray-compare",
            _ray_compare,
            from_state=True,
            distributed=True,
            holds=arrow_dtype,
            compare=True,
        ),
        Route(
            "spark-compare",
            _spark_compare,
            from_state=True,
            distributed=True,
            holds=spark_dtype,
            compare=True,
        ),
    ]
}

#: The routes that give the report (or its sse, mse and rmse): those the
#: ``route`` and ``any_route`` fixtures run every report test on.
REPORT_ROUTES: dict[str, Route] = {
    name: route for name, route in ROUTES.items() if not route.compare
}


def key_columns(report: pl.DataFrame) -> list[str]:
    """Return the columns that name a row: model, output and the segment keys."""
    first = next(
        (name for name in ("overall", "n") if name in report.columns), FUNCTIONS[0]
    )
    return report.columns[: report.columns.index(first)]


def route_keys(route: Route, keys: pl.Series) -> pl.Series:
    """Return the naming column `keys` of a right report as `route` gives it.

    A route through an engine gives keys in the dtype the engine holds them
    in (``holds``); a route through text gives the text its output format
    writes (the ``model`` column is a string everywhere).
    """
    if route.holds is not None:
        keys = keys.cast(route.holds(keys.dtype))
    if route.text is None:
        return keys
    frame = keys.to_frame()
    if isinstance(keys.dtype, pl.Duration):
        # Both text formats write a Duration as ISO 8601 (docs/cli.md).
        frame = frame.with_columns(pl.all().dt.to_string("iso"))
    text = frame.write_csv() if route.text == "csv" else frame.write_json()
    if route.text == "csv":
        return pl.read_csv(io.StringIO(text), infer_schema=False).to_series()
    return pl.read_json(io.StringIO(text)).to_series().cast(pl.String)


def as_route_gives(route: Route, expected: pl.DataFrame) -> pl.DataFrame:
    """Return what `route` documents it gives when the right report is `expected`.

    This is the one place where the documented differences of a route are
    applied to a whole report.
    """
    keys = key_columns(expected)
    expected = expected.with_columns(route_keys(route, expected[k]) for k in keys)
    if route.metrics is not None:
        expected = expected.select(*keys, *route.metrics)
    return expected


def assert_same_report(
    got: pl.DataFrame,
    expected: pl.DataFrame,
    *,
    rel_tol: float = REL_TOL,
    abs_tol: float = ABS_TOL,
) -> None:
    """Check a report against another, to rounding.

    Columns, their order and the row order must be equal; the naming columns
    (model, output, keys) and the count ``n`` exactly, with their dtypes;
    every float to a relative :data:`REL_TOL` (absolute :data:`ABS_TOL`),
    NaN equal to NaN, null to null, and infinities equal in sign. Apply
    :func:`as_route_gives` to `expected` first for a route's documented
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
        rel_tol=rel_tol,
        abs_tol=abs_tol,
    )


def report_through(route: Route, query: Query, ctx: Context) -> pl.DataFrame:
    """Return the report of `query` through `route` (parsed back from text)."""
    got = route.run(query, ctx)
    if route.text is None:
        return got
    return read_text(got["text"].item(), route.text)


def isclose(a: float | None, b: float | None) -> bool:
    """Whether two metric values agree to :data:`REL_TOL` (None and NaN equal)."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL)


# --- input kinds ------------------------------------------------------------


def _as_is(frame: pl.DataFrame) -> pl.DataFrame:
    return frame


def _vectors_as_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """Array columns as List: a format without fixed-size lists holds them so."""
    return frame.with_columns(
        pl.col(name).cast(pl.List(dtype.inner))
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Array)
    )


def _numpy_holds(frame: pl.DataFrame) -> pl.DataFrame:
    """Hold `frame` as pandas' NumPy dtypes do: a missing number NaN, vectors Lists."""
    numbers = [n for n, d in frame.schema.items() if d.is_numeric()]
    frame = frame.with_columns(pl.col(numbers).cast(pl.Float64).fill_null(float("nan")))
    return _vectors_as_lists(frame)


def _nullable_holds(frame: pl.DataFrame) -> pl.DataFrame:
    """Hold `frame` as pandas' nullable dtypes do: Arrow's NaN read as NA."""
    floats = [n for n, d in frame.schema.items() if d.is_float()]
    frame = frame.with_columns(pl.col(floats).fill_nan(None))
    return _vectors_as_lists(frame)


def _pandas(types: str) -> Callable[[pl.DataFrame, Context], Any]:
    def make(frame: pl.DataFrame, _: Context) -> Any:
        pd = pytest.importorskip("pandas")
        table = frame.to_arrow()
        if types == "numpy":
            return table.to_pandas()
        if types == "arrow":
            return table.to_pandas(types_mapper=pd.ArrowDtype)
        nullable = {
            "double": pd.Float64Dtype(),
            "int64": pd.Int64Dtype(),
            "large_string": pd.StringDtype(),
            "string": pd.StringDtype(),
        }
        return table.to_pandas(types_mapper=lambda t: nullable.get(str(t)))

    return make


def _dataset(frame: pl.DataFrame, _: Context) -> Any:
    import pyarrow.dataset as ds  # noqa: PLC0415

    return ds.dataset(frame.to_arrow())


def _duckdb(frame: pl.DataFrame, _: Context) -> Any:
    duckdb = pytest.importorskip("duckdb")
    return duckdb.connect().from_arrow(frame.to_arrow())


def _narwhals(frame: pl.DataFrame, _: Context) -> Any:
    narwhals = pytest.importorskip("narwhals")
    return narwhals.from_native(frame.to_arrow())


#: Tables written this session: (directory of tables, kind, the frame's
#: fingerprint) -> (the table's directory, Polars' scan of it).
_WRITTEN: dict[tuple[str, str, str], tuple[FilePath, pl.LazyFrame]] = {}


def _fingerprint(frame: pl.DataFrame) -> str:
    hashed = frame.hash_rows(seed=1).sum() if frame.height else 0
    return f"{frame.schema}|{frame.height}|{hashed}"


def written_table(
    kind: str, frame: pl.DataFrame, ctx: Context
) -> tuple[FilePath, pl.LazyFrame]:
    """Return the Delta or Iceberg table of `frame` (written once per session)."""
    from tests.tables import write_delta, write_iceberg  # noqa: PLC0415

    home = ctx.tables if ctx.tables is not None else ctx.tmp / "tables"
    key = (str(home), kind, _fingerprint(frame))
    if key not in _WRITTEN:
        home.mkdir(parents=True, exist_ok=True)
        directory = FilePath(tempfile.mkdtemp(prefix=f"{kind}-", dir=home))
        # Written as the table holds it: a Delta table has no fixed-size list
        # (Polars' scan_delta refuses the parquet files of one written so).
        held = _vectors_as_lists(frame)
        if kind == "delta":
            _WRITTEN[key] = (directory, write_delta(held, directory))
        else:
            _WRITTEN[key] = write_iceberg(held, directory)
    return _WRITTEN[key]


def _table(kind: str) -> Callable[[pl.DataFrame, Context], Any]:
    def make(frame: pl.DataFrame, ctx: Context) -> Any:
        return written_table(kind, frame, ctx)[1]

    return make


def _not_in_process(_frame: pl.DataFrame, _: Context) -> Any:
    msg = "this kind reaches only the command line or an engine"
    raise AssertionError(msg)


@dataclass(frozen=True)
class Kind:
    """An input kind: how a Polars DataFrame reaches an entrance."""

    name: str
    #: The data as this kind, from the Polars DataFrame.
    make: Callable[[pl.DataFrame, Context], Any]
    #: The DataFrame as this kind holds it (the right answer's input).
    holds: Callable[[pl.DataFrame], pl.DataFrame] = _as_is
    #: A Polars DataFrame or LazyFrame (a Polars scan of a table included):
    #: what the expression entrances take.
    polars: bool = False
    #: An entrance given this kind returns a LazyFrame.
    lazy: bool = False
    #: A table on disk (Delta, Iceberg): one input, read whole.
    table: bool = False


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("polars", lambda frame, _: frame, polars=True),
        Kind("polars-lazy", lambda frame, _: frame.lazy(), polars=True, lazy=True),
        Kind("arrow-table", lambda frame, _: frame.to_arrow()),
        Kind("arrow-dataset", _dataset),
        Kind("arrow-reader", lambda frame, _: frame.to_arrow().to_reader()),
        Kind("pandas-numpy", _pandas("numpy"), holds=_numpy_holds),
        Kind("pandas-nullable", _pandas("nullable"), holds=_nullable_holds),
        Kind("pandas-arrow", _pandas("arrow")),
        Kind("duckdb", _duckdb),
        Kind("narwhals", _narwhals),
        Kind(
            "delta",
            _table("delta"),
            holds=_vectors_as_lists,
            polars=True,
            lazy=True,
            table=True,
        ),
        Kind(
            "iceberg",
            _table("iceberg"),
            holds=_vectors_as_lists,
            polars=True,
            lazy=True,
            table=True,
        ),
        # Only the command line (files) and the engines (their datasets).
        Kind("parquet", _not_in_process),
        Kind("engine", _not_in_process),
    ]
}

#: The kinds the command line reads: parquet files, and tables' directories.
CLI_KINDS = ("parquet", "delta", "iceberg")

#: The kinds every in-process frame entrance takes.
FRAME_KINDS = tuple(k for k in KINDS if k not in ("parquet", "engine"))


# --- features that differ -----------------------------------------------------


def _base(n: int = 40, *, seed: int = 21) -> pl.DataFrame:
    """Two models, a weight, a string key with a null."""
    rng = np.random.default_rng(seed)
    y = rng.normal(50.0, 10.0, n)
    frame = pl.DataFrame(
        {
            "g": rng.choice(["a", "b", "c"], n).tolist(),
            "y": y,
            "p": y + rng.normal(0.5, 2.0, n),
            "q": y + rng.standard_t(3, n),
            "w": rng.uniform(0.2, 3.0, n),
        }
    )
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 11 == 5).then(None).otherwise("g").alias("g")
    )


def _with(
    frame: pl.DataFrame, column: str, value: Any, every: int, at: int
) -> pl.DataFrame:
    """Put `value` in every `every`-th row of `column`, from row `at`."""
    rows = pl.int_range(pl.len()) % every == at
    return frame.with_columns(
        pl.when(rows).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


def _vectors(frame: pl.DataFrame) -> pl.DataFrame:
    """Return the same rows with 2-wide Array targets (one null vector)."""
    vector = pl.Array(pl.Float64, 2)
    arrays = {
        name: pl.concat_list(pl.col(name), pl.col(name) * 0.5 + 1.0).list.to_array(2)
        for name in ("y", "p", "q")
    }
    out = frame.with_columns(**arrays).cast({"y": vector, "p": vector, "q": vector})
    return _with(out, "y", None, 13, 4)


BASE = _base()
_MODELS = ("p", "q")


def _query(frame: pl.DataFrame, **kwargs: Any) -> Query:
    return Query(frame, predicted=_MODELS, by=("g",), **kwargs)


#: The features that differ, each a query on the 40-row frame: name -> query.
FEATURES: dict[str, Query] = {
    "plain": _query(BASE),
    "weighted": _query(BASE, weight="w"),
    "weights-1e-300": _query(BASE.with_columns(pl.col("w") * 1e-300), weight="w"),
    "weights-1e300": _query(BASE.with_columns(pl.col("w") * 1e300), weight="w"),
    "overall": _query(BASE, weight="w", overall=True),
    "vector": _query(_vectors(BASE), overall=True),
    "nan": _query(
        _with(_with(BASE, "y", float("nan"), 17, 7), "q", float("nan"), 13, 2)
    ),
    "nan-omit": _query(
        _with(_with(BASE, "y", float("nan"), 17, 7), "q", float("nan"), 13, 2),
        nan_policy="omit",
    ),
    "nulls": _query(
        _with(_with(_with(BASE, "y", None, 7, 1), "p", None, 9, 3), "w", None, 6, 2),
        weight="w",
    ),
    "empty": _query(BASE.clear(), weight="w", overall=True),
}


# --- the route matrix -----------------------------------------------------------

#: Entrances whose data is one Polars frame (or a Polars scan of a table).
_POLARS_ONLY = ("functions", "namespace", "lazy", "streaming")
_DISTRIBUTED = ("ray", "spark", "spark-connect", "ray-compare", "spark-compare")
_CLI = ("cli-file", "cli-files")

#: cli-files writes three tables per cell: on tables it runs these features.
CLI_FILES_TABLE_FEATURES = frozenset({"weighted", "nulls", "vector"})


def takes(entrance: str, kind: str, feature: str) -> bool:
    """Whether the matrix has the cell: the entrance takes the kind and option.

    - the expression entrances take Polars frames and scans only (they run
      inside a Polars query); ``lazy`` and ``streaming`` take lazy ones;
    - ``chunks`` cuts in-memory data (a table is one input: merged tables
      are the command line's ``cli-files``);
    - the command line reads parquet files and tables' directories, the
      engines their own datasets;
    - an entrance without an option is no cell of the feature that is the
      option: ``overall`` (functions, namespace, the command line, which
      run the other features without it; ``compare`` always gives its
      overall rows) and ``nan_policy="omit"`` (the command line);
    - ``cli-files`` on tables writes three tables per cell, so it runs the
      features of :data:`CLI_FILES_TABLE_FEATURES` only (a fixed sample).
    """
    route = ROUTES[entrance]
    option = (feature == "overall" and not route.overall) or (
        FEATURES[feature].nan_policy != "propagate" and not route.nan_policy
    )
    return not option and _takes_kind(entrance, kind, feature)


def _takes_kind(entrance: str, kind: str, feature: str) -> bool:
    """Return :func:`takes`, once the entrance has the feature's option."""
    if entrance in _DISTRIBUTED:
        return kind == "engine"
    if entrance in _CLI:
        tables = entrance == "cli-files" and kind != "parquet"
        return kind in CLI_KINDS and (not tables or feature in CLI_FILES_TABLE_FEATURES)
    if kind not in FRAME_KINDS:
        return False
    if entrance in _POLARS_ONLY:
        wanted = KINDS[kind].lazy if entrance in ("lazy", "streaming") else True
        return KINDS[kind].polars and wanted
    if entrance == "chunks" and KINDS[kind].table:
        return False
    return sampled(entrance, kind, feature)


#: The kinds that reach Polars through the one conversion
#: (``polars_l2._core.frames.coerce``), whatever the entrance.
CONVERTED = (
    "arrow-table",
    "arrow-dataset",
    "arrow-reader",
    "pandas-numpy",
    "pandas-nullable",
    "pandas-arrow",
    "duckdb",
    "narwhals",
)

#: The entrances that run a sample of the converted kinds' cells.
SAMPLED = ("accessor", "state", "chunks")


def sampled(entrance: str, kind: str, feature: str) -> bool:
    """Whether a cell of a converted kind on a sampled entrance runs.

    The full product would run every converted kind (:data:`CONVERTED`)
    through every feature on every entrance, though every entrance hands
    them to the same conversion: ``eager`` (the report) and ``compare`` run
    them all, and ``accessor``, ``state`` and ``chunks`` run half, chosen
    deterministically: the cell runs where the positions of the kind in
    :data:`CONVERTED`, of the feature in :data:`FEATURES` and of the
    entrance in :data:`SAMPLED` add up to an even number. Each such
    entrance so sees every converted kind (on half the features) and every
    feature (on half the kinds), and the three entrances alternate.
    """
    if kind not in CONVERTED or entrance not in SAMPLED:
        return True
    position = (
        CONVERTED.index(kind) + list(FEATURES).index(feature) + SAMPLED.index(entrance)
    )
    return position % 2 == 0


#: (entrance, kind or "*", feature or "*") -> the feature it waits for, and
#: where it is being built. Each is a strict xfail: when the feature lands
#: the cell passes, the xfail fails, and the entry goes.
#: (entrance, feature) -> the documented one-line refusal (a regex).
REFUSALS: dict[tuple[str, str], str] = {
    # The command line refuses an input without data rows (docs/cli.md).
    ("cli-file", "empty"): r"^polars-l2: error: empty input: no data rows",
    ("cli-files", "empty"): r"^polars-l2: error: empty input: no data rows",
}


def matrix() -> list[tuple[str, str, str]]:
    """Return every cell (entrance, kind, feature) of the route matrix."""
    return [
        (entrance, kind, feature)
        for entrance in ROUTES
        for kind in KINDS
        for feature in FEATURES
        if takes(entrance, kind, feature)
    ]


def cell_query(kind: str, feature: str) -> Query:
    """Return the query of a cell: the feature's, handed over as `kind`."""
    return replace(FEATURES[feature], kind=kind)


def right_answer(
    route: Route, query: Query, *, feature: str | None = None
) -> pl.DataFrame:
    """Return what `route` gives for `query` when it is right.

    The report (or ``compare``'s table) of the data as its kind holds it, by
    :func:`polars_l2.report` (:func:`polars_l2.compare`) on that Polars
    DataFrame, with the route's documented differences
    (:func:`as_route_gives`). A state of no rows with keys has no row, so it
    names no model: a route through a state (``finalize``, or ``compare`` of
    a merged state) gives no overall row for an empty input with ``by``
    (docs/states.md). `feature` names the query
    among :data:`FEATURES`, to reuse the answer other cells computed.
    """
    right = _right(query, feature, compare=route.compare, overall=route.overall)
    if route.from_state and query.frame.height == 0 and query.by:
        right = right.clear()
    if route.compare:
        return right
    return as_route_gives(route, right)


#: Right answers computed this session: many cells share one.
_RIGHT: dict[tuple[str, str, bool, bool], pl.DataFrame] = {}


def _right(
    query: Query, feature: str | None, *, compare: bool, overall: bool
) -> pl.DataFrame:
    """Return the report (or compare table) of the query's data as held."""
    key = (KINDS[query.kind].holds.__name__, str(feature), compare, overall)
    if feature is None or key not in _RIGHT:
        held = query.held()
        if compare:
            right = polars_l2.compare(held, **compare_arguments(query))
        else:
            report = polars_l2.report(
                held,
                query.actual,
                query.predicted,
                confidence=query.confidence,
                overall=query.overall and overall,
                **query.kwargs(),
            )
            assert isinstance(report, pl.DataFrame)
            right = report
        if feature is None:
            return right
        _RIGHT[key] = right
    return _RIGHT[key]

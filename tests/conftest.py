"""Shared fixtures: every metric is checked on each way of running a query."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl
import pytest
from hypothesis import HealthCheck, settings

from tests.routes import REPORT_ROUTES, ROUTES, SPARK_TIME_ZONE, BoundRoute, Context

if TYPE_CHECKING:
    from pathlib import Path as FilePath

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci", parent=settings.get_profile("default"), derandomize=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

#: Runs a query on a DataFrame and returns the result as a DataFrame.
Runner: TypeAlias = Callable[
    [pl.DataFrame, Callable[[pl.LazyFrame], pl.LazyFrame]], pl.DataFrame
]


def _eager(
    df: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    # The same query applied to the DataFrame directly, without a LazyFrame.
    result = query(df)  # type: ignore[arg-type]
    assert isinstance(result, pl.DataFrame)
    return result


def _lazy_in_memory(
    df: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    return query(df.lazy()).collect(engine="in-memory")


def _lazy_streaming(
    df: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    return query(df.lazy()).collect(engine="streaming")


RUNNERS: dict[str, Runner] = {
    "eager": _eager,
    "lazy-in-memory": _lazy_in_memory,
    "lazy-streaming": _lazy_streaming,
}


@pytest.fixture(params=list(RUNNERS))
def run(request: pytest.FixtureRequest) -> Runner:
    """Run a query eagerly, lazily in memory, or lazily on the streaming engine."""
    return RUNNERS[request.param]


# --- the route fixture: every way to get a report (see tests/routes.py) ------


@pytest.fixture(scope="session")
def cluster() -> Iterator[None]:
    """Start a local Ray cluster (2 CPUs, no dashboard) for the whole session."""
    ray = pytest.importorskip("ray")
    ray_data = pytest.importorskip("ray.data")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="warning",
        # Ray kills a worker idle for a second, and the adapter's tasks run
        # in workers of their own runtime_env (POLARS_MAX_THREADS): each
        # query of a test would start and import polars in new workers, some
        # seconds each. Kept, a small query takes a tenth of a second.
        _system_config={"idle_worker_killing_time_threshold_ms": 600_000},
    )
    context = ray_data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """Start a local Spark session (2 cores) for the whole test session."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    # The Python workers must run this interpreter, where polars-l2 is.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("polars-l2 tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.executorEnv.POLARS_MAX_THREADS", "1")
        # Whatever the machine's zone: the routes' timestamps (tests/routes.py).
        .config("spark.sql.session.timeZone", SPARK_TIME_ZONE)
        # One parquet file per partition (see Spark's file-split sizing).
        .config("spark.sql.files.openCostInBytes", str(1 << 30))
        # A Spark Connect server in the same JVM, for the spark-connect route.
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.port", str(_free_port()))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_connect(spark: Any) -> Iterator[Any]:
    """Connect a Spark Connect client to the local session's server."""
    pytest.importorskip("grpc")
    connect = pytest.importorskip("pyspark.sql.connect.session")
    port = spark.conf.get("spark.connect.grpc.binding.port")
    # Not SparkSession.builder.remote("local"), which refuses to start
    # while a classic session runs in the process.
    session = connect.SparkSession.builder.remote(f"sc://localhost:{port}").create()
    yield session
    session.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        port: int = probe.getsockname()[1]
        return port


def _engine(request: pytest.FixtureRequest, name: str) -> Any:
    """Start (once per session) the engine a distributed route runs on."""
    if name == "ray":
        request.getfixturevalue("cluster")
        return pytest.importorskip("ray.data")
    pytest.importorskip("polars_l2.spark")
    return request.getfixturevalue(name.replace("-", "_"))


def _params(*, functions: bool) -> list[Any]:
    return [
        pytest.param(name, marks=p.marks) if p.distributed else name
        for name, p in REPORT_ROUTES.items()
        if functions or p.metrics is None
    ]


def _bound(request: pytest.FixtureRequest, tmp_path: FilePath) -> BoundRoute:
    chosen = ROUTES[request.param]
    return BoundRoute(chosen, route_context(request, chosen.name, tmp_path))


def route_context(
    request: pytest.FixtureRequest, name: str, tmp_path: FilePath
) -> Context:
    """Return the context route `name` runs in: its engine, the session's tables."""
    chosen = ROUTES[name]
    engines = {}
    if chosen.distributed:
        engine = name.removesuffix("-compare")
        engines[engine] = _engine(request, engine)
    tables = request.getfixturevalue("table_directory")
    return Context(tmp_path, engines, tables=tables)


@pytest.fixture(scope="session")
def table_directory(tmp_path_factory: pytest.TempPathFactory) -> FilePath:
    """Where the input kinds' Delta and Iceberg tables are written, once each."""
    return tmp_path_factory.mktemp("tables")


@pytest.fixture(params=_params(functions=False))
def route(request: pytest.FixtureRequest, tmp_path: FilePath) -> BoundRoute:
    """Give a way to get a whole report (tests/routes.py), ready to run."""
    return _bound(request, tmp_path)


@pytest.fixture(params=_params(functions=True))
def any_route(request: pytest.FixtureRequest, tmp_path: FilePath) -> BoundRoute:
    """Give a report route, or the expression functions (sse, mse and rmse)."""
    return _bound(request, tmp_path)

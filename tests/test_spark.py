"""The Spark adapter against single-process ``report``, on a local session.

Needs the ``spark`` extra (and Java 17 or newer); skipped without it. CI
installs it and runs these (``pytest -m distributed``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from tests.distributed_data import (
    BY,
    REL_TOL,
    TYPED_BY,
    assert_odd_report_matches,
    assert_reports_match,
    assert_typed_keys_match,
    make_data,
    make_typed_keys,
    odd_arguments,
    split,
    with_odd_names,
)

if TYPE_CHECKING:
    from pathlib import Path

pyspark_sql = pytest.importorskip("pyspark.sql")
F = pytest.importorskip("pyspark.sql.functions")
polars_l2_spark = pytest.importorskip("polars_l2.spark")

pytestmark = [
    pytest.mark.distributed,
    # PySpark 4 warns that it does not fully support pandas 3 (it is not used).
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

MODELS = ["linear", "boosted"]


# The `spark` fixture (a local session for the whole run) is in conftest.py.


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return make_data()


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory, data: pl.DataFrame) -> Path:
    directory = tmp_path_factory.mktemp("predictions")
    for i, part in enumerate(split(data)):
        pl.from_arrow(part).write_parquet(directory / f"part-{i:02}.parquet")  # type: ignore[union-attr]
    return directory


@pytest.fixture(scope="module")
def frame(spark: Any, parquet_dir: Path) -> Any:
    df = spark.read.parquet(str(parquet_dir))
    assert df.rdd.getNumPartitions() >= 8
    return df


@pytest.fixture(scope="module")
def expected(data: pl.DataFrame) -> pl.DataFrame:
    return polars_l2.report(data, "y", MODELS, by=BY, weight="w")


@pytest.fixture(scope="module")
def merged_by_spark(frame: Any) -> pl.DataFrame:
    state: pl.DataFrame = polars_l2_spark.state(frame, "y", MODELS, by=BY, weight="w")
    return state


def test_state_finalises_to_the_single_process_report(
    merged_by_spark: pl.DataFrame, expected: pl.DataFrame
) -> None:
    assert_reports_match(polars_l2.finalize(merged_by_spark), expected)


def test_spark_merge_equals_the_driver_merge(
    merged_by_spark: pl.DataFrame, data: pl.DataFrame
) -> None:
    # Spark's two-stage groupBy gives the state merge_states gives from the
    # same partitions' states.
    parts = [pl.DataFrame(part) for part in split(data)]
    local = polars_l2.merge_states(
        [polars_l2.state(part, "y", MODELS, by=BY, weight="w") for part in parts]
    )
    assert_frame_equal(
        merged_by_spark.select(pl.col(pl.Int64, pl.String, pl.Boolean)),
        local.select(pl.col(pl.Int64, pl.String, pl.Boolean)),
    )
    # Not bit-equal: Polars sums in another order on one thread (the workers)
    # than on several, and actual_m2 of targets near 1e9 carries that rounding.
    assert_frame_equal(merged_by_spark, local, rel_tol=REL_TOL, abs_tol=0.0)


def test_unweighted_report_of_the_whole_data(frame: Any, data: pl.DataFrame) -> None:
    got = polars_l2_spark.report(frame, "y", MODELS)
    assert_reports_match(got, polars_l2.report(data, "y", MODELS))


def test_empty_frame_gives_the_report_of_no_data(spark: Any) -> None:
    empty = pl.DataFrame(schema={"y": pl.Float64, "p": pl.Float64})
    df = spark.createDataFrame([], "y double, p double")
    got = polars_l2_spark.report(df, "y", "p")
    assert_frame_equal(got, polars_l2.report(empty, "y", "p"))


def test_missing_column_fails_before_reading(frame: Any) -> None:
    with pytest.raises(polars_l2.L2InputError, match=r"'price'.*not found"):
        polars_l2_spark.report(frame, "price", MODELS)


def test_wrong_dtype_fails_naming_the_column(frame: Any) -> None:
    spoiled = frame.withColumn("linear", frame["linear"].cast("string"))
    with pytest.raises(polars_l2.L2InputError, match=r"'linear' has dtype String"):
        polars_l2_spark.report(spoiled, "y", MODELS, by=BY)


def test_failing_task_raises_not_a_partial_report(frame: Any) -> None:
    # Every row of one partition makes its task fail.
    spoiled = frame.withColumn(
        "y",
        F.when(
            F.spark_partition_id() == 3,
            F.raise_error(F.lit("upstream failure in one partition")),
        ).otherwise(F.col("y")),
    )
    with pytest.raises(Exception, match="upstream failure in one partition"):
        polars_l2_spark.report(spoiled, "y", MODELS, by=BY)


#: Stands in for a DataFrame whose session's workers run another interpreter.
FRAME = SimpleNamespace(
    sparkSession=SimpleNamespace(
        sparkContext=SimpleNamespace(pythonExec="/usr/bin/python3")
    )
)


def test_workers_that_cannot_import_polars_l2_get_a_clear_error() -> None:
    relayed = Exception(
        "PythonException: ModuleNotFoundError: No module named 'polars_l2'"
    )
    with (
        pytest.raises(RuntimeError, match=r"'/usr/bin/python3'.*PYSPARK_PYTHON"),
        polars_l2_spark._worker_errors(FRAME),
    ):
        raise relayed


def test_a_worker_input_error_is_raised_as_one() -> None:
    relayed = Exception(
        "PythonException: Traceback ...\npolars_l2.exceptions.L2InputError: "
        "polars_l2.state: weight column 'w' has dtype String\n  at org.apache..."
    )
    with (
        pytest.raises(polars_l2.L2InputError, match=r"'w' has dtype String \(raised"),
        polars_l2_spark._worker_errors(FRAME),
    ):
        raise relayed


def test_keys_keep_their_dtypes_and_sort_by_value(spark: Any, tmp_path: Path) -> None:
    data = make_typed_keys()
    for i, part in enumerate(split(data, 6)):
        pl.from_arrow(part).write_parquet(tmp_path / f"part-{i}.parquet")  # type: ignore[union-attr]
    df = spark.read.parquet(str(tmp_path))
    got = polars_l2_spark.report(df, "y", MODELS, by=TYPED_BY)
    assert_typed_keys_match(got, polars_l2.report(data, "y", MODELS, by=TYPED_BY))


def test_column_names_are_literal(spark: Any) -> None:
    # Dots, a backtick, patterns and a space: Spark must quote them all.
    data = make_data(20_000)
    odd = with_odd_names(data)
    df = spark.createDataFrame(odd.to_arrow()).repartition(4)
    got = polars_l2_spark.report(df, **odd_arguments())
    plain = polars_l2.report(data, "y", MODELS, by=BY, weight="w")
    assert_odd_report_matches(got, plain)


#: The options of a paired comparison on the engines: every loss, weighted.
COMPARE_OPTIONS: dict[str, Any] = {
    "by": BY,
    "weight": "w",
    "loss": ["squared", "absolute", "huber"],
    "huber_delta": 150.0,
}


def test_compare_equals_single_process(frame: Any, data: pl.DataFrame) -> None:
    got = polars_l2_spark.compare(frame, "y", "linear", "boosted", **COMPARE_OPTIONS)
    want = polars_l2.compare(data, "y", "linear", "boosted", **COMPARE_OPTIONS)
    assert_frame_equal(got, want, rel_tol=REL_TOL, abs_tol=1e-300)


def test_report_options_equal_single_process(frame: Any, data: pl.DataFrame) -> None:
    options: dict[str, Any] = {
        "by": BY,
        "weight": "w",
        "overall": True,
        "min_n": 150_000,
        "top_share": False,
        "variance": "kish",
    }
    got = polars_l2_spark.report(frame, "y", MODELS, **options)
    want = polars_l2.report(data, "y", MODELS, **options)
    assert got["overall"].sum() == len(MODELS)
    assert got["small"].any()
    assert got["top_1pct_share"].is_null().all()
    assert_reports_match(got, want)


def test_compare_refuses_bad_options_before_any_work(frame: Any) -> None:
    with pytest.raises(polars_l2.L2InputError, match="needs huber_delta="):
        polars_l2_spark.compare(frame, "y", "linear", "boosted", loss="huber")
    with pytest.raises(polars_l2.L2InputError, match="variance must be"):
        polars_l2_spark.compare(frame, "y", "linear", "boosted", variance="hc3")

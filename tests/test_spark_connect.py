"""The Spark adapter through Spark Connect, on a local Connect server.

Databricks' shared and serverless compute run Spark Connect: the client has
no ``sparkContext``, only the Connect protocol. These tests start a local
Connect server (``SparkSession.builder.remote("local[2]")``) and check that
the report matches the single-process one, that workers without polars-l2
give the clear message, and that a session which would skip unreadable
files is refused. They need ``pyspark[connect]`` and Java 17 or newer, and
are skipped without them; CI runs them (``pytest -m distributed``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from tests.distributed_data import (
    BY,
    REL_TOL,
    assert_reports_match,
    make_data,
    split,
)
from tests.test_examples import EXAMPLES, check_distributed_output, run_example

if TYPE_CHECKING:
    from collections.abc import Iterator

pyspark_sql = pytest.importorskip("pyspark.sql")
pytest.importorskip("pyspark.sql.connect.session")  # pyspark[connect]: grpcio...
F = pytest.importorskip("pyspark.sql.functions")
polars_l2_spark = pytest.importorskip("polars_l2.spark")

pytestmark = [
    pytest.mark.distributed,
    # PySpark 4 warns that it does not fully support pandas 3 (it is not used).
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

MODELS = ["linear", "boosted"]
ROWS = 200_000
SKIPPING = [
    "spark.sql.files.ignoreCorruptFiles",
    "spark.sql.files.ignoreMissingFiles",
]


# The two tests below start their own local Connect server in a subprocess.
# They come first: a server listens on Spark Connect's port (15002), so they
# must run before this module's server starts.


#: A client whose Connect server's workers run an interpreter without Polars.
WORKERS_WITHOUT_POLARS = """\
import os, sys
os.environ["PYSPARK_PYTHON"] = sys.argv[1]
import polars as pl
from pyspark.sql import SparkSession
import polars_l2.spark
spark = SparkSession.builder.remote("local[1]").getOrCreate()
try:
    df = spark.createDataFrame(pl.DataFrame({"y": [1.0], "p": [2.0]}).to_arrow())
    polars_l2.spark.report(df, "y", "p")
except RuntimeError as error:
    print(error)
finally:
    spark.stop()
"""


def test_workers_without_polars_l2_get_the_clear_message(tmp_path: Path) -> None:
    # A bare virtual environment: the Python the workers run, without Polars.
    bare = tmp_path / "bare"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(bare)],
        check=True,
        timeout=600,
    )
    python = bare / "bin" / "python"
    script = tmp_path / "client.py"
    script.write_text(textwrap.dedent(WORKERS_WITHOUT_POLARS))
    result = subprocess.run(
        [sys.executable, str(script), str(python)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(polars_l2.__file__).parents[1])},
    )
    assert result.returncode == 0, result.stderr
    assert "cannot import polars-l2" in result.stdout, result.stdout + result.stderr
    assert "PYSPARK_PYTHON" in result.stdout
    assert "JVM_ATTRIBUTE_NOT_SUPPORTED" not in result.stdout + result.stderr


def test_the_example_runs_through_spark_connect() -> None:
    # The example starts its own local Connect server, in a subprocess.
    stdout = run_example(EXAMPLES / "spark_evaluate.py", "--connect")
    check_distributed_output(stdout)
    assert stdout.startswith("Spark Connect DataFrame:")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """Start a local Spark Connect server (2 cores) and a client session."""
    # The Python workers must run this interpreter, where polars-l2 is.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.remote("local[2]")
        # Runtime settings only: a Connect client cannot change the others.
        .config("spark.sql.shuffle.partitions", "4")
        # One parquet file per partition (see Spark's file-split sizing).
        .config("spark.sql.files.openCostInBytes", str(1 << 30))
        .getOrCreate()
    )
    assert type(session).__module__.startswith("pyspark.sql.connect")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return make_data(ROWS)


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory, data: pl.DataFrame) -> Path:
    directory = tmp_path_factory.mktemp("predictions")
    for i, part in enumerate(split(data)):
        pl.DataFrame(part).write_parquet(directory / f"part-{i:02}.parquet")
    return directory


@pytest.fixture(scope="module")
def frame(spark: Any, parquet_dir: Path) -> Any:
    df = spark.read.parquet(str(parquet_dir))
    # A Connect DataFrame has no .rdd: count the partitions that hold rows.
    assert df.select(F.spark_partition_id()).distinct().count() >= 8
    return df


def test_the_report_through_connect_is_the_single_process_report(
    frame: Any, data: pl.DataFrame
) -> None:
    assert type(frame).__module__.startswith("pyspark.sql.connect")
    got = polars_l2_spark.report(frame, "y", MODELS, by=BY, weight="w")
    assert_reports_match(got, polars_l2.report(data, "y", MODELS, by=BY, weight="w"))


def test_the_state_through_connect_merges_as_on_one_machine(
    frame: Any, data: pl.DataFrame
) -> None:
    state = polars_l2_spark.state(frame, "y", MODELS)
    assert_reports_match(polars_l2.finalize(state), polars_l2.report(data, "y", MODELS))


def test_compare_through_connect_is_the_single_process_comparison(
    frame: Any, data: pl.DataFrame
) -> None:
    options: dict[str, Any] = {
        "by": BY,
        "weight": "w",
        "loss": ["squared", "absolute"],
    }
    got = polars_l2_spark.compare(frame, "y", "linear", "boosted", **options)
    want = polars_l2.compare(data, "y", "linear", "boosted", **options)
    assert_frame_equal(got, want, rel_tol=REL_TOL, abs_tol=1e-300)


def test_a_missing_column_fails_before_reading(frame: Any) -> None:
    with pytest.raises(polars_l2.L2InputError, match=r"'price' not found"):
        polars_l2_spark.report(frame, "price", MODELS)


def test_a_wrong_dtype_fails_naming_the_column(spark: Any) -> None:
    df = spark.createDataFrame([("a", 1.0)], "y string, p double")
    with pytest.raises(polars_l2.L2InputError, match=r"'y' has dtype String"):
        polars_l2_spark.report(df, "y", "p")


@pytest.mark.parametrize("setting", SKIPPING)
def test_a_session_that_skips_unreadable_files_is_refused(
    spark: Any, frame: Any, setting: str
) -> None:
    spark.conf.set(setting, "true")
    try:
        with pytest.raises(ValueError, match=rf"{re.escape(setting)}=true"):
            polars_l2_spark.report(frame, "y", MODELS)
    finally:
        spark.conf.set(setting, "false")


def test_a_corrupt_file_among_several_is_not_skipped(
    spark: Any, data: pl.DataFrame, tmp_path: Path
) -> None:
    # Twelve files, one of them not parquet at all.
    for i, part in enumerate(split(data, 11)):
        pl.DataFrame(part).write_parquet(tmp_path / f"part-{i:02}.parquet")
    (tmp_path / "part-11.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    spark.conf.set("spark.sql.files.ignoreCorruptFiles", "true")
    try:
        df = spark.read.parquet(str(tmp_path / "part-*.parquet"))
        # What Spark alone does with the setting on: 11/12 of the files.
        assert df.count() == data.height
        with pytest.raises(ValueError, match="ignoreCorruptFiles=true"):
            polars_l2_spark.report(df, "y", MODELS)
    finally:
        spark.conf.set("spark.sql.files.ignoreCorruptFiles", "false")
    # With the setting off, the corrupt file fails the job: no partial report.
    df = spark.read.parquet(str(tmp_path / "part-*.parquet"))
    with pytest.raises(Exception, match=r"part-11\.parquet"):
        polars_l2_spark.report(df, "y", MODELS)


def test_a_relayed_missing_module_names_pysparks_python(frame: Any) -> None:
    # Under Connect the client cannot ask which interpreter the workers run
    # (sparkContext raises JVM_ATTRIBUTE_NOT_SUPPORTED): the message still
    # says what to do.
    relayed = Exception(
        "[PYTHON_EXCEPTION] PythonException: ModuleNotFoundError: "
        "No module named 'polars_l2'"
    )
    with (
        pytest.raises(RuntimeError, match=r"cannot import polars-l2.*PYSPARK_PYTHON"),
        polars_l2_spark._worker_errors(frame),
    ):
        raise relayed

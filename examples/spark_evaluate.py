"""Evaluate two models on Spark: per-partition states, merged by Spark.

Run with ``python examples/spark_evaluate.py`` (needs ``pip install
"polars-l2[spark]"`` and Java 17 or newer; without PySpark it says so and
exits). ``--connect`` runs it through Spark Connect, as Databricks' shared
and serverless compute do: a local Connect server, and a client session
(``SparkSession.builder.remote``; needs ``pip install "pyspark[connect]"``).

It starts a local Spark session on 2 cores, reads the house-price sample
shipped with polars-l2 as a DataFrame of 8 partitions, and prints the report
per region and model. Each partition is reduced to a metric state by
``mapInArrow``; Spark merges the states per region and model after a
shuffle, and the driver finalises them. The same report computed
by Polars on one machine agrees to rounding, which the last line shows.
"""

import argparse
import os
import sys
from importlib import resources

import polars as pl

import polars_l2

try:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F  # noqa: N812 - Spark's convention

    import polars_l2.spark
except ImportError:
    print("skipped: install polars-l2[spark] to run this example")
    sys.exit(0)

PARTITIONS = 8

sample = resources.files("polars_l2") / "data" / "houses.parquet"
with resources.as_file(sample) as path:
    houses = pl.read_parquet(path)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--connect", action="store_true", help="run through a local Spark Connect server"
)
connect = parser.parse_args().connect
if connect:
    try:
        import pyspark.sql.connect.session  # noqa: F401 - grpcio and the like
    except ImportError:
        print('skipped: install "pyspark[connect]" to run this example with --connect')
        sys.exit(0)

# Spark's Python workers must run this interpreter, where polars-l2 is.
os.environ["PYSPARK_PYTHON"] = sys.executable
builder = SparkSession.builder.appName("polars-l2 example")
if connect:
    # A local Connect server; the client sets only what a session may change.
    builder = builder.remote("local[2]")
else:
    builder = (
        builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # One Polars thread per task: Spark already runs a task per core.
        .config("spark.executorEnv.POLARS_MAX_THREADS", "1")
    )
spark = builder.config("spark.sql.shuffle.partitions", "4").getOrCreate()
if not connect:  # a Connect client has no sparkContext
    spark.sparkContext.setLogLevel("ERROR")
try:
    frame = spark.createDataFrame(houses.to_arrow()).repartition(PARTITIONS)
    # Works in both modes (a Connect DataFrame has no .rdd).
    partitions = frame.select(F.spark_partition_id()).distinct().count()
    mode = "Spark Connect" if connect else "Spark"
    print(f"{mode} DataFrame: {frame.count():,} rows in {partitions} partitions")

    report = polars_l2.spark.report(frame, "price", ["linear", "boosted"], by="region")
finally:
    spark.stop()

local = polars_l2.report(houses, "price", ["linear", "boosted"], by="region")
metrics = ["sse", "mse", "rmse", "rmse_low", "rmse_high", "mae", "bias", "r2"]
difference = max(
    (report[c] - local[c]).abs().max() / local[c].abs().max() for c in metrics
)

with pl.Config(
    float_precision=2,
    thousands_separator=True,
    tbl_hide_dataframe_shape=True,
    tbl_cols=-1,
    tbl_width_chars=200,
):
    # The columns a reader compares models by; every column is in `report`.
    print(
        report.select(
            "model", "region", "n", "rmse", "rmse_low", "rmse_high", "mae", "bias", "r2"
        )
    )
print(f"largest relative difference from polars_l2.report: {difference:.1e}")
if not difference < 1e-9:
    sys.exit("the distributed report differs from polars_l2.report")

"""Evaluate two models on Spark: per-partition states, merged by Spark.

Run with ``python examples/spark_evaluate.py`` (needs ``pip install
"polars-l2[spark]"`` and Java 17 or newer; without PySpark it says so and
exits).

It starts a local Spark session on 2 cores, reads the house-price sample
shipped with polars-l2 as a DataFrame of 8 partitions, and prints the report
per region and model. Each partition is reduced to a metric state by
``mapInArrow``; Spark merges the states per region and model with
``groupBy().agg``, and the driver finalises them. The same report computed
by Polars on one machine agrees to rounding, which the last line shows.
"""

import os
import sys
from importlib import resources

import polars as pl

import polars_l2

try:
    from pyspark.sql import SparkSession

    import polars_l2.spark
except ImportError:
    print("skipped: install polars-l2[spark] to run this example")
    sys.exit(0)

PARTITIONS = 8

sample = resources.files("polars_l2") / "data" / "houses.parquet"
with resources.as_file(sample) as path:
    houses = pl.read_parquet(path)

# Spark's Python workers must run this interpreter, where polars-l2 is.
os.environ["PYSPARK_PYTHON"] = sys.executable
spark = (
    SparkSession.builder.master("local[2]")
    .appName("polars-l2 example")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.shuffle.partitions", "4")
    # One Polars thread per task: Spark already runs a task per core.
    .config("spark.executorEnv.POLARS_MAX_THREADS", "1")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
try:
    frame = spark.createDataFrame(houses.to_arrow()).repartition(PARTITIONS)
    partitions = frame.rdd.getNumPartitions()
    print(f"DataFrame: {frame.count():,} rows in {partitions} partitions")

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
    # top_1pct_share is null: a merged state cannot give it.
    print(report.drop("sse", "top_1pct_share"))
print(f"largest relative difference from polars_l2.report: {difference:.1e}")
if not difference < 1e-9:
    sys.exit("the distributed report differs from polars_l2.report")

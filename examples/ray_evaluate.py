"""Evaluate two models on a Ray Data cluster: per-block states, one report.

Run with ``python examples/ray_evaluate.py`` (needs ``pip install
"polars-l2[ray]"``; without Ray it says so and exits).

It starts a local Ray cluster (2 CPUs, no dashboard), reads the house-price
sample shipped with polars-l2 as a Dataset of 8 blocks, and prints the report
per region and model. Each block is reduced to a metric state by a Ray task;
the states are merged and finalised on the driver. The same report computed
by Polars on one machine agrees to rounding, which the last line shows.
"""

import logging
import sys
from importlib import resources

import polars as pl

import polars_l2

try:
    import ray
    import ray.data

    import polars_l2.ray
except ImportError:
    print("skipped: install polars-l2[ray] to run this example")
    sys.exit(0)

BLOCKS = 8

sample = resources.files("polars_l2") / "data" / "houses.parquet"
with resources.as_file(sample) as path:
    houses = pl.read_parquet(path)

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
logging.getLogger("ray.data").setLevel(logging.WARNING)
ray.data.DataContext.get_current().enable_progress_bars = False
try:
    # Ray Data blocks are Arrow tables; cut the sample into 8 of them.
    size = -(-houses.height // BLOCKS)
    dataset = ray.data.from_arrow(
        [houses.slice(i, size).to_arrow() for i in range(0, houses.height, size)]
    )
    print(f"dataset: {dataset.count():,} rows in {dataset.num_blocks()} blocks")

    report = polars_l2.ray.report(dataset, "price", ["linear", "boosted"], by="region")
finally:
    ray.shutdown()

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

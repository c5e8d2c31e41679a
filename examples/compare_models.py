"""Compare two models per segment on a LazyFrame.

Run with ``python examples/compare_models.py``.

The data are the sample shipped with polars-l2: synthetic house prices in four
regions, predicted by a ``linear`` and a ``boosted`` model (see
``polars_l2/data/make_houses.py``). Everything stays lazy until ``collect``,
and both queries run on the streaming engine.
"""

from importlib import resources

import polars as pl

import polars_l2

sample = resources.files("polars_l2") / "data" / "houses.parquet"
with resources.as_file(sample) as path:
    houses = pl.scan_parquet(path)

    # By hand: RMSE of each model per region with the `l2` namespace, and the
    # model with the lower RMSE.
    per_region = (
        houses.group_by("region")
        .agg(
            rmse_linear=pl.col("price").l2.rmse("linear"),
            rmse_boosted=pl.col("price").l2.rmse("boosted"),
        )
        .with_columns(
            better=pl.when(pl.col("rmse_boosted") < pl.col("rmse_linear"))
            .then(pl.lit("boosted"))
            .otherwise(pl.lit("linear"))
        )
        .sort("region")
    )

    # The full report: one row per (model, region), one scan of the data.
    report = polars_l2.report(houses, "price", ["linear", "boosted"], by="region")

    per_region_df, report_df = pl.collect_all([per_region, report], engine="streaming")

with pl.Config(
    float_precision=0,
    thousands_separator=True,
    tbl_hide_dataframe_shape=True,
    tbl_hide_column_data_types=True,
    tbl_cols=-1,
    tbl_width_chars=200,
):
    print(per_region_df)
    # top_1pct_share: the share of squared error from the worst 1% of houses.
    print(
        report_df.select(
            "model",
            "region",
            "n",
            "rmse",
            "mae",
            "max_error",
            top_1pct=pl.format("{}%", (100 * pl.col("top_1pct_share")).round(1)),
        )
    )

for model in ["linear", "boosted"]:
    regions = per_region_df.filter(pl.col("better") == model).get_column("region")
    print(f"{model} has the lower RMSE in: {', '.join(regions) or 'no region'}")

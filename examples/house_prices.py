"""House prices: per-row L2 loss, MSE and RMSE of one model's predictions.

Run with ``python examples/house_prices.py``.
"""

import polars as pl

import polars_l2

houses = pl.DataFrame(
    {
        "house": ["Elm St", "Oak Ave", "Pine Rd"],
        "price": [200_000, 400_000, 300_000],
        "predicted": [220_000, 385_000, 305_000],
    }
)

# The loss is per row; MSE is its mean (the cost); RMSE is in dollars again.
per_row = houses.with_columns(loss=pl.col("price").l2.loss("predicted"))
summary = houses.select(
    sse=polars_l2.sse("price", "predicted"),
    mse=polars_l2.mse("price", "predicted"),
    rmse=polars_l2.rmse("price", "predicted"),
)

with pl.Config(
    float_precision=1, thousands_separator=True, tbl_hide_dataframe_shape=True
):
    print(per_row)
    print(summary)

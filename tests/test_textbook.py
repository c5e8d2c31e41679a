"""The two textbook examples of L2 loss, through functions and the namespace."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl
from polars.testing import assert_series_equal

import polars_l2

if TYPE_CHECKING:
    from tests.conftest import Runner

HOUSES = pl.DataFrame(
    {"price": [200_000, 400_000, 300_000], "pred": [220_000, 385_000, 305_000]}
)
SMALL = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})


def test_house_prices_per_row_loss(run: Runner) -> None:
    out = run(HOUSES, lambda f: f.select(pl.col("price").l2.loss("pred")))  # type: ignore[attr-defined]
    expected = pl.Series("price", [400_000_000.0, 225_000_000.0, 25_000_000.0])
    assert_series_equal(out["price"], expected)


def test_house_prices_aggregates(run: Runner) -> None:
    out = run(
        HOUSES,
        lambda f: f.select(
            sse=polars_l2.sse("price", "pred"),
            mse=polars_l2.mse("price", "pred"),
            rmse=polars_l2.rmse("price", "pred"),
        ),
    )
    total = 400_000_000 + 225_000_000 + 25_000_000
    assert out.row(0) == (total, total / 3, math.sqrt(total / 3))


def test_small_example(run: Runner) -> None:
    out = run(
        SMALL,
        lambda f: f.select(
            loss=polars_l2.loss("y", "yhat").implode(),
            mse=pl.col("y").l2.mse("yhat"),  # type: ignore[attr-defined]
        ),
    )
    assert out["loss"].to_list() == [[0.0, 1.0, 4.0, 4.0]]
    assert out["mse"].to_list() == [2.25]

"""The aggregations work wherever a Polars aggregation works."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2

START = dt.datetime(2026, 1, 1)


@pytest.fixture
def daily() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    n = 30
    y = rng.normal(100, 10, n)
    p = y + rng.normal(0, 3, n)
    p[[3, 11]] = np.nan  # overwritten with nulls below
    return pl.DataFrame(
        {
            "t": pl.datetime_range(
                START, START + dt.timedelta(days=n - 1), "1d", eager=True
            ),
            "y": y,
            "p": p,
            "w": rng.uniform(0, 2, n),
        }
    ).with_columns(pl.col("p").fill_nan(None))


def _window_reference(
    df: pl.DataFrame, lo: dt.datetime, hi: dt.datetime
) -> float | None:
    rows = df.filter((pl.col("t") > lo) & (pl.col("t") <= hi)).drop_nulls()
    if rows.is_empty():
        return None
    e = (rows["y"] - rows["p"]).to_numpy()
    return math.fsum(e * e) / len(e)


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_rolling_mse_matches_each_window(daily: pl.DataFrame, engine: str) -> None:
    out = (
        daily.lazy()
        .rolling("t", period="7d")
        .agg(mse=polars_l2.mse("y", "p"), n=pl.len())
        .collect(engine=engine)  # type: ignore[call-overload]
    )
    assert out.height == daily.height
    for t, got in zip(out["t"], out["mse"], strict=True):
        want = _window_reference(daily, t - dt.timedelta(days=7), t)
        assert got == (None if want is None else pytest.approx(want, rel=1e-12))


def test_group_by_dynamic_weekly_rmse(daily: pl.DataFrame) -> None:
    out = daily.group_by_dynamic("t", every="1w", closed="left", label="left").agg(
        rmse=polars_l2.rmse("y", "p", weight="w")
    )
    for start, got in zip(out["t"], out["rmse"], strict=True):
        rows = daily.filter(
            (pl.col("t") >= start) & (pl.col("t") < start + dt.timedelta(weeks=1))
        ).drop_nulls()
        e, w = (rows["y"] - rows["p"]).to_numpy(), rows["w"].to_numpy()
        assert got == pytest.approx(math.sqrt(math.fsum(w * e * e) / math.fsum(w)))


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_filter_inside_agg(engine: str) -> None:
    df = pl.DataFrame(
        {
            "g": ["a", "a", "a", "b", "b"],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0],
            "p": [2.0, 2.0, 6.0, 4.0, 1.0],
            "keep": [True, False, True, False, False],
        }
    )
    out = (
        df.lazy()
        .group_by("g")
        .agg(
            mse=polars_l2.mse(
                pl.col("y").filter(pl.col("keep")), pl.col("p").filter(pl.col("keep"))
            ),
        )
        .sort("g")
        .collect(engine=engine)  # type: ignore[call-overload]
    )
    # Group a keeps errors 1 and 3; group b keeps nothing, so null.
    assert out["mse"].to_list() == [5.0, None]


def test_over_with_rolling_is_not_needed_for_per_segment_broadcast() -> None:
    df = pl.DataFrame({"g": [1, 1, 2], "y": [1.0, 3.0, 5.0], "p": [2.0, 3.0, 3.0]})
    out = df.with_columns(
        rmse=pl.col("y").l2.rmse("p").over("g"),  # type: ignore[attr-defined]
        share=pl.col("y").l2.loss("p") / pl.col("y").l2.sse("p").over("g"),  # type: ignore[attr-defined]
    )
    expected = df.with_columns(
        rmse=pl.Series([math.sqrt(0.5), math.sqrt(0.5), 2.0]),
        share=pl.Series([1.0, 0.0, 1.0]),
    )
    assert_frame_equal(out, expected)

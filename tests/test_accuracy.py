"""Accuracy on large data: relative error of MSE against an exact fsum."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

import polars_l2

N = 10_000_000


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mse_on_ten_million_rows(dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(2026)
    y = rng.lognormal(12, 1, N).astype(dtype)  # house-price-like magnitudes
    p = (y * rng.normal(1, 0.1, N)).astype(dtype)
    df = pl.DataFrame({"y": y, "p": p})
    # Float32 differences are exact in Float64, so this is the exact error.
    e = y.astype(np.float64) - p.astype(np.float64)
    squares = e * e
    exact = math.fsum(squares) / N
    for engine in ("in-memory", "streaming"):
        got = df.lazy().select(polars_l2.mse("y", "p")).collect(engine=engine).item()
        assert abs(got - exact) / exact <= 1e-12, engine
    # The naive float32 computation is far off: the bound is meaningful.
    if dtype is np.float32:
        naive = float(np.mean((y - p) ** 2, dtype=np.float32))
        assert abs(naive - exact) / exact > 1e-12

"""Generated benchmark data: reproducible from a numpy seed, no files needed.

The story is the usual one: an actual target ``y`` around 100, a model ``p``
with Gaussian errors, and a second model ``p2`` whose errors have heavy tails
(a few outliers), on rows spread uniformly over segments.
"""

from __future__ import annotations

import numpy as np
import polars as pl

SEED = 20240611


def rng(salt: int = 0) -> np.random.Generator:
    """Return a generator seeded from the fixed benchmark seed."""
    return np.random.default_rng(SEED + salt)


def columns(n: int, *, models: int = 1, salt: int = 0) -> dict[str, np.ndarray]:
    """Return Float64 ``y`` and predictions ``p`` (and ``p2`` for a second model)."""
    g = rng(salt)
    y = g.normal(100.0, 20.0, n)
    out = {"y": y, "p": y + g.normal(0.0, 5.0, n)}
    if models > 1:
        out["p2"] = y + g.standard_t(2.5, n) * 3.0
    return out


def segments(n: int, count: int, *, salt: int = 0) -> np.ndarray:
    """Return Int32 segment ids, uniform over ``0 .. count-1``."""
    return rng(1000 + salt).integers(0, count, n, dtype=np.int32)


def frame(arrays: dict[str, np.ndarray]) -> pl.DataFrame:
    """Build a Polars frame over the arrays (numpy buffers are copied once)."""
    return pl.DataFrame({name: pl.Series(name, a) for name, a in arrays.items()})


def integer_pair(n: int, dtype: type[pl.DataType]) -> pl.DataFrame:
    """Return house prices in whole units, and predictions off by up to ~100,000.

    The squared errors exceed 2**31, so a hand-written Int32 expression wraps.
    """
    g = rng(7)
    y = g.integers(100_000, 1_000_000, n, dtype=np.int64)
    p = y + g.normal(0.0, 40_000.0, n).round().astype(np.int64)
    return pl.DataFrame({"y": y, "p": p}).cast(dtype)


def decimal_pair(n: int) -> pl.DataFrame:
    """Return prices with cents, and predictions, as Decimal(12, 2)."""
    g = rng(8)
    cents = g.integers(1_000, 100_000_000, n, dtype=np.int64)
    pred = cents + g.integers(-25, 26, n, dtype=np.int64)
    dec = pl.Decimal(12, 2)
    return pl.DataFrame(
        {
            "y": pl.Series(cents).cast(dec) / 100,
            "p": pl.Series(pred).cast(dec) / 100,
        }
    ).with_columns(pl.all().cast(dec))


def vectors(n: int, width: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the same data as two ``Array(Float64, width)`` columns and as scalars.

    The scalar frame has ``y0 .. y{width-1}`` and ``p0 .. p{width-1}``.
    """
    g = rng(9)
    y = g.normal(0.0, 1.0, (n, width))
    p = y + g.normal(0.0, 0.3, (n, width))
    arr = pl.DataFrame({"y": pl.Series("y", y), "p": pl.Series("p", p)})
    scalar = pl.DataFrame(
        {
            **{f"y{i}": y[:, i] for i in range(width)},
            **{f"p{i}": p[:, i] for i in range(width)},
        }
    )
    return arr, scalar

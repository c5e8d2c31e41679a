"""Data and checks shared by the Ray and Spark adapter tests.

The data is what a distributed evaluation meets in practice: two models, two
segment keys (one with nulls), sample weights with nulls, missing actuals and
predictions, and targets around 1e9 so that R² needs centred sums.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import polars.selectors as cs
from polars.testing import assert_frame_equal

if TYPE_CHECKING:
    import pyarrow as pa

ROWS = 2_000_000
PARTS = 10
BY = ["region", "tier"]
REGIONS = ["north", "south", "east", "west", "coast", "hills", "city", "lakes"]

#: Tolerance of the distributed result against single-process ``report``.
REL_TOL = 1e-9


def make_data(rows: int = ROWS, *, seed: int = 20261126) -> pl.DataFrame:
    """Predictions of two models, by region and tier, with weights and nulls."""
    rng = np.random.default_rng(seed)

    def with_nulls(values: np.ndarray, share: float) -> pl.Series:
        mask = rng.random(rows) < share
        return pl.Series(values).set(pl.Series(mask), None)

    y = 1e9 + rng.normal(0.0, 1_000.0, rows)
    region = rng.choice(np.array(REGIONS, dtype=object), rows)
    return pl.DataFrame(
        {
            "region": with_nulls(region, 0.01).cast(pl.String),
            "tier": with_nulls(rng.integers(1, 4, rows), 0.0).cast(pl.Int32),
            "y": with_nulls(y, 0.02),
            "linear": with_nulls(y + rng.normal(5.0, 200.0, rows), 0.02),
            "boosted": with_nulls(y + 80.0 * rng.standard_t(3.0, rows), 0.01),
            "w": with_nulls(rng.gamma(2.0, 1.0, rows), 0.03),
        }
    )


def split(frame: pl.DataFrame, parts: int = PARTS, *, seed: int = 7) -> list[pa.Table]:
    """Cut the rows into `parts` contiguous chunks of random, unequal sizes."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, frame.height), parts - 1, replace=False))
    bounds = [0, *cuts.tolist(), frame.height]
    return [
        frame.slice(start, stop - start).to_arrow()
        for start, stop in itertools.pairwise(bounds)
    ]


def assert_reports_match(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Check a distributed report against the single-process one.

    What :func:`polars_l2.finalize` documents for a merged state: the keys
    in their dtypes and order (sorted by value, not as text), the same
    counts, every other metric equal to a relative 1e-9 (the RMSE interval
    included, and ``top_1pct_share``, whose histogram the state keeps).
    """
    keys = [name for name in ("model", *BY) if name in expected.columns]
    assert got.columns == expected.columns
    assert got.select(keys).schema == expected.select(keys).schema
    assert_frame_equal(got.select(*keys, "n"), expected.select(*keys, "n"))
    metrics = [
        name
        for name, dtype in expected.schema.items()
        if dtype == pl.Float64 and name not in keys
    ]
    assert len(metrics) >= 9
    assert_frame_equal(
        got.select(metrics), expected.select(metrics), rel_tol=REL_TOL, abs_tol=0.0
    )


#: Keys of many dtypes, whose order as text differs from their order by value.
TYPED_BY = ["k", "day", "at", "f", "amount"]


def make_typed_keys(rows: int = 4_000, *, seed: int = 11) -> pl.DataFrame:
    """Predictions by integer, date, datetime, float and decimal keys."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2024, 5, 1, 12, 0, 0)
    y = rng.normal(0.0, 10.0, rows)
    return pl.DataFrame(
        {
            "k": rng.integers(0, 12, rows),
            "day": [
                dt.date(2024, 5, 1) + dt.timedelta(days=int(d))
                for d in rng.integers(0, 3, rows)
            ],
            "at": [
                start + dt.timedelta(microseconds=int(us))
                for us in rng.integers(0, 2, rows) * 250_000
            ],
            "f": rng.choice([-0.0, 0.0, 2.5, 10.0], rows),
            "amount": pl.Series(rng.choice(["1.25", "10.50"], rows)).cast(
                pl.Decimal(10, 2)
            ),
            "y": y,
            "linear": y + rng.normal(0.5, 2.0, rows),
            "boosted": y + rng.standard_t(3.0, rows),
        },
        schema_overrides={"at": pl.Datetime("us")},
    )


def assert_typed_keys_match(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Keys in the report's dtypes and order (by value), counts and metrics."""
    keys = ["model", *TYPED_BY]
    assert got.select(keys).schema == expected.select(keys).schema
    # -0.0 == 0.0: one key, whichever sign the report's group-by kept.
    assert got.select(*keys, "n").rows() == expected.select(*keys, "n").rows()
    assert_frame_equal(
        got.select("mse", "rmse", "mae", "bias", "r2"),
        expected.select("mse", "rmse", "mae", "bias", "r2"),
        rel_tol=REL_TOL,
        abs_tol=1e-12,
    )


#: Column names an adapter must read literally: patterns, dots, a backtick,
#: a space, and a name of the queries' own temporary columns.
ODD = {
    "y": "^y$",
    "linear": "a.b",
    "boosted": "*",
    "region": "g`x.y",
    "tier": "_bin",
    "w": "w w",
}


def with_odd_names(frame: pl.DataFrame) -> pl.DataFrame:
    """Return the data under :data:`ODD` names, with a decoy ``y``.

    Read as a pattern, ``^y$`` would pick the decoy, which holds another
    model's predictions.
    """
    odd = frame.rename(ODD)
    return odd.with_columns(odd.get_column(ODD["boosted"]).alias("y"))


def odd_arguments() -> dict[str, object]:
    """Return the column arguments of a report of :func:`with_odd_names` data."""
    return {
        "actual": ODD["y"],
        "predicted": [ODD["linear"], ODD["boosted"]],
        "by": [ODD["region"], ODD["tier"]],
        "weight": ODD["w"],
    }


def assert_odd_report_matches(got: pl.DataFrame, plain: pl.DataFrame) -> None:
    """Check a report of odd-named data against the report of the plain data.

    The keys keep their dtypes (a state keeps them, version 2), whatever
    their names: ``_bin`` stays an Int32 beside the report's own columns.
    """
    models = {"linear": ODD["linear"], "boosted": ODD["boosted"]}
    want = plain.with_columns(pl.col("model").replace(models)).rename(
        {key: ODD[key] for key in BY}
    )
    # The keys keep their dtypes (state version 2): String and Int32 here.
    keys = ["model", ODD["region"], ODD["tier"]]
    assert got.columns == want.columns
    # By exact name: pl.col("*") would be every column.
    named = cs.by_name(*keys, "n")
    assert_frame_equal(got.select(named), want.select(named))
    floats = ["mse", "rmse", "mae", "bias", "r2", "weight_sum", "rmse_low"]
    assert_frame_equal(got.select(floats), want.select(floats), rel_tol=REL_TOL)

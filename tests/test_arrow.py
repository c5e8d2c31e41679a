"""The metrics over Arrow data: pyarrow tables, datasets and parquet scans."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import polars_l2  # noqa: F401  (registers the `l2` namespace)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def table() -> pa.Table:
    rng = np.random.default_rng(3)
    n = 5_000
    y = rng.integers(0, 1_000_000, n).astype(np.uint32)
    p = y + rng.normal(0, 50, n)
    return pa.table(
        {
            "region": pa.array(rng.choice(["north", "south", "east"], n)).cast(
                pa.large_string()
            ),
            "y": pa.array(y, mask=rng.random(n) < 0.05),
            "p": pa.array(p.astype(np.float32)),
            "w": pa.array(rng.uniform(0, 3, n)),
        }
    )


def _reference(table: pa.Table) -> dict[str, float]:
    rows = pl.from_arrow(table)
    assert isinstance(rows, pl.DataFrame)
    out = {}
    for (region,), group in rows.drop_nulls().group_by("region"):
        e = (
            group["y"].cast(pl.Float64).to_numpy()
            - group["p"].cast(pl.Float64).to_numpy()
        )
        w = group["w"].to_numpy()
        out[str(region)] = math.sqrt(math.fsum(w * e * e) / math.fsum(w))
    return out


def _check(result: pl.DataFrame, table: pa.Table) -> None:
    expected = _reference(table)
    assert sorted(result["region"]) == sorted(expected)
    for region, rmse in result.iter_rows():
        assert rmse == pytest.approx(expected[region], rel=1e-12)


def _query(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by("region").agg(pl.col("y").l2.rmse("p", weight="w"))  # type: ignore[attr-defined]


def test_from_arrow(table: pa.Table) -> None:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    _check(_query(df.lazy()).collect(), table)


def test_scan_pyarrow_dataset(table: pa.Table, tmp_path: Path) -> None:
    ds.write_dataset(
        table,
        tmp_path / "ds",
        format="parquet",
        max_rows_per_file=1_000,
        max_rows_per_group=1_000,
    )
    dataset = ds.dataset(tmp_path / "ds", format="parquet")
    assert len(dataset.files) > 1
    _check(_query(pl.scan_pyarrow_dataset(dataset)).collect(), table)


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_scan_parquet(table: pa.Table, tmp_path: Path, engine: str) -> None:
    for i, start in enumerate(range(0, table.num_rows, 2_000)):
        pq.write_table(table.slice(start, 2_000), tmp_path / f"part-{i}.parquet")
    lf = _query(pl.scan_parquet(tmp_path / "*.parquet"))
    _check(lf.collect(engine=engine), table)  # type: ignore[call-overload]

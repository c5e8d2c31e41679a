"""Settings, optional peers and small helpers shared by the benchmark cases."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import ModuleType

    import pandas as pd
    import polars as pl

Engine = Literal["streaming", "in-memory"]
ENGINES: tuple[Engine, ...] = ("streaming", "in-memory")


@dataclass(frozen=True)
class Config:
    """Sizes and repeat counts of one run."""

    quick: bool
    rows: int
    segments: tuple[int, int, int]
    vector_rows: int
    vector_width: int
    repeats: int
    grouped_repeats: int
    slow_repeats: int
    apply_max_groups: int
    in_memory_max_groups: int
    report_apply_max_groups: int
    report_rows: int
    #: Case 3's segment curve: the rows, and the segment counts (the second
    #: is the one the others are compared with).
    curve_rows: int
    curve_segments: tuple[int, ...]
    curve_repeats: int
    #: Fairlearn runs on the rows of this many segments, its time scaled up.
    fairlearn_max_groups: int
    models: tuple[int, int]
    models_rows: int
    models_segments: int
    big_rows: int
    big_path: Path

    @property
    def middle_segments(self) -> int:
        """The segment count the grouped targets are stated for (1,000)."""
        return self.segments[1]


def full_config(big_rows: int, big_path: Path) -> Config:
    """Return the sizes the issues name: 20 million rows, 10 to 1,000,000 groups.

    The report (case 3) runs on 4 million rows and the models case (7) on
    100 and 1,000 predicted columns of 10,000 rows, as issue 15 states them;
    case 3's segment curve on 10 million rows, as issue 25 does.
    """
    return Config(
        quick=False,
        rows=20_000_000,
        segments=(10, 1_000, 1_000_000),
        vector_rows=1_000_000,
        vector_width=16,
        repeats=15,
        grouped_repeats=5,
        slow_repeats=5,
        apply_max_groups=1_000,
        in_memory_max_groups=1_000,
        report_apply_max_groups=100,
        report_rows=4_000_000,
        curve_rows=10_000_000,
        curve_segments=(10, 1_000, 100_000, 1_000_000),
        curve_repeats=3,
        fairlearn_max_groups=20,
        models=(100, 1_000),
        models_rows=10_000,
        models_segments=50,
        big_rows=big_rows,
        big_path=big_path,
    )


def quick_config(big_rows: int, big_path: Path) -> Config:
    """Tiny sizes for CI: proves the script runs, the figures mean nothing."""
    return Config(
        quick=True,
        rows=200_000,
        segments=(10, 100, 1_000),
        vector_rows=20_000,
        vector_width=16,
        repeats=2,
        grouped_repeats=2,
        slow_repeats=2,
        apply_max_groups=100,
        in_memory_max_groups=1_000,
        report_apply_max_groups=20,
        report_rows=200_000,
        curve_rows=100_000,
        curve_segments=(10, 100, 10_000),
        curve_repeats=2,
        fairlearn_max_groups=5,
        models=(5, 50),
        models_rows=1_000,
        models_segments=10,
        big_rows=big_rows,
        big_path=big_path,
    )


def optional(name: str) -> ModuleType | None:
    """Import a peer library if it is installed, else return None."""
    try:
        if importlib.util.find_spec(name) is None:
            return None
        return importlib.import_module(name)
    except ImportError:
        return None


def query(lf: pl.LazyFrame, engine: Engine) -> Callable[[], pl.DataFrame]:
    """Return a zero-argument callable that collects `lf` on `engine`."""

    def run() -> pl.DataFrame:
        return lf.collect(engine=engine)

    return run


def scalars(df: pl.DataFrame) -> np.ndarray:
    """Return the values of a one-row result frame."""
    return df.to_numpy().ravel().astype(np.float64)


def by_key(key: str) -> Callable[[pl.DataFrame], np.ndarray]:
    """Return a check giving a grouped result's values, ordered by the key."""

    def check(df: pl.DataFrame) -> np.ndarray:
        value = next(c for c in df.columns if c != key)
        return df.sort(key).get_column(value).to_numpy().astype(np.float64)

    return check


def pandas_by_index(series: pd.Series) -> np.ndarray:
    """Return the values of a grouped pandas Series, ordered by its index."""
    return np.asarray(series.sort_index().to_numpy(), dtype=np.float64)


def number(n: int) -> str:
    """Format 1000000 as '1,000,000'."""
    return f"{n:,}"

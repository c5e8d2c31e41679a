"""Shared fixtures: every metric is checked on each way of running a query."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeAlias

import polars as pl
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci", parent=settings.get_profile("default"), derandomize=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

#: Runs a query on a DataFrame and returns the result as a DataFrame.
Runner: TypeAlias = Callable[
    [pl.DataFrame, Callable[[pl.LazyFrame], pl.LazyFrame]], pl.DataFrame
]


def _eager(
    df: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    # The same query applied to the DataFrame directly, without a LazyFrame.
    result = query(df)  # type: ignore[arg-type]
    assert isinstance(result, pl.DataFrame)
    return result


def _lazy_in_memory(
    df: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    return query(df.lazy()).collect(engine="in-memory")


def _lazy_streaming(
    df: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    return query(df.lazy()).collect(engine="streaming")


RUNNERS: dict[str, Runner] = {
    "eager": _eager,
    "lazy-in-memory": _lazy_in_memory,
    "lazy-streaming": _lazy_streaming,
}


@pytest.fixture(params=list(RUNNERS))
def run(request: pytest.FixtureRequest) -> Runner:
    """Run a query eagerly, lazily in memory, or lazily on the streaming engine."""
    return RUNNERS[request.param]

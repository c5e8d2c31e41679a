"""murphy, decompose, worst and bias_by take every table report takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.dataset
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from tests import real_data

if TYPE_CHECKING:
    from collections.abc import Callable

KINDS: dict[str, Callable[[pl.DataFrame], Any]] = {
    "lazy": lambda frame: frame.lazy(),
    "arrow": lambda frame: frame.to_arrow(),
    "dataset": lambda frame: pyarrow.dataset.dataset(frame.to_arrow()),
    "pandas": lambda frame: frame.to_pandas(),
}

CALLS: dict[str, Callable[[Any], pl.DataFrame | pl.LazyFrame]] = {
    "murphy": lambda data: polars_l2.murphy(
        data, "y", "median", baseline="mean", by="sex", thetas=[100.0, 150.0]
    ),
    "decompose": lambda data: polars_l2.decompose(
        data, "y", ["mean", "median"], loss="absolute", by="sex"
    ),
    "worst": lambda data: polars_l2.worst(data, "y", "mean", k=3, by="sex"),
    "bias_by": lambda data: polars_l2.bias_by(data, "y", "mean", "bmi", bins=3),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_input_kind_gives_the_polars_frame_s_answer(kind: str, call: str) -> None:
    frame = real_data.diabetes()
    want = CALLS[call](frame)
    got = CALLS[call](KINDS[kind](frame))
    if isinstance(got, pl.LazyFrame):
        got = got.collect()  # a LazyFrame gives a LazyFrame (worst)
    assert_frame_equal(got, want, check_dtypes=kind != "pandas", rel_tol=1e-12)


def test_a_state_as_an_arrow_table_gives_its_curves() -> None:
    frame = real_data.diabetes()
    state = polars_l2.state(frame, "y", "mean", murphy="median", thetas=[150.0])
    got = polars_l2.murphy(state.to_arrow(), None, None, functional="median")
    want = polars_l2.murphy(frame, "y", "mean", functional="median", thetas=[150.0])
    assert_frame_equal(got, want)

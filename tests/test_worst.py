"""The rows behind the error: worst rows against numpy's argsort."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from tests import real_data


def _numpy_worst(y: np.ndarray, z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the k largest squared errors (ties: earlier first), shares."""
    squared = (y - z) ** 2
    order = np.argsort(-squared, kind="stable")[:k]
    return order, squared[order] / squared.sum()


@pytest.mark.parametrize("k", [1, 10, 500])
def test_worst_rows_equal_numpy_argsort_with_ties_to_the_earlier_row(k: int) -> None:
    # Count targets and predictions rounded to integers: many tied errors.
    frame = (
        real_data.randhie().with_columns(pl.col("mean").round(0)).with_row_index("id")
    )
    got = polars_l2.worst(frame, "y", ["mean", "median"], k=k)
    for model in ("mean", "median"):
        rows = got.filter(pl.col("model") == model)
        order, shares = _numpy_worst(frame["y"].to_numpy(), frame[model].to_numpy(), k)
        np.testing.assert_array_equal(rows["id"].to_numpy(), order)
        np.testing.assert_allclose(rows["sse_share"].to_numpy(), shares, rtol=1e-12)
    assert got.columns == [*frame.columns, "model", "sq_error", "sse_share"]


def test_per_segment_the_share_is_of_the_segment_s_sse() -> None:
    frame = real_data.fair().with_row_index("id")
    got = polars_l2.worst(frame, "y", "median", k=5, by="has_children")
    for key in (0, 1):
        part = frame.filter(pl.col("has_children") == key)
        rows = got.filter(pl.col("has_children") == key)
        order, shares = _numpy_worst(part["y"].to_numpy(), part["median"].to_numpy(), 5)
        np.testing.assert_array_equal(
            rows["id"].to_numpy(), part["id"].to_numpy()[order]
        )
        np.testing.assert_allclose(rows["sse_share"].to_numpy(), shares, rtol=1e-12)
    assert got["has_children"].to_list() == [0] * 5 + [1] * 5


def test_a_lazy_frame_gives_a_lazy_frame_and_nulls_are_not_counted() -> None:
    frame = pl.LazyFrame(
        {"y": [1.0, 2.0, None, 4.0], "^z$": [9.0, None, 0.0, 4.0], "_l2_row": [7] * 4}
    )
    got = polars_l2.worst(frame, "y", "^z$", k=3)
    assert isinstance(got, pl.LazyFrame)
    table = got.collect()
    assert table["sq_error"].to_list() == [64.0, 0.0]
    assert table["_l2_row"].to_list() == [7, 7]
    assert table["sse_share"].to_list() == [1.0, 0.0]


def test_a_column_named_like_an_output_is_refused() -> None:
    frame = pl.DataFrame({"y": [1.0], "z": [2.0], "model": ["m"]})
    with pytest.raises(polars_l2.L2InputError, match="column named 'model'"):
        polars_l2.worst(frame, "y", "z")
    with pytest.raises(polars_l2.L2InputError, match="k must be a positive integer"):
        polars_l2.worst(frame.drop("model"), "y", "z", k=0)


@pytest.mark.parametrize("function", ["worst", "decompose", "bias_by"])
def test_vector_targets_are_refused_naming_the_functions_that_take_them(
    function: str,
) -> None:
    frame = pl.DataFrame(
        {"y": [[1.0, 2.0]], "z": [[1.5, 2.0]], "x": ["a"], "_l2_mine": [1]},
        schema={
            "y": pl.Array(pl.Float64, 2),
            "z": pl.Array(pl.Float64, 2),
            "x": pl.String,
            "_l2_mine": pl.Int64,
        },
    )
    extra = ("x",) if function == "bias_by" else ()
    with pytest.raises(polars_l2.L2InputError) as raised:
        getattr(polars_l2, function)(frame, "y", "z", *extra)
    message = str(raised.value)
    assert message.startswith(f"polars_l2.{function}: actual column 'y' has dtype")
    assert "a vector per row" in message
    assert "polars_l2.report" in message
    # No advice a vector cannot follow, and no column the package added.
    assert ".cast(pl.Float64)" not in message
    assert "_l2_row" not in message
    # What is accepted works as said.
    assert polars_l2.report(frame, "y", "z")["output"].to_list() == [0, 1]


@pytest.mark.parametrize("by", [None, "g"])
def test_a_k_beyond_any_frame_s_rows_gives_every_row(by: str | None) -> None:
    df = pl.DataFrame({"y": [1.0, 2.0, 4.0], "p": [1.5, 2.0, 1.0], "g": [1, 1, 2]})
    every = polars_l2.worst(df, "y", "p", k=3, by=by)
    for k in (2**32, 2**63, 2**70):
        assert_frame_equal(polars_l2.worst(df, "y", "p", k=k, by=by), every)


def test_the_share_is_null_where_the_sse_is_zero_as_in_the_report() -> None:
    df = pl.DataFrame({"y": [1.0, 2.0, 3.0], "p": [1.0, 2.0, 4.0], "g": [1, 1, 2]})
    got = polars_l2.worst(df, "y", "p", by="g")
    assert got.filter(pl.col("g") == 1)["sse_share"].to_list() == [None, None]
    assert got.filter(pl.col("g") == 2)["sse_share"].to_list() == [1.0]
    # A perfect model: its SSE is 0, and the report's share is null too.
    perfect = df.with_columns(pl.col("y").alias("p"))
    assert polars_l2.worst(perfect, "y", "p")["sse_share"].to_list() == [None] * 3
    assert polars_l2.report(perfect, "y", "p")["sse_share"].to_list() == [None]

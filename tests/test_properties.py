"""Property tests against scikit-learn and exact ``math.fsum`` references."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from sklearn.metrics import mean_squared_error, root_mean_squared_error

import polars_l2
from tests.conftest import RUNNERS

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
maybe = st.one_of(st.none(), finite)
weights = st.one_of(st.none(), st.floats(0, 100, allow_nan=False))


@st.composite
def frames(draw: st.DrawFn, *, groups: int = 1) -> pl.DataFrame:
    """Random rows with nulls on either side, weights, and a group key."""
    n = draw(st.integers(0, 40))
    column = st.lists(maybe, min_size=n, max_size=n)
    return pl.DataFrame(
        {
            "g": draw(st.lists(st.integers(0, groups - 1), min_size=n, max_size=n)),
            "y": draw(column),
            "p": draw(column),
            "w": draw(st.lists(weights, min_size=n, max_size=n)),
        },
        schema={"g": pl.Int64, "y": pl.Float64, "p": pl.Float64, "w": pl.Float64},
    )


def _reference(df: pl.DataFrame, *, weighted: bool) -> tuple[float | None, ...]:
    """SSE, MSE and RMSE from scikit-learn and fsum over the complete rows."""
    cols = ["y", "p", "w"] if weighted else ["y", "p"]
    rows = df.drop_nulls(cols)
    y, p = rows["y"].to_numpy(), rows["p"].to_numpy()
    w = rows["w"].to_numpy() if weighted else np.ones(len(rows))
    if len(rows) == 0 or math.fsum(w) == 0:
        return (None, None, None)
    sse = math.fsum(w * (y - p) ** 2)
    sample_weight = w if weighted else None
    mse = mean_squared_error(y, p, sample_weight=sample_weight)
    rmse = root_mean_squared_error(y, p, sample_weight=sample_weight)
    assert mse == pytest.approx(sse / math.fsum(w), rel=1e-9, abs=1e-300)
    return (sse, mse, rmse)


def _assert_close(got: tuple[object, ...], want: tuple[float | None, ...]) -> None:
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
        else:
            assert g == pytest.approx(w, rel=1e-9, abs=1e-12)


def _metrics(weight: str | None) -> list[pl.Expr]:
    return [
        polars_l2.sse("y", "p", weight=weight).alias("sse"),
        polars_l2.mse("y", "p", weight=weight).alias("mse"),
        polars_l2.rmse("y", "p", weight=weight).alias("rmse"),
    ]


@pytest.mark.parametrize("mode", list(RUNNERS))
@pytest.mark.parametrize("weighted", [False, True])
@settings(max_examples=60)
@given(df=frames())
def test_whole_frame_matches_sklearn(
    mode: str, weighted: bool, df: pl.DataFrame
) -> None:
    weight = "w" if weighted else None
    out = RUNNERS[mode](df, lambda f: f.select(_metrics(weight)))
    _assert_close(out.row(0), _reference(df, weighted=weighted))


@pytest.mark.parametrize("mode", list(RUNNERS))
@pytest.mark.parametrize("weighted", [False, True])
@settings(max_examples=40)
@given(df=frames(groups=4))
def test_grouped_equals_each_group_on_its_own(
    mode: str, weighted: bool, df: pl.DataFrame
) -> None:
    weight = "w" if weighted else None
    out = RUNNERS[mode](df, lambda f: f.group_by("g").agg(_metrics(weight)).sort("g"))
    assert out["g"].to_list() == sorted(df["g"].unique().to_list())
    for row in out.iter_rows(named=True):
        group = df.filter(pl.col("g") == row["g"])
        _assert_close(
            (row["sse"], row["mse"], row["rmse"]), _reference(group, weighted=weighted)
        )
        alone = group.select(_metrics(weight))
        assert_frame_equal(alone, out.filter(pl.col("g") == row["g"]).drop("g"))


@pytest.mark.parametrize("mode", list(RUNNERS))
@settings(max_examples=30)
@given(df=frames(groups=3))
def test_over_broadcasts_the_group_value(mode: str, df: pl.DataFrame) -> None:
    out = RUNNERS[mode](
        df,
        lambda f: f.with_columns(
            m=polars_l2.mse("y", "p", weight="w").over("g"),
            loss=polars_l2.loss("y", "p"),
        ),
    )
    grouped = df.group_by("g").agg(m=polars_l2.mse("y", "p", weight="w"))
    expected = df.join(grouped, on="g", how="left", maintain_order="left")
    assert_frame_equal(out.select("g", "m"), expected.select("g", "m"))
    # Polars' ``** 2`` may round differently from Python's on one engine (one
    # unit in the last place, seen on the streaming engine): equal to that.
    assert out["loss"].to_list() == [
        None if y is None or p is None else pytest.approx((y - p) ** 2, rel=1e-15)
        for y, p in zip(df["y"], df["p"], strict=True)
    ]


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.floats(-1e12, 1e12), st.floats(-1e12, 1e12), st.floats(0, 1e3)),
        min_size=1,
        max_size=60,
    )
)
def test_matches_exact_fsum(rows: list[tuple[float, float, float]]) -> None:
    df = pl.DataFrame(rows, schema=["y", "p", "w"], orient="row")
    out = df.select(_metrics(None), wmse=polars_l2.mse("y", "p", weight="w"))
    squares = [(y - p) ** 2 for y, p, _ in rows]
    assert out["sse"].item() == pytest.approx(math.fsum(squares), rel=1e-12)
    assert out["mse"].item() == pytest.approx(math.fsum(squares) / len(rows), rel=1e-12)
    total_w = math.fsum(w for *_, w in rows)
    if total_w > 0:
        weighted = math.fsum(w * s for (*_, w), s in zip(rows, squares, strict=True))
        assert out["wmse"].item() == pytest.approx(weighted / total_w, rel=1e-12)
    else:
        assert out["wmse"].item() is None


@given(st.lists(st.tuples(st.integers(-100, 100), st.integers(-100, 100)), max_size=30))
def test_is_invariant_to_row_order_and_symmetric(rows: list[tuple[int, int]]) -> None:
    df = pl.DataFrame(rows, schema=["y", "p"], orient="row")
    forward = df.select(polars_l2.mse("y", "p")).item()
    assert df.reverse().select(polars_l2.mse("y", "p")).item() == forward
    assert df.select(polars_l2.mse("p", "y")).item() == forward

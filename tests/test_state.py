"""Mergeable states: exact against the whole-data report, in any order and grouping."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import polars_l2

if TYPE_CHECKING:
    from pathlib import Path

MODELS = ["a", "b"]
#: Columns a merged state gives exactly (up to rounding); see finalize.
NOT_MERGED = ("top_1pct_share",)


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    """Targets around 1e9 with nulls, two models, weights, three segments."""
    n = draw(st.integers(0, 40))
    level = draw(st.sampled_from([0.0, 1e9]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = level + rng.normal(0, 1e4, n)

    def holes(values: np.ndarray) -> list[float | None]:
        return [None if rng.random() < 0.1 else float(v) for v in values]

    return pl.DataFrame(
        {
            "g": rng.choice(["x", "y", "z"], n).tolist(),
            "y": holes(y),
            "a": holes(y + rng.normal(50, 300, n)),
            "b": holes(y + rng.standard_t(3, n) * 300),
            "w": holes(rng.uniform(0.1, 5.0, n)),
        },
        schema={
            "g": pl.String,
            "y": pl.Float64,
            "a": pl.Float64,
            "b": pl.Float64,
            "w": pl.Float64,
        },
    )


def chunks(df: pl.DataFrame, cuts: list[int]) -> list[pl.DataFrame]:
    """Split `df` at the `cuts` (modulo its height); an empty frame stays whole."""
    edges = sorted({0, df.height, *(c % (df.height + 1) for c in cuts)})
    parts = [df.slice(lo, hi - lo) for lo, hi in itertools.pairwise(edges)]
    return parts or [df]


def assert_close(got: pl.DataFrame, want: pl.DataFrame, rel: float = 1e-9) -> None:
    """Equal keys and counts; every float within `rel` of the larger magnitude.

    The absolute floor scales with each column's largest value, so a metric
    that is zero up to rounding (a bias of 0 from two sums) still compares.
    """
    assert got.columns == want.columns
    assert got.height == want.height
    for name in got.columns:
        left, right = got[name], want[name]
        if left.dtype != pl.Float64:
            assert left.to_list() == right.to_list(), name
            continue
        assert left.is_null().to_list() == right.is_null().to_list(), name
        a = left.drop_nulls().to_numpy()
        b = right.drop_nulls().to_numpy()
        scale = max(np.max(np.abs(b), initial=0.0), 1.0)
        np.testing.assert_allclose(
            a, b, rtol=rel, atol=rel * scale * 1e-3, err_msg=name
        )


def comparable(report: pl.DataFrame) -> pl.DataFrame:
    return report.drop(NOT_MERGED)


@settings(max_examples=40)
@given(
    df=frames(), cuts=st.lists(st.integers(0, 100), max_size=5), weighted=st.booleans()
)
def test_merged_chunks_finalise_to_the_whole_data_report(
    df: pl.DataFrame, cuts: list[int], *, weighted: bool
) -> None:
    weight = "w" if weighted else None
    states = [
        polars_l2.state(part, "y", MODELS, by="g", weight=weight)
        for part in chunks(df, cuts)
    ]
    # A state of no rows cannot tell whether it was weighted: say so.
    merged = polars_l2.finalize(polars_l2.merge_states(states), weighted=weighted)
    whole = polars_l2.report(df, "y", MODELS, by="g", weight=weight)
    assert merged["top_1pct_share"].null_count() == merged.height
    # Segments absent from the first chunk come later in the merge; the
    # report sorts them: compare in the report's order.
    merged = merged.sort(pl.col("model").replace({"a": 0, "b": 1}).cast(pl.Int8), "g")
    assert_close(comparable(merged), comparable(whole))


@settings(max_examples=20)
@given(parts=st.lists(frames(), min_size=3, max_size=3))
def test_merging_is_associative_and_commutative(parts: list[pl.DataFrame]) -> None:
    a, b, c = (polars_l2.state(p, "y", MODELS, by="g", weight="w") for p in parts)

    def merged(*states: pl.DataFrame) -> pl.DataFrame:
        return polars_l2.merge_states(states).sort("model", "g")

    left = merged(merged(a, b), c)
    right = merged(a, merged(b, c))
    swapped = merged(c, b, a)
    # Up to rounding: the spread of means around 1e9 that differ by about
    # 1e4 is known to about 1e-16 * 1e9 / 1e4 relative.
    assert_close(left, right)
    assert_close(left, swapped)


@settings(max_examples=20)
@given(df=frames(), weighted=st.booleans())
def test_merging_an_empty_state_changes_nothing(
    df: pl.DataFrame, *, weighted: bool
) -> None:
    weight = "w" if weighted else None
    whole = polars_l2.state(df, "y", MODELS, by="g", weight=weight)
    empty = polars_l2.state(df.clear(), "y", MODELS, by="g", weight=weight)
    assert empty.height == 0
    assert_close(polars_l2.merge_states([whole, empty]), whole, rel=1e-15)
    # Without segments the empty state has one row per model, with n = 0.
    ungrouped = polars_l2.state(df, "y", MODELS, weight=weight)
    none = polars_l2.state(df.clear(), "y", MODELS, weight=weight)
    assert none["n"].to_list() == [0, 0]
    assert_close(polars_l2.merge_states([none, ungrouped, none]), ungrouped, rel=1e-15)


def test_a_single_state_finalises_to_the_report_with_its_key_dtypes() -> None:
    df = pl.DataFrame(
        {
            "g": [1, 1, 2, 2, 2],
            "y": [1.0, 2.0, 3.0, 4.0, 6.0],
            "a": [1.5, 2.0, 2.0, 5.0, 6.0],
            "b": [1.0, 1.0, 3.0, 3.0, 3.0],
        }
    )
    state = polars_l2.state(df, "y", MODELS, by="g")
    report = polars_l2.report(df, "y", MODELS, by="g")
    got = polars_l2.finalize(state)
    assert got["g"].dtype == report["g"].dtype == pl.Int64
    assert_close(comparable(got), comparable(report), rel=1e-15)
    assert (
        polars_l2.finalize(state, confidence=0.5)["rmse_high"].to_list()
        < got["rmse_high"].to_list()
    )


def test_the_schema_is_fixed_arrow_friendly_and_versioned() -> None:
    df = pl.DataFrame(
        {
            "day": pl.Series([1, 2, 2], dtype=pl.UInt32),
            "shop": pl.Series(["x", None, "y"], dtype=pl.Categorical),
            "y": pl.Series([1, 2, 3], dtype=pl.UInt8),
            "a": [1.0, 2.0, 2.5],
        }
    )
    state = polars_l2.state(df, "y", "a", by=["day", "shop"])
    schema = polars_l2.state_schema({"day": pl.UInt32, "shop": pl.Categorical})
    table = state.to_arrow().cast(schema)
    assert table.schema.equals(schema)
    assert schema.metadata == {
        b"polars_l2.state_version": str(polars_l2.STATE_VERSION).encode()
    }
    for field in schema:
        if field.name != "day":  # the key keeps its own type
            assert not pa.types.is_unsigned_integer(field.type), field
        assert not pa.types.is_large_string(field.type), field
    assert schema.field("n").type == pa.int64()
    # Keys keep their dtype; a Categorical key is stored as a string.
    assert schema.field("day").type == pa.uint32()
    assert schema.field("shop").type == pa.string()
    assert state["state_version"].to_list() == [polars_l2.STATE_VERSION] * 3
    assert state.select("day", "shop").rows() == [(1, "x"), (2, "y"), (2, None)]


def test_states_round_trip_through_parquet_and_arrow(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pl.DataFrame(
        {
            "g": rng.choice(["p", "q"], 500).tolist(),
            "y": rng.normal(1e9, 1e3, 500),
            "a": rng.normal(1e9, 1e3, 500),
            "w": rng.uniform(0, 2, 500),
        }
    )
    first, second = df.head(200), df.tail(300)
    state = polars_l2.state(first, "y", "a", by="g", weight="w")
    path = tmp_path / "state.parquet"
    schema = polars_l2.state_schema({"g": pl.String})
    pq.write_table(state.to_arrow().cast(schema), path)
    assert pq.read_schema(path).field("g").type == pa.string()
    polars_path = tmp_path / "polars.parquet"
    state.write_parquet(polars_path)
    table = polars_l2.state(second, "y", "a", by="g", weight="w").to_arrow()
    merged = polars_l2.merge_states([path, str(polars_path), table])
    twice = polars_l2.merge_states(
        [state, state, polars_l2.state(second, "y", "a", by="g", weight="w")]
    )
    assert_frame_equal(merged, twice)
    lazy = polars_l2.merge_states([pl.scan_parquet(path), table])
    whole = polars_l2.report(df, "y", "a", by="g", weight="w")
    assert_close(comparable(polars_l2.finalize(lazy)), comparable(whole))


def test_finalize_keeps_a_lazy_frame_lazy() -> None:
    state = polars_l2.state(pl.DataFrame({"y": [1.0, 2.0], "a": [1.0, 3.0]}), "y", "a")
    lazy = polars_l2.finalize(state.lazy(), weighted=False)
    assert isinstance(lazy, pl.LazyFrame)
    assert "weight_sum" not in lazy.collect_schema()
    assert_frame_equal(lazy.collect(), polars_l2.finalize(state))


def test_the_state_builds_lazily_on_the_streaming_engine(tmp_path: Path) -> None:
    df = pl.DataFrame({"g": ["a", "b", "a"], "y": [1, 2, 3], "a": [1.0, 2.0, 2.0]})
    df.write_parquet(tmp_path / "data.parquet")
    query = polars_l2.state(
        pl.scan_parquet(tmp_path / "data.parquet"), "y", "a", by="g"
    )
    assert isinstance(query, pl.LazyFrame)
    graph = query.show_graph(engine="streaming", plan_stage="physical", raw_output=True)
    assert graph is not None
    assert 'fillcolor="0.0 0.3 1.0"' not in graph
    assert "python_udf" not in query.explain()
    assert_frame_equal(
        query.collect(engine="streaming"), polars_l2.state(df, "y", "a", by="g")
    )


def test_bad_states_are_refused() -> None:
    df = pl.DataFrame({"g": ["x"], "y": [1.0], "a": [2.0], "w": [1.0]})
    plain = polars_l2.state(df, "y", "a", by="g")
    weighted = polars_l2.state(df, "y", "a", by="g", weight="w")
    with pytest.raises(polars_l2.L2InputError, match="weighted and unweighted"):
        polars_l2.merge_states([plain, weighted])
    with pytest.raises(polars_l2.L2InputError, match="different by columns"):
        polars_l2.merge_states([plain, polars_l2.state(df, "y", "a")])
    with pytest.raises(polars_l2.L2InputError, match=r"not a polars-l2 state.*'n'"):
        polars_l2.merge_states([plain.drop("n")])
    newer = plain.with_columns(state_version=pl.lit(polars_l2.STATE_VERSION + 1))
    with pytest.raises(polars_l2.L2InputError, match="newer polars-l2"):
        polars_l2.merge_states([newer])
    with pytest.raises(polars_l2.L2InputError, match="newer polars-l2"):
        polars_l2.finalize(newer)
    with pytest.raises(ValueError, match="no states"):
        polars_l2.merge_states([])
    with pytest.raises(TypeError, match="parquet paths"):
        polars_l2.merge_states([42])


def test_weighted_finalize_reports_the_weight_sum() -> None:
    df = pl.DataFrame({"y": [1.0, 2.0], "a": [2.0, 2.0], "w": [1.0, 3.0]})
    state = polars_l2.state(df, "y", "a", weight="w")
    got = polars_l2.finalize(state)
    assert got.columns[:3] == ["model", "n", "weight_sum"]
    assert got["weight_sum"].item() == 4.0
    assert got["mse"].item() == pytest.approx(0.25)

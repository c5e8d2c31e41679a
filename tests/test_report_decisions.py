"""The report's overall rows, sse_share, min_n, intervals and merged top share."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import polars_l2

MODELS = ["a", "b"]


def random_data(seed: int, n: int = 3_000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(100, 20, n)
    return pl.DataFrame(
        {
            "g": rng.choice(
                ["north", "south", "east", "tiny"], n, p=[0.5, 0.3, 0.19, 0.01]
            ),
            "y": y,
            "a": y + rng.normal(0, 5, n),
            # Heavy tails: a few rows hold much of b's squared error.
            "b": y + rng.standard_t(2, n) * 3,
            "w": rng.integers(1, 5, n).astype(float),
        }
    )


def chunks(df: pl.DataFrame, seed: int, parts: int = 4) -> list[pl.DataFrame]:
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, df.height), parts - 1, replace=False))
    edges = [0, *cuts.tolist(), df.height]
    return [df[lo:hi] for lo, hi in itertools.pairwise(edges)]


@pytest.mark.parametrize("weight", [None, "w"])
def test_sse_share_sums_to_one_per_model_and_is_sse_over_the_total(
    weight: str | None,
) -> None:
    got = polars_l2.report(random_data(0), "y", MODELS, by="g", weight=weight)
    for model in MODELS:
        rows = got.filter(pl.col("model") == model)
        assert math.fsum(rows["sse_share"].to_list()) == pytest.approx(1.0, rel=1e-12)
        total = math.fsum(rows["sse"].to_list())
        np.testing.assert_allclose(
            rows["sse_share"].to_numpy(), rows["sse"].to_numpy() / total, rtol=1e-12
        )


@pytest.mark.parametrize("weight", [None, "w"])
def test_overall_rows_equal_the_report_without_by_on_every_path(
    weight: str | None,
) -> None:
    df = random_data(1)
    whole = polars_l2.report(df, "y", MODELS, weight=weight)
    assert whole["overall"].all()
    with_rows = polars_l2.report(df, "y", MODELS, by="g", weight=weight, overall=True)
    overall = with_rows.filter("overall")
    assert overall["g"].is_null().all()
    # The share of the overall row is 1: it is all of the model's SSE.
    assert overall["sse_share"].to_list() == [1.0, 1.0]
    assert_frame_equal(overall.drop("g"), whole, rel_tol=1e-9, abs_tol=1e-12)
    states = [
        polars_l2.state(part, "y", MODELS, by="g", weight=weight)
        for part in chunks(df, 2)
    ]
    merged = polars_l2.finalize(polars_l2.merge_states(states), overall=True)
    assert_frame_equal(merged, with_rows, rel_tol=1e-9, abs_tol=1e-12)
    # Each model's segments, then its overall row.
    assert with_rows["overall"].to_list() == ([False] * 4 + [True]) * 2


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), parts=st.integers(2, 6), weighted=st.booleans())
def test_merged_top_share_equals_the_single_query(
    seed: int, parts: int, *, weighted: bool
) -> None:
    df = random_data(seed % 7, n=1_500)
    weight = "w" if weighted else None
    single = polars_l2.report(df, "y", MODELS, by="g", weight=weight)
    states = [
        polars_l2.state(part, "y", MODELS, by="g", weight=weight)
        for part in chunks(df, seed, parts)
    ]
    merged = polars_l2.finalize(polars_l2.merge_states(states))
    assert merged["top_1pct_share"].null_count() == 0
    np.testing.assert_allclose(
        merged["top_1pct_share"].to_numpy(),
        single["top_1pct_share"].to_numpy(),
        rtol=1e-9,
    )


def test_a_state_without_its_histogram_leaves_the_share_unknown() -> None:
    df = random_data(3)
    with_it = polars_l2.state(df[:1000], "y", MODELS, by="g")
    without = polars_l2.state(df[1000:], "y", MODELS, by="g", top_share=False)
    assert without["sq_error_histogram"].is_null().all()
    assert polars_l2.finalize(without)["top_1pct_share"].is_null().all()
    merged = polars_l2.finalize(polars_l2.merge_states([with_it, without]))
    assert merged["top_1pct_share"].is_null().all()
    assert merged["mse"].is_not_null().all()


def test_the_histogram_has_power_of_two_bins_that_add_up() -> None:
    df = random_data(4)
    state = polars_l2.state(df, "y", "a", weight="w")
    bins = state["sq_error_histogram"].explode().struct.unnest()
    x = ((df["a"] - df["y"]) ** 2).to_numpy()
    w = df["w"].to_numpy()
    assert math.fsum(bins["weight"].to_list()) == pytest.approx(w.sum())
    assert math.fsum(bins["sum"].to_list()) == pytest.approx(math.fsum(w * x))
    # Each bin spans one power of two.
    lo, hi = bins["min"].to_numpy(), bins["max"].to_numpy()
    assert np.all(np.floor(np.log2(lo)) == np.floor(np.log2(hi)))


def test_small_flags_segments_below_min_n_by_effective_size() -> None:
    df = random_data(5)
    got = polars_l2.report(df, "y", "a", by="g", min_n=100)
    counts = dict(zip(got["g"], got["n"], strict=True))
    assert dict(zip(got["g"], got["small"], strict=True)) == {
        g: n < 100 for g, n in counts.items()
    }
    # Weighted: Kish's effective size, W^2 / sum(w^2), not the row count.
    weighted = polars_l2.report(df, "y", "a", by="g", weight="w", min_n=100)
    for row in weighted.iter_rows(named=True):
        w = df.filter(pl.col("g") == row["g"])["w"].to_numpy()
        assert row["small"] == (w.sum() ** 2 / np.sum(w**2) < 100)
    empty = pl.DataFrame(
        {"y": [None], "a": [1.0]}, schema={"y": pl.Float64, "a": pl.Float64}
    )
    assert polars_l2.report(empty, "y", "a", min_n=0)["small"].item() is True
    with pytest.raises(polars_l2.L2InputError, match="min_n must be"):
        polars_l2.report(df, "y", "a", min_n=2.5)  # type: ignore[call-overload]


def test_mse_interval_is_the_square_of_the_rmse_interval() -> None:
    got = polars_l2.report(random_data(6), "y", MODELS, by="g", weight="w")
    np.testing.assert_allclose(got["mse_low"], got["rmse_low"] ** 2, rtol=1e-12)
    np.testing.assert_allclose(got["mse_high"], got["rmse_high"] ** 2, rtol=1e-12)


def _coverage_module() -> object:
    path = Path(__file__).parent.parent / "docs" / "scripts" / "interval_coverage.py"
    spec = importlib.util.spec_from_file_location("interval_coverage", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_intervals_cover_the_true_values_about_95_percent_of_the_time() -> None:
    # The light version of docs/scripts/interval_coverage.py: three reports
    # of 400 segments of 300 rows for each distribution, fixed seeds.
    coverage = _coverage_module().coverage  # type: ignore[attr-defined]
    for name in ("normal", "t(5)", "Laplace"):
        runs = [coverage(name, seed) for seed in range(3)]
        for metric in ("bias", "mse", "mae"):
            share = float(np.mean([run[metric] for run in runs]))
            # MSE with t(5) errors under-covers at 300 rows (about 92%, see
            # docs/compare.md): the variance of e^2 is estimated from rare
            # large rows. Documented, and held to that.
            lowest = 0.90 if (name, metric) == ("t(5)", "mse") else 0.92
            assert lowest <= share <= 0.98, (name, metric, share)

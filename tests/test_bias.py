"""Bias per bin of a feature: the t-test per bin, and its multiplicity control."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import polars_l2
from tests import real_data


@pytest.mark.parametrize(("adjust", "method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_each_bin_is_the_one_sample_t_test_adjusted_as_statsmodels_does(
    adjust: str, method: str
) -> None:
    frame = real_data.fair()
    table = polars_l2.bias_by(frame, "y", "median", "age", bins=5, adjust=adjust)
    edges = np.unique(np.quantile(frame["age"].to_numpy(), np.linspace(0, 1, 6)[1:-1]))
    index = np.searchsorted(edges, frame["age"].to_numpy(), side="left")
    errors = (frame["median"] - frame["y"]).to_numpy()
    assert table.height == edges.size + 1
    p_values = []
    for k, row in enumerate(table.iter_rows(named=True)):
        e = errors[index == k]
        test = stats.ttest_1samp(e, 0.0)
        low, high = test.confidence_interval(0.95)
        assert row["n"] == e.size
        assert row["bias"] == pytest.approx(e.mean(), rel=1e-12, abs=1e-15)
        assert row["p_value"] == pytest.approx(test.pvalue, rel=1e-9, abs=1e-300)
        assert row["bias_low"] == pytest.approx(low, rel=1e-9)
        assert row["bias_high"] == pytest.approx(high, rel=1e-9)
        p_values.append(test.pvalue)
    want = multipletests(p_values, method=method)[1]
    np.testing.assert_allclose(table["p_value_adjusted"].to_numpy(), want, rtol=1e-9)
    low, high = (
        [-np.inf, *edges],
        [*edges, np.inf],
    )
    assert table["bin_low"].to_list() == low
    assert table["bin_high"].to_list() == high


@pytest.mark.parametrize("bins", [4, [0.0]])
def test_nan_and_null_features_are_bins_of_their_own(bins: int | list[float]) -> None:
    # A NaN feature lies in no interval (it is not above the last edge);
    # an infinite one lies in the end bin. Both routes of the feature,
    # binned and by value, keep NaN apart.
    rng = np.random.default_rng(4)
    n = 1_000
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    p = y + 0.2 * x + rng.normal(size=n) * 0.5
    x[:30] = np.nan
    x[30:35] = np.inf
    frame = pl.DataFrame({"y": y, "p": p, "x": x}).with_columns(
        pl.when(pl.int_range(pl.len()) == 40).then(None).otherwise("x").alias("x")
    )
    table = polars_l2.bias_by(frame, "y", "p", "x", bins=bins)
    present = np.arange(n) != 40
    finite = x[np.isfinite(x) & present]
    edges = (
        np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
        if isinstance(bins, int)
        else np.array(bins)
    )
    index = np.searchsorted(edges, x, side="left")
    groups = [present & ~np.isnan(x) & (index == k) for k in range(edges.size + 1)]
    groups += [present & np.isnan(x), ~present]
    assert table.height == len(groups)
    errors = p - y
    for row, rows in zip(table.iter_rows(named=True), groups, strict=True):
        assert row["n"] == rows.sum()
        assert row["bias"] == pytest.approx(errors[rows].mean(), rel=1e-12)
    nan_row, null_row = table.row(-2, named=True), table.row(-1, named=True)
    assert math.isnan(nan_row["bin_low"])
    assert math.isnan(nan_row["bin_high"])
    assert (null_row["bin_low"], null_row["bin_high"]) == (None, None)
    by_value = polars_l2.bias_by(frame, "y", "p", "x", bins=None)
    nan_value = by_value.filter(pl.col("x").is_nan())
    assert nan_value["n"].to_list() == [30]
    assert nan_value["bias"].item() == pytest.approx(nan_row["bias"], rel=1e-12)


def test_a_categorical_feature_is_tested_per_value_and_per_segment() -> None:
    frame = real_data.randhie().with_columns(
        health=pl.when(pl.col("hlthp") == 1)
        .then(pl.lit("poor"))
        .when(pl.col("hlthf") == 1)
        .then(pl.lit("fair"))
        .otherwise(pl.lit("good"))
        .cast(pl.Categorical)
    )
    table = polars_l2.bias_by(
        frame, "y", ["mean", "median"], "health", by="idp", adjust=None
    )
    assert table.columns[:3] == ["model", "idp", "health"]
    for row in table.iter_rows(named=True):
        part = frame.filter(
            (pl.col("idp") == row["idp"]) & (pl.col("health") == row["health"])
        )
        e = (part[row["model"]] - part["y"]).to_numpy()
        assert row["bias"] == pytest.approx(e.mean(), rel=1e-12)
        assert row["p_value_adjusted"] == pytest.approx(
            stats.ttest_1samp(e, 0.0).pvalue, rel=1e-9, abs=1e-300
        )
    median = table.filter(pl.col("model") == "median")
    # The median regression under-predicts the mean of a skewed count.
    assert set(median["verdict"].to_list()) <= {"under", "inconclusive"}
    assert "under" in median["verdict"].to_list()


def test_small_bins_have_no_verdict_and_are_not_adjusted_for() -> None:
    frame = real_data.diabetes()
    table = polars_l2.bias_by(frame, "y", "mean", "bmi", bins=4, min_n=200)
    assert table["small"].all()
    assert table["verdict"].is_null().all()
    assert table["p_value_adjusted"].is_null().all()
    assert table["p_value"].is_not_null().all()


def test_weighted_bias_is_the_weighted_mean_error() -> None:
    frame = real_data.diabetes().with_columns(w=pl.col("age") / 10)
    table = polars_l2.bias_by(frame, "y", "mean", "sex", weight="w", bins=None)
    for row in table.iter_rows(named=True):
        part = frame.filter(pl.col("sex") == row["sex"])
        e = (part["mean"] - part["y"]).to_numpy()
        want = np.average(e, weights=part["w"].to_numpy())
        assert row["bias"] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_a_feature_that_is_also_a_segment_or_not_a_name_is_refused() -> None:
    frame = real_data.diabetes()
    with pytest.raises(polars_l2.L2InputError, match="also a by column"):
        polars_l2.bias_by(frame, "y", "mean", "sex", by="sex")
    with pytest.raises(polars_l2.L2InputError, match="feature must be one column"):
        polars_l2.bias_by(frame, "y", "mean", ["sex"])  # type: ignore[arg-type]
    with pytest.raises(polars_l2.L2InputError, match="adjust must be"):
        polars_l2.bias_by(frame, "y", "mean", "sex", adjust="bonferroni")

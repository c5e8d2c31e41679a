"""Weighted paired tests and intervals: sandwich variances against statsmodels."""

from __future__ import annotations

import functools
import itertools
import math
from typing import Literal

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from statsmodels.regression.linear_model import OLS, WLS

import polars_l2
from tests.test_compare import diabetes, segments

Variance = Literal["hc1", "hc0", "kish"]


@functools.cache
def weighted_diabetes() -> pl.DataFrame:
    """Return the diabetes data with random positive (non-integer) weights."""
    df = diabetes()
    rng = np.random.default_rng(2024)
    return df.with_columns(pw=pl.Series(rng.gamma(0.7, 2.0, df.height) + 1e-3))


def wls(d: np.ndarray, w: np.ndarray, cov_type: str) -> tuple[float, float, float]:
    """Return statsmodels' p-value and interval of an intercept-only WLS of d."""
    fit = WLS(d, np.ones((len(d), 1)), weights=w).fit(cov_type=cov_type, use_t=True)
    low, high = fit.conf_int(0.05)[0]
    return float(fit.pvalues[0]), float(low), float(high)


@pytest.mark.parametrize("cov_type", ["HC1", "HC0"])
@pytest.mark.parametrize("loss", ["squared", "absolute"])
def test_weighted_p_values_match_statsmodels_wls_robust(
    cov_type: str, loss: Literal["squared", "absolute"]
) -> None:
    df = weighted_diabetes()
    by = ["sex", "age_band"]
    variance: Variance = "hc1" if cov_type == "HC1" else "hc0"
    got = polars_l2.compare(
        df, "y", "linear", ["boosted", "shuffled"], by=by, weight="pw",
        loss=loss, variance=variance, min_n=2,
    )  # fmt: skip
    of = np.square if loss == "squared" else np.abs
    worst = 0.0
    for model in ("boosted", "shuffled"):
        for key, part in [*segments(df, by), ({}, df)]:
            y, w = part["y"].to_numpy(), part["pw"].to_numpy()
            d = of(part[model].to_numpy() - y) - of(part["linear"].to_numpy() - y)
            p, low, high = wls(d, w, cov_type)
            match = pl.col("overall") if not key else ~pl.col("overall")
            row = got.filter(
                pl.col("model") == model,
                match,
                *(pl.col(k) == v for k, v in key.items()),
            ).row(0, named=True)
            assert row["loss_diff"] == pytest.approx(np.average(d, weights=w), rel=1e-9)
            assert row["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)
            assert row["loss_diff_low"] == pytest.approx(low, rel=1e-6)
            assert row["loss_diff_high"] == pytest.approx(high, rel=1e-6)
            worst = max(worst, abs(row["p_value"] - p) / p)
    print(f"{cov_type}, {loss}: largest relative difference in p {worst:.1e}")


def test_unweighted_hc1_is_the_paired_t_test_and_hc0_is_ols_hc0() -> None:
    df = diabetes()
    hc1 = polars_l2.compare(df, "y", "linear", "boosted", variance="hc1")
    kish = polars_l2.compare(df, "y", "linear", "boosted", variance="kish")
    assert_frame_equal(hc1, kish, rel_tol=1e-12)
    y = df["y"].to_numpy()
    d = (df["boosted"].to_numpy() - y) ** 2 - (df["linear"].to_numpy() - y) ** 2
    fit = OLS(d, np.ones((len(d), 1))).fit(cov_type="HC0", use_t=True)
    hc0 = polars_l2.compare(df, "y", "linear", "boosted", variance="hc0")
    assert hc0["p_value"].item() == pytest.approx(float(fit.pvalues[0]), rel=1e-9)


@pytest.mark.parametrize(
    "scale", [1e-300, 1e-200, 1e-160, 1e-100, 7.0, 1e100, 1e160, 1e200, 1e300]
)
def test_the_weights_scale_changes_no_weighted_test_nor_interval(scale: float) -> None:
    df = weighted_diabetes()
    scaled = df.with_columns(pl.col("pw") * scale)
    # Without by: the moments of the rows themselves (overall rows of
    # segments merge them with the weights' sum of squares, whose range is
    # that of the state's weight_sq_sum).
    options = {"weight": "pw", "loss": ["squared", "absolute"]}
    want = polars_l2.compare(df, "y", "linear", "boosted", **options)  # type: ignore[arg-type]
    got = polars_l2.compare(scaled, "y", "linear", "boosted", **options)  # type: ignore[arg-type]
    assert want["p_value"].null_count() == 0
    assert_frame_equal(got, want, rel_tol=1e-9, abs_tol=1e-12)
    intervals = ["mse_low", "rmse_high", "mae_low", "bias_high"]
    report = polars_l2.report(df, "y", ["linear"], by="sex", weight="pw")
    got_report = polars_l2.report(scaled, "y", ["linear"], by="sex", weight="pw")
    assert_frame_equal(
        got_report.select(intervals), report.select(intervals), rel_tol=1e-9
    )


def test_weights_scaled_differently_in_one_segment_give_no_sandwich_variance() -> None:
    # Weights more than 2**256 apart are scaled by different powers of two:
    # the sandwich variance is unknown (NaN, no p-value), never a wrong one.
    df = weighted_diabetes().with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(1e80).otherwise(1.0).alias("pw")
    )
    got = polars_l2.compare(df, "y", "linear", "boosted", weight="pw")
    assert got["p_value"].item() is None
    report = polars_l2.report(df, "y", ["linear"], weight="pw")
    assert math.isnan(report["mae_low"].item())
    kish = polars_l2.compare(df, "y", "linear", "boosted", weight="pw", variance="kish")
    assert kish["p_value"].item() is not None


@pytest.mark.parametrize("scale", [1e-100, 1e100])
def test_merged_states_are_free_of_the_weights_scale(scale: float) -> None:
    df = weighted_diabetes()

    def merged(frame: pl.DataFrame) -> pl.DataFrame:
        return polars_l2.merge_states(
            polars_l2.state(
                part,
                "y",
                ["linear", "boosted"],
                by="sex",
                weight="pw",
                baseline="linear",
            )
            for part in (frame[:150], frame[150:300], frame[300:])
        )

    want = polars_l2.compare(merged(df), None, "linear", "boosted")
    scaled = df.with_columns(pl.col("pw") * scale)
    got = polars_l2.compare(merged(scaled), None, "linear", "boosted")
    assert_frame_equal(got, want, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("variance", ["hc1", "hc0", "kish"])
def test_merged_weighted_states_compare_as_the_whole_frame(variance: Variance) -> None:
    df = weighted_diabetes()
    rng = np.random.default_rng(5)
    cuts = np.sort(rng.choice(np.arange(1, df.height), 6, replace=False))
    edges = [0, *cuts.tolist(), df.height]
    models = ["linear", "boosted", "shuffled"]
    # Rows in a random order, so each part's weights differ.
    shuffled = df.sample(fraction=1.0, seed=3)
    states = [
        polars_l2.state(
            shuffled[lo:hi],
            "y",
            models,
            by="sex",
            weight="pw",
            baseline="linear",
            loss=["squared", "absolute"],
        )
        for lo, hi in itertools.pairwise(edges)
    ]
    merged = polars_l2.merge_states(states)
    options = {"loss": ["squared", "absolute"], "variance": variance, "min_n": 5}
    got = polars_l2.compare(merged, None, "linear", models[1:], **options)  # type: ignore[arg-type]
    want = polars_l2.compare(
        df,
        "y",
        "linear",
        models[1:],
        by="sex",
        weight="pw",
        **options,  # type: ignore[arg-type]
    )
    assert_frame_equal(got, want, rel_tol=1e-9, abs_tol=1e-12)
    # The merged sandwich moments themselves, against the whole frame's state.
    whole = polars_l2.state(
        df, "y", models, by="sex", weight="pw", baseline="linear",
        loss=["squared", "absolute"],
    )  # fmt: skip
    columns = [c for c in whole.columns if c.endswith(("_w2m2", "_w2m1"))]
    assert_frame_equal(
        merged.select(columns), whole.select(columns), rel_tol=1e-9, abs_tol=1e-15
    )


@pytest.mark.parametrize("variance", ["hc1", "hc0"])
def test_clustered_weighted_tests_match_statsmodels(variance: Variance) -> None:
    df = weighted_diabetes().with_columns(day=pl.int_range(pl.len()) // 9)
    got = polars_l2.compare(
        df, "y", "linear", "boosted", weight="pw", cluster="day", variance=variance
    )
    y, w = df["y"].to_numpy(), df["pw"].to_numpy()
    d = (df["boosted"].to_numpy() - y) ** 2 - (df["linear"].to_numpy() - y) ** 2
    fit = WLS(d, np.ones((len(d), 1)), weights=w).fit(
        cov_type="cluster",
        cov_kwds={"groups": df["day"].to_numpy(), "use_correction": variance == "hc1"},
        use_t=True,
    )
    assert got["p_value"].item() == pytest.approx(float(fit.pvalues[0]), rel=1e-6)
    with pytest.raises(polars_l2.L2InputError, match="variance='kish' has no cluster"):
        polars_l2.compare(df, "y", "linear", "boosted", cluster="day", variance="kish")

"""polars_l2.compare against scipy, statsmodels and its own merged states."""

from __future__ import annotations

import functools
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_predict
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests

import polars_l2
from polars_l2.cli import main

if TYPE_CHECKING:
    from pathlib import Path


@functools.cache
def diabetes() -> pl.DataFrame:
    """Scikit-learn's diabetes data, with two models' out-of-fold predictions."""
    data = load_diabetes(scaled=False)
    x, y = data.data, data.target
    linear = cross_val_predict(LinearRegression(), x, y, cv=5)
    boosted = cross_val_predict(
        GradientBoostingRegressor(random_state=0, n_estimators=60, max_depth=2),
        x,
        y,
        cv=5,
    )
    age = x[:, 0]
    return pl.DataFrame(
        {
            "sex": x[:, 1].astype(np.int64),
            "age_band": np.digitize(age, [35, 45, 55, 65]).astype(np.int64),
            "y": y,
            "linear": linear,
            "boosted": boosted,
            "shuffled": np.random.default_rng(0).permutation(linear),
            "w": np.random.default_rng(1).integers(1, 4, len(y)).astype(float),
        }
    )


def segments(
    df: pl.DataFrame, by: list[str]
) -> list[tuple[dict[str, int], pl.DataFrame]]:
    keys = df.select(by).unique().sort(by)
    out = []
    for key in keys.iter_rows(named=True):
        part = df.filter(*(pl.col(k) == v for k, v in key.items()))
        out.append((key, part))
    return out


def test_p_values_and_intervals_match_scipy_ttest_rel_per_segment() -> None:
    df = diabetes()
    by = ["sex", "age_band"]
    got = polars_l2.compare(df, "y", "linear", ["boosted", "shuffled"], by=by, min_n=2)
    checked = 0
    for model in ("boosted", "shuffled"):
        for key, part in segments(df, by):
            y = part["y"].to_numpy()
            cand = (part[model].to_numpy() - y) ** 2
            base = (part["linear"].to_numpy() - y) ** 2
            ref = stats.ttest_rel(cand, base)
            low, high = ref.confidence_interval(0.95)
            row = got.filter(
                pl.col("model") == model,
                *(pl.col(k) == v for k, v in key.items()),
            ).row(0, named=True)
            assert row["n"] == len(y)
            assert row["loss_diff"] == pytest.approx(np.mean(cand - base), rel=1e-9)
            assert row["mean_loss"] == pytest.approx(np.mean(cand), rel=1e-9)
            assert row["mean_loss_baseline"] == pytest.approx(np.mean(base), rel=1e-9)
            assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
            assert row["loss_diff_low"] == pytest.approx(low, rel=1e-6)
            assert row["loss_diff_high"] == pytest.approx(high, rel=1e-6)
            checked += 1
    assert checked == 2 * 10


def test_the_overall_row_is_the_test_on_every_row() -> None:
    df = diabetes()
    got = polars_l2.compare(df, "y", "linear", "boosted", by="sex")
    overall = got.filter("overall")
    assert overall["sex"].is_null().all()
    whole = polars_l2.compare(df, "y", "linear", "boosted")
    assert_frame_equal(overall.drop("sex"), whole, rel_tol=1e-9)
    y = df["y"].to_numpy()
    ref = stats.ttest_rel(
        (df["boosted"].to_numpy() - y) ** 2, (df["linear"].to_numpy() - y) ** 2
    )
    assert whole["p_value"].item() == pytest.approx(ref.pvalue, rel=1e-6)
    # Not adjusted.
    assert overall["p_value_adjusted"].item() == overall["p_value"].item()


@pytest.mark.parametrize(("adjust", "method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjusted_p_values_match_statsmodels_multipletests(
    adjust: str, method: str
) -> None:
    df = diabetes()
    got = polars_l2.compare(
        df,
        "y",
        "linear",
        ["shuffled", "boosted"],
        by=["sex", "age_band"],
        adjust=adjust,
        min_n=2,
    )
    for model in ("shuffled", "boosted"):
        rows = got.filter(pl.col("model") == model, ~pl.col("overall"))
        assert not rows["small"].any()
        _, want, _, _ = multipletests(rows["p_value"].to_numpy(), method=method)
        np.testing.assert_allclose(
            rows["p_value_adjusted"].to_numpy(), want, rtol=1e-12
        )
    unadjusted = polars_l2.compare(
        df, "y", "linear", "boosted", by="sex", adjust=None, min_n=2
    )
    assert unadjusted["p_value_adjusted"].to_list() == unadjusted["p_value"].to_list()


def test_a_nan_or_infinite_mean_loss_is_the_worse_against_a_finite_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A NaN prediction, propagated, leaves no test; the NaN model is still
    # the worse, so a release gate on the verdict stops it.
    rng = np.random.default_rng(0)
    n = 300
    y = rng.normal(size=n)
    a = y + rng.normal(size=n)
    b = y + 3 * rng.normal(size=n)
    g = np.array(["both", "candidate", "baseline"])[np.arange(n) % 3]
    first = np.arange(n) < 30
    a[first & (g != "candidate")] = np.nan
    b[first & (g != "baseline")] = np.nan
    frame = pl.DataFrame({"y": y, "a": a, "b": b, "g": g})
    table = polars_l2.compare(frame, "y", "a", "b", by="g")
    segments = table.filter(~pl.col("overall"))
    verdicts = dict(segments.select("g", "verdict").iter_rows())
    assert verdicts == {"baseline": "better", "both": None, "candidate": "worse"}
    assert table["p_value"].is_null().all()
    # An infinite prediction too: its mean loss is infinite.
    infinite = frame.with_columns(pl.col("b").fill_nan(np.inf))
    table = polars_l2.compare(infinite, "y", "a", "b", by="g")
    verdicts = dict(table.filter(~pl.col("overall")).select("g", "verdict").iter_rows())
    assert verdicts == {"baseline": "better", "both": None, "candidate": "worse"}
    # A small segment has no verdict, NaN or not.
    small = polars_l2.compare(frame, "y", "a", "b", by="g", min_n=1000)
    assert small["verdict"].is_null().all()
    # The command line's gate fails on it.
    path = tmp_path / "nan.parquet"
    frame.filter(pl.col("g") != "baseline").write_parquet(path)
    args = ["compare", str(path), "--actual", "y", "--baseline", "a"]
    status = main([*args, "--candidate", "b", "--by", "g", "--fail-if-worse"])
    worse = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("polars-l2: worse: ")
    ]
    assert status == 3
    assert len(worse) == 1
    assert worse[0].startswith("polars-l2: worse: model=b, g=candidate,")


def test_small_segments_get_no_verdict_and_are_not_adjusted_for() -> None:
    df = diabetes()
    got = polars_l2.compare(df, "y", "linear", "shuffled", by="age_band", min_n=60)
    rows = got.filter(~pl.col("overall"))
    counts = rows["n"].to_numpy()
    assert rows["small"].to_list() == list(counts < 60)
    small = rows.filter("small")
    assert small.height > 0
    assert small["verdict"].is_null().all()
    assert small["p_value_adjusted"].is_null().all()
    assert small["p_value"].is_not_null().all()
    tested = rows.filter(~pl.col("small"))
    _, want, _, _ = multipletests(tested["p_value"].to_numpy(), method="holm")
    np.testing.assert_allclose(tested["p_value_adjusted"].to_numpy(), want, rtol=1e-12)


def test_verdicts_follow_the_adjusted_p_value_and_the_sign() -> None:
    df = diabetes()
    got = polars_l2.compare(
        df, "y", "linear", ["shuffled", "boosted"], by="sex", confidence=0.95
    )
    for row in got.iter_rows(named=True):
        if row["p_value_adjusted"] < 0.05:
            assert row["verdict"] == ("better" if row["loss_diff"] < 0 else "worse")
        else:
            assert row["verdict"] == "inconclusive"
        assert row["skill"] == pytest.approx(
            1 - row["mean_loss"] / row["mean_loss_baseline"]
        )
    # A permuted prediction is far worse than the model it came from.
    assert set(got.filter(pl.col("model") == "shuffled")["verdict"]) == {"worse"}


def test_cluster_p_value_matches_statsmodels_cluster_robust_ols() -> None:
    df = diabetes().with_columns(day=pl.int_range(pl.len()) // 7)
    got = polars_l2.compare(df, "y", "linear", "boosted", by="sex", cluster="day")
    for key, part in [*segments(df, ["sex"]), ({}, df)]:
        y = part["y"].to_numpy()
        d = (part["boosted"].to_numpy() - y) ** 2 - (part["linear"].to_numpy() - y) ** 2
        groups = part["day"].to_numpy()
        fit = OLS(d, np.ones((len(d), 1))).fit(
            cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
        )
        row = got.filter(
            pl.col("overall") if not key else pl.col("sex") == key["sex"]
        ).row(0, named=True)
        assert row["clusters"] == len(np.unique(groups))
        assert row["p_value"] == pytest.approx(float(fit.pvalues[0]), rel=1e-6)
        low, high = fit.conf_int(0.05)[0]
        assert row["loss_diff_low"] == pytest.approx(low, rel=1e-6)
        assert row["loss_diff_high"] == pytest.approx(high, rel=1e-6)


def test_weighted_comparison_with_kish_uses_the_effective_size() -> None:
    df = diabetes()
    got = polars_l2.compare(df, "y", "linear", "boosted", weight="w", variance="kish")
    y, w = df["y"].to_numpy(), df["w"].to_numpy()
    d = (df["boosted"].to_numpy() - y) ** 2 - (df["linear"].to_numpy() - y) ** 2
    mean = np.average(d, weights=w)
    spread = np.average((d - mean) ** 2, weights=w)
    size = w.sum() ** 2 / np.sum(w**2)
    se = math.sqrt(spread / (size - 1))
    p = 2 * stats.t.sf(abs(mean / se), size - 1)
    row = got.row(0, named=True)
    assert row["loss_diff"] == pytest.approx(mean, rel=1e-9)
    assert row["p_value"] == pytest.approx(p, rel=1e-6)
    assert row["loss_diff_high"] - row["loss_diff"] == pytest.approx(
        stats.t.ppf(0.975, size - 1) * se, rel=1e-6
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_merged_states_of_random_chunks_compare_as_the_whole_frame(
    weighted: bool,
) -> None:
    df = diabetes()
    rng = np.random.default_rng(7)
    cuts = np.sort(rng.choice(np.arange(1, df.height), 4, replace=False))
    edges = [0, *cuts.tolist(), df.height]
    parts = [df[lo:hi] for lo, hi in itertools.pairwise(edges)]
    weight = "w" if weighted else None
    models = ["linear", "boosted", "shuffled"]
    states = [
        polars_l2.state(
            part, "y", models, by=["sex", "age_band"], weight=weight, baseline="linear"
        )
        for part in parts
    ]
    merged = polars_l2.merge_states(states)
    candidates = ["boosted", "shuffled"]
    by = ["sex", "age_band"]
    from_state = polars_l2.compare(merged, None, "linear", candidates, by=by, min_n=5)
    whole = polars_l2.compare(
        df, "y", "linear", candidates, by=by, weight=weight, min_n=5
    )
    assert_frame_equal(from_state, whole, rel_tol=1e-9, abs_tol=1e-12)


def test_lazy_and_eager_namespaces_give_the_same_dataframe() -> None:
    df = diabetes()
    eager = df.l2.compare("y", "linear", "boosted", by="sex")  # type: ignore[attr-defined]
    lazy = df.lazy().l2.compare("y", "linear", "boosted", by="sex")  # type: ignore[attr-defined]
    assert isinstance(lazy, pl.DataFrame)
    assert_frame_equal(eager, lazy)
    assert_frame_equal(eager, polars_l2.compare(df, "y", "linear", "boosted", by="sex"))


def test_columns_and_dtypes() -> None:
    got = polars_l2.compare(diabetes(), "y", "linear", "boosted", by="sex")
    assert got.schema == pl.Schema(
        {
            "model": pl.String,
            "baseline": pl.String,
            "sex": pl.Int64,
            "loss": pl.String,
            "overall": pl.Boolean,
            "n": pl.Int64,
            "small": pl.Boolean,
            "mean_loss": pl.Float64,
            "mean_loss_baseline": pl.Float64,
            "loss_diff": pl.Float64,
            "loss_diff_low": pl.Float64,
            "loss_diff_high": pl.Float64,
            "skill": pl.Float64,
            "p_value": pl.Float64,
            "p_value_adjusted": pl.Float64,
            "verdict": pl.String,
        }
    )
    assert got["baseline"].unique().to_list() == ["linear"]


def test_pairs_count_only_rows_where_both_models_and_the_actual_are_present() -> None:
    df = pl.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, None, 5.0],
            "a": [1.5, None, 3.5, 4.0, 5.5],
            "b": [1.0, 2.0, None, 4.0, 5.0],
        }
    )
    row = polars_l2.compare(df, "y", "a", "b", min_n=1).row(0, named=True)
    assert row["n"] == 2
    assert row["mean_loss_baseline"] == pytest.approx(0.25)
    assert row["mean_loss"] == 0.0
    assert row["loss_diff"] == pytest.approx(-0.25)


def test_bad_arguments_are_refused() -> None:
    df = diabetes()
    with pytest.raises(polars_l2.L2InputError, match="adjust must be"):
        polars_l2.compare(df, "y", "linear", "boosted", adjust="bonferroni")
    with pytest.raises(polars_l2.L2InputError, match="min_n must be"):
        polars_l2.compare(df, "y", "linear", "boosted", min_n=-1)
    with pytest.raises(polars_l2.L2InputError, match="confidence must be"):
        polars_l2.compare(df, "y", "linear", "boosted", confidence=1.5)
    with pytest.raises(polars_l2.L2InputError, match="other than the baseline"):
        polars_l2.compare(df, "y", "linear", ["linear"])
    with pytest.raises(polars_l2.L2InputError, match="'nope' not found"):
        polars_l2.compare(df, "y", "linear", "nope")
    plain = polars_l2.state(df, "y", ["linear", "boosted"])
    with pytest.raises(polars_l2.L2InputError, match="baseline='linear'"):
        polars_l2.compare(plain, None, "linear", "boosted")
    paired = polars_l2.state(df, "y", ["linear", "boosted"], baseline="linear")
    with pytest.raises(polars_l2.L2InputError, match="no model 'shuffled'"):
        polars_l2.compare(paired, None, "linear", "shuffled")
    with pytest.raises(polars_l2.L2InputError, match="cluster= needs the rows"):
        polars_l2.compare(paired, None, "linear", "boosted", cluster="sex")
    with pytest.raises(polars_l2.L2InputError, match="different baselines"):
        polars_l2.merge_states([plain, paired])
    with pytest.raises(polars_l2.L2InputError, match="baseline must be None or one"):
        polars_l2.state(df, "y", ["linear", "boosted"], baseline="shuffled")

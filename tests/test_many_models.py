"""The long formulation of the moments (many models) against the references.

:func:`polars_l2._core.moments.long_moments` groups the counted rows long
from :data:`~polars_l2._core.moments.LONG_FROM` models on. These tests force
it for a few models, and check it against the same independent references as
the wide formulation, and the state's paired moments against numpy. The
histograms of the top-1% share are grouped long beyond
:data:`~polars_l2._core.top_share.PER_MODEL_UP_TO` models, and forced so too.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import polars_l2
from polars_l2._core import moments, top_share
from tests.report_reference import reference_report
from tests.test_report import assert_matches_reference, random_data


@pytest.fixture
def long_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the long formulations (moments, histograms) for any number of models."""
    monkeypatch.setattr(moments, "LONG_FROM", 1)
    monkeypatch.setattr(top_share, "PER_MODEL_UP_TO", 0)


@pytest.mark.usefixtures("long_first")
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("by", [["region"], []])
def test_long_report_matches_the_references(*, weighted: bool, by: list[str]) -> None:
    df = random_data(4)
    weight = "w" if weighted else None
    got = polars_l2.report(df, "y", ["good", "bad"], by=by or None, weight=weight)
    want = reference_report(df, "y", ["good", "bad"], by=by, weight=weight)
    if by:
        assert_matches_reference(got, want)
    else:
        assert got["n"].to_list() == want["n"].to_list()
        for name in ("mse", "mae", "bias", "r2", "rmse_low", "max_error"):
            np.testing.assert_allclose(
                got[name].to_numpy(), want[name].to_numpy(), rtol=1e-9
            )


@pytest.mark.usefixtures("long_first")
@pytest.mark.parametrize("weighted", [False, True])
def test_long_paired_moments_match_numpy(*, weighted: bool) -> None:
    df = random_data(5).with_columns(pl.col("good").alias("other"))
    weight = "w" if weighted else None
    state = polars_l2.state(
        df, "y", ["good", "bad", "other"], by="region", weight=weight, baseline="good"
    )
    assert state.filter(pl.col("model") == "good")["paired_n"].null_count() == len(
        state.filter(pl.col("model") == "good")
    )
    assert set(state["baseline"].to_list()) == {"good"}
    for row in state.filter(pl.col("model") != "good").iter_rows(named=True):
        region = pl.col("region")
        part = df.filter(
            region.is_null() if row["region"] is None else region == row["region"]
        ).drop_nulls(["y", "good", row["model"], *([weight] if weight else [])])
        y = part["y"].to_numpy()
        base = (part["good"].to_numpy() - y) ** 2
        cand = (part[row["model"]].to_numpy() - y) ** 2
        w = np.ones(len(y)) if weight is None else part[weight].to_numpy()
        assert row["paired_n"] == len(y)
        assert row["paired_weight_sum"] == pytest.approx(w.sum(), rel=1e-12)
        d = cand - base
        mean = np.average(d, weights=w)
        assert row["sq_error_diff_mean"] == pytest.approx(mean, rel=1e-9, abs=1e-9)
        m2 = float(np.sum(w * (d - mean) ** 2))
        assert row["sq_error_diff_m2"] == pytest.approx(m2, rel=1e-9, abs=1e-6)
        assert row["paired_baseline_sq_error_mean"] == pytest.approx(
            np.average(base, weights=w), rel=1e-9
        )


def test_long_and_wide_states_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    df = random_data(6)
    models = ["good", "bad"]
    wide = polars_l2.state(df, "y", models, by="region", weight="w", baseline="bad")
    monkeypatch.setattr(moments, "LONG_FROM", 1)
    long = polars_l2.state(df, "y", models, by="region", weight="w", baseline="bad")
    assert long.columns == wide.columns
    assert long.schema == wide.schema
    for name, dtype in wide.schema.items():
        if dtype == pl.Float64:
            np.testing.assert_allclose(
                long[name].to_numpy(), wide[name].to_numpy(), rtol=1e-12, atol=1e-12
            )
        elif dtype != pl.List:
            assert long[name].to_list() == wide[name].to_list(), name


@pytest.mark.parametrize("weight", [None, "w"])
def test_long_and_per_model_histograms_agree(
    monkeypatch: pytest.MonkeyPatch, weight: str | None
) -> None:
    df = random_data(7).with_columns(pl.col("y").alias("exact"))
    models = ["good", "bad", "exact"]  # "exact" has only zero errors

    def bins() -> pl.DataFrame:
        state = polars_l2.state(df, "y", models, by="region", weight=weight)
        return (
            state.select("model", "region", top_share.HISTOGRAM)
            .explode(top_share.HISTOGRAM)
            .unnest(top_share.HISTOGRAM)
            .sort("model", "region", "bin")
        )

    per_model = bins()
    monkeypatch.setattr(top_share, "PER_MODEL_UP_TO", 0)
    long = bins()
    assert per_model.height > 3 * df["region"].n_unique()  # several bins each
    assert long.drop("weight", "sum").equals(per_model.drop("weight", "sum"))
    for name in ("weight", "sum"):
        np.testing.assert_allclose(long[name], per_model[name], rtol=1e-12)

"""The CORP decomposition against model-diagnostics, with and without bins."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import polars as pl
import pytest
from model_diagnostics.scoring import PinballLoss, SquaredError
from model_diagnostics.scoring import decompose as reference_decompose

import polars_l2
from polars_l2 import _decompose
from polars_l2.plot import reliability_curve
from tests import real_data

PARTS = ("miscalibration", "discrimination", "uncertainty", "score")
DATASETS = {
    "randhie": real_data.randhie,
    "fair": real_data.fair,
    "diabetes": real_data.diabetes,
}
Loss = Literal["squared", "absolute"]


def _reference(
    frame: pl.DataFrame, model: str, loss: Loss, weights: np.ndarray | None = None
) -> dict[str, float]:
    # The pinball loss at 1/2 is half the absolute error.
    scoring, factor = (
        (SquaredError(), 1.0) if loss == "squared" else (PinballLoss(level=0.5), 2.0)
    )
    table = reference_decompose(
        frame["y"].to_numpy(),
        frame[model].to_numpy(),
        weights,
        scoring_function=scoring,
    )
    return {part: factor * table[part][0] for part in PARTS}


@pytest.mark.parametrize("loss", ["squared", "absolute"])
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_with_a_bin_per_distinct_prediction_it_matches_model_diagnostics(
    name: str, loss: Loss
) -> None:
    frame = DATASETS[name]()
    ours = polars_l2.decompose(frame, "y", ["mean", "median"], loss=loss)
    assert ours["bound"].to_list() == [0.0, 0.0]
    for row in ours.iter_rows(named=True):
        want = _reference(frame, row["model"], loss)
        for part in PARTS:
            assert abs(row[part] - want[part]) <= 1e-9, (part, row[part], want[part])


def test_weighted_squared_error_matches_model_diagnostics() -> None:
    frame = real_data.fair().with_columns(
        w=pl.Series(np.random.default_rng(5).uniform(0.2, 4.0, 6366))
    )
    ours = polars_l2.decompose(frame, "y", "mean", weight="w")
    want = _reference(frame, "mean", "squared", frame["w"].to_numpy())
    for part in PARTS:
        assert ours[part][0] == pytest.approx(want[part], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("loss", ["squared", "absolute"])
def test_the_parts_add_up_to_the_score_which_is_the_report_s(loss: Loss) -> None:
    frame = real_data.randhie()
    ours = polars_l2.decompose(frame, "y", ["mean", "median"], by="idp", loss=loss)
    added = ours["miscalibration"] - ours["discrimination"] + ours["uncertainty"]
    np.testing.assert_allclose(added.to_numpy(), ours["score"].to_numpy(), rtol=1e-12)
    report = polars_l2.report(frame, "y", ["mean", "median"], by="idp")
    metric = "mse" if loss == "squared" else "mae"
    np.testing.assert_allclose(
        ours["score"].to_numpy(), report[metric].to_numpy(), rtol=1e-12
    )


@pytest.mark.parametrize("loss", ["squared", "absolute"])
@pytest.mark.parametrize("bins", [5, 40, 400])
def test_with_bins_every_part_is_within_the_stated_bound(loss: Loss, bins: int) -> None:
    frame = real_data.randhie()
    exact = polars_l2.decompose(frame, "y", ["mean", "median"], loss=loss)
    binned = polars_l2.decompose(frame, "y", ["mean", "median"], loss=loss, bins=bins)
    bound = binned["bound"].to_numpy()
    assert (bound > 0).all()
    np.testing.assert_allclose(binned["score"], exact["score"], rtol=1e-12)
    for part in PARTS[:3]:
        error = np.abs(binned[part].to_numpy() - exact[part].to_numpy())
        assert (error <= bound * (1 + 1e-9)).all(), (part, error, bound)


def test_given_edges_bin_the_predictions() -> None:
    frame = real_data.diabetes()
    edges = [100.0, 150.0, 200.0]
    curve = reliability_curve(frame, "y", "mean", bins=edges)
    assert curve.height == 4
    z = frame["mean"].to_numpy()
    counts = np.bincount(np.searchsorted(edges, z, side="left"), minlength=4)
    np.testing.assert_array_equal(curve["weight"].to_numpy(), counts)


def test_per_segment_equals_the_segment_alone() -> None:
    frame = real_data.fair()
    both = polars_l2.decompose(frame, "y", "mean", by="has_children", loss="absolute")
    for row in both.iter_rows(named=True):
        alone = polars_l2.decompose(
            frame.filter(pl.col("has_children") == row["has_children"]),
            "y",
            "mean",
            loss="absolute",
        )
        for part in PARTS:
            assert row[part] == pytest.approx(alone[part][0], rel=1e-12)


@pytest.mark.parametrize("loss", ["squared", "absolute"])
def test_the_reliability_fit_is_monotone_and_its_bins_hold_every_row(
    loss: Loss,
) -> None:
    frame = real_data.randhie()
    curve = reliability_curve(frame, "y", ["mean", "median"], by="idp", loss=loss)
    for (_, _), rows in curve.group_by("model", "idp"):
        assert (np.diff(rows["fit"].to_numpy()) >= 0).all()
        assert (np.diff(rows["predicted"].to_numpy()) > 0).all()
    assert curve["weight"].sum() == 2 * frame.height


def test_an_exact_absolute_table_too_large_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_decompose, "MAX_CELLS", 10)
    with pytest.raises(polars_l2.L2InputError, match="pass bins="):
        polars_l2.decompose(real_data.diabetes(), "y", "mean", loss="absolute")


def test_no_rows_and_negative_weights_give_null_parts() -> None:
    frame = pl.DataFrame(
        {"y": [1.0, 2.0, 3.0], "z": [1.0, 2.5, 2.0], "w": [1.0, -1.0, 1.0]}
    )
    weighted = polars_l2.decompose(frame, "y", "z", weight="w")
    assert weighted.select(PARTS).row(0) == (None,) * 4
    # No rows: the model's row, with n 0, as the report gives it.
    empty = polars_l2.decompose(frame.clear(), "y", "z")
    assert empty.select("model", "n").rows() == [("z", 0)]
    assert empty.select(PARTS).row(0) == (None,) * 4
    assert polars_l2.report(frame.clear(), "y", "z")["n"].to_list() == [0]


@pytest.mark.parametrize("loss", ["squared", "absolute"])
@pytest.mark.parametrize("bins", [None, 2])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_nan_or_infinite_weight_gives_nan_parts_as_the_report_gives_nan(
    loss: Literal["squared", "absolute"], bins: int | None, bad: float
) -> None:
    # Null says no data counted; NaN that a counted value is NaN. A NaN (or
    # infinite) weight is counted, so every part is NaN, as the report's MSE
    # and MAE, without numpy's warnings (errors in the tests).
    frame = pl.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "z": [1.0, 2.5, 2.0, 5.0, 4.0, 7.0],
            "w": [1.0, bad, 2.0, 1.0, 1.0, 1.0],
        }
    )
    parts = polars_l2.decompose(frame, "y", "z", weight="w", loss=loss, bins=bins)
    report = polars_l2.report(frame, "y", "z", weight="w")
    assert math.isnan(report["mse"].item())
    assert math.isnan(report["mae"].item())
    assert parts["n"].to_list() == [6]
    assert all(math.isnan(value) for value in parts.select(PARTS).row(0))


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"loss": "huber"}, "loss must be 'squared' or 'absolute'"),
        ({"bins": 0}, "bins must be None, a number of bins"),
        ({"bins": [1.0, 1.0]}, "bins must be strictly increasing"),
    ],
)
def test_bad_options_are_refused_naming_the_function(
    options: dict[str, object], pattern: str
) -> None:
    with pytest.raises(polars_l2.L2InputError, match=f"polars_l2.decompose: {pattern}"):
        polars_l2.decompose(real_data.diabetes(), "y", "mean", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("by", [None, "g"])
def test_every_model_has_a_row_in_every_segment_as_in_the_report(
    by: str | None,
) -> None:
    df = pl.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 5.0],
            "p": [None, None, None, None],
            "q": [1.0, 2.5, 2.0, 4.0],
            "g": ["a", "b", "b", "b"],
            "w": [0.0, 1.0, 1.0, 2.0],
        },
        schema_overrides={"p": pl.Float64},
    )
    got = polars_l2.decompose(df, "y", ["p", "q"], by=by, weight="w")
    report = polars_l2.report(df, "y", ["p", "q"], by=by, weight="w")
    keys = ["model", *([by] if by else [])]
    assert got.select(*keys, "n").rows() == report.select(*keys, "n").rows()
    empty = got.filter(pl.col("n") == 0)
    assert empty.height == (3 if by else 1)
    assert empty.drop(*keys, "n").null_count().row(0) == (empty.height,) * 5

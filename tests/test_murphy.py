"""Murphy diagrams: elementary scores against model-diagnostics, integrals, states."""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
import pytest
from model_diagnostics.scoring import ElementaryScore
from scipy import stats

import polars_l2
from tests import real_data

DATASETS = {"randhie": real_data.randhie, "fair": real_data.fair}
Functional = Literal["mean", "median"]


@pytest.mark.parametrize("functional", ["mean", "median"])
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_elementary_scores_match_model_diagnostics_at_every_theta(
    name: str, functional: Functional
) -> None:
    frame = DATASETS[name]()
    table = polars_l2.murphy(
        frame, "y", ["mean", "median"], functional=functional, thetas=60
    )
    y = frame["y"].to_numpy()
    worst = 0.0
    for row in table.iter_rows(named=True):
        score = ElementaryScore(row["theta"], functional=functional)
        reference = score(y, frame[row["model"]].to_numpy())
        worst = max(worst, abs(reference - row["score"]))
    assert table.height > 2 * 30
    assert worst <= 1e-12


@pytest.mark.parametrize("functional", ["mean", "median"])
def test_weighted_elementary_scores_match_model_diagnostics(
    functional: Functional,
) -> None:
    frame = real_data.fair().with_columns(
        w=pl.Series(np.random.default_rng(3).uniform(0.1, 3.0, 6366))
    )
    thetas = [0.0, 0.5, 1.0, 2.0, 5.0]
    table = polars_l2.murphy(
        frame, "y", "median", weight="w", functional=functional, thetas=thetas
    )
    for row in table.iter_rows(named=True):
        reference = ElementaryScore(row["theta"], functional=functional)(
            frame["y"].to_numpy(), frame["median"].to_numpy(), frame["w"].to_numpy()
        )
        assert row["score"] == pytest.approx(reference, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("functional", "metric"), [("mean", "mse"), ("median", "mae")])
def test_the_curve_integrates_to_half_the_loss(
    functional: Functional, metric: str
) -> None:
    # Between consecutive values of y and z the curve is linear (mean) or
    # constant (median): the midpoint rule on those pieces is exact.
    frame = real_data.diabetes().head(150)
    points = np.unique(np.concatenate([frame["y"], frame["mean"]]))
    mids = (points[1:] + points[:-1]) / 2
    table = polars_l2.murphy(
        frame, "y", "mean", functional=functional, thetas=mids.tolist()
    )
    integral = float(np.sum(table["score"].to_numpy() * np.diff(points)))
    report = polars_l2.report(frame, "y", "mean")
    assert 2 * integral == pytest.approx(report[metric][0], rel=1e-12)


def _chunks(frame: pl.DataFrame, parts: int) -> list[pl.DataFrame]:
    size = -(-frame.height // parts)
    return [frame.slice(i * size, size) for i in range(parts)]


@pytest.mark.parametrize("weighted", [False, True])
def test_merged_states_give_the_curves_of_the_whole_frame(weighted: bool) -> None:
    frame = real_data.randhie().with_columns(w=(pl.col("idp") + 0.5))
    weight = "w" if weighted else None
    thetas = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0]
    states = [
        polars_l2.state(
            part,
            "y",
            ["mean", "median"],
            by="idp",
            weight=weight,
            murphy="median",
            thetas=thetas,
            baseline="mean",
        )
        for part in _chunks(frame, 4)
    ]
    merged = polars_l2.merge_states(states)
    got = polars_l2.murphy(merged, None, None, functional="median", baseline="mean")
    want = polars_l2.murphy(
        frame,
        "y",
        ["mean", "median"],
        by="idp",
        weight=weight,
        functional="median",
        thetas=thetas,
        baseline="mean",
    )
    assert got.columns == want.columns
    assert got.select("model", "idp", "theta", "dominance").equals(
        want.select("model", "idp", "theta", "dominance")
    )
    for name in ("score", "score_diff", "score_diff_low", "score_diff_high"):
        np.testing.assert_allclose(
            got[name].to_numpy(), want[name].to_numpy(), rtol=1e-9, atol=1e-12
        )


def test_the_paired_difference_and_its_interval_are_the_paired_t_test() -> None:
    frame = real_data.randhie()
    theta = 2.0
    table = polars_l2.murphy(
        frame, "y", "median", functional="mean", thetas=[theta], baseline="mean"
    )
    y = frame["y"].to_numpy()
    d = ElementaryScore(theta).score_per_obs(y, frame["median"].to_numpy())
    d = d - ElementaryScore(theta).score_per_obs(y, frame["mean"].to_numpy())
    half = stats.t.ppf(0.975, d.size - 1) * stats.sem(d)
    row = table.row(0, named=True)
    assert row["score_diff"] == pytest.approx(d.mean(), rel=1e-12)
    assert row["score_diff_low"] == pytest.approx(d.mean() - half, rel=1e-9)
    assert row["score_diff_high"] == pytest.approx(d.mean() + half, rel=1e-9)


def _verdicts(table: pl.DataFrame) -> dict[str, str]:
    return dict(table.group_by("model").agg(pl.col("dominance").first()).rows())


def test_a_perfect_model_dominates_and_the_curves_can_cross() -> None:
    frame = real_data.randhie().with_columns(perfect=pl.col("y"))
    models = ["perfect", "median"]
    table = polars_l2.murphy(frame, "y", models, thetas=20, baseline="mean")
    assert "mean" not in _verdicts(table)
    assert _verdicts(table)["perfect"] == "better"
    d = table.filter(pl.col("model") == "median")["score_diff"]
    assert _verdicts(table)["median"] == ("worse" if (d >= 0).all() else "crossing")
    medians = polars_l2.murphy(
        frame, "y", models, functional="median", thetas=20, baseline="mean"
    )
    assert _verdicts(medians) == {"perfect": "better", "median": "crossing"}


def test_nan_propagates_and_omit_leaves_it_out() -> None:
    frame = pl.DataFrame({"y": [1.0, 2.0, 3.0], "z": [1.5, float("nan"), 2.0]})
    spread = polars_l2.murphy(frame, "y", "z", thetas=[1.2, 2.5])
    assert spread["score"].is_nan().all()
    omitted = polars_l2.murphy(frame, "y", "z", thetas=[1.2, 2.5], nan_policy="omit")
    clean = polars_l2.murphy(
        frame.drop_nulls().slice(0, 1).vstack(frame[2:]), "y", "z", thetas=[1.2, 2.5]
    )
    assert omitted["score"].to_list() == clean["score"].to_list()


def test_states_of_different_grids_or_functionals_are_refused() -> None:
    frame = real_data.diabetes()
    one = polars_l2.state(frame, "y", "mean", murphy="mean", thetas=[100.0, 200.0])
    other = polars_l2.state(frame, "y", "mean", murphy="mean", thetas=[100.0, 250.0])
    median = polars_l2.state(frame, "y", "mean", murphy="median", thetas=[100.0, 200.0])
    for pair in ([one, other], [one, median]):
        with pytest.raises(polars_l2.L2InputError, match="different Murphy grids"):
            polars_l2.merge_states(pair)
    plain = polars_l2.state(frame, "y", "mean")
    assert polars_l2.merge_states([one, plain])["murphy_theta"].is_null().all()


def test_a_state_without_curves_or_of_another_functional_is_refused() -> None:
    frame = real_data.diabetes()
    plain = polars_l2.state(frame, "y", "mean")
    with pytest.raises(polars_l2.L2InputError, match="no Murphy curves"):
        polars_l2.murphy(plain, None, None)
    median = polars_l2.state(frame, "y", "mean", murphy="median", thetas=4)
    with pytest.raises(polars_l2.L2InputError, match="pass functional='median'"):
        polars_l2.murphy(median, None, None)
    assert polars_l2.murphy(median, None, None, functional="median").height == 4


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"functional": "mode"}, "functional must be 'mean' or 'median'"),
        ({"thetas": [2.0, 1.0]}, "thetas must be strictly increasing"),
        ({"thetas": 1}, "thetas must be None, a number of points"),
        ({"thetas": [1.0, float("inf")]}, "thetas must be finite numbers"),
        ({"baseline": "mean"}, "predicted must name a model besides the baseline"),
    ],
)
def test_bad_options_are_refused_naming_the_function(
    options: dict[str, object], pattern: str
) -> None:
    with pytest.raises(polars_l2.L2InputError, match=f"polars_l2.murphy: {pattern}"):
        polars_l2.murphy(real_data.diabetes(), "y", "mean", **options)  # type: ignore[arg-type]


def test_a_grid_chosen_from_the_data_spans_actual_and_predictions() -> None:
    frame = real_data.diabetes()
    table = polars_l2.murphy(frame, "y", ["mean", "median"], thetas=11)
    thetas = table.filter(pl.col("model") == "mean")["theta"].to_numpy()
    pooled = np.concatenate([frame["y"], frame["mean"], frame["median"]])
    quantiles = np.unique(np.quantile(pooled, np.linspace(0, 1, 12)))
    np.testing.assert_allclose(thetas, (quantiles[1:] + quantiles[:-1]) / 2)


def test_vector_targets_are_refused_with_murphy() -> None:
    frame = pl.DataFrame(
        {"y": [[1.0, 2.0], [3.0, 4.0]], "z": [[1.5, 2.0], [3.0, 3.0]]},
        schema={"y": pl.Array(pl.Float64, 2), "z": pl.Array(pl.Float64, 2)},
    )
    pattern = r"a Murphy diagram takes scalar targets, not vectors \(Array or List"
    with pytest.raises(polars_l2.L2InputError, match=pattern):
        polars_l2.state(frame, "y", "z", murphy="mean", thetas=[1.0])
    # Said of the function called, without a keyword the caller did not pass.
    with pytest.raises(polars_l2.L2InputError) as raised:
        polars_l2.murphy(frame, "y", "z", thetas=[1.0])
    assert str(raised.value).startswith("polars_l2.murphy: a Murphy diagram takes")
    assert "murphy=" not in str(raised.value)


@pytest.mark.parametrize("baseline", [None, "q"])
def test_a_segment_without_counted_rows_has_null_scores_not_an_error(
    baseline: str | None,
) -> None:
    df = pl.DataFrame(
        {
            "g": ["a", "b", "a", "b"],
            "y": [1.0, 2.0, 3.0, 4.0],
            "p": [1.5, None, 2.0, None],
            "q": [1.0, 2.0, 3.5, 4.5],
        }
    )
    models = ["q", "p"] if baseline else ["p"]
    got = polars_l2.murphy(
        df, "y", models, by="g", thetas=[1.2, 1.7], baseline=baseline
    )
    b = got.filter(pl.col("g") == "b")
    assert b.height == 2  # one row per θ, as for segment a
    assert b["score"].null_count() == 2
    a = got.filter(pl.col("g") == "a")
    assert a["score"].null_count() == 0
    # With no rows at all, every θ is there, with a null score.
    empty = polars_l2.murphy(df.clear(), "y", "p", thetas=[1.2, 1.7])
    assert empty["theta"].to_list() == [1.2, 1.7]
    assert empty["score"].null_count() == 2

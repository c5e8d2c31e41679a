"""polars_l2.compare under the absolute and Huber losses, against scipy."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import special, stats

import polars_l2
from tests.test_compare import diabetes, segments

if TYPE_CHECKING:
    from collections.abc import Callable

    from polars_l2.typing import Loss

DELTA = 40.0

LOSSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "squared": np.square,
    "absolute": np.abs,
    "huber": lambda e: special.huber(DELTA, e),
}


@pytest.mark.parametrize("loss", ["absolute", "huber"])
def test_p_values_and_intervals_match_scipy_ttest_rel_on_per_row_losses(
    loss: str,
) -> None:
    df = diabetes()
    by = ["sex", "age_band"]
    got = polars_l2.compare(
        df,
        "y",
        "linear",
        ["boosted", "shuffled"],
        by=by,
        loss=loss,  # type: ignore[arg-type]
        huber_delta=DELTA if loss == "huber" else None,
        min_n=2,
    )
    assert set(got["loss"]) == {loss}
    of = LOSSES[loss]
    worst = 0.0
    for model in ("boosted", "shuffled"):
        for key, part in [*segments(df, by), ({}, df)]:
            y = part["y"].to_numpy()
            cand, base = (
                of(part[model].to_numpy() - y),
                of(part["linear"].to_numpy() - y),
            )
            ref = stats.ttest_rel(cand, base)
            low, high = ref.confidence_interval(0.95)
            match = pl.col("overall") if not key else ~pl.col("overall")
            row = got.filter(
                pl.col("model") == model,
                match,
                *(pl.col(k) == v for k, v in key.items()),
            ).row(0, named=True)
            assert row["n"] == len(y)
            for name, want in (
                ("mean_loss", cand.mean()),
                ("mean_loss_baseline", base.mean()),
                ("loss_diff", np.mean(cand - base)),
                ("p_value", ref.pvalue),
                ("loss_diff_low", low),
                ("loss_diff_high", high),
            ):
                assert row[name] == pytest.approx(want, rel=1e-9, abs=1e-12), name
                worst = max(worst, abs(row[name] - want) / max(abs(want), 1e-300))
    # The figure the closing note quotes.
    print(f"{loss}: largest relative difference from scipy {worst:.1e}")


def test_huber_loss_is_scipys_with_its_delta() -> None:
    e = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 10.0])
    df = pl.DataFrame({"y": np.zeros(len(e)), "zero": np.zeros(len(e)), "p": e})
    for delta in (0.5, 1.0, 3.0):
        row = polars_l2.compare(
            df, "y", "zero", "p", loss="huber", huber_delta=delta, min_n=1
        ).row(0, named=True)
        assert row["mean_loss"] == pytest.approx(special.huber(delta, e).mean())
        assert row["mean_loss_baseline"] == 0.0


def test_several_losses_give_one_block_each_in_the_order_asked() -> None:
    df = diabetes()
    asked = ["absolute", "squared", "huber"]
    got = polars_l2.compare(
        df,
        "y",
        "linear",
        ["boosted", "shuffled"],
        by="sex",
        loss=asked,  # type: ignore[arg-type]
        huber_delta=DELTA,
    )
    assert got["loss"].unique(maintain_order=True).to_list() == asked
    for loss in asked:
        alone = polars_l2.compare(
            df,
            "y",
            "linear",
            ["boosted", "shuffled"],
            by="sex",
            loss=loss,  # type: ignore[arg-type]
            huber_delta=DELTA if loss == "huber" else None,
        )
        block = got.filter(pl.col("loss") == loss).drop("losses_agree")
        assert_frame_equal(block, alone)


def test_losses_agree_says_whether_the_verdicts_are_the_same() -> None:
    # A few large errors decide L2: the candidate is better on most rows,
    # and far worse on one in twenty.
    rng = np.random.default_rng(3)
    n = 2000
    y = rng.normal(0, 1, n)
    base = y + rng.normal(0, 1.0, n)
    cand = y + rng.normal(0, 0.3, n)
    cand[::20] += 8.0
    df = pl.DataFrame({"y": y, "base": base, "cand": cand, "g": np.arange(n) % 2})
    got = polars_l2.compare(
        df, "y", "base", "cand", by="g", loss=["squared", "absolute"]
    )
    overall = got.filter("overall")
    assert overall.filter(pl.col("loss") == "squared")["verdict"].item() == "worse"
    assert overall.filter(pl.col("loss") == "absolute")["verdict"].item() == "better"
    assert overall["losses_agree"].to_list() == [False, False]
    for (g,), rows in got.filter(~pl.col("overall")).group_by(["g"]):
        verdicts = rows["verdict"].to_list()
        want = None if None in verdicts else len(set(verdicts)) == 1
        assert rows["losses_agree"].to_list() == [want] * 2, g
    one = polars_l2.compare(df, "y", "base", "cand", by="g")
    assert "losses_agree" not in one.columns


def test_small_segments_have_no_agreement() -> None:
    df = diabetes()
    got = polars_l2.compare(
        df, "y", "linear", "boosted", by="age_band", loss=["squared", "absolute"],
        min_n=60,
    )  # fmt: skip
    small = got.filter("small")
    assert small.height > 0
    assert small["losses_agree"].is_null().all()


@pytest.mark.parametrize("weighted", [False, True])
def test_merged_states_of_every_loss_compare_as_the_whole_frame(
    *, weighted: bool
) -> None:
    df = diabetes()
    rng = np.random.default_rng(11)
    cuts = np.sort(rng.choice(np.arange(1, df.height), 5, replace=False))
    edges = [0, *cuts.tolist(), df.height]
    weight = "w" if weighted else None
    losses = ["squared", "absolute", "huber"]
    by = ["sex", "age_band"]
    states = [
        polars_l2.state(
            df[lo:hi],
            "y",
            ["linear", "boosted", "shuffled"],
            by=by,
            weight=weight,
            baseline="linear",
            loss=losses,  # type: ignore[arg-type]
            huber_delta=DELTA,
        )
        for lo, hi in itertools.pairwise(edges)
    ]
    merged = polars_l2.merge_states(states)
    options = {"loss": losses, "min_n": 5}
    from_state = polars_l2.compare(
        merged,
        None,
        "linear",
        ["boosted", "shuffled"],
        **options,  # type: ignore[arg-type]
    )
    whole = polars_l2.compare(
        df, "y", "linear", ["boosted", "shuffled"], by=by, weight=weight,
        huber_delta=DELTA, **options,  # type: ignore[arg-type]
    )  # fmt: skip
    assert_frame_equal(from_state, whole, rel_tol=1e-9, abs_tol=1e-12)
    # One loss of the state at a time, Huber's delta from the state.
    huber = polars_l2.compare(merged, None, "linear", "boosted", loss="huber")
    assert_frame_equal(
        huber,
        polars_l2.compare(
            df, "y", "linear", "boosted", by=by, weight=weight, loss="huber",
            huber_delta=DELTA,
        ),
        rel_tol=1e-9,
        abs_tol=1e-12,
    )  # fmt: skip


def test_a_state_keeps_only_the_losses_asked_for() -> None:
    df = diabetes()
    state = polars_l2.state(
        df, "y", ["linear", "boosted"], baseline="linear", loss="absolute"
    )
    assert state["paired_losses"].to_list() == ["absolute", "absolute"]
    assert state["sq_error_diff_mean"].is_null().all()
    assert state["abs_error_diff_mean"].is_not_null().sum() == 1
    with pytest.raises(polars_l2.L2InputError, match="not of 'squared'"):
        polars_l2.compare(state, None, "linear", "boosted")
    got = polars_l2.compare(state, None, "linear", "boosted", loss="absolute")
    want = polars_l2.compare(df, "y", "linear", "boosted", loss="absolute")
    assert_frame_equal(got, want, rel_tol=1e-12)


def test_states_of_different_losses_or_deltas_are_not_merged() -> None:
    df = diabetes()
    models = ["linear", "boosted"]

    def built(loss: list[Loss], delta: float | None = None) -> pl.DataFrame:
        return polars_l2.state(
            df, "y", models, baseline="linear", loss=loss, huber_delta=delta
        )

    with pytest.raises(polars_l2.L2InputError, match="different losses"):
        polars_l2.merge_states([built(["squared"]), built(["squared", "absolute"])])
    with pytest.raises(polars_l2.L2InputError, match=r"huber_delta=2\.0"):
        polars_l2.merge_states([built(["huber"], 1.0), built(["huber"], 2.0)])
    state = built(["huber"], 1.0)
    with pytest.raises(polars_l2.L2InputError, match=r"huber_delta=1\.0, not 2\.0"):
        polars_l2.compare(state, None, "linear", "boosted", loss="huber", huber_delta=2)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"loss": "hinge"}, "loss must be 'squared' or 'absolute' or 'huber'"),
        ({"loss": []}, "at least one loss"),
        ({"loss": ["squared", "squared"]}, "more than once"),
        ({"loss": ["squared", 2]}, "got 2 in"),
        ({"loss": "huber"}, "needs huber_delta="),
        (
            {"loss": "huber", "huber_delta": -1.0},
            "huber_delta must be a finite positive",
        ),
        ({"loss": "huber", "huber_delta": float("nan")}, "finite positive"),
        ({"huber_delta": 1.0}, "has no 'huber'"),
        ({"variance": "hc3"}, "variance must be 'hc1' or 'hc0' or 'kish'"),
    ],
)
def test_bad_loss_options_are_refused_naming_them(
    options: dict[str, object], match: str
) -> None:
    df = diabetes()
    with pytest.raises(polars_l2.L2InputError, match=f"polars_l2.compare: .*{match}"):
        polars_l2.compare(df, "y", "linear", "boosted", **options)  # type: ignore[arg-type]
    if "variance" not in options:
        with pytest.raises(polars_l2.L2InputError, match=f"polars_l2.state: .*{match}"):
            polars_l2.state(  # type: ignore[call-overload]
                df, "y", ["linear", "boosted"], baseline="linear", **options
            )


def test_the_forest_plot_labels_each_loss_and_names_the_mean_loss() -> None:
    plot = pytest.importorskip("polars_l2.plot")
    df = diabetes()
    table = polars_l2.compare(
        df, "y", "linear", "boosted", by="sex", loss=["squared", "absolute"]
    )
    axes = plot.plot_comparison(table).axes[0]
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert labels[:2] == ["boosted (squared): all rows", "boosted (absolute): all rows"]
    assert axes.get_xlabel().startswith("Mean loss ratio")
    one = polars_l2.compare(df, "y", "linear", "boosted", loss="absolute")
    assert plot.plot_comparison(one).axes[0].get_xlabel().startswith("MAE ratio")

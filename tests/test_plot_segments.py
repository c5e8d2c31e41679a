"""Plots: per-segment concentration curves, the interval's level and weighting.

Curves are checked against numpy on each segment's rows; figures are read
back through matplotlib's text objects, never by pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2 import plot
from polars_l2.plot import concentration_curve
from tests.test_cli import inline
from tests.test_plot import reference_curve

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure


def segmented_frame(seed: int, n: int = 300) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    return pl.DataFrame(
        {
            "region": rng.choice(["north", "south", "west"], size=n).tolist(),
            "tier": rng.integers(0, 2, size=n),
            "y": y,
            "a": y + rng.normal(size=n) * rng.choice([0.1, 5.0], size=n),
            "b": [None if i % 17 == 0 else v for i, v in enumerate(y + 1.0)],
            "w": rng.uniform(0.5, 3.0, size=n),
        }
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_each_segment_curve_matches_numpy_on_its_rows(weighted: bool) -> None:
    df = segmented_frame(1)
    weight = "w" if weighted else None
    curve = concentration_curve(
        df, "y", ["a", "b"], weight=weight, by=["region", "tier"], points=10_000
    )
    assert curve.columns == ["model", "region", "tier", "share_of_rows", "share_of_sse"]
    assert curve.schema["tier"] == df.schema["tier"]
    segments = df.select("region", "tier").unique().sort("region", "tier").rows()
    for model in ("a", "b"):
        got_segments = (
            curve.filter(pl.col("model") == model)
            .select("region", "tier")
            .unique(maintain_order=True)
            .rows()
        )
        assert got_segments == segments  # sorted by key
        for region, tier in segments:
            rows = df.filter(
                (pl.col("region") == region) & (pl.col("tier") == tier)
            ).drop_nulls(model)
            e2 = (rows[model] - rows["y"]).to_numpy() ** 2
            w = rows["w"].to_numpy() if weighted else np.ones(len(e2))
            x, y = reference_curve(e2, w)
            one = curve.filter(
                (pl.col("model") == model)
                & (pl.col("region") == region)
                & (pl.col("tier") == tier)
            )
            np.testing.assert_allclose(one["share_of_rows"].to_numpy(), x, rtol=1e-12)
            np.testing.assert_allclose(one["share_of_sse"].to_numpy(), y, rtol=1e-12)


def test_one_segment_is_the_pooled_curve_and_lazy_stays_lazy() -> None:
    df = segmented_frame(2).with_columns(one=pl.lit("all"))
    pooled = concentration_curve(df, "y", ["a", "b"], weight="w", points=20)
    by_one = concentration_curve(
        df.lazy(), "y", ["a", "b"], weight="w", by="one", points=20
    )
    assert isinstance(by_one, pl.LazyFrame)
    assert_frame_equal(by_one.collect().drop("one"), pooled)


def test_a_null_key_is_a_segment_and_zero_weights_do_not_count() -> None:
    df = pl.DataFrame(
        {
            "g": ["x", None, None, "x"],
            "y": [0.0, 0.0, 0.0, 0.0],
            "p": [1.0, 2.0, 3.0, 9.0],
            "w": [1.0, 1.0, 1.0, 0.0],
        }
    )
    curve = concentration_curve(df, "y", "p", weight="w", by="g")
    # x: one counted row (the zero weight drops the other); null: two rows.
    assert curve["g"].to_list() == ["x", "x", None, None, None]
    assert curve["share_of_sse"].to_list() == [0.0, 1.0, 0.0, 9 / 13, 1.0]


@pytest.mark.parametrize(
    ("by", "pattern"),
    [
        (pl.col("g"), r"by must be a column name or a list of column names"),
        (["g", "g"], r"by names a column more than once"),
        ("model", r"by column 'model' has the name of an output column"),
    ],
)
def test_by_is_checked(by: Any, pattern: str) -> None:
    df = pl.DataFrame({"g": ["a"], "model": ["m"], "y": [1.0], "p": [2.0]})
    with pytest.raises(polars_l2.L2InputError, match=pattern):
        concentration_curve(df, "y", "p", by=by)


def test_by_names_are_literal() -> None:
    df = pl.DataFrame(
        {"^g.*$": ["a", "b"], "g1": ["c", "c"], "y": [1.0, 2.0], "p": [2.0, 2.0]}
    )
    curve = concentration_curve(df, "y", "p", by="^g.*$")
    assert curve.columns == ["model", "^g.*$", "share_of_rows", "share_of_sse"]
    # (Series methods would read the name as a pattern: compare in Python.)
    assert sorted(set(curve.get_column("^g.*$").to_list())) == ["a", "b"]


# --- figures --------------------------------------------------------------------


def report_of(df: pl.DataFrame, **options: Any) -> pl.DataFrame:
    return polars_l2.report(df, "y", ["a", "b"], by="region", **options)


def test_rmse_plot_says_the_level_and_weighting() -> None:
    pytest.importorskip("matplotlib")
    df = segmented_frame(3)
    unweighted = plot.plot_report(report_of(df)).axes[0].get_xlabel()
    assert unweighted == "RMSE and MAE (unweighted); bars: 95% confidence interval"
    weighted = plot.plot_report(
        report_of(df, weight="w", confidence=0.9), confidence=0.9
    )
    assert (
        weighted.axes[0].get_xlabel()
        == "weighted RMSE and MAE; bars: 90% confidence interval"
    )
    told = plot.plot_report(report_of(df), confidence=0.995, weighted=True)
    assert (
        told.axes[0].get_xlabel()
        == "weighted RMSE and MAE; bars: 99.5% confidence interval"
    )
    # Without interval columns, no level is claimed; without MAE, RMSE alone.
    bare = plot.plot_report(report_of(df).drop("rmse_low", "rmse_high", "mae"))
    assert bare.axes[0].get_xlabel() == "RMSE (unweighted)"


def titles(figure: Figure) -> list[str]:
    return [ax.get_title() for ax in figure.axes if ax.get_visible()]


def test_plot_concentration_draws_a_panel_per_segment() -> None:
    pytest.importorskip("matplotlib")
    df = segmented_frame(4)
    curve = concentration_curve(df, "y", ["a", "b"], by=["region", "tier"])
    figure = plot.plot_concentration(curve)
    assert titles(figure) == [
        f"{r} / {t}" for r in ("north", "south", "west") for t in (0, 1)
    ]
    assert (
        figure.get_suptitle() == "Where the squared error comes from, per region / tier"
    )
    first = figure.axes[0]
    # One legend for the grid, outside the panels.
    assert all(ax.get_legend() is None for ax in figure.axes)
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()][:2] == ["a", "b"]
    # Each panel's model lines are that segment's curve.
    line = first.get_lines()[0]
    segment = curve.filter(
        (pl.col("model") == "a") & (pl.col("region") == "north") & (pl.col("tier") == 0)
    )
    np.testing.assert_array_equal(line.get_ydata(), segment["share_of_sse"].to_numpy())


def test_plot_concentration_caps_segments_and_says_so() -> None:
    pytest.importorskip("matplotlib")
    n = 200
    df = pl.DataFrame(
        {
            "shop": [i % 20 for i in range(n)],
            "y": [0.0] * n,
            "a": [float(i % 7) for i in range(n)],
        }
    )
    curve = concentration_curve(df, "y", "a", by="shop")
    figure = plot.plot_concentration(curve, max_segments=5)
    assert titles(figure) == ["0", "1", "2", "3", "4"]
    assert figure.get_suptitle().endswith("(first 5 of 20)")


def test_plot_evaluation_with_segment_curves() -> None:
    pytest.importorskip("matplotlib")
    df = segmented_frame(5)
    figure = plot.plot_evaluation(
        report_of(df, weight="w"),
        concentration_curve(df, "y", ["a", "b"], weight="w", by="region"),
    )
    assert figure.axes[0].get_title() == "RMSE and MAE per segment"
    assert figure.axes[0].get_xlabel().startswith("weighted RMSE and MAE; bars: 95%")
    assert titles(figure)[1:] == ["north", "south", "west"]


def test_plot_report_writes_the_format_of_its_extension(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = report_of(segmented_frame(6))
    for name, magic in [
        ("r.svg", b"<?xml"),
        ("r.pdf", b"%PDF-"),
        ("r.png", b"\x89PNG"),
    ]:
        plot.plot_report(report, path=tmp_path / name)
        assert (tmp_path / name).read_bytes().startswith(magic)
    with pytest.raises(ValueError, match="xyz"):
        plot.plot_report(report, path=tmp_path / "r.xyz")


# --- the command line's --plot ----------------------------------------------------


class Figures:
    """Record the figures plot_evaluation draws."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.drawn: list[Figure] = []
        real = plot.plot_evaluation

        def recording(*args: Any, **kwargs: Any) -> Figure:
            figure = real(*args, **kwargs)
            self.drawn.append(figure)
            return figure

        monkeypatch.setattr(plot, "plot_evaluation", recording)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.parquet"
    segmented_frame(7).write_parquet(path)
    return path


def test_cli_plot_states_level_weighting_and_segments(
    data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("matplotlib")
    figures = Figures(monkeypatch)
    args = [
        "evaluate",
        str(data),
        "--actual",
        "y",
        "--predicted",
        "a",
        "--by",
        "region",
    ]
    out = tmp_path / "p.svg"
    result = inline(
        capsys, *args, "--weight", "w", "--confidence", "0.8", "--plot", str(out),
        "--plot-segments",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (figure,) = figures.drawn
    assert (
        figure.axes[0].get_xlabel()
        == "weighted RMSE and MAE; bars: 80% confidence interval"
    )
    assert titles(figure)[1:] == ["north", "south", "west"]
    assert out.read_bytes().startswith(b"<?xml")
    # Without --plot-segments, one pooled curve.
    result = inline(capsys, *args, "--plot", str(tmp_path / "q.png"))
    assert result.returncode == 0, result.stderr
    assert titles(figures.drawn[1]) == [
        "RMSE and MAE per segment",
        "Where the squared error comes from",
    ]
    assert (
        figures.drawn[1]
        .axes[0]
        .get_xlabel()
        .startswith("RMSE and MAE (unweighted); bars: 95%")
    )


def test_cli_plot_segments_needs_by_and_plot(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", str(data), "--actual", "y", "--predicted", "a"]
    for extra in (
        ["--plot-segments"],
        ["--plot", str(tmp_path / "p.png"), "--plot-segments"],
    ):
        result = inline(capsys, *args, *extra)
        assert result.returncode == 2
        assert result.stderr == (
            "polars-l2: error: --plot-segments needs --plot and at least one "
            "--by column\n"
        )
    assert not (tmp_path / "p.png").exists()


def test_segment_labels_read_a_key_named_like_a_pattern_literally() -> None:
    df = pl.DataFrame(
        {
            "^model$": ["north", "north", "south", "south"],
            "y": [1.0, 2.0, 3.0, 4.0],
            "old": [1.5, 2.5, 2.0, 4.5],
            "new": [1.1, 2.1, 3.2, 4.1],
        }
    )
    table = polars_l2.compare(df, "y", "old", "new", by="^model$", min_n=1)
    figure = plot.plot_comparison(table)
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    # The key's values, not the model's name a pattern would have matched.
    assert labels == ["new: all rows", "new: north", "new: south"]

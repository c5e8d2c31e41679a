"""Plots that read well: MAE beside RMSE, a forest plot where every segment shows.

Figures are read back through matplotlib's artists (their data and their
rendered extents), never by pixels: no two texts overlap, no legend covers a
plotted point, and what is drawn equals the numbers of the report or the
comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest

import polars_l2
import polars_l2.data

pytest.importorskip("matplotlib")

from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Text

from polars_l2 import plot

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox


def drawn_texts(figure: Figure) -> list[tuple[str, Bbox]]:
    """Every non-empty text drawn, with its extent in pixels.

    Tick labels count only for ticks inside their axis's view (matplotlib
    keeps labels for ticks beyond it, which it does not draw).
    """
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    tick_labels: set[int] = set()
    shown: list[Text] = []
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = high - low
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                tick_labels.update((id(tick.label1), id(tick.label2)))
                inside = low - 1e-9 * span <= tick.get_loc() <= high + 1e-9 * span
                if ax.get_visible() and inside and tick.label1.get_visible():
                    shown.append(tick.label1)
    for text in figure.findobj(Text):
        if id(text) in tick_labels:
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        shown.append(text)
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in shown
        if t.get_visible() and t.get_text().strip()
    ]


def overlapping_texts(figure: Figure) -> list[tuple[str, str]]:
    texts = drawn_texts(figure)
    found = []
    for i, (first, a) in enumerate(texts):
        for second, b in texts[i + 1 :]:
            width = min(a.x1, b.x1) - max(a.x0, b.x0)
            height = min(a.y1, b.y1) - max(a.y0, b.y0)
            if width > 0.5 and height > 0.5:
                found.append((first, second))
    return found


def covered_points(figure: Figure) -> list[str]:
    """Return the data lines with a point (or a point between two) under a legend."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    legends = [
        legend.get_window_extent(renderer)
        for legend in figure.findobj(Legend)
        if legend.get_visible()
    ]
    covered = []
    for ax in figure.axes:
        if not ax.get_visible():
            continue
        for line in ax.get_lines():
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            keep = np.isfinite(x) & np.isfinite(y)
            if not keep.any():
                continue
            xy = np.column_stack([x[keep], y[keep]])
            # Points between the drawn ones too: a line crosses a legend.
            steps = np.linspace(0.0, 1.0, 20)[:, None, None]
            dense = (xy[:-1] + steps * (xy[1:] - xy[:-1])).reshape(-1, 2)
            pixels = line.get_transform().transform(np.vstack([xy, dense]))
            for box in legends:
                inside = (
                    (pixels[:, 0] > box.x0)
                    & (pixels[:, 0] < box.x1)
                    & (pixels[:, 1] > box.y0)
                    & (pixels[:, 1] < box.y1)
                )
                if inside.any():
                    covered.append(str(line.get_label()))
    return covered


@pytest.fixture(scope="module")
def houses() -> pl.DataFrame:
    return polars_l2.data.houses().collect()


@pytest.fixture(scope="module")
def report(houses: pl.DataFrame) -> pl.DataFrame:
    return polars_l2.report(houses, "price", ["linear", "boosted"], by="region")


def long_segments(houses: pl.DataFrame) -> pl.DataFrame:
    """Return the sample with long, many-word segment names."""
    names = {
        "Coast": "Coastal luxury homes with a sea view",
        "Downtown": "Downtown apartments and lofts",
        "Rural": "Rural farmhouses and cottages",
        "Suburbs": "Suburban family houses",
    }
    return houses.with_columns(pl.col("region").replace_strict(names))


def test_plot_segments_figure_has_no_overlapping_text_nor_covered_data(
    houses: pl.DataFrame,
) -> None:
    for frame in (houses, long_segments(houses)):
        report = polars_l2.report(frame, "price", ["linear", "boosted"], by="region")
        curves = plot.concentration_curve(
            frame, "price", ["linear", "boosted"], by="region"
        )
        figure = plot.plot_evaluation(report, curves)
        assert overlapping_texts(figure) == []
        assert covered_points(figure) == []
        # The axis labels are said once for the grid, not under each panel.
        panels = figure.axes[1:]
        assert [ax.get_xlabel() for ax in panels] == [""] * len(panels)


def test_every_figure_keeps_its_text_apart_and_its_data_uncovered(
    houses: pl.DataFrame, report: pl.DataFrame
) -> None:
    comparison = polars_l2.compare(houses, "price", "linear", "boosted", by="region")
    curve = plot.concentration_curve(houses, "price", ["linear", "boosted"])
    figures = {
        "report": plot.plot_report(report),
        "pooled curve": plot.plot_concentration(curve),
        "evaluation": plot.plot_evaluation(report, curve),
        "comparison": plot.plot_comparison(comparison),
        "murphy": plot.plot_murphy(
            polars_l2.murphy(houses, "price", ["linear", "boosted"], thetas=30)
        ),
        "murphy per segment": plot.plot_murphy(
            polars_l2.murphy(
                long_segments(houses),
                "price",
                "boosted",
                baseline="linear",
                by="region",
                thetas=30,
            )
        ),
        "reliability": plot.plot_reliability(
            plot.reliability_curve(
                long_segments(houses), "price", ["linear", "boosted"], by="region"
            )
        ),
    }
    for name, figure in figures.items():
        assert overlapping_texts(figure) == [], name
        assert covered_points(figure) == [], name


def markers(figure: Figure, marker: str) -> dict[str, list[float]]:
    """Return the x values of the markers of each colour drawn with `marker`."""
    found: dict[str, list[float]] = {}
    for line in figure.axes[0].get_lines():
        if line.get_marker() == marker and line.get_linestyle() == "None":
            colour = str(line.get_color())
            found.setdefault(colour, []).extend(np.asarray(line.get_xdata()).tolist())
    return found


def test_mae_is_drawn_beside_rmse_with_its_interval(report: pl.DataFrame) -> None:
    figure = plot.plot_report(report)
    rmse, mae = markers(figure, "o"), markers(figure, "D")
    for k, model in enumerate(["linear", "boosted"]):
        rows = report.filter(pl.col("model") == model)
        np.testing.assert_allclose(rmse[f"C{k}"], rows["rmse"].to_numpy())
        np.testing.assert_allclose(mae[f"C{k}"], rows["mae"].to_numpy())
    legend = figure.axes[0].get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        "linear", "boosted", "RMSE", "MAE"
    ]  # fmt: skip
    # The bars of MAE end at its interval.
    ends = {
        round(float(x), 6)
        for line in figure.axes[0].get_lines()
        if line.get_marker() in ("|", 3)
        for x in np.asarray(line.get_xdata())
    }
    expected = {
        round(float(x), 6)
        for x in report.select("mae_low", "mae_high").to_numpy().ravel()
    }
    assert expected <= ends


def test_forest_plot_draws_the_mse_ratio_on_a_log_scale_with_a_legend(
    houses: pl.DataFrame,
) -> None:
    # A small subsample gives small segments (no verdict) beside significant ones.
    sample = houses.filter(pl.int_range(pl.len()) % 40 == 0)
    comparison = pl.concat(
        [
            polars_l2.compare(houses, "price", "linear", "boosted", by="region"),
            polars_l2.compare(sample, "price", "linear", "boosted", by="region"),
        ]
    )
    figure = plot.plot_comparison(comparison)
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    left, right = ax.get_xlim()
    points = [
        (float(np.asarray(line.get_xdata())[0]), float(np.asarray(line.get_ydata())[0]))
        for line in ax.get_lines()
        if line.get_marker() == "o"
    ]
    rows = comparison.sort("overall", descending=True, maintain_order=True)
    # The ratio of the two MSEs, each row at its place, every one in view.
    expected = (rows["mean_loss"] / rows["mean_loss_baseline"]).to_list()
    assert [y for _, y in points] == list(range(rows.height))
    np.testing.assert_allclose([x for x, _ in points], expected, rtol=1e-9)
    assert all(left < x < right for x, _ in points)
    # A ratio's bar is the interval of loss_diff over the baseline's MSE.
    low = (1 + rows["loss_diff_low"] / rows["mean_loss_baseline"]).to_list()
    high = (1 + rows["loss_diff_high"] / rows["mean_loss_baseline"]).to_list()
    bars = [
        line
        for line in ax.get_lines()
        # Not the vertical line at 1, drawn across the axes.
        if line.get_marker() in ("None", "")
        and not np.array_equal(np.asarray(line.get_xdata()), [1.0, 1.0])
    ]
    ends = {
        int(np.asarray(line.get_ydata())[0]): np.asarray(line.get_xdata())
        for line in bars
    }
    for i in range(rows.height):
        start, end = ends[i]
        assert end == pytest.approx(high[i], rel=1e-9)
        assert start == pytest.approx(low[i] if low[i] > 0 else left, rel=1e-9)
    legend = ax.get_legend()
    assert legend is not None
    names = [t.get_text() for t in legend.get_texts()]
    verdicts = set(comparison["verdict"].to_list())
    assert {"better", "worse", None} <= verdicts
    meaning = {
        "better": "better (significant)",
        "worse": "worse (significant)",
        "inconclusive": "inconclusive",
        None: "small: no verdict",
    }
    assert names == [name for v, name in meaning.items() if v in verdicts]


def test_forest_plot_marks_a_bar_below_zero_with_an_arrow() -> None:
    comparison = pl.DataFrame(
        {
            "model": ["new", "new"],
            "baseline": ["old", "old"],
            "overall": [True, False],
            "mean_loss": [0.5, 2.0],
            "mean_loss_baseline": [1.0, 1.0],
            "loss_diff": [-0.5, 1.0],
            "loss_diff_low": [-1.5, 0.5],
            "loss_diff_high": [0.2, 1.5],
            "verdict": ["inconclusive", "worse"],
        }
    )
    ax = plot.plot_comparison(comparison).axes[0]
    arrows = [line for line in ax.get_lines() if line.get_marker() == "<"]
    (arrow,) = arrows
    assert np.asarray(arrow.get_ydata())[0] == 0
    assert np.asarray(arrow.get_xdata())[0] == pytest.approx(ax.get_xlim()[0])


def test_tick_labels_are_compact_and_do_not_overlap() -> None:
    report = pl.DataFrame(
        {
            "model": ["m"] * 3,
            "shop": ["a", "b", "c"],
            "rmse": [1.2e6, 8.0e6, 2.5e7],
            "mae": [1.0e6, 5.0e6, 1.0e7],
        }
    )
    figure = plot.plot_report(report)
    assert overlapping_texts(figure) == []
    labels = [
        t.get_text()
        for t in figure.axes[0].get_xticklabels()
        if t.get_text() and figure.axes[0].get_xlim()[1] >= t.get_position()[0]
    ]
    assert all(label.endswith("M") or label == "0" for label in labels), labels


def test_lines_are_line2d() -> None:
    # The helpers above read Line2D artists; errorbar draws its markers as such.
    figure = plot.plot_report(
        pl.DataFrame({"model": ["m"], "rmse": [1.0], "mae": [0.8]})
    )
    assert all(isinstance(line, Line2D) for line in figure.axes[0].get_lines())

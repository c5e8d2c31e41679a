"""Plot helpers: curve data against numpy, PNG files, the missing-extra message."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from polars_l2.plot import concentration_curve

if TYPE_CHECKING:
    from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    assert length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def reference_curve(e2: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every point of the curve, computed directly with numpy."""
    order = np.argsort(-e2, kind="stable")
    e2, w = e2[order], w[order]
    rows = np.cumsum(w) / w.sum()
    sse = np.cumsum(w * e2) / (w * e2).sum()
    return np.concatenate([[0.0], rows]), np.concatenate([[0.0], sse])


@given(
    data=st.lists(
        st.tuples(
            st.floats(-1e3, 1e3),
            st.floats(-1e3, 1e3) | st.none(),
            st.floats(0.1, 10.0),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_curve_matches_numpy_when_every_row_is_a_point(
    data: list[tuple[float, float | None, float]],
) -> None:
    y, yhat, w = (list(column) for column in zip(*data, strict=True))
    df = pl.DataFrame(
        {"y": y, "yhat": yhat, "w": w},
        schema={"y": pl.Float64, "yhat": pl.Float64, "w": pl.Float64},
    )
    curve = concentration_curve(df, "y", "yhat", weight="w", points=len(data))
    present = df.drop_nulls()
    e2 = (present["y"].to_numpy() - present["yhat"].to_numpy()) ** 2
    if present.height == 0 or e2.sum() == 0:
        assert curve.height == 1 + present.height
        return
    rows, sse = reference_curve(e2, present["w"].to_numpy())
    np.testing.assert_allclose(curve["share_of_rows"].to_numpy(), rows, rtol=1e-12)
    np.testing.assert_allclose(
        curve["share_of_sse"].to_numpy(), sse, rtol=1e-9, atol=1e-12
    )


def test_curve_thins_to_about_points_and_keeps_both_ends() -> None:
    rng = np.random.default_rng(7)
    n = 10_000
    df = pl.DataFrame({"y": rng.normal(size=n), "yhat": rng.normal(size=n)})
    curve = concentration_curve(df, "y", "yhat", points=100)
    assert 100 <= curve.height <= 102
    assert curve.row(0) == ("yhat", 0.0, 0.0)
    assert curve["share_of_rows"][-1] == pytest.approx(1.0)
    assert curve["share_of_sse"][-1] == pytest.approx(1.0)
    # Largest errors first: the curve is concave, above the diagonal.
    assert (curve["share_of_sse"] >= curve["share_of_rows"] - 1e-12).all()
    assert curve["share_of_sse"].is_sorted()


def test_curve_is_lazy_for_a_lazyframe_and_one_per_model() -> None:
    df = pl.DataFrame(
        {"y": [1.0, 2.0, 3.0], "a": [1.0, 2.0, 9.0], "b": [2.0, 3.0, 4.0]}
    )
    lazy = concentration_curve(df.lazy(), "y", ["a", "b"])
    assert isinstance(lazy, pl.LazyFrame)
    assert "python_udf" not in lazy.explain()
    assert_frame_equal(lazy.collect(), concentration_curve(df, "y", ["a", "b"]))
    assert lazy.collect()["model"].unique(maintain_order=True).to_list() == ["a", "b"]


def test_curve_is_null_without_a_share() -> None:
    perfect = pl.DataFrame({"y": [1.0, 2.0], "yhat": [1.0, 2.0]})
    assert (
        concentration_curve(perfect, "y", "yhat")["share_of_sse"][1:].null_count() == 2
    )
    negative = pl.DataFrame({"y": [1.0, 2.0], "yhat": [0.0, 0.0], "w": [1.0, -1.0]})
    curve = concentration_curve(negative, "y", "yhat", weight="w")
    assert curve["share_of_rows"][1:].null_count() == 2


def test_curve_rejects_bad_options() -> None:
    df = pl.DataFrame({"y": [1.0], "yhat": [2.0]})
    with pytest.raises(ValueError, match="points must be at least 1"):
        concentration_curve(df, "y", "yhat", points=0)
    with pytest.raises(ValueError, match="at least one column"):
        concentration_curve(df, "y", [])


def report_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": ["good", "good", "good", "noisy", "noisy", "noisy"],
            "region": ["north", "south", "west"] * 2,
            "n": [100, 100, 1] * 2,
            "rmse": [1.0, 2.0, 1.5, 1.5, 4.0, 3.0],
            "rmse_low": [0.8, 1.5, None, 1.2, 2.0, None],
            "rmse_high": [1.2, 2.5, None, 1.8, 6.0, None],
        }
    )


def test_plot_report_writes_a_png_of_sensible_size(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from polars_l2.plot import plot_report  # noqa: PLC0415  (needs the extra)

    path = tmp_path / "report.png"
    figure = plot_report(report_frame(), path=path)
    width, height = png_size(path)
    assert (width, height) == (700, int(100 * (1.5 + 0.45 * 6)))
    assert path.stat().st_size > 10_000
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["north", "south", "west"]
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["good", "noisy"]


def test_plot_report_caps_segments_and_says_so() -> None:
    pytest.importorskip("matplotlib")
    from polars_l2.plot import plot_report  # noqa: PLC0415  (needs the extra)

    report = pl.DataFrame(
        {"model": ["m"] * 50, "shop": list(range(50)), "rmse": [1.0] * 50}
    )
    ax = plot_report(report, max_segments=10).axes[0]
    assert len(ax.get_yticklabels()) == 10
    assert ax.get_title() == "RMSE per segment (first 10 of 50)"


def test_plot_report_rejects_a_frame_that_is_not_a_report() -> None:
    pytest.importorskip("matplotlib")
    from polars_l2.plot import plot_report  # noqa: PLC0415  (needs the extra)

    with pytest.raises(ValueError, match=r"lacks 'model', 'rmse' \(it has \['x'\]\)"):
        plot_report(pl.DataFrame({"x": [1.0]}))


def test_plot_evaluation_writes_both_panels(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from polars_l2.plot import plot_evaluation  # noqa: PLC0415  (needs the extra)

    rng = np.random.default_rng(3)
    df = pl.DataFrame(
        {"y": rng.normal(size=500), "good": rng.normal(size=500)}
    ).with_columns(noisy=pl.col("good") + pl.int_range(500).eq(0) * 100)
    curve = concentration_curve(df, "y", ["good", "noisy"])
    path = tmp_path / "evaluation.png"
    figure = plot_evaluation(report_frame(), curve, path=path)
    assert len(figure.axes) == 2
    assert png_size(path) == (1200, 450)
    assert path.stat().st_size > 20_000


def test_without_matplotlib_the_error_names_the_extra(tmp_path: Path) -> None:
    # A subprocess where importing matplotlib fails, as on an install without
    # the extra.
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import polars as pl\n"
        "from polars_l2.plot import plot_report\n"
        "plot_report(pl.DataFrame({'model': ['m'], 'rmse': [1.0]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ")
    assert "pip install 'polars-l2[plot]'" in last


@pytest.mark.skipif(shutil.which("polars-l2") is None, reason="CLI not installed")
def test_cli_evaluate_writes_the_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    data = tmp_path / "predictions.parquet"
    rng = np.random.default_rng(5)
    pl.DataFrame(
        {
            "region": rng.choice(["north", "south", "east"], size=300),
            "y": rng.normal(size=300),
            "a": rng.normal(size=300),
            "b": rng.normal(size=300),
        }
    ).write_parquet(data)
    png = tmp_path / "out.png"
    result = subprocess.run(
        [
            "polars-l2",
            "evaluate",
            str(data),
            "--actual",
            "y",
            "--predicted",
            "a",
            "--predicted",
            "b",
            "--by",
            "region",
            "--plot",
            str(png),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    width, height = png_size(png)
    assert width == 1200
    assert height >= 450
    assert png.stat().st_size > 20_000

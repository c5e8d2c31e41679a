"""Notebooks show every figure inline and the report view as HTML.

A real notebook is executed by a real IPython kernel (nbclient starts and
stops it, with timeouts), its cells in the order a user writes them: import
polars-l2, compute, plot. matplotlib's pyplot is never imported before the
figures, which is the case a bare matplotlib figure fails (it shows as
``<Figure size ...>``); a last cell imports pyplot, then draws again, and
still gets one image.
"""

from __future__ import annotations

import base64
import inspect
from typing import Any

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("great_tables")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from polars_l2 import plot  # noqa: E402  (after the skips)

SETUP = """\
import polars as pl
import polars_l2
import polars_l2.data
from polars_l2 import plot, view

houses = polars_l2.data.houses().collect()
report = polars_l2.report(
    houses, "price", ["linear", "boosted"], by="region", overall=True
)
comparison = polars_l2.compare(houses, "price", "linear", "boosted", by="region")
curve = plot.concentration_curve(houses, "price", ["linear", "boosted"])
curves = plot.concentration_curve(
    houses, "price", ["linear", "boosted"], by="region"
)
"""

#: One cell per plotting function of polars_l2.plot: its figure is the cell's
#: last expression, as a user writes it.
FIGURES = {
    "plot_report": "plot.plot_report(report)",
    "plot_concentration": "plot.plot_concentration(curves)",
    "plot_evaluation": "plot.plot_evaluation(report, curve)",
    "plot_comparison": "plot.plot_comparison(comparison)",
    "plot_murphy": (
        "plot.plot_murphy(polars_l2.murphy(houses, 'price', 'boosted', "
        "baseline='linear', by='region', thetas=20))"
    ),
    "plot_reliability": (
        "plot.plot_reliability("
        "plot.reliability_curve(houses, 'price', ['linear', 'boosted']))"
    ),
}

VIEWS = {
    "report_table": "view.report_table(report)",
    "comparison_table": "view.comparison_table(comparison)",
}

#: display() of a figure kept in a variable, then pyplot imported (which
#: registers matplotlib's own printer) and a figure drawn again.
AFTER = [
    "figure = plot.plot_report(report)\ndisplay(figure)",
    "import matplotlib.pyplot as plt\nplot.plot_comparison(comparison)",
]

IMAGES = ("image/png", "image/svg+xml")


def plotting_functions() -> set[str]:
    return {
        name
        for name in plot.__all__
        if name.startswith("plot_") and inspect.isfunction(getattr(plot, name))
    }


def test_every_plotting_function_has_a_cell() -> None:
    # A new plot_* function gets a line in FIGURES, so the notebook shows it.
    assert plotting_functions() == set(FIGURES)


def images(outputs: list[Any]) -> list[bytes]:
    found = []
    for output in outputs:
        data = output.get("data", {})
        for mime in IMAGES:
            if mime in data:
                found.append(
                    base64.b64decode(data[mime])
                    if mime == "image/png"
                    else data[mime].encode()
                )
                break
    return found


@pytest.mark.slow
def test_a_notebook_shows_every_figure_and_the_report_view() -> None:
    cells = [SETUP, *FIGURES.values(), *VIEWS.values(), *AFTER]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        startup_timeout=60,
        shutdown_kernel="immediate",
    )
    client.execute()
    executed = notebook.cells
    errors = [o for cell in executed for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    figure_cells = executed[1 : 1 + len(FIGURES)]
    for name, cell in zip(FIGURES, figure_cells, strict=True):
        shown = images(cell.outputs)
        assert len(shown) == 1, (name, cell.outputs)
        assert shown[0].startswith((b"\x89PNG", b"<svg", b"<?xml")), name
        assert len(shown[0]) > 5_000, name
    view_cells = executed[1 + len(FIGURES) : 1 + len(FIGURES) + len(VIEWS)]
    for name, cell in zip(VIEWS, view_cells, strict=True):
        (result,) = (o for o in cell.outputs if o.output_type == "execute_result")
        html = result["data"]["text/html"]
        assert "<table" in html, name
        assert "boosted" in html, name
        assert "all rows" in html, name
    displayed, after_pyplot = executed[-2:]
    # display(figure) shows it; the assignment itself shows nothing.
    assert len(images(displayed.outputs)) == 1
    # With pyplot's printer registered, still one image per figure.
    assert len(images(after_pyplot.outputs)) == 1

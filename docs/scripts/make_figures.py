"""Draw the figures of the documentation site from the shipped house-price sample.

Run from the repository root after changing the plots or the sample::

    python docs/scripts/make_figures.py

and commit the PNG files it writes under ``docs/img/``. Needs the plot and
view extras (``pip install -e '.[plot,view]'``), and for the screenshot of
the HTML report, Debian's ``chromium`` and Playwright's Python package (the
test extra), as the test that opens the page uses them.
"""

from __future__ import annotations

import sys
import tempfile
from importlib import resources
from pathlib import Path

import matplotlib as mpl
import polars as pl

import polars_l2
from polars_l2 import cli
from polars_l2.plot import concentration_curve, plot_evaluation

IMG = Path(__file__).resolve().parent.parent / "img"


def main(out: Path = IMG) -> list[Path]:
    """Write every figure into `out`; return their paths."""
    # Fixed metadata and fonts, so the PNG changes only when the figure does.
    mpl.rcParams["svg.hashsalt"] = "polars-l2"
    mpl.rcParams["font.family"] = "DejaVu Sans"
    sample = resources.files("polars_l2") / "data" / "houses.parquet"
    with resources.as_file(sample) as path:
        houses = pl.read_parquet(path)
    models = ["linear", "boosted"]
    report = polars_l2.report(houses, "price", models, by="region")
    curve = concentration_curve(houses, "price", models)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "houses.png"
    figure = plot_evaluation(report, curve)
    figure.savefig(target, format="png", metadata={"Software": None})
    return [target, screenshot(out / "report.png")]


#: Chromium's flags, as in tests/browser.py: headless, offline, no GPU.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot(target: Path) -> Path:
    """Write the demo's HTML report, open it offline in Chromium, screenshot it."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional

    with tempfile.TemporaryDirectory() as work:
        page_path = Path(work) / "report.html"
        cli.main(["demo", "--format", "html", "--output", str(page_path)])
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(Path(work) / "profile"),
                executable_path="/usr/bin/chromium",
                headless=True,
                args=FLAGS,
                viewport={"width": 1280, "height": 1000},
                offline=True,
            )
            page = context.new_page()
            page.goto(page_path.as_uri(), wait_until="load")
            page.screenshot(path=str(target), full_page=False)
            context.close()
    return target


if __name__ == "__main__":
    for written in main(Path(sys.argv[1]) if len(sys.argv) > 1 else IMG):
        sys.stdout.write(f"wrote {written}\n")

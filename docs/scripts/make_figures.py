"""Draw the figures of the documentation site from the shipped house-price sample.

Run from the repository root after changing the plots or the sample::

    python docs/scripts/make_figures.py

and commit the PNG files it writes under ``docs/img/``. Needs the plot extra
(``pip install -e '.[plot]'``).
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import matplotlib as mpl
import polars as pl

import polars_l2
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
    return [target]


if __name__ == "__main__":
    for written in main(Path(sys.argv[1]) if len(sys.argv) > 1 else IMG):
        sys.stdout.write(f"wrote {written}\n")

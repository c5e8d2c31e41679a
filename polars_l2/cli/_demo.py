"""``polars-l2 demo``: the report of the house-price sample shipped with the package."""

from __future__ import annotations

import textwrap

import polars as pl

from polars_l2 import _report
from polars_l2.cli._evaluate import Spec

_STORY_WIDTH = 88

_DEMO_COMMAND = (
    "polars-l2 evaluate {path} --actual price --predicted linear "
    "--predicted boosted --by region"
)


#: The demo's columns: price against two models' predictions, by region.
DEMO = Spec("price", ("linear", "boosted"), ("region",))


def demo_report(houses: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Evaluate the shipped sample: the report by region, and overall.

    Parameters
    ----------
    houses
        A scan of the sample.

    Returns
    -------
    tuple of DataFrame
        The report by region, and the report over all houses.
    """
    overall = Spec(DEMO.actual, DEMO.predicted)
    by_region_df, overall_df = pl.collect_all(
        [
            _report.report_query(houses, DEMO, confidence=0.95),
            _report.report_query(houses, overall, confidence=0.95),
        ],
        engine="streaming",
    )
    return by_region_df, overall_df


def demo_story(overall: pl.DataFrame, path: str) -> str:
    rows = {row["model"]: row for row in overall.iter_rows(named=True)}
    hurt = max(rows, key=lambda m: rows[m]["top_1pct_share"])
    other = next(m for m in rows if m != hurt)
    h, o = rows[hurt], rows[other]
    paragraphs = [
        f"{h['n']:,} synthetic house sales. '{hurt}' has the lower MAE "
        f"({h['mae']:,.0f} against {o['mae']:,.0f}) but the higher RMSE "
        f"({h['rmse']:,.0f} against {o['rmse']:,.0f}). L2 squares errors: the 1% "
        f"of houses with its largest errors make {h['top_1pct_share']:.0%} of its "
        f"squared error ('{other}': {o['top_1pct_share']:.0%}), and its RMSE/MAE "
        f"ratio is {h['rmse'] / h['mae']:.2f} ('{other}': "
        f"{o['rmse'] / o['mae']:.2f}; about 1.25 for normal errors). A dozen "
        f"coastal luxury houses, priced above anything '{hurt}' predicts, decide "
        "its RMSE: see the Coast rows.",
    ]
    text = "\n\n".join(textwrap.fill(p, width=_STORY_WIDTH) for p in paragraphs)
    command = _DEMO_COMMAND.format(path=path)
    return f"\n{text}\n\nThe same report from the command line:\n  {command}\n"

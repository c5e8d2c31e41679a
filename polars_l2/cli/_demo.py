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


def command_lines(words: list[str], width: int, *, indent: str = "  ") -> str:
    r"""Return a shell command on lines of at most `width`, broken between words.

    Each line but the last ends with a backslash, so the text pastes into a
    shell as one command. A word longer than a line has a line of its own.

    Examples
    --------
    >>> words = ["polars-l2", "evaluate", "data.parquet", "--by", "r"]
    >>> print(command_lines(words, 30))
      polars-l2 evaluate \
          data.parquet --by r
    """
    lines: list[str] = []
    current = indent
    for word in words:
        continuation = indent + "    "
        candidate = f"{current} {word}" if current.strip() else f"{current}{word}"
        # Room for the " \\" that ends a line which is not the last.
        if current.strip() and len(candidate) + 2 > width:
            lines.append(f"{current} \\")
            current = f"{continuation}{word}"
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)


def demo_story(overall: pl.DataFrame, path: str, width: int = _STORY_WIDTH) -> str:
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
    # On a terminal narrower than the text, lines break between words there.
    width = min(width, _STORY_WIDTH)
    text = "\n\n".join(
        textwrap.fill(p, width=width, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs
    )
    command = command_lines(_DEMO_COMMAND.format(path=path).split(" "), width)
    return f"\n{text}\n\nThe same report from the command line:\n{command}\n"

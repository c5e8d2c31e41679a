"""Many segments, many losses: adjusted p-values, verdicts, and whether losses agree."""

from __future__ import annotations

import polars as pl

from polars_l2._core import multiplicity


def adjusted(table: pl.DataFrame, adjust: str | None, alpha: float) -> pl.DataFrame:
    """Add ``p_value_adjusted`` and ``verdict``.

    The family of a candidate under one loss is its segments that are not
    small: Holm's step-down (``"holm"``) or Benjamini-Hochberg's (``"bh"``)
    across them (:func:`polars_l2._core.multiplicity.adjusted`), or none
    (None). The overall rows are not adjusted. ``verdict`` is ``"better"``
    or ``"worse"`` where the adjusted p-value is below `alpha`, else
    ``"inconclusive"``; where there is no p-value, ``"worse"`` for a NaN or
    infinite mean loss against a finite one (``"better"`` the other way
    round), else null;
    null for small rows.
    """
    p = pl.col("p_value")
    tested = ~pl.col("overall") & ~pl.col("small") & p.is_not_null()
    result = table.with_columns(
        multiplicity.adjusted(
            table,
            p_value="p_value",
            tested=tested,
            group=["model", "loss"],
            method=adjust,
        )
    )
    chosen = (
        pl.when(pl.col("overall")).then(p).when(tested).then(pl.col("p_value_adjusted"))
    )
    candidate, baseline = pl.col("mean_loss"), pl.col("mean_loss_baseline")
    verdict = (
        pl.when(chosen.is_null())
        # No test, but one model's mean loss is NaN or infinite (a NaN or
        # infinite prediction) and the other's finite: it is the worse, as a
        # NaN compares above every number in the gates.
        .then(
            pl.when(candidate.is_finite().not_() & baseline.is_finite())
            .then(pl.lit("worse"))
            .when(baseline.is_finite().not_() & candidate.is_finite())
            .then(pl.lit("better"))
        )
        .when(chosen < alpha)
        .then(
            pl.when(pl.col("loss_diff") < 0)
            .then(pl.lit("better"))
            .otherwise(pl.lit("worse"))
        )
        .otherwise(pl.lit("inconclusive"))
    )
    return result.with_columns(
        chosen.alias("p_value_adjusted"),
        pl.when(~pl.col("small")).then(verdict).alias("verdict"),
    )


def losses_agree(table: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Add ``losses_agree``: whether every loss gives a row the same verdict.

    Per candidate and segment (and overall row), across the losses: True
    where the verdicts are equal, False where they differ (``"better"``
    under one loss and ``"worse"`` or ``"inconclusive"`` under another),
    null where a verdict is null (a small segment).
    """
    row = ["model", *keys, "overall"]
    verdict = pl.col("verdict")
    agree = (
        pl.when(verdict.is_null().any().over(row))
        .then(None)
        .otherwise(verdict.n_unique().over(row) == 1)
    )
    return table.with_columns(agree.alias("losses_agree"))

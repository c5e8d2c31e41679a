"""The paired test: Student's t on the aggregated rows, interval and p-value."""

from __future__ import annotations

import numpy as np
import polars as pl

from polars_l2._compare.table import DF, SE

#: The columns the test adds.
COLUMNS = ("loss_diff_low", "loss_diff_high", "p_value")


def student_t(table: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Add the interval of ``loss_diff`` at `confidence` and the two-sided p-value.

    From the standard error :data:`SE` and degrees of freedom :data:`DF` of
    each row; null where either is unknown (too few rows or clusters).
    """
    # Imported here, not with the package: scipy.stats adds about 100 MiB of
    # resident memory and a second to every `import polars_l2` (and to every
    # command-line run), and only a comparison needs it.
    from scipy import stats  # noqa: PLC0415

    diff = table.get_column("loss_diff").to_numpy().astype(float)
    se = table.get_column(SE).to_numpy().astype(float)
    df = table.get_column(DF).to_numpy().astype(float)
    usable = np.isfinite(se) & np.isfinite(df) & (df > 0) & np.isfinite(diff)
    safe_df = np.where(usable, df, 1.0)
    quantile = stats.t.ppf(0.5 + confidence / 2, safe_df)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.inf))
    p_value = 2 * stats.t.sf(np.abs(statistic), safe_df)
    values = {
        "loss_diff_low": diff - quantile * se,
        "loss_diff_high": diff + quantile * se,
        "p_value": p_value,
    }
    return table.with_columns(
        pl.Series(name, np.where(usable, value, np.nan))
        for name, value in values.items()
    ).with_columns(
        pl.when(pl.Series(usable)).then(pl.col(name)).alias(name) for name in COLUMNS
    )

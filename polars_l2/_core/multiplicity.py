"""Multiplicity adjustment of p-values (Holm, Benjamini-Hochberg), in one place."""

from __future__ import annotations

import polars as pl

#: The internal name of a table's row number while it is adjusted.
_ROW = "_l2_row"


def adjusted(
    table: pl.DataFrame,
    *,
    p_value: str,
    tested: pl.Expr,
    group: list[str],
    method: str | None,
) -> pl.Series:
    """Return the adjusted p-values of `table`'s rows (null where not tested).

    Within each `group` (a model's segments), the rows where `tested` holds
    form one family: Holm's step-down (``"holm"``, controls the
    family-wise error) or Benjamini-Hochberg's step-up (``"bh"``, controls
    the false discovery rate); None leaves the p-values as they are.
    """
    p = pl.col(p_value)
    indexed = table.with_row_index(_ROW)
    if method is None:
        values = indexed.select(_ROW, pl.when(tested).then(p).alias("_l2_adjusted"))
    else:
        ranked = indexed.filter(tested).sort([*group, p_value], maintain_order=True)

        def within(expr: pl.Expr) -> pl.Expr:
            return expr.over(group) if group else expr

        i = within(pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
        m = within(pl.len())
        if method == "holm":
            value = within(((m - i + 1) * p).clip(upper_bound=1.0).cum_max())
        else:
            value = within((m * p / i).clip(upper_bound=1.0).cum_min(reverse=True))
        values = ranked.select(_ROW, value.alias("_l2_adjusted"))
    joined = indexed.select(_ROW).join(
        values, on=_ROW, how="left", maintain_order="left"
    )
    return joined.get_column("_l2_adjusted").alias(f"{p_value}_adjusted")

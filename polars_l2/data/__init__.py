"""Sample data shipped with polars-l2.

``houses.parquet`` holds synthetic house prices by region with the predictions
of two models; ``polars-l2 demo`` evaluates it, and :func:`houses` returns it.
:mod:`polars_l2.data.make_houses` is the deterministic script that generated
it.
"""

from __future__ import annotations

from importlib import resources

import polars as pl

__all__ = ["houses"]


def houses() -> pl.LazyFrame:
    """Return the demo's sample: 4,000 synthetic house sales and two models.

    The sample ``polars-l2 demo`` evaluates, made by
    :mod:`polars_l2.data.make_houses` (numpy, fixed seed): houses in four
    regions, priced by a ``linear`` model and a ``boosted`` one that cannot
    predict above $1.6 million.

    Returns
    -------
    LazyFrame
        One row per house: ``region`` (String), ``sqft`` (Int64), ``price``
        (Int64, the sale price in dollars), ``linear`` and ``boosted``
        (Float64, the two models' predictions of the price).

    Examples
    --------
    >>> import polars_l2
    >>> import polars_l2.data
    >>> houses = polars_l2.data.houses()
    >>> polars_l2.report(houses, "price", ["linear", "boosted"]).select(
    ...     "model", "n", "rmse"
    ... ).collect()
    shape: (2, 3)
    ┌─────────┬──────┬───────────────┐
    │ model   ┆ n    ┆ rmse          │
    │ ---     ┆ ---  ┆ ---           │
    │ str     ┆ i64  ┆ f64           │
    ╞═════════╪══════╪═══════════════╡
    │ linear  ┆ 4000 ┆ 72865.849992  │
    │ boosted ┆ 4000 ┆ 215546.099623 │
    └─────────┴──────┴───────────────┘
    """
    sample = resources.files("polars_l2") / "data" / "houses.parquet"
    # Read while the file surely exists: from a zipped install, as_file gives
    # a temporary copy that is gone once the block ends.
    with resources.as_file(sample) as path:
        return pl.read_parquet(path).lazy()

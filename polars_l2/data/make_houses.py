"""Generate ``houses.parquet``, the synthetic sample behind ``polars-l2 demo``.

The data are made up, not real sales: 4,000 houses in four regions, each with
its sale price and the predictions of two models.

- ``linear`` is a plain model: its errors are about 12% of a typical house's
  price in the region, on every house, luxury houses included.
- ``boosted`` is about twice as accurate on typical houses, but, like a tree
  ensemble, it cannot predict beyond the prices it was trained on: its
  predictions stop at $1.6 million, so a dozen luxury houses on the coast
  (priced $2.5 to $8 million) are off by millions.

``boosted`` therefore has the lower mean absolute error and the much higher
RMSE. The report shows why: L2 squares errors, so those few houses make most
of its sum of squared errors (``top_1pct_share``), and its RMSE/MAE ratio is
far above the ~1.25 of well-behaved errors.

The script is deterministic (numpy's PCG64 generator with a fixed seed); run
``python -m polars_l2.data.make_houses`` to rewrite the file, and the tests
check that the shipped file matches what the script produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

SEED = 20240611
N_HOUSES = 4_000
N_LUXURY = 12
#: Price per square foot by region, in dollars.
PRICE_PER_SQFT = {"Coast": 520.0, "Downtown": 430.0, "Suburbs": 260.0, "Rural": 170.0}
#: The most the `boosted` model ever predicts (the top of its training range).
BOOSTED_CAP = 1_600_000.0
OUTPUT = Path(__file__).with_name("houses.parquet")


def make_houses(seed: int = SEED) -> pl.DataFrame:
    """Return the sample: columns region, sqft, price, linear, boosted.

    Parameters
    ----------
    seed
        Seed of numpy's default generator; the shipped file uses :data:`SEED`.

    Returns
    -------
    DataFrame
        One row per house: ``region`` (String), ``sqft`` (Int64), ``price``
        (Int64, dollars) and the two models' predictions (Float64, dollars).

    Examples
    --------
    >>> houses = make_houses()
    >>> houses.shape
    (4000, 5)
    >>> houses.columns
    ['region', 'sqft', 'price', 'linear', 'boosted']
    """
    rng = np.random.default_rng(seed)
    regions = np.array(list(PRICE_PER_SQFT))
    region = rng.choice(regions, size=N_HOUSES, p=[0.2, 0.25, 0.35, 0.2])
    sqft = np.round(rng.lognormal(np.log(1_700.0), 0.3, N_HOUSES))
    per_sqft = np.array([PRICE_PER_SQFT[r] for r in region])
    price = per_sqft * sqft * rng.lognormal(0.0, 0.08, N_HOUSES)

    # A dozen luxury houses on the coast, priced beyond anything in the
    # boosted model's training data.
    luxury = rng.choice(np.flatnonzero(region == "Coast"), N_LUXURY, replace=False)
    price[luxury] = rng.uniform(2.5e6, 8.0e6, N_LUXURY)
    sqft[luxury] = np.round(price[luxury] / PRICE_PER_SQFT["Coast"])
    price = np.round(price, -2)

    # `linear` errs by about 12% of a typical house in the region, whatever
    # the house; `boosted` by 6% of the house's own price, up to its cap.
    typical = per_sqft * 1_700.0
    linear = price + rng.normal(0.0, 0.12, N_HOUSES) * typical
    boosted = np.minimum(price * (1.0 + rng.normal(0.0, 0.06, N_HOUSES)), BOOSTED_CAP)
    return pl.DataFrame(
        {
            "region": region,
            "sqft": sqft.astype(np.int64),
            "price": price.astype(np.int64),
            "linear": np.round(linear, -2),
            "boosted": np.round(boosted, -2),
        }
    )


def main(argv: list[str] | None = None) -> None:
    """Write the sample to ``houses.parquet`` (or to the path given)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else OUTPUT
    make_houses().write_parquet(path, statistics=False)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

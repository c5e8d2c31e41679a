"""Coverage of the report's 95% intervals of bias, MSE and MAE, by simulation.

Errors are drawn from a normal, a Student-t with 5 degrees of freedom and a
Laplace distribution, each shifted by a bias of 0.5; each report has 400
segments of 300 rows, and again of 30 rows (where a normal interval of MAE
could leave [0, inf); the log-scale one cannot). The share of segments whose
interval holds the true value is the coverage; it should be near 0.95. Run
from the repository root:

    python docs/scripts/interval_coverage.py [REPEATS]

The figures are recorded in docs/compare.md.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import polars as pl
from scipy import integrate, stats

import polars_l2

SEGMENTS = 400
ROWS = 300
SHIFT = 0.5

#: name -> (frozen scipy distribution of the noise, before the shift)
DISTRIBUTIONS = {
    "normal": stats.norm(scale=1.0),
    "t(5)": stats.t(df=5),
    "Laplace": stats.laplace(scale=1.0),
}


def truth(noise: stats.rv_continuous) -> dict[str, float]:
    """Return the true bias, MSE and MAE of the errors SHIFT + noise."""
    mae, _ = integrate.quad(lambda x: abs(SHIFT + x) * noise.pdf(x), -np.inf, np.inf)
    return {"bias": SHIFT, "mse": SHIFT**2 + float(noise.var()), "mae": float(mae)}


def coverage(
    name: str, seed: int, *, segments: int = SEGMENTS, rows: int = ROWS
) -> dict[str, float]:
    """Return the share of segments whose 95% interval holds each true value."""
    noise = DISTRIBUTIONS[name]
    rng = np.random.default_rng(seed)
    n = segments * rows
    errors = SHIFT + noise.rvs(size=n, random_state=rng)
    y = rng.normal(0.0, 1.0, n)
    df = pl.DataFrame(
        {"segment": np.repeat(np.arange(segments), rows), "y": y, "p": y + errors}
    )
    report = polars_l2.report(df, "y", "p", by="segment", top_share=False)
    want = truth(noise)
    return {
        metric: report.select(
            (
                (pl.col(f"{metric}_low") <= value) & (value <= pl.col(f"{metric}_high"))
            ).mean()
        ).item()
        for metric, value in want.items()
    }


def main(repeats: int) -> None:
    """Print the coverage of each interval, averaged over `repeats` reports."""
    for rows in (ROWS, 30):
        print(f"{SEGMENTS} segments of {rows} rows, {repeats} report(s) per row")
        print(f"{'errors':10} {'bias':>6} {'MSE':>6} {'MAE':>6}")
        for name in DISTRIBUTIONS:
            runs = [coverage(name, seed, rows=rows) for seed in range(repeats)]
            shares = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
            print(
                f"{name:10} {shares['bias']:6.3f} {shares['mse']:6.3f} "
                f"{shares['mae']:6.3f}"
            )
    se = math.sqrt(0.95 * 0.05 / (SEGMENTS * repeats))
    print(f"(binomial standard error of one share: {se:.3f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

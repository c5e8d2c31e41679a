"""Time Murphy diagrams: one aggregation per θ against a cross join with the grid.

    python benchmarks/murphy.py            # 4,000,000 rows, writes the page
    python benchmarks/murphy.py --rows 400000 --output -   # quick, to stdout

Writes ``docs/murphy-performance.md``: the time of
:func:`polars_l2.murphy` (each θ one aggregation per model, in one
group-by) against the same table from a cross join of the rows with the
grid, grouped by segment and θ, and against a grouped MSE of the same
models, on the streaming engine; medians of interleaved rounds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

import polars_l2

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent


def _data(rows: int, segments: int) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    y = rng.normal(size=rows)
    return pl.DataFrame(
        {
            "g": rng.integers(0, segments, rows),
            "y": y,
            "a": y + rng.normal(size=rows),
            "b": y + rng.standard_t(3, size=rows),
        }
    )


def _cross_join(frame: pl.DataFrame, models: list[str], thetas: list[float]) -> object:
    grid = pl.LazyFrame({"theta": thetas})
    t, y = pl.col("theta"), pl.col("y")
    scores = [
        (((t <= pl.col(m)).cast(pl.Float64) - (t <= y).cast(pl.Float64)) * (t - y))
        .mean()
        .alias(m)
        for m in models
    ]
    query = frame.lazy().join(grid, how="cross").group_by("g", "theta").agg(scores)
    return query.collect(engine="streaming")


def _grouped_mse(frame: pl.DataFrame, models: list[str]) -> object:
    query = (
        frame.lazy().group_by("g").agg(polars_l2.mse("y", m).alias(m) for m in models)
    )
    return query.collect(engine="streaming")


def _median_time(
    cases: dict[str, Callable[[], object]], rounds: int
) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            start = time.perf_counter()
            case()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _verdict(faster: list[bool]) -> str:
    if all(faster):
        return "Here the aggregations per θ were the faster in every case."
    if not any(faster):
        return "Here the cross join was the faster in every case."
    return (
        f"Here the aggregations per θ were the faster in {sum(faster)} of "
        f"{len(faster)} cases."
    )


def _parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--output", default=str(ROOT / "docs" / "murphy-performance.md")
    )
    return parser.parse_args()


def _cases(
    frame: pl.DataFrame, models: list[str], grid: list[float]
) -> dict[str, Callable[[], object]]:
    """Return the three timed queries for one set of models and one grid."""
    return {
        "murphy": lambda: polars_l2.murphy(
            frame.lazy(), "y", models, by="g", thetas=grid
        ),
        "cross join": lambda: _cross_join(frame, models, grid),
        "grouped MSE": lambda: _grouped_mse(frame, models),
    }


def _row(
    frame: pl.DataFrame, models: list[str], points: int, rounds: int
) -> tuple[str, bool]:
    """Time one table row; return it and whether `murphy` beat the cross join."""
    thetas = np.quantile(frame["y"].to_numpy(), np.linspace(0, 1, points))
    grid = np.unique(thetas).tolist()
    found = _median_time(_cases(frame, models, grid), rounds)
    reference = found["grouped MSE"]
    line = (
        f"| {len(models)} | {len(grid)} | {found['murphy'] * 1e3:,.0f} ms "
        f"({found['murphy'] / reference:.0f}×) | "
        f"{found['cross join'] * 1e3:,.0f} ms "
        f"({found['cross join'] / reference:.0f}×) | "
        f"{reference * 1e3:,.0f} ms |"
    )
    return line, found["murphy"] <= found["cross join"]


def _page(
    args: argparse.Namespace, load: float, lines: list[str], faster: list[bool]
) -> str:
    """Return the markdown page around the table's rows."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""# Performance of Murphy diagrams

_Written by `python benchmarks/murphy.py` on {stamp}.
Do not edit by hand: re-run the script._

{args.rows:,} Float64 rows, {args.segments} segments, streaming engine,
median of {args.rounds} interleaved rounds; load average (1 min) {load:.2f}
on {os.cpu_count()} cores before the run. `murphy` is
`polars_l2.murphy(lf, "y", models, by="g", thetas=grid)`: one group-by
with one aggregation per θ and model (collected, post-processing
included). `cross join` computes the same mean elementary scores from the
rows joined with the grid, grouped by segment and θ. The ratio is to a
grouped MSE of the same models.

| models | θ | murphy | cross join | grouped MSE |
|---|---|---|---|---|
{chr(10).join(lines)}

The cost of `murphy` grows with the number of θ times the models: each θ
is an aggregation of an element-wise expression over every row, and the
query also computes the state's moments (its counts and weights). The
cross join materialises rows × θ before grouping. {_verdict(faster)} A grid
of 25 to 100 points draws a diagram; pass `thetas=` with fewer points where
the data is large.
"""


def main() -> int:
    """Time every combination of models and grid, and write the page."""
    args = _parse_args()
    frame = _data(args.rows, args.segments)
    load = os.getloadavg()[0]
    lines = []
    faster = []
    for models in (["a"], ["a", "b"]):
        for points in (25, 100):
            line, won = _row(frame, models, points, args.rounds)
            lines.append(line)
            faster.append(won)
    page = _page(args, load, lines, faster)
    if args.output == "-":
        sys.stdout.write(page)
    else:
        Path(args.output).write_text(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

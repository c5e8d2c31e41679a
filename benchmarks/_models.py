"""Case 7: the report's cost as the number of models grows.

Each run is a fresh Python process, so that its peak resident memory
(``ru_maxrss``) belongs to that one report. The process times three steps:
building the lazy query (``polars_l2.report`` on a LazyFrame), optimising it
(``explain()``, which resolves and optimises the plan without running it) and
collecting it (optimisation again, then execution).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from _common import Config, number
from _harness import Section, Table, Target, ratio

ROOT = Path(__file__).resolve().parent.parent

#: Run in a fresh process: argv = models rows segments top_share.
_ONE_REPORT = """
import json, sys, time
import numpy as np, polars as pl, polars_l2
models, rows, segments, top = (int(a) for a in sys.argv[1:5])
g = np.random.default_rng(20240611)
y = g.normal(100.0, 20.0, rows)
data = {"y": y, "g": g.integers(0, segments, rows, dtype=np.int32)}
for i in range(models):
    data[f"p{i}"] = y + g.normal(0.0, 5.0, rows)
lf = pl.DataFrame(data).lazy()
del data
predicted = [f"p{i}" for i in range(models)]
t0 = time.perf_counter()
query = polars_l2.report(lf, "y", predicted, by="g", top_share=bool(top))
t1 = time.perf_counter()
query.explain(engine="streaming")
t2 = time.perf_counter()
out = query.collect(engine="streaming")
t3 = time.perf_counter()
assert out.height == models * segments, out.height
print(json.dumps({"build": t1 - t0, "explain": t2 - t1, "collect": t3 - t2,
                  "peak": 0}))
"""


@dataclass
class Run:
    """One report in a fresh process: seconds per step and peak RSS (bytes)."""

    build: float
    explain: float
    collect: float
    peak: int

    @property
    def total(self) -> float:
        """What a user waits for: building the query and collecting it."""
        return self.build + self.collect


#: The parent of each report: a small, fresh Python whose only child is the
#: report, so ``RUSAGE_CHILDREN`` is the report's own peak. (A child forked
#: from this big process would inherit its peak: Linux keeps ``ru_maxrss``
#: across ``exec``.)
_PARENT = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(done.stderr)
if done.returncode != 0:
    sys.exit(done.returncode)
run = json.loads(done.stdout.strip().splitlines()[-1])
run["peak"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps(run))
"""


def _one(models: int, rows: int, segments: int, *, top_share: bool) -> Run:
    env = dict(os.environ)
    # The child imports the package this script benchmarks (this tree).
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    args = [str(models), str(rows), str(segments), str(int(top_share))]
    report = [sys.executable, "-c", _ONE_REPORT, *args]
    done = subprocess.run(
        [sys.executable, "-c", _PARENT, *report],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        msg = f"{models} models: exit {done.returncode}: {last[:200]}"
        raise RuntimeError(msg)
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


def _median(runs: list[Run]) -> Run:
    return Run(
        build=statistics.median(r.build for r in runs),
        explain=statistics.median(r.explain for r in runs),
        collect=statistics.median(r.collect for r in runs),
        peak=max(r.peak for r in runs),
    )


def models(cfg: Config) -> Section:
    """Case 7: the report with few and with many predicted columns."""
    low, high = cfg.models
    rows, segments = cfg.models_rows, cfg.models_segments
    section = Section(
        f"7. Linear in models: `report` with {number(low)} and {number(high)} "
        f"predicted columns, {number(rows)} rows, {number(segments)} segments"
    )
    time_target = Target(
        f"7 report, {number(high)} models",
        f"time with {number(high)} models ÷ with {number(low)} ≤ 15 "
        f"(linear: {high // low})",
        15.0,
    )
    rss_target = Target(f"7 report, {number(high)} models", "peak RSS ≤ 2 GB", 2.0)
    section.targets += [time_target, rss_target]
    repeats = 1 if cfg.quick else 3
    results = _run_reports(cfg, repeats)
    section.intro.append(
        "Each report runs in a fresh process on generated data (Float64 target "
        "and predictions, Int32 segments), on the streaming engine. *build* is "
        "the call to `polars_l2.report` on a LazyFrame, *optimise* is "
        "`explain(engine='streaming')` (the plan resolved and optimised, not "
        "run), *collect* is `collect(engine='streaming')`, which optimises "
        "again and executes; *execute* is collect minus optimise. Peak RSS is "
        "the report process's `ru_maxrss`, read by its own small parent "
        f"process. {number(low)} models: median of {repeats} run(s); "
        f"{number(high)} models: one run."
    )
    section.tables.append(_runs_table(results))
    few, many = results[low, True], results[high, True]
    time_target.measured = many.total / few.total
    time_target.shown = (
        f"{ratio(time_target.measured)} ({many.total:.1f} s vs {few.total:.2f} s)"
    )
    rss_target.measured = many.peak / 1e9
    rss_target.shown = f"{many.peak / 1e9:.2f} GB"
    gap = _models_gap(results[high, False].total / results[low, False].total)
    for target in (time_target, rss_target):
        if target.status == "MISS":
            target.gap = gap
    return section


def _run_reports(cfg: Config, repeats: int) -> dict[tuple[int, bool], Run]:
    """Run the report with few and many models, with and without the top share."""
    low, high = cfg.models
    results: dict[tuple[int, bool], Run] = {}
    for top_share in (True, False):
        for count in (low, high):
            # The large count runs once: it is the slow one.
            n = repeats if count == low else 1
            runs = [
                _one(count, cfg.models_rows, cfg.models_segments, top_share=top_share)
                for _ in range(n)
            ]
            results[count, top_share] = _median(runs)
    return results


def _runs_table(results: dict[tuple[int, bool], Run]) -> Table:
    """Return one row per report: its steps' seconds and its peak RSS."""
    table = Table(
        [
            "models",
            "top_share",
            "build s",
            "optimise s",
            "collect s",
            "execute s",
            "build + collect s",
            "peak RSS",
        ]
    )
    for (count, top_share), run in results.items():
        table.rows.append(
            [
                number(count),
                str(top_share),
                f"{run.build:.2f}",
                f"{run.explain:.2f}",
                f"{run.collect:.2f}",
                f"{max(run.collect - run.explain, 0.0):.2f}",
                f"{run.total:.2f}",
                f"{run.peak / 2**30:.2f} GiB",
            ]
        )
    return table


def _models_gap(bare: float) -> str:
    """Return why the report grows faster than the models, given the bare ratio."""
    return (
        f"Without the top-1% share the ratio is {ratio(bare)}. "
        "The moments are one group-by of every model side by side below "
        "polars_l2._core.moments.LONG_FROM models (400), whose cost grows "
        "faster than the models when the rows are few, and one long group-by "
        "by model and segment from there on; beyond four models the "
        "histogram is one long group-by."
    )


CASES = {"models": models}

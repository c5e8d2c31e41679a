"""The results page: targets first, then method, machine, and each case."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from _common import Config, number
from _harness import Section, Table, Target

if TYPE_CHECKING:
    from datetime import datetime

PACKAGES = [
    ("polars-l2", "polars-l2"),
    ("polars", "polars"),
    ("polars runtime", "polars-runtime-32"),
    ("pyarrow", "pyarrow"),
    ("numpy", "numpy"),
    ("pandas", "pandas"),
    ("scikit-learn", "scikit-learn"),
    ("polars-ds", "polars_ds"),
    ("threadpoolctl", "threadpoolctl"),
]


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    kib = int(line.split()[1])
                    return f"{kib / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415
    except ImportError:
        return "threadpoolctl not installed"
    pools = []
    for pool in threadpool_info():
        kernel = pool.get("architecture")
        pools.append(
            f"{pool.get('internal_api')} {pool.get('version') or ''} "
            f"({pool.get('prefix')}; "
            + (f"{kernel} kernel, " if kernel else "")
            + f"{pool.get('num_threads')} threads)"
        )
    return "; ".join(pools) or "none loaded"


def machine_table() -> Table:
    """Return cores, memory, CPU, OS and library versions as a table."""
    import polars as pl  # noqa: PLC0415

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    rows = [
        ["CPU", _cpu_model()],
        [
            "cores",
            f"{cores} ({usable} usable; Polars thread pool {pl.thread_pool_size()})",
        ],
        ["memory", _memory()],
        ["OS", platform.platform()],
        ["python", sys.version.split()[0]],
        *[[label, _version(dist)] for label, dist in PACKAGES],
        ["BLAS (numpy)", _blas()],
    ]
    return Table(["", ""], rows)


#: How each status is shown in the targets table.
VERDICTS = {"PASS": "PASS", "MISS": "**MISS**", "SKIP": "SKIP", "INFO": "reported"}
#: Added to a MISS within 3% of its limit (inside a shared machine's noise).
MARGINAL_NOTE = " (within 3%)"


def verdict(target: Target) -> str:
    """Return the result cell of a target: its status, and whether it is marginal.

    Which verdict a target gets depends on the machine's speed and load; the
    tests check only that it is one of these.
    """
    result = VERDICTS[target.status]
    return result + MARGINAL_NOTE if target.marginal else result


def targets_table(sections: list[Section]) -> Table:
    """Return every target of the run with its figure and verdict."""
    table = Table(["case", "target", "measured", "result"])
    for s in sections:
        for t in s.targets:
            measured = t.shown or t.skipped or "n/a"
            table.rows.append([t.case, t.goal, measured, verdict(t)])
    return table


def summary(sections: list[Section]) -> str:
    """Return the targets as plain text, for the end of the console output."""
    lines = ["targets:"]
    lines += [
        f"  {t.status:4}  {t.case}: {t.goal}: {t.shown or t.skipped}"
        for s in sections
        for t in s.targets
    ]
    return "\n".join(lines)


def render(
    sections: list[Section],
    *,
    cfg: Config,
    argv: list[str],
    started: datetime,
    seconds: float,
    load: tuple[float, float],
    notes: list[str],
    openblas_unset: str,
) -> str:
    """Return the whole markdown page."""
    parts = [
        "# Performance",
        f"_Written by `{_command(argv)}` on {started:%Y-%m-%d %H:%M} UTC in "
        f"{seconds / 60:,.1f} minutes. Do not edit by hand: re-run the script "
        "(see `benchmarks/README.md`)._",
    ]
    if cfg.quick:
        parts.append(
            "**Quick mode:** tiny sizes and 2 repeats, to prove the script runs. "
            "These figures mean nothing; run without `--quick` for real ones."
        )
    parts.append(_context(notes, load, openblas_unset))
    parts += _targets_parts(sections)
    parts += [
        "## How the figures are made",
        _method(cfg),
        "## Machine and versions",
        machine_table().markdown(),
    ]
    parts += [s.markdown() for s in sections]
    return "\n\n".join(parts) + "\n"


def _command(argv: list[str]) -> str:
    """Return the command line that wrote the page, without its notes."""
    shown = []
    skip = False
    for arg in argv:  # the notes are printed below, not in the command
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif not arg.startswith("--note="):
            shown.append(arg)
    return " ".join(["python benchmarks/run.py", *shown])


def _context(notes: list[str], load: tuple[float, float], openblas_unset: str) -> str:
    """Return the bullets on the run's conditions: notes, load, OpenBLAS."""
    cores = os.cpu_count() or 1
    before, highest = load
    context = [f"- {n}" for n in notes]
    context.append(
        f"- Load average (1 min) was {before:.2f} before the run and at most "
        f"{highest:.2f} at the end of a case, on {cores} cores. This run keeps "
        "about one to two cores busy itself, so a figure well above "
        f"{cores} means other work shared the machine and the absolute times are "
        "inflated. Ratios come from the same interleaved rounds, so they suffer "
        "less."
    )
    if openblas_unset:
        context.append(
            f"- The environment set `{openblas_unset}`; the script re-ran itself "
            "without it so numpy and scikit-learn use OpenBLAS's own choice of kernel."
        )
    return "\n".join(context)


def _targets_parts(sections: list[Section]) -> list[str]:
    """Return the targets heading and table, then what would close each miss."""
    parts = [
        "## Targets",
        "From issues 5, 15 and 25. PASS or MISS compares the measured median ratio "
        "with the target; a MISS says what would close the gap below its case. "
        "SKIP means the feature or peer was not available in this run.",
        targets_table(sections).markdown(),
    ]
    gaps = [
        f"- **{t.case}: {t.goal}** — "
        + (
            "Within 3% of the target, inside this machine's run-to-run noise. "
            if t.marginal
            else ""
        )
        + t.gap
        for s in sections
        for t in s.targets
        if t.status == "MISS"
    ]
    if gaps:
        parts += ["### Misses: what would close the gap", "\n".join(gaps)]
    return parts


def _method(cfg: Config) -> str:
    """Return the bullets on the data, the rounds, the checks and the engines."""
    return "\n".join(
        [
            f"- Generated data (fixed numpy seed): {number(cfg.rows)} rows of a "
            "Float64 target around 100 and predictions with Gaussian errors "
            "(a second model has heavy-tailed errors); no nulls, so every "
            "hand-written form below gives the right answer on Float64 data.",
            f"- Each variant runs once to warm up, then {cfg.repeats} times "
            f"({cfg.grouped_repeats} in case 2, {cfg.slow_repeats} in case 3), "
            "in interleaved rounds with a rotating order; the tables give the "
            "median and the fastest–slowest range.",
            "- `result` compares each variant's answer with the case's "
            "reference (relative tolerance 1e-9): a variant that `differs` "
            "is not eligible as a baseline.",
            "- *Best hand-written* is the fastest correct form a Polars expert "
            "might write, among `((y - p) ** 2).mean()`, "
            "`((y - p) * (y - p)).mean()` and `((y - p) * (y - p)).sum() / "
            "pl.len()`, on either engine. The package is compared on the same "
            "engine as that baseline.",
            "- Engines: Polars' `streaming` and `in-memory` engines "
            "(`LazyFrame.collect(engine=...)`) on a frame already in memory.",
        ]
    )

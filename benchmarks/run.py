"""Benchmark polars-l2 against hand-written Polars and the usual tools.

Run from the repository root::

    python benchmarks/run.py            # full run, writes docs/performance.md
    python benchmarks/run.py --quick --output /tmp/perf.md   # what CI runs
    python benchmarks/run.py --big      # adds the larger-than-memory case
    python benchmarks/run.py --cases ungrouped,grouped --output /tmp/p.md

Every case runs in this one process on generated data (fixed numpy seed).
Variants of a case are timed in interleaved rounds after a warm-up; the page
reports medians and, above all, ratios. Timings are never asserted anywhere:
the page states each target (issues 5 and 15), the figure measured and PASS
or MISS.
"""

from __future__ import annotations

import os
import sys

# OpenBLAS reads these when numpy is imported; forced values can make numpy
# slower than it is on this CPU. Re-run without them before importing numpy,
# and say so on the page.
_OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_UNSET_MARK = "POLARS_L2_BENCH_UNSET_OPENBLAS"
if any(v in os.environ for v in _OPENBLAS_VARS) and __name__ == "__main__":
    removed = ";".join(
        f"{v}={os.environ.pop(v)}" for v in _OPENBLAS_VARS if v in os.environ
    )
    os.environ[_UNSET_MARK] = removed
    os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import _metrics  # noqa: E402
import _models  # noqa: E402
import _page  # noqa: E402
import _report  # noqa: E402
from _common import Config, full_config, quick_config  # noqa: E402
from _harness import Section, Target  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["ungrouped", "grouped", "report", "big", "integers", "vectors", "models"]
NUMBERS = {str(i): name for i, name in enumerate(ORDER, start=1)}
CASES: dict[str, Callable[[Config], Section]] = {
    **_metrics.CASES,
    **_report.CASES,
    **_models.CASES,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="cases: "
        + ", ".join(f"{i} {name}" for i, name in NUMBERS.items())
        + " ('big' runs only with --big or when named in --cases)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 2 repeats (CI: proves it runs)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "performance.md",
        help="where to write the results page (default: docs/performance.md)",
    )
    parser.add_argument(
        "--cases",
        default=None,
        help="comma-separated case names or numbers to run (default: all but big)",
    )
    parser.add_argument(
        "--big",
        action="store_true",
        help="also run case 4: write a large parquet file and measure the CLI's memory",
    )
    parser.add_argument(
        "--big-path",
        type=Path,
        default=Path("/tmp/polars_l2_bench/big.parquet"),
        help="the large parquet file (written once, reused; keep it out of the repo)",
    )
    parser.add_argument(
        "--big-rows", type=int, default=50_000_000, help="rows in the large file"
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="override the row count of cases 1, 2, 3, 5",
    )
    parser.add_argument("--repeats", type=int, default=None, help="override repeats")
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line to print on the page (e.g. that the machine was shared)",
    )
    return parser.parse_args(argv)


def selected(args: argparse.Namespace) -> list[str]:
    """Return the cases to run, in page order."""
    if args.cases is None:
        names = [n for n in ORDER if n != "big"]
        if args.big:
            names.append("big")
    else:
        names = []
        for raw in args.cases.split(","):
            name = NUMBERS.get(raw.strip(), raw.strip())
            if name not in CASES:
                msg = f"unknown case {raw!r}; choose from {', '.join(ORDER)}"
                raise SystemExit(msg)
            names.append(name)
        if args.big and "big" not in names:
            names.append("big")
    return [n for n in ORDER if n in names]


def configure(args: argparse.Namespace) -> Config:
    """Return the sizes for this run, with any overrides."""
    make = quick_config if args.quick else full_config
    cfg = make(args.big_rows, args.big_path)
    changes = {}
    if args.rows is not None:
        changes["rows"] = args.rows
        changes["report_rows"] = args.rows
    if args.repeats is not None:
        changes["repeats"] = args.repeats
        changes["grouped_repeats"] = min(cfg.grouped_repeats, args.repeats)
        changes["slow_repeats"] = min(cfg.slow_repeats, args.repeats)
    if changes:
        from dataclasses import replace  # noqa: PLC0415

        cfg = replace(cfg, **changes)
    return cfg


def main(argv: list[str] | None = None) -> int:
    """Run the selected cases, print the results and write the page."""
    args = parse_args(argv)
    cfg = configure(args)
    names = selected(args)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    clock = time.perf_counter()
    sections: list[Section] = []
    loads: list[float] = []  # 1-minute load average at the end of each case
    failed = False
    for name in names:
        print(f"\n== case {ORDER.index(name) + 1}: {name}", flush=True)
        case_clock = time.perf_counter()
        try:
            section = CASES[name](cfg)
        except Exception as exc:  # reported, then exit status 1
            failed = True
            traceback.print_exc()
            section = Section(f"{ORDER.index(name) + 1}. {name}")
            message = (str(exc).splitlines() or [""])[0]
            section.intro.append(
                f"**The case failed:** `{type(exc).__name__}: {message}`"
            )
            section.targets.append(
                Target(name, "the case runs", None, skipped="failed")
            )
        loads.append(os.getloadavg()[0])
        elapsed = time.perf_counter() - case_clock
        section.notes.append(f"_Case time: {elapsed:,.0f} s._")
        print(section.markdown(), flush=True)
        sections.append(section)
    page = _page.render(
        sections,
        cfg=cfg,
        argv=sys.argv[1:] if argv is None else argv,
        started=started,
        seconds=time.perf_counter() - clock,
        load=(load_before[0], max(loads, default=load_before[0])),
        notes=args.note,
        openblas_unset=os.environ.get(_UNSET_MARK, ""),
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(args.output)
    print("\n" + _page.summary(sections))
    print(f"\nwrote {args.output} in {time.perf_counter() - clock:,.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``polars-l2 compare``: whether the candidate model is better than the baseline.

The same inputs as ``evaluate`` (files, directories, globs; saved states), the
same formats and outputs; the table is :func:`polars_l2.compare`'s.

- One data file and no ``--state``: :func:`polars_l2.compare` on the file.
- Several data files, or any ``--state``: each file is reduced to a state
  built with the baseline (:func:`polars_l2.state` with ``baseline=``), the
  states are merged and compared. The numbers are the same up to rounding.
- ``--cluster`` needs the rows: every file is read as one lazy frame, and
  states are refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

import polars_l2
from polars_l2 import _state, plot
from polars_l2._core import columns
from polars_l2.cli._errors import CliError, about
from polars_l2.cli._evaluate import STREAMING
from polars_l2.cli._inputs import discover
from polars_l2.cli._output import replace_atomically, write_state_atomic
from polars_l2.cli._progress import Progress
from polars_l2.cli._progress import wanted as progress_wanted

if TYPE_CHECKING:
    from collections.abc import Callable

    from polars_l2.cli._inputs import Source

#: The exit status of ``--fail-if-worse`` when a candidate is worse somewhere.
EXIT_WORSE = 3

_EPILOG = """\
what it does:
  For each candidate and segment, the paired t-test on the per-row
  differences of squared errors, candidate minus baseline, over the rows
  where the actual, both predictions (and the weight) are present: the
  Diebold-Mariano test at horizon 1 with the Harvey-Leybourne-Newbold
  correction. mse_diff < 0 means the candidate is better. p_value_adjusted
  accounts for the many segments (Holm by default); the overall row is not
  adjusted. verdict is better, worse or inconclusive at 1 - confidence, and
  empty for segments with fewer than --min-n (effective) rows.

inputs and states:
  As evaluate. --save-state FILE writes the merged state, built with the
  baseline; --state FILE merges saved states (built with the same baseline).
  --cluster needs the data rows: it cannot be used with --state or
  --save-state.

exit status:
  0 success; 2 bad input; 3 with --fail-if-worse, when any adjusted verdict
  is worse (a release gate for CI).

examples:
  polars-l2 compare preds.parquet --actual y --baseline old --candidate new
  polars-l2 compare 'days/*.parquet' --actual y --baseline old \\
      --candidate new --by region --cluster day --fail-if-worse
"""


def register(
    commands: argparse._SubParsersAction[Any],
    *,
    confidence: Callable[[str], float],
    add_output_options: Callable[[argparse.ArgumentParser], None],
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """Add the ``compare`` subcommand to the command's subparsers."""
    parser = commands.add_parser(
        "compare",
        help="is a candidate model better than the baseline, per segment?",
        description="Compare candidate models with a baseline, per segment: "
        "paired differences of\nsquared errors, with intervals, p-values "
        "adjusted for many segments, and a verdict.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="data files")
    group = parser.add_argument_group("column options")
    group.add_argument("--actual", metavar="COL", help="column of observed values")
    group.add_argument("--baseline", metavar="COL", required=True)
    group.add_argument(
        "--candidate", metavar="COL", action="append", default=[], required=True
    )
    group.add_argument("--by", metavar="COL", action="append", default=[])
    group.add_argument("--weight", metavar="COL")
    group.add_argument("--cluster", metavar="COL", help="column of cluster ids")
    parser.add_argument(
        "--adjust",
        choices=("holm", "bh", "none"),
        default="holm",
        help="(default: holm)",
    )
    parser.add_argument("--confidence", type=confidence, default=0.95)
    parser.add_argument("--min-n", type=int, default=30, metavar="N")
    parser.add_argument(
        "--fail-if-worse",
        action="store_true",
        help=f"exit with status {EXIT_WORSE} when any adjusted verdict is worse",
    )
    states = parser.add_argument_group("state options")
    states.add_argument(
        "--state", metavar="FILE", type=Path, action="append", default=[]
    )
    states.add_argument("--save-state", metavar="FILE", type=Path)
    add_output_options(parser)
    parser.set_defaults(handler=handler)


def comparison(
    args: argparse.Namespace, sources: list[Source]
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Return the comparison table, and the merged state when one was built."""
    options = {
        "confidence": args.confidence,
        "adjust": None if args.adjust == "none" else args.adjust,
        "min_n": args.min_n,
    }
    uses_states = bool(args.state) or args.save_state is not None
    if args.cluster is not None and uses_states:
        msg = "--cluster needs the data rows: drop --state and --save-state"
        raise CliError(msg)
    if args.cluster is not None or (len(sources) == 1 and not uses_states):
        frame = _rows(sources)
        with about(sources[0].path if len(sources) == 1 else None):
            table = polars_l2.compare(
                frame,
                _actual(args),
                args.baseline,
                args.candidate,
                by=args.by or None,
                weight=args.weight,
                cluster=args.cluster,
                **options,
            )
        return table, None
    merged = _merged_state(args, sources)
    with about(None):
        table = polars_l2.compare(
            merged, None, args.baseline, args.candidate, **options
        )
    return table, merged


def _actual(args: argparse.Namespace) -> str:
    if not args.actual:
        msg = "--actual is required with data files"
        raise CliError(msg)
    return str(args.actual)


def _rows(sources: list[Source]) -> pl.LazyFrame:
    if not sources:
        msg = "--cluster needs data files"
        raise CliError(msg)
    scans = []
    for source in sources:
        with about(source.path):
            if not source.is_empty():
                scans.append(source.scan())
    if not scans:
        msg = "empty input: no data rows"
        raise CliError(msg)
    return pl.concat(scans, how="diagonal_relaxed")


def _merged_state(args: argparse.Namespace, sources: list[Source]) -> pl.DataFrame:
    spec = None
    if sources:
        spec = columns.parse(
            _actual(args),
            [args.baseline, *args.candidate],
            by=args.by,
            weight=args.weight,
            function="compare",
            reserved=_state.RESERVED,
        )
    parts: list[pl.DataFrame] = []
    with Progress(
        len(sources),
        stream=sys.stderr,
        enabled=progress_wanted(sys.stderr, len(sources)),
    ) as bar:
        for source in sources:
            assert spec is not None
            with about(source.path):
                if not source.is_empty():
                    # The histogram only for a saved state, which evaluate
                    # may finalise later.
                    query = _state.evaluate(
                        source.scan(),
                        spec,
                        baseline=args.baseline,
                        top_share=args.save_state is not None,
                    )
                    parts.append(
                        query.collect(engine="streaming", optimizations=STREAMING)
                    )
            bar.advance()
    for path in args.state:
        with about(path):
            if not path.is_file():
                msg = f"{path}: no such state file"
                raise CliError(msg)
            pl.read_parquet_schema(path)
    if not parts and not args.state:
        msg = "empty input: no data rows"
        raise CliError(msg)
    with about(None):
        return polars_l2.merge_states([*args.state, *parts])


def run(
    args: argparse.Namespace,
    *,
    emit: Callable[[pl.DataFrame], None],
    check_outputs: Callable[[argparse.Namespace, list[Path]], None],
) -> int:
    """Run ``polars-l2 compare``; `emit` writes the table as ``evaluate`` does.

    `check_outputs` refuses outputs that would overwrite an input.
    """
    if not args.paths and not args.state:
        msg = "nothing to compare: give data files (PATH) or --state files"
        raise CliError(msg)
    sources = discover(args.paths)
    check_outputs(args, [source.path for source in sources])
    table, merged = comparison(args, sources)
    if args.save_state is not None and merged is not None:
        write_state_atomic(args.save_state, merged)
    if args.plot is not None:
        with about(None):
            _plot(args.plot, table)
    emit(table)
    worse = table.get_column("verdict") == "worse"
    if args.fail_if_worse and worse.any():
        return EXIT_WORSE
    return 0


def _plot(path: Path, table: pl.DataFrame) -> None:
    try:
        replace_atomically(path, lambda tmp: plot.plot_comparison(table, path=tmp))
    except ImportError as error:
        raise CliError(str(error)) from error

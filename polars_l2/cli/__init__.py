"""The ``polars-l2`` command: evaluate predictions in files, or run the demo.

``polars-l2 evaluate`` reads parquet, CSV, Arrow IPC/Feather and NDJSON files
lazily, on Polars' streaming engine, and prints the model evaluation report
(:func:`polars_l2.report`). ``polars-l2 demo`` prints the report of the sample
shipped with the package. ``python -m polars_l2`` runs the same command.

A bad input (a missing or unreadable file, a corrupt file, a missing or
non-numeric column, a bad option) is one line on stderr and exit status 2.
Anything else is a bug: a line asking for a report, the traceback, and exit
status 1. SIGINT and SIGTERM print one line and exit with 130 and 143.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import traceback
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import polars as pl

import polars_l2
from polars_l2._core import columns
from polars_l2._state import RESERVED
from polars_l2.cli import _compare, _signals
from polars_l2.cli._demo import DEMO, demo_report, demo_story
from polars_l2.cli._errors import USER_ERRORS, CliError, about, first_line
from polars_l2.cli._evaluate import Spec, all_rows, evaluate
from polars_l2.cli._inputs import discover, same_file, supported_extensions
from polars_l2.cli._output import (
    FORMATS,
    check_writable,
    render,
    reopen_closed_streams,
    write_atomic,
    write_plot,
    write_state_atomic,
    write_stdout,
)
from polars_l2.cli._progress import wanted as _progress_wanted

if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "polars-l2"
EXIT_BUG = 1
EXIT_ERROR = 2
_TOP_EPILOG = """\
examples:
  polars-l2 demo
  polars-l2 evaluate preds.parquet --actual price --predicted model_a \\
      --predicted model_b --by region
  polars-l2 evaluate --help

exit status:
  0    success (also when the reader of the output stops early: | head)
  1    a bug in polars-l2: a line asking for a report, then the traceback
  2    bad input (files, columns, options): one line on stderr
  130  interrupted (SIGINT, Ctrl-C): one line
  143  terminated (SIGTERM): one line
"""

_EVALUATE_EPILOG = f"""\
inputs:
  Each PATH is a file, a directory or a glob pattern (quote it so the shell
  leaves it alone; ** matches any depth). The format comes from the extension:
  {supported_extensions()}.
  A directory means every supported file below it, at any depth, in sorted
  order, skipping names that start with '.' or '_'. A file named twice is read
  once. Files are scanned lazily and run on Polars' streaming engine.

one file or several:
  One data file (and no --state) is evaluated in one query: every column is
  exactly polars_l2.report's. Several files, or --state, are reduced one file
  at a time to mergeable states, in memory that grows with the number of
  segments, not rows, and merged: every column is the same up to rounding,
  except top_1pct_share, which is then null (it needs the largest 1% of all
  the squared errors at once, which no state keeps).
  A file with no data rows is skipped; it is an error if nothing is left.
  Segment keys keep their dtypes; files whose keys differ in dtype merge in
  a common one (Int64 and Float64 in Float64), or are refused naming the key.

states:
  --save-state FILE writes the merged state of everything evaluated (parquet,
  the schema of polars_l2.state_schema). --state FILE (repeatable) merges a
  saved state in, so new files are added without reading the old ones again.
  --save-state may name one of the --state files: it is replaced atomically.
  Keep states and reports out of data directories, or start their names with
  '_' so that a directory input skips them.

output:
  table (default) aligned, floats to 6 significant digits
  csv, json       full precision; json is a list of records (NaN becomes null)
  markdown        a Markdown table
  --output FILE is written atomically and may not be one of the inputs.
  --plot FILE.png also draws RMSE per segment with its interval and each
  model's squared-error concentration curve (reads the data files once more).
  A progress bar (files done of total) is drawn on stderr when it is a
  terminal and there are several files; nothing else changes.

examples:
  polars-l2 evaluate preds.parquet --actual price --predicted linear
  polars-l2 evaluate 'data/**/*.csv' --actual y --predicted a --predicted b \\
      --by region --by month --format csv --output report.csv
  polars-l2 evaluate data/ --actual y --predicted yhat --weight w --format json
  polars-l2 evaluate day1.parquet --actual y --predicted yhat \\
      --save-state state.parquet
  polars-l2 evaluate day2.parquet --actual y --predicted yhat \\
      --state state.parquet --save-state state.parquet
"""

_DEMO_EPILOG = """\
The sample is synthetic: 4,000 house sales in four regions with the
predictions of two models. 'boosted' is the more accurate model on typical
houses, but cannot predict above $1.6 million, so a dozen luxury houses on the
coast cost it millions each. Its MAE is lower than 'linear's, its RMSE much
higher: L2 squares errors, and top_1pct_share shows that almost all of its
squared error comes from 1% of the houses.

examples:
  polars-l2 demo
  polars-l2 demo --format markdown
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: no usage block."""

    def error(self, message: str) -> NoReturn:
        one_line = " ".join(message.split())
        self.exit(EXIT_ERROR, f"{self.prog}: error: {one_line} (see {self.prog} -h)\n")


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        msg = f"must be a number between 0 and 1 (exclusive), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output options")
    group.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        default="table",
        help="output format (default: table)",
    )
    group.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        help="write to FILE (atomically) instead of standard output",
    )
    group.add_argument(
        "--plot",
        metavar="FILE",
        type=Path,
        help="also draw RMSE per segment and the squared-error concentration "
        "curve to FILE (PNG; needs polars-l2[plot])",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``polars-l2`` command and its subcommands."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Evaluate regression predictions with Polars: MSE, RMSE "
        "with its confidence interval,\nMAE, bias, R² and the worst errors, per "
        "model and segment.",
        epilog=_TOP_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"{PROG} {polars_l2.__version__} (polars {pl.__version__})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    evaluate_parser = commands.add_parser(
        "evaluate",
        help="evaluate predictions stored in files",
        description="Report MSE, RMSE, MAE, bias, R² and more, per model and "
        "segment,\nfor predictions stored in files.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=formatter,
    )
    evaluate_parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="data files, directories or glob patterns",
    )
    columns = evaluate_parser.add_argument_group("column options")
    columns.add_argument("--actual", metavar="COL", help="the observed values")
    columns.add_argument(
        "--predicted",
        metavar="COL",
        action="append",
        default=[],
        help="a model's predictions; repeat to compare models",
    )
    columns.add_argument(
        "--by",
        metavar="COL",
        action="append",
        default=[],
        help="a segment column; repeat for several (one row per combination)",
    )
    columns.add_argument("--weight", metavar="COL", help="row weights")
    evaluate_parser.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        metavar="X",
        help="level of the RMSE confidence interval (default: 0.95)",
    )
    evaluate_parser.add_argument(
        "--no-top-share",
        dest="top_share",
        action="store_false",
        help="skip top_1pct_share (left null), which costs a pass over the "
        "squared errors; as top_share=False in polars_l2.report",
    )
    states = evaluate_parser.add_argument_group("state options")
    states.add_argument(
        "--state",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help="a state saved by --save-state to merge in; repeatable",
    )
    states.add_argument(
        "--save-state",
        metavar="FILE",
        type=Path,
        help="write the merged state of this evaluation to FILE (parquet)",
    )
    _add_output_options(evaluate_parser)
    evaluate_parser.set_defaults(handler=_run_evaluate)

    _compare.register(
        commands,
        confidence=_confidence,
        add_output_options=_add_output_options,
        handler=_run_compare,
    )

    demo_parser = commands.add_parser(
        "demo",
        help="evaluate the sample of house prices shipped with polars-l2",
        description="Print the evaluation report of the sample shipped with "
        "polars-l2:\nhouse prices by region, predicted by two models.",
        epilog=_DEMO_EPILOG,
        formatter_class=formatter,
    )
    _add_output_options(demo_parser)
    demo_parser.set_defaults(handler=_run_demo)
    return parser


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        write_stdout(text)
    else:
        write_atomic(output, text)


def _check_outputs(args: argparse.Namespace, data: list[Path]) -> None:
    """Refuse, before reading anything, outputs that would clobber an input."""
    states: list[Path] = getattr(args, "state", [])
    targets = [
        (flag, path)
        for flag, path in (
            ("--output", args.output),
            ("--save-state", getattr(args, "save_state", None)),
            ("--plot", args.plot),
        )
        if path is not None
    ]
    for i, (flag, target) in enumerate(targets):
        check_writable(target)
        # --save-state may replace a --state file: that is how a state grows.
        protected = [*data, *(states if flag != "--save-state" else [])]
        if any(same_file(target, path) for path in protected):
            msg = f"{flag} {target} is one of the inputs; refusing to overwrite it"
            raise CliError(msg)
        for other_flag, other in targets[:i]:
            if same_file(target, other):
                msg = f"{other_flag} and {flag} both name {target}"
                raise CliError(msg)


def _spec(args: argparse.Namespace) -> Spec | None:
    if not args.paths:
        if args.actual or args.predicted or args.by or args.weight:
            msg = (
                "--actual, --predicted, --by and --weight apply to data files; "
                "with only --state, the states say what was evaluated"
            )
            raise CliError(msg)
        return None
    if not args.actual or not args.predicted:
        msg = "--actual and at least one --predicted are required with data files"
        raise CliError(msg)
    return columns.parse(
        args.actual,
        args.predicted,
        by=args.by,
        weight=args.weight,
        function="evaluate",
        reserved=RESERVED,
    )


def _run_evaluate(args: argparse.Namespace) -> int:
    if not args.paths and not args.state:
        msg = "nothing to evaluate: give data files (PATH) or --state files"
        raise CliError(msg)
    spec = _spec(args)
    sources = discover(args.paths)
    for state_path in args.state:
        with about(state_path):
            if not state_path.is_file():
                msg = f"{state_path}: no such state file"
                raise CliError(msg)
    if args.plot is not None and (args.state or not sources):
        msg = "--plot needs the data files and no --state (a state keeps no rows)"
        raise CliError(msg)
    _check_outputs(args, [s.path for s in sources])
    outcome = evaluate(
        sources,
        list(args.state),
        spec,
        confidence=args.confidence,
        top_share=args.top_share,
        want_state=args.save_state is not None,
        progress_stream=sys.stderr,
        progress=_progress_wanted(sys.stderr, len(sources)),
    )
    if args.save_state is not None and outcome.state is not None:
        write_state_atomic(args.save_state, outcome.state)
    if args.plot is not None and spec is not None:
        # The plot reads the data files again: their errors are the user's.
        with about(None):
            rows = all_rows(sources, spec, skip=outcome.skipped)
            write_plot(args.plot, outcome.report, rows, spec)
    _emit(render(outcome.report, args.format), args.output)
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    return _compare.run(
        args,
        emit=lambda table: _emit(render(table, args.format), args.output),
        check_outputs=_check_outputs,
    )


def _run_demo(args: argparse.Namespace) -> int:
    _check_outputs(args, [])
    resource = resources.files("polars_l2") / "data" / "houses.parquet"
    with resources.as_file(resource) as path:
        houses = pl.scan_parquet(path)
        by_region, overall = demo_report(houses)
        if args.plot is not None:
            write_plot(args.plot, by_region, houses, DEMO)
    text = render(by_region, args.format)
    if args.format == "table" and args.output is None:
        text += demo_story(overall, str(path))
    _emit(text, args.output)
    return 0


def _say(text: str) -> None:
    """Write `text` to stderr, if there is one to write to."""
    # With stderr closed (2>&-) or a broken pipe, the exit status is all the
    # caller gets; failing to say why must not change it.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.write(text)
        sys.stderr.flush()


def _fail(message: str) -> int:
    _say(f"{PROG}: error: {' '.join(message.split())}\n")
    return EXIT_ERROR


def _bug() -> int:
    _say(
        f"{PROG}: internal error, a bug in polars-l2 {polars_l2.__version__} "
        f"(polars {pl.__version__}): please report it with the traceback below\n"
    )
    with contextlib.suppress(AttributeError, OSError, ValueError):
        traceback.print_exc(file=sys.stderr)
    return EXIT_BUG


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``polars-l2`` command with `argv` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv
        The arguments, without the program name.

    Returns
    -------
    int
        The exit status: 0 on success (also when the reader of standard
        output stops early, as ``head`` does), 2 on bad input (after one line
        on stderr), 1 on a bug in polars-l2 (after a line asking for a report
        and the traceback), 130 when interrupted (SIGINT) and 143 when
        terminated (SIGTERM), each after one line.

    Examples
    --------
    >>> main(["demo", "--format", "csv"])  # doctest: +ELLIPSIS
    model,region,overall,n,...
    0
    """
    reopen_closed_streams()
    with _signals.handled() as received:
        try:
            return _run(argv)
        except _signals.Stopped as stop:
            received.ending = True
            return _signals.stopped(stop.signum)
        except KeyboardInterrupt:  # SIGINT, when main did not install the handler
            received.ending = True
            return _signals.stopped(signal.SIGINT)
        except Exception as error:
            received.ending = True
            if received.signum is not None:
                # An error raised in place of the signal's exception (by a
                # library that caught it) is still the signal's doing.
                return _signals.stopped(received.signum)
            if isinstance(error, USER_ERRORS):
                return _fail(first_line(error))
            return _bug()  # anything else is a bug in polars-l2


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _fail(f"choose a command: evaluate or demo (see {PROG} -h)")
    status: int = args.handler(args)
    return status

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
import os
import shutil
import signal
import sys
import traceback
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import polars as pl

import polars_l2
from polars_l2._core import metrics
from polars_l2._core.options import VARIANCES
from polars_l2._core.per_output import OUTPUT_KEY
from polars_l2.cli import (
    _compare,
    _evidence,
    _gates,
    _html,
    _ledger,
    _opened,
    _rust_output,
    _signals,
)
from polars_l2.cli import _option_types as option_types
from polars_l2.cli._demo import DEMO, demo_report, demo_story
from polars_l2.cli._errors import (
    PANIC,
    USER_ERRORS,
    CliError,
    about,
    printable,
    user_message,
)
from polars_l2.cli._evaluate import (
    ColumnOptions,
    add_nan_policy,
    all_rows,
    column_spec,
    evaluate,
    load_states,
    read_rows,
    rows_of,
)
from polars_l2.cli._fit import fit_table
from polars_l2.cli._inputs import discover, same_file, supported_extensions
from polars_l2.cli._output import (
    FORMATS,
    VALUE_COLUMNS,
    Writer,
    check_not_data,
    check_state_target,
    check_writable,
    choose_columns,
    columns_parser,
    evaluation_figure,
    parse_columns,
    plot_format,
    plot_writer,
    render,
    reopen_closed_streams,
    state_summary,
    state_writer,
    text_writer,
    write_all,
    write_stdout,
)
from polars_l2.cli._output import (
    target as output_target,
)
from polars_l2.cli._progress import wanted as _progress_wanted
from polars_l2.view import PRIORITY

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from polars_l2._core.arguments import Spec
    from polars_l2.cli._evaluate import Outcome, SavedStates
    from polars_l2.cli._inputs import Source

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
  2    bad input (files, columns, options; a corrupt file, also one that makes
       Polars panic; a damaged state; stdout closed): one line on stderr
  3    a release gate failed: a row meets a --fail-if condition, or compare
       --fail-if-worse finds a candidate worse in some segment (stderr names
       each failing row, one line each; every output is written first)
  130  interrupted (SIGINT, Ctrl-C): one line
  143  terminated (SIGTERM): one line
"""

#: The report's columns that are not metrics; the metrics' lines come from
#: the registry, so the glossary says what the code computes.
_COLUMN_DOCS = {
    "model": "Name of the predicted column; the --by keys follow.",
    "overall": "True on a model's row over all segments (none here).",
    "n": "Rows counted: actual, prediction, weight present, weight != 0.",
    "weight_sum": "Sum of the counted rows' weights (only with --weight).",
    "small": "Fewer than 30 rows (effective rows, weighted): judge with care.",
}


def report_glossary() -> str:
    """Return the ``--help`` section that says what each report column means.

    Examples
    --------
    >>> print(report_glossary().splitlines()[0])
    report columns:
    """
    docs = {
        **_COLUMN_DOCS,
        **{name: metric.doc for name, metric in metrics.REGISTRY.items()},
    }
    width = max(map(len, docs)) + 2
    lines = [f"  {name:<{width}}{doc}" for name, doc in docs.items()]
    return "\n".join(
        [
            "report columns:",
            *lines,
            "  The interval's level is --confidence; floats in the table show 6",
            "  significant digits, csv and json full precision.",
        ]
    )


#: The terminal table's priority (polars_l2.view.PRIORITY), as help text.
_PRIORITY_TEXT = ", ".join(", ".join(group) for group in PRIORITY[:5])

_EVALUATE_EPILOG = f"""\
{report_glossary()}

inputs:
  Each PATH is a file, a directory or a glob pattern (quote it so the shell
  leaves it alone; ** matches any depth). The format comes from the extension:
  {supported_extensions()}.
  A directory means every supported file below it, at any depth, in sorted
  order, skipping names that start with '.' or '_'. Files are scanned lazily
  and run on Polars' streaming engine.
  Object storage: s3://, gs:// and az:// files, prefixes and globs, listed
  by Polars and each object downloaded once, with the credentials and
  endpoint in the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...);
  hf:// objects are refused.
  Hive directories (preds/region=north/part.parquet) give their keys as
  columns, usable as --by; integers are Int64, numbers Float64, dates Date,
  anything else String, as Polars types them.
  A file reached twice (two spellings, a hard or symbolic link) is read once,
  with a one-line notice. Each file is opened once and scanned through that
  open file (names are literal: d[1].csv is that file); an object is
  downloaded once. A FIFO or /proc file is copied to a temporary file, at
  most $POLARS_L2_MAX_STREAM_BYTES bytes (16 GiB); one without an extension
  (<(command)) is refused, as are devices.
  A Delta Lake table's directory (it holds _delta_log) is read whole by
  polars.scan_delta, an Iceberg table's (metadata/*.metadata.json) by
  polars.scan_iceberg of its newest metadata: deleted rows are not read. A
  path inside a table (a partition directory, a data file, a glob) is
  refused in one line: its files include rows the table has deleted.

one file or several:
  One data file (and no --state) is evaluated in one query: every column is
  exactly polars_l2.report's. Several files, or --state, are reduced one file
  at a time to mergeable states, merged as they come, in memory that grows
  with the number of segments, not rows or files: every column is the same
  up to rounding, top_1pct_share included (each state keeps its histogram of
  squared errors, and histograms add up).
  A file with no data rows is skipped; it is an error if nothing is left.
  Identical content given twice is one source: the second is skipped with a
  note, on every route. A parquet file whose row groups claim more than 4 Mi
  rows is read in slices of 4 Mi rows (memory does not follow the claim).
  Segment keys keep their dtypes; files whose keys differ in dtype merge in
  a common one (Int64 and Float64 in Float64), or are refused naming the key.

states:
  --save-state FILE writes the merged state of everything evaluated (parquet,
  the schema of polars_l2.state_schema). --state FILE (repeatable) merges a
  saved state in, so new files are added without reading the old ones again.
  --save-state may name one of the --state files: it is replaced atomically,
  under a lock (.FILE.lock beside the file FILE leads to, so every spelling
  of a state takes one lock; never opened through a link) held from reading
  the states to writing it, so concurrent updates wait for each other (up to
  --lock-timeout seconds).
  A state records its columns: with --state, column options left out are
  taken from it, and options given must match it. Models that differ from
  the state's are refused unless --allow-new-models is given.
  A state lists the sources it has absorbed, by the SHA-256 of the bytes
  read (files, streams and objects alike): a source already counted, or a
  state given twice, is skipped with a note, so rerunning a job never counts
  a day twice, whatever the path or URI it is read from.
  --save-state refuses to replace a file that is not a polars-l2 state, and
  says on stderr, in one line, what it saved: the path, segments and rows.
  Keep states and reports out of data directories, or start their names with
  '_' so that a directory input skips them.

output:
  table (default) aligned, floats to 6 significant digits
  csv, json       full precision; json is a list of records (inf and NaN as
                  the strings "inf", "-inf", "nan")
  markdown        a Markdown table
  --columns a,b,c shows only those report columns (model and keys always).
  On a terminal too narrow for the table, it keeps model, keys and, as many
  as fit, by priority: {_PRIORITY_TEXT}.
  It says which columns it left out; a pipe or a file always gets them all.
  --plot FILE also draws RMSE per segment with its interval and each
  model's squared-error concentration curve (reads the data files once more),
  in the format FILE's extension names: png, svg, pdf, jpg, ...
  --plot-segments draws one concentration curve per segment (at most 12).

{_gates.epilog("report")}
writing files (--output, --save-state, --plot):
  A file is written to a temporary file beside it ('.NAME.XXXXXXXX.tmp') and
  renamed over it, so it is either the old file or the new one, also after
  SIGINT or SIGTERM (the temporary file is removed). A symlink is followed:
  its target is replaced, the link stays. A device or FIFO (/dev/stdout,
  /dev/null) is written to, never replaced. An output may not be one of the
  inputs, and --output and --plot refuse to replace a parquet or Arrow file.
  All outputs are written when the evaluation is done, the state last.
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
  polars-l2 evaluate preds.parquet --actual price --predicted model \\
      --by region --overall --fail-if "rmse > 12000"
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
        one_line = " ".join(printable(message).split())
        self.exit(EXIT_ERROR, f"{self.prog}: error: {one_line} (see {self.prog} -h)\n")


def _output_path(text: str) -> Path:
    """Return an output's path; refuse an empty name, or one ending with '/'."""
    if not text:
        msg = "the file name is empty"
        raise argparse.ArgumentTypeError(msg)
    if text.endswith(("/", os.sep)):
        msg = f"{text!r} ends with '/', so it names a directory, not a file to write"
        raise argparse.ArgumentTypeError(msg)
    return Path(text)


def _add_output_options(
    parser: argparse.ArgumentParser,
    *,
    table: str = "report",
    plot: str = "RMSE per segment and the squared-error concentration curve",
    html: bool = True,
) -> argparse._ArgumentGroup:
    """Add the output options; the report's and the comparison's columns are known.

    `html` says whether the command writes the HTML page (the report and
    the comparison do); other tables' columns are checked once computed.
    """
    group = parser.add_argument_group("output options")
    group.add_argument(
        "-f",
        "--format",
        choices=(*FORMATS, "html") if html else FORMATS,
        default="table",
        help="output format (default: table); html is one self-contained page "
        "with the formatted table and the figures (needs polars-l2[view])"
        if html
        else "output format (default: table)",
    )
    group.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=_output_path,
        help="write to FILE (atomically) instead of standard output",
    )
    known = {"report": VALUE_COLUMNS, "comparison": _compare.VALUE_COLUMNS}
    allowed = known.get(table)
    listing = f": {', '.join(allowed)}" if allowed is not None else ""
    # What else tells a row apart, shown too (see _evidence.leading).
    identity = {"murphy": ", θ", "bias": ", bin or feature value"}.get(table, "")
    group.add_argument(
        "--columns",
        metavar="A,B,...",
        type=parse_columns
        if table == "report"
        else columns_parser(allowed, table=table),
        help=f"show only these {table} columns, comma-separated (model, "
        f"keys{identity} always shown){listing}; or all (every column, also on "
        "a narrow terminal)",
    )
    group.add_argument(
        "--plot",
        metavar="FILE",
        type=_output_path,
        # A table without a figure keeps the option, out of its help, to
        # refuse it by name.
        help=f"also draw the {plot} to FILE, in the format its extension names "
        "(png, svg, pdf, ...; needs polars-l2[plot])"
        if plot
        else argparse.SUPPRESS,
    )
    return group


def _add_state_options(parser: argparse.ArgumentParser) -> None:
    states = parser.add_argument_group("state options")
    states.add_argument(
        "--state",
        metavar="FILE",
        type=option_types.state_path,
        action="append",
        default=[],
        help="a state saved by --save-state to merge in; repeatable",
    )
    states.add_argument(
        "--save-state",
        metavar="FILE",
        type=_output_path,
        help="write the merged state of this evaluation to FILE (parquet), "
        "holding a lock on FILE from reading the states to writing it",
    )
    states.add_argument(
        "--allow-new-models",
        action="store_true",
        help="let the models of the data files differ from the states' (each "
        "model joining or left out is named); refused otherwise",
    )
    states.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        help="how long to wait for another update of the --save-state file "
        f"(default: ${_ledger.LOCK_TIMEOUT_VARIABLE} or {_ledger.LOCK_TIMEOUT:g})",
    )


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    """Add evaluate's options of the report: its level, sizes, rows and gates."""
    parser.add_argument(
        "--confidence",
        type=option_types.confidence,
        default=0.95,
        metavar="X",
        help="level of the RMSE confidence interval (default: 0.95)",
    )
    parser.add_argument(
        "--min-n",
        type=option_types.min_n,
        default=30,
        metavar="N",
        help="segments with fewer (effective) rows are flagged small (default: 30)",
    )
    parser.add_argument(
        "--variance",
        choices=VARIANCES,
        default="hc1",
        help="variance of the intervals' weighted means: the sandwich hc1 "
        "(default) or hc0, or Kish's effective size (kish); as variance= in "
        "polars_l2.report",
    )
    parser.add_argument(
        "--overall",
        action="store_true",
        help="add each model's row over all segments (overall = true), after "
        "its segments; as overall=True in polars_l2.report",
    )
    _gates.add_option(parser.add_argument_group("release gates"), table="report")
    parser.add_argument(
        "--no-top-share",
        dest="top_share",
        action="store_false",
        help="skip top_1pct_share (left null), which costs a pass over the "
        "squared errors; as top_share=False in polars_l2.report",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``polars-l2`` command and its subcommands."""
    parser = _Parser(
        prog=PROG,
        description="Evaluate regression predictions with Polars: MSE, RMSE "
        "with its confidence interval,\nMAE, bias, R² and the worst errors, per "
        "model and segment.",
        epilog=_TOP_EPILOG,
        formatter_class=_FORMATTER,
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"{PROG} {polars_l2.__version__} (polars {pl.__version__})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_evaluate(commands)
    _compare.register(
        commands,
        add_state_options=_add_state_options,
        add_output_options=lambda parser: _add_output_options(
            parser,
            table="comparison",
            plot="forest plot of the mean loss ratio per segment",
        ),
        handler=_run_compare,
    )
    _evidence.register(commands, _add_output_options, _run_evidence)
    demo_parser = commands.add_parser(
        "demo",
        help="evaluate the sample of house prices shipped with polars-l2",
        description="Print the evaluation report of the sample shipped with "
        "polars-l2:\nhouse prices by region, predicted by two models.",
        epilog=_DEMO_EPILOG,
        formatter_class=_FORMATTER,
    )
    _add_output_options(demo_parser)
    demo_parser.set_defaults(handler=_run_demo)
    return parser


#: Every help text keeps the line breaks it is written with.
_FORMATTER = argparse.RawDescriptionHelpFormatter


def _register_evaluate(commands: argparse._SubParsersAction[_Parser]) -> None:
    """Add the ``evaluate`` subcommand and its options."""
    evaluate_parser = commands.add_parser(
        "evaluate",
        help="evaluate predictions stored in files",
        description="Report MSE, RMSE, MAE, bias, R² and more, per model and "
        "segment,\nfor predictions stored in files.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=_FORMATTER,
    )
    evaluate_parser.add_argument(
        "paths",
        nargs="*",
        type=option_types.input_path,
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
    add_nan_policy(columns)
    _add_report_options(evaluate_parser)
    _evidence.add_worst_option(evaluate_parser)
    _add_state_options(evaluate_parser)
    _add_output_options(evaluate_parser).add_argument(
        "--plot-segments",
        action="store_true",
        help="with --plot, one concentration curve per --by segment (at most 12)",
    )
    evaluate_parser.set_defaults(handler=_run_evaluate)


def _to_terminal(output: Path | None) -> bool:
    if output is not None:
        return False
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _report_text(
    report: pl.DataFrame,
    args: argparse.Namespace,
    leading: Sequence[str] | None = None,
) -> str:
    """Render the table as asked: its columns, its format, the terminal's width.

    `leading` names the columns always shown where the table is not laid
    out as the report (see :func:`choose_columns`).
    """
    shown = choose_columns(report, args.columns, leading)
    if args.format == "table" and args.columns is None and _to_terminal(args.output):
        # Only a terminal is narrowed; a pipe or a file gets every column.
        width = shutil.get_terminal_size().columns
        text, note = fit_table(shown, width)
        return text if note is None else f"{text}{note}\n"
    return render(shown, args.format)


def _emit(text: str, output: Path | None, others: list[tuple[Path, Writer]]) -> None:
    """Write the report and the other outputs, all once every one is ready."""
    if output is not None:
        others = [(output, text_writer(text)), *others]
    # The outputs are put in place in order, the state (last) after the
    # report: an interrupted run leaves the old state, and reruns in full.
    write_all(others)
    if output is None:
        write_stdout(text)


def _check_outputs(args: argparse.Namespace, data: list[Path]) -> None:
    """Refuse, before reading anything, outputs that would clobber a file."""
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
        if flag == "--save-state":
            merged = any(same_file(target, path) for path in states)
            check_state_target(target, merged=merged)
        else:
            check_not_data(target, flag)
        if flag == "--plot":
            plot_format(target)


def _column_options(args: argparse.Namespace) -> ColumnOptions:
    return ColumnOptions(
        actual=args.actual,
        predicted=tuple(args.predicted),
        by=tuple(args.by),
        weight=args.weight,
        nan_policy=args.nan_policy,
    )


def _report_schema(
    actual: str | None,
    predicted: Sequence[str],
    by: Sequence[str],
    *,
    weight: str | None,
    weighted: bool,
    overall: bool,
    key_dtypes: Mapping[str, pl.DataType] | None = None,
) -> dict[str, pl.DataType]:
    """Return the report's schema for Float64 columns.

    The keys take `key_dtypes` where given, else Null (the data's dtype,
    known only from the data). The columns do not depend on the names of
    the target, the models and the weight (a state need not record them):
    where one is None, a name no key has stands in.
    """
    stand_in = "_l2_" + "_" * max((len(key) for key in by), default=0)
    actual = actual or f"{stand_in}y"
    predicted = list(predicted) or [f"{stand_in}p"]
    weight = (weight or f"{stand_in}w") if weighted else None
    names = [actual, *predicted, *by, *([weight] if weight is not None else [])]
    frame = pl.LazyFrame(schema=dict.fromkeys(names, pl.Float64))
    query = polars_l2.report(
        frame, actual, predicted, by=list(by) or None, weight=weight, overall=overall
    )
    known = key_dtypes or {}
    return {
        **query.collect_schema(),
        **{key: known.get(key, pl.Null()) for key in by},
    }


def _check_gates(
    args: argparse.Namespace, schema: dict[str, pl.DataType], *, output: bool
) -> None:
    """Refuse a ``--fail-if`` the report of `schema` cannot check (see _gates).

    `output`: whether the report may have the output number of vector
    targets, which only the files tell.
    """
    columns = [*schema, OUTPUT_KEY] if output else list(schema)
    _gates.check_columns(args.fail_if, list(dict.fromkeys(columns)))
    _gates.check_types(args.fail_if, schema)


def _state_gates(
    args: argparse.Namespace, states: SavedStates, *, output: bool
) -> None:
    """Check the gates on the report of the states' keys, in the states' dtypes.

    The keys come from the states: the gates are checked once they are
    read, before anything is computed, written or saved.
    """
    recorded = states.measured
    if recorded is None:
        return
    schema = _report_schema(
        recorded.actual,
        recorded.models,
        recorded.keys,
        weight=recorded.weight or args.weight,
        weighted=(
            recorded.weighted
            if recorded.weighted is not None
            else args.weight is not None
        ),
        overall=args.overall,
        key_dtypes=_state_key_dtypes(states),
    )
    _check_gates(args, schema, output=output)


def _key_gates(
    args: argparse.Namespace, spec: Spec | None
) -> Callable[[pl.Schema], None] | None:
    """Return the check of the gates on a file's keys, in that file's dtypes.

    The keys take the data's dtype, known once a file is scanned: a
    condition that cannot compare a key is refused then, before anything is
    computed, written or saved.
    """
    if not args.fail_if or spec is None:
        return None

    def check(keys: dict[str, pl.DataType]) -> None:
        report = _report_schema(
            spec.actual,
            spec.predicted,
            list(keys),
            weight=spec.weight,
            weighted=spec.weighted,
            overall=args.overall,
            key_dtypes=keys,
        )
        # The file tells whether the report has the output number.
        _check_gates(args, report, output=False)

    return _gates.key_check(spec.by, [spec.actual, *spec.predicted], check)


def _state_key_dtypes(states: SavedStates) -> dict[str, pl.DataType]:
    """Return the dtype of each key all the states agree on."""
    found: dict[str, set[pl.DataType]] = {}
    for _, frame in states.frames:
        for key in states.measured.keys if states.measured else ():
            found.setdefault(key, set()).add(frame.schema[key])
    return {key: dtypes.pop() for key, dtypes in found.items() if len(dtypes) == 1}


def _notice(text: str) -> None:
    _html.remember(text)
    _say(f"{PROG}: note: {' '.join(printable(text).split())}\n")


def _gate_line(line: str) -> None:
    _say(f"{PROG}: {printable(line)}\n")


def _check_before_reading(args: argparse.Namespace) -> None:
    """Fail on the column options and the gates before discovering the files.

    Only without ``--state``: with it, the keys come from the states, and
    the gates are checked once they are read (:func:`_state_gates`).
    """
    column_spec(
        _column_options(args),
        load_states([], notice=_notice),
        data=True,
        allow_new_models=args.allow_new_models,
    )
    schema = _report_schema(
        args.actual,
        args.predicted,
        args.by,
        weight=args.weight,
        weighted=args.weight is not None,
        overall=args.overall,
    )
    _check_gates(args, schema, output=True)


def _run_evaluate(args: argparse.Namespace) -> int:
    if not args.paths and not args.state:
        msg = "nothing to evaluate: give data files (PATH) or --state files"
        raise CliError(msg)
    _check_lock_timeout(args)
    if not args.state:
        _check_before_reading(args)
    sources = _sources(args)
    if args.plot is not None and (args.state or not sources):
        msg = "--plot needs the data files and no --state (a state keeps no rows)"
        raise CliError(msg)
    _check_worst(args, sources)
    _check_outputs(args, [s.path for s in sources if isinstance(s.path, Path)])
    with _state_lock(args):
        states = load_states(args.state, notice=_notice)
        spec = column_spec(
            _column_options(args),
            states,
            data=bool(sources),
            allow_new_models=args.allow_new_models,
        )
        if args.plot_segments and (args.plot is None or spec is None or not spec.by):
            msg = "--plot-segments needs --plot and at least one --by column"
            raise CliError(msg)
        _state_gates(args, states, output=bool(sources))
        outcome = evaluate(
            sources,
            states,
            spec,
            confidence=args.confidence,
            top_share=args.top_share,
            min_n=args.min_n,
            overall=args.overall,
            variance=args.variance,
            want_state=args.save_state is not None,
            progress_stream=sys.stderr,
            progress=_progress_wanted(sys.stderr, len(sources)),
            allow_new_models=args.allow_new_models,
            notice=_notice,
            check_schema=_key_gates(args, spec),
        )
        _write_outputs(args, outcome, sources, spec)
    if args.save_state is not None and outcome.state is not None:
        _say(f"{PROG}: {printable(state_summary(args.save_state, outcome.state))}\n")
    _note_negative_weights(outcome.report)
    return _gates.status(outcome.report, args.fail_if, say=_gate_line, notice=_notice)


def _note_negative_weights(report: pl.DataFrame) -> None:
    """Say which rows' metrics are null because a counted weight is negative.

    By the null rule (:func:`polars_l2._core.metrics.weights_valid`), a row
    with counted rows and a weight sum other than 0 is null only for that.
    """
    if "weight_sum" not in report.columns:
        return
    rows = report.filter(
        (pl.col("n") > 0) & (pl.col("weight_sum") != 0) & pl.col("mse").is_null()
    )
    if rows.height:
        noun = "row" if rows.height == 1 else "rows"
        _notice(
            f"a negative weight is counted in {rows.height} {noun} of the "
            f"report, whose metrics are therefore null ({_gates.name_rows(rows)}): "
            "a weighted mean with negative weights has no meaning"
        )


def _discovery_notice(line: str) -> None:
    _html.remember(line)
    _say(f"{PROG}: {printable(line)}\n")


def _sources(args: argparse.Namespace) -> list[Source]:
    """Find the data files, and check that every ``--state`` file exists."""
    sources = discover(args.paths, notice=_discovery_notice)
    for state_path in args.state:
        with about(state_path):
            if not state_path.is_file():
                msg = f"{state_path}: no such state file"
                raise CliError(msg)
    return sources


def _state_lock(args: argparse.Namespace) -> contextlib.AbstractContextManager[object]:
    """Return the lock of ``--save-state``'s file, or no lock.

    The whole read-merge-write cycle of a saved state holds its lock, so
    that concurrent updates run one after the other and none is lost. A
    device or FIFO is written to as a stream: there is no state file to read
    back, so nothing to lock (and no lock file to leave beside it).
    """
    if args.save_state is None or output_target(args.save_state).stream:
        return contextlib.nullcontext()
    timeout = _ledger.lock_timeout(args.lock_timeout)
    return _ledger.locked(args.save_state, timeout=timeout, notice=_notice)


def _check_lock_timeout(args: argparse.Namespace) -> None:
    """Refuse ``--lock-timeout`` without ``--save-state``, whose lock it waits for."""
    if args.lock_timeout is not None and args.save_state is None:
        msg = (
            "--lock-timeout needs --save-state: it is how long to wait for "
            "the lock of the state being saved"
        )
        raise CliError(msg)


def _state_output(
    args: argparse.Namespace, outcome: Outcome
) -> list[tuple[Path, Writer]]:
    """Return the ``--save-state`` output with its ledger, if asked (write it last)."""
    if args.save_state is None or outcome.state is None:
        return []
    metadata = _ledger.ledger_metadata(outcome.ledger)
    return [(args.save_state, state_writer(outcome.state, metadata=metadata))]


def _write_outputs(
    args: argparse.Namespace,
    outcome: Outcome,
    sources: list[Source],
    spec: Spec | None,
) -> None:
    """Write the report, the plot and the state, each whole, the state last.

    An interrupt before the state is in place leaves the old state, whose
    ledger then still lacks this run's files: a rerun counts them once.
    """
    others: list[tuple[Path, Writer]] = []
    figure = None
    html = args.format == "html"
    rows = bool(outcome.read) and not args.state
    if (args.plot is not None or (html and rows)) and spec is not None:
        # The plot reads the files counted again: their errors are the user's.
        with about(None), read_rows(outcome.read, identify=False) as scans:
            figure = evaluation_figure(
                outcome.report,
                all_rows(scans, spec),
                spec,
                confidence=args.confidence,
                by_segment=args.plot_segments,
            )
    if args.plot is not None and figure is not None:
        others.append((args.plot, plot_writer(figure, plot_format(args.plot))))
    if html:
        text = _html.report_page(
            outcome.report,
            args,
            figure=figure,
            inputs=[*(s.path for s in sources), *args.state],
            gates=_gates.outcomes(outcome.report, args.fail_if),
        )
    else:
        text = _report_text(outcome.report, args)
        if args.worst is not None and spec is not None:
            # The worst rows are read from the files counted, again.
            with read_rows(outcome.read, identify=False) as scans:
                found = rows_of(scans, spec.roles())
                text += _evidence.worst_text(args.worst, args.format, found, spec)
    _emit(text, args.output, [*others, *_state_output(args, outcome)])


def _check_worst(args: argparse.Namespace, sources: list[Source]) -> None:
    """Refuse ``--worst`` where it cannot be printed after the report."""
    if args.worst is None:
        return
    if args.worst < 1:
        msg = f"--worst must be a positive number of rows, got {args.worst}"
        raise CliError(msg)
    if args.state or not sources:
        msg = "--worst needs the data files and no --state (a state keeps no rows)"
        raise CliError(msg)
    if args.format not in ("table", "markdown"):
        msg = (
            f"--worst prints a second table, which --format {args.format} cannot "
            "hold; polars-l2 worst prints the rows as csv, json, table or markdown"
        )
        raise CliError(msg)


def _run_evidence(args: argparse.Namespace) -> int:
    """Run ``murphy``, ``decompose``, ``worst`` or ``bias`` on the files' rows."""
    _evidence.check_options(args)
    sources = _sources(args)
    _check_outputs(args, [s.path for s in sources if isinstance(s.path, Path)])
    table, others = _evidence.run(args, sources, notice=_notice)
    _emit(_report_text(table, args, _evidence.leading(args)), args.output, others)
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    if not args.paths and not args.state:
        msg = "nothing to compare: give data files (PATH) or --state files"
        raise CliError(msg)
    _check_lock_timeout(args)
    if not (args.state and args.huber_delta is None):
        # Fails on the loss options before any file is read; with --state,
        # Huber's delta may be the states' (checked once they are read).
        _compare.losses(args)
    options = _compare.column_options(args)
    _compare.check_gates(args)
    if not args.state:
        # Fail on the options before discovering the files.
        column_spec(
            options, load_states([], notice=_notice), data=True, allow_new_models=False
        )
    sources = _sources(args)
    _check_outputs(args, [s.path for s in sources if isinstance(s.path, Path)])
    if _compare.needs_rows(args, sources):
        table = _compare.on_rows(args, sources, notice=_notice)
        _emit(
            _comparison_text(table, args, sources),
            args.output,
            _compare.plot_output(args, table),
        )
        return _compare.status(args, table, say=_gate_line, notice=_notice)
    with _state_lock(args):
        states = load_states(args.state, notice=_notice)
        if states.frames:
            _compare.from_states(args, [frame for _, frame in states.frames])
            options = _compare.column_options(args)
        if states.measured is not None:
            keys = states.measured.keys
            _compare.check_gates(args, keys, _state_key_dtypes(states))
        spec = column_spec(
            options,
            states,
            data=bool(sources),
            allow_new_models=args.allow_new_models,
        )
        outcome = evaluate(
            sources,
            states,
            spec,
            confidence=args.confidence,
            top_share=args.save_state is not None,
            want_state=True,
            progress_stream=sys.stderr,
            progress=_progress_wanted(sys.stderr, len(sources)),
            allow_new_models=args.allow_new_models,
            notice=_notice,
            baseline=args.baseline,
            losses=_compare.losses(args),
            check_schema=_compare.key_gates(args, spec),
        )
        assert outcome.state is not None  # want_state
        table = _compare.on_state(args, outcome.state)
        others = [*_compare.plot_output(args, table), *_state_output(args, outcome)]
        _emit(_comparison_text(table, args, sources), args.output, others)
    return _compare.status(args, table, say=_gate_line, notice=_notice)


def _comparison_text(
    table: pl.DataFrame, args: argparse.Namespace, sources: list[Source]
) -> str:
    if args.format != "html":
        return _report_text(table, args)
    return _html.comparison_page(
        table,
        args,
        inputs=[*(s.path for s in sources), *args.state],
        gates=_gates.outcomes(table, args.fail_if, worse=args.fail_if_worse),
    )


def _run_demo(args: argparse.Namespace) -> int:
    _check_outputs(args, [])
    resource = resources.files("polars_l2") / "data" / "houses.parquet"
    others: list[tuple[Path, Writer]] = []
    with resources.as_file(resource) as path:
        houses = pl.scan_parquet(path)
        by_region, overall = demo_report(houses)
        figure = None
        if args.plot is not None or args.format == "html":
            figure = evaluation_figure(by_region, houses, DEMO, confidence=0.95)
        if args.plot is not None and figure is not None:
            others.append((args.plot, plot_writer(figure, plot_format(args.plot))))
    if args.format == "html":
        text = _html.report_page(
            by_region,
            args,
            figure=figure,
            inputs=[Path(str(path))],
            command="demo",
            subtitle="house prices against the models linear and boosted, by "
            "region (the sample shipped with polars-l2)",
        )
    else:
        text = _report_text(by_region, args)
    if args.format == "table" and args.output is None:
        width = shutil.get_terminal_size().columns if _to_terminal(None) else 88
        text += demo_story(overall, str(path), width)
    _emit(text, args.output, others)
    return 0


def _say(text: str) -> None:
    """Write `text` to stderr, if there is one to write to."""
    # With stderr closed (2>&-) or a broken pipe, the exit status is all the
    # caller gets; failing to say why must not change it.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.write(text)
        sys.stderr.flush()


def _fail(message: str) -> int:
    _say(f"{PROG}: error: {' '.join(printable(message).split())}\n")
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
    with (
        _signals.handled() as received,
        _copies_closed(),
        _rust_output.kept() as rust,
    ):
        try:
            return _run(argv)
        except _signals.Stopped as stop:
            received.ending = True
            return _signals.stopped(stop.signum)
        except KeyboardInterrupt:  # SIGINT, when main did not install the handler
            received.ending = True
            return _signals.stopped(signal.SIGINT)
        except (Exception, PANIC) as error:
            received.ending = True
            if received.signum is not None:
                # An error raised in place of the signal's exception (by a
                # library that caught it) is still the signal's doing.
                return _signals.stopped(received.signum)
            if isinstance(error, USER_ERRORS):
                # A panic on a user's file is said in this one line only.
                rust.drop = isinstance(error.__cause__, PANIC)
                return _fail(user_message(error))
            # Anything else, a Rust panic outside the reading of a user's
            # file included, is a bug in polars-l2.
            return _bug()


@contextlib.contextmanager
def _copies_closed() -> Iterator[None]:
    try:
        yield
    finally:
        _opened.close_copies()


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The HTML report shows the command and the notes of this run.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    _html.forget()
    if getattr(args, "format", None) == "html":
        _html.check_available()  # before any file is read
    if args.command is None:
        return _fail(f"choose a command: evaluate or demo (see {PROG} -h)")
    if sys.stdout is None and args.output is None:
        # Started with stdout closed (>&-): the report would go nowhere.
        msg = "standard output is closed: nowhere to write the report (give --output)"
        raise CliError(msg)
    status: int = args.handler(args)
    return status

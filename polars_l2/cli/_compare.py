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
import re
from typing import TYPE_CHECKING, Any

import polars as pl

import polars_l2
from polars_l2 import plot
from polars_l2._compare import COLUMNS as COMPARE_COLUMNS
from polars_l2._core import losses as losses_
from polars_l2._core import options
from polars_l2._core.per_output import OUTPUT_KEY
from polars_l2.cli import _gates
from polars_l2.cli import _option_types as option_types
from polars_l2.cli._errors import CliError, about
from polars_l2.cli._evaluate import (
    ColumnOptions,
    add_nan_policy,
    nan_policy,
    read_rows,
    roles,
    rows_of,
)
from polars_l2.cli._output import plot_format, plot_writer
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from polars_l2._core.arguments import Spec
    from polars_l2._core.losses import Losses
    from polars_l2.cli._inputs import Source
    from polars_l2.cli._output import Writer

_EPILOG_TEMPLATE = """\
what it does:
  For each loss, candidate and segment, the paired t-test on the per-row
  differences of the loss (squared errors by default; --loss absolute,
  --loss huber --huber-delta D; repeat --loss for one block of rows each,
  with losses_agree), candidate minus baseline, over the rows where the
  actual, both predictions (and the weight) are present: the
  Diebold-Mariano test at horizon 1 with the Harvey-Leybourne-Newbold
  correction. loss_diff < 0 means the candidate is better. With weights,
  --variance hc1 (default), hc0 or kish. p_value_adjusted
  accounts for the many segments (Holm by default); the overall row is not
  adjusted. verdict is better, worse or inconclusive at 1 - confidence, and
  empty for segments with fewer than --min-n (effective) rows.

inputs and states:
  As evaluate. --save-state FILE writes the merged state, built with the
  baseline and losses; --state FILE merges saved states (built with the same
  baseline and losses), and gives the columns not given, the baseline, the
  candidates and the losses too.
  --cluster needs the data rows: it cannot be used with --state or
  --save-state.

exit status:
  0 success; 2 bad input; 3 a release gate failed: with --fail-if-worse, an
  adjusted verdict is worse (stderr names each such segment), or a row meets
  a --fail-if condition ("skill < -0.02").

{gates}
examples:
  polars-l2 compare preds.parquet --actual y --baseline old --candidate new
  polars-l2 compare 'days/*.parquet' --actual y --baseline old \\
      --candidate new --by region --cluster day --fail-if-worse
  polars-l2 compare preds.parquet --actual y --baseline old --candidate new \\
      --by region --fail-if "skill < -0.02" --format html --output compare.html
"""
_EPILOG = _EPILOG_TEMPLATE.format(gates=_gates.epilog("comparison"))


#: The comparison's value columns --columns may name (model, the baseline,
#: the keys and overall are always shown).
VALUE_COLUMNS: tuple[str, ...] = COMPARE_COLUMNS[COMPARE_COLUMNS.index("n") :]


def register(
    commands: argparse._SubParsersAction[Any],
    *,
    add_state_options: Callable[[argparse.ArgumentParser], None],
    add_output_options: Callable[[argparse.ArgumentParser], object],
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """Add the ``compare`` subcommand to the command's subparsers."""
    parser = commands.add_parser(
        "compare",
        help="is a candidate model better than the baseline, per segment?",
        description="Compare candidate models with a baseline, per segment: "
        "paired differences of\nlosses (squared errors by default), with "
        "intervals, p-values adjusted for many\nsegments, and a verdict.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=option_types.input_path,
        metavar="PATH",
        help="data files, directories or globs",
    )
    group = parser.add_argument_group("column options")
    group.add_argument("--actual", metavar="COL", help="the observed values")
    group.add_argument(
        "--baseline",
        metavar="COL",
        help="the model to beat (with --state, the states' by default)",
    )
    group.add_argument(
        "--candidate",
        metavar="COL",
        action="append",
        default=[],
        help="a model compared with the baseline; repeatable (with --state, "
        "the states' other models by default)",
    )
    group.add_argument(
        "--by", metavar="COL", action="append", default=[], help="segment column"
    )
    group.add_argument("--weight", metavar="COL", help="row weights")
    group.add_argument(
        "--cluster",
        metavar="COL",
        help="cluster ids (days, customers): cluster-robust standard errors",
    )
    add_nan_policy(group)
    _add_test_options(parser)
    add_state_options(parser)
    add_output_options(parser)
    parser.set_defaults(handler=handler)


def _add_test_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of the paired test: losses, variance, adjustment, level."""
    test = parser.add_argument_group("test options")
    test.add_argument(
        "--loss",
        choices=options.LOSSES,
        action="append",
        default=[],
        help="the loss whose paired differences are tested; repeatable, one "
        "block of rows each (default: squared; with --state, the states')",
    )
    test.add_argument(
        "--huber-delta",
        type=float,
        metavar="DELTA",
        help="Huber's delta, in the target's units (required with --loss huber, "
        "but with --state, the states')",
    )
    test.add_argument(
        "--variance",
        choices=options.VARIANCES,
        default="hc1",
        help="variance of a weighted mean difference (default: hc1)",
    )
    test.add_argument(
        "--adjust",
        choices=("holm", "bh", "none"),
        default="holm",
        help="adjustment of the p-values for many segments (default: holm)",
    )
    test.add_argument(
        "--confidence",
        type=option_types.confidence,
        default=0.95,
        help="level of the intervals; verdicts at 1 - level (default: 0.95)",
    )
    test.add_argument(
        "--min-n",
        type=option_types.min_n,
        default=30,
        metavar="N",
        help="segments with fewer (effective) rows get no verdict (default: 30)",
    )
    test.add_argument(
        "--fail-if-worse",
        action="store_true",
        help=f"exit with status {_gates.EXIT_GATE} when any adjusted verdict is "
        "worse, naming each such segment on stderr",
    )
    _gates.add_option(test, table="comparison")


def column_options(args: argparse.Namespace) -> ColumnOptions:
    """Return the columns of ``compare``: the baseline first, as the state keeps.

    Raises :class:`CliError` where a candidate is the baseline, or is named
    twice, or where either is missing without ``--state`` (with it, what is
    missing comes from the states: :func:`from_states`).
    """
    if not args.state and (args.baseline is None or not args.candidate):
        msg = "--baseline and at least one --candidate are required without --state"
        raise CliError(msg)
    if args.baseline in args.candidate:
        msg = (
            f"--candidate {args.baseline!r} is the --baseline: a candidate is "
            "compared with the baseline, so give another column"
        )
        raise CliError(msg)
    twice = sorted({c for c in args.candidate if args.candidate.count(c) > 1})
    if twice:
        msg = f"--candidate names {', '.join(map(repr, twice))} more than once"
        raise CliError(msg)
    given = (args.baseline, *args.candidate) if args.baseline is not None else ()
    return ColumnOptions(
        actual=args.actual,
        predicted=given if args.candidate else (),
        by=tuple(args.by),
        weight=args.weight,
        nan_policy=args.nan_policy,
    )


def from_states(args: argparse.Namespace, frames: list[pl.DataFrame]) -> None:
    """Complete the options not given from what the ``--state`` files keep.

    Where ``--baseline`` or ``--candidate`` is missing: the baseline the
    states were built with, and their other models, in their order. Where
    ``--loss`` is missing: every loss whose paired moments they keep (one
    block of rows each), and where Huber's is among the losses and
    ``--huber-delta`` is missing, their delta. Raises :class:`CliError`
    where the states were built without a baseline, or a given
    ``--baseline`` is not theirs (a given ``--candidate`` must be one of
    their models, and a given ``--loss`` one of their losses: the column
    check and the comparison name them).
    """
    found = pl.concat(
        [
            frame.select("model", "baseline", "paired_losses", "huber_delta")
            for frame in frames
        ]
    )
    if args.baseline is None or not args.candidate:
        _models_from_states(args, found)
    if not args.loss:
        kept = found.get_column("paired_losses").drop_nulls().unique()
        if kept.len() == 1:
            args.loss = kept.item().split(",")
    if args.huber_delta is None and "huber" in (args.loss or []):
        deltas = found.get_column("huber_delta").drop_nulls().unique()
        if deltas.len() == 1:
            args.huber_delta = deltas.item()


def _models_from_states(args: argparse.Namespace, found: pl.DataFrame) -> None:
    names = found.get_column("baseline").drop_nulls().unique(maintain_order=True)
    if names.is_empty():
        msg = (
            "the --state files were built without a baseline: compare needs "
            "states saved by compare (or polars_l2.state(..., baseline=...))"
        )
        raise CliError(msg)
    baseline = names.item(0)
    if args.baseline is not None and args.baseline != baseline:
        msg = (
            f"--baseline {args.baseline!r} differs from the --state files' "
            f"baseline {baseline!r}"
        )
        raise CliError(msg)
    args.baseline = baseline
    if not args.candidate:
        models = found.get_column("model").unique(maintain_order=True).to_list()
        args.candidate = [model for model in models if model != baseline]


def needs_rows(args: argparse.Namespace, sources: list[Source]) -> bool:
    """Whether ``compare`` runs on the rows (one file, or clusters), not states."""
    uses_states = bool(args.state) or args.save_state is not None
    if args.cluster is not None and uses_states:
        msg = "--cluster needs the data rows: drop --state and --save-state"
        raise CliError(msg)
    return args.cluster is not None or (len(sources) == 1 and not uses_states)


def losses(args: argparse.Namespace) -> Losses:
    """Return the losses of ``--loss`` and ``--huber-delta``, checked."""
    try:
        return losses_.parse(
            args.loss or "squared", args.huber_delta, function="polars-l2 compare"
        )
    except L2InputError as error:
        message = str(error).removeprefix("polars-l2 compare: ")
        # The option's command-line spelling: huber_delta= is --huber-delta.
        message = re.sub(r"\bhuber_delta=(?=[,;.)]|$)", "--huber-delta", message)
        message = re.sub(r"\bhuber_delta=", "--huber-delta ", message)
        message = re.sub(r"\bhuber_delta\b", "--huber-delta", message)
        raise CliError(message.replace(" or None,", ",")) from error


def _options(args: argparse.Namespace) -> dict[str, Any]:
    chosen = losses(args)
    return {
        "confidence": args.confidence,
        "adjust": None if args.adjust == "none" else args.adjust,
        "min_n": args.min_n,
        "loss": chosen.names,
        "huber_delta": chosen.huber_delta,
        "variance": args.variance,
    }


def on_rows(
    args: argparse.Namespace,
    sources: list[Source],
    *,
    notice: Callable[[str], None],
) -> pl.DataFrame:
    """Return :func:`polars_l2.compare` of the files' rows, read as one frame.

    Each file is read once; a file with the content of another is skipped
    with a notice, as the state route skips it.
    """
    if not args.actual:
        msg = "--actual is required with data files"
        raise CliError(msg)
    with read_rows(sources, identify=len(sources) > 1, notice=notice) as scans:
        frame = rows_of(scans, roles(args))
        check = key_gates(args, None)
        if check is not None:
            check(frame.collect_schema())
        with about(sources[0].path if len(sources) == 1 else None):
            return polars_l2.compare(
                frame,
                args.actual,
                args.baseline,
                args.candidate,
                by=args.by or None,
                weight=args.weight,
                cluster=args.cluster,
                nan_policy=nan_policy(args),
                **_options(args),
            )


def on_state(args: argparse.Namespace, merged: pl.DataFrame) -> pl.DataFrame:
    """Return :func:`polars_l2.compare` of a merged state built with the baseline."""
    with about(None):
        return polars_l2.compare(
            merged, None, args.baseline, args.candidate, **_options(args)
        )


def plot_output(
    args: argparse.Namespace, table: pl.DataFrame
) -> list[tuple[Path, Writer]]:
    """Return the ``--plot`` output: the forest plot of `table`, if asked."""
    if args.plot is None:
        return []
    try:
        figure = plot.plot_comparison(table)
    except ImportError as error:
        raise CliError(str(error)) from error
    return [(args.plot, plot_writer(figure, plot_format(args.plot)))]


def check_gates(
    args: argparse.Namespace,
    keys: Sequence[str] | None = None,
    key_dtypes: Mapping[str, pl.DataType] | None = None,
) -> None:
    """Refuse a ``--fail-if`` the comparison cannot check, before computing it.

    A condition on a column the comparison will not have, or one that cannot
    compare its columns, is refused. Without ``--state``, before anything is
    read: the keys are ``--by``, their dtypes the data's (Null here, so a
    condition on a key waits for the table). With it, the keys come from the
    states, so the check waits for them: call it again with `keys` and
    `key_dtypes`, the states', before the comparison is computed or written.
    """
    # Before the files are read, vector targets (the output number, a key)
    # cannot be told apart: that column waits for the first file.
    output = keys is None
    if keys is None:
        if args.state:
            return
        keys = args.by
    schema = _comparison_schema(args, keys, key_dtypes or {})
    columns = [*schema, OUTPUT_KEY] if output else list(schema)
    _gates.check_columns(args.fail_if, list(dict.fromkeys(columns)))
    _gates.check_types(args.fail_if, schema)


def key_gates(
    args: argparse.Namespace, spec: Spec | None
) -> Callable[[pl.Schema], None] | None:
    """Return the check of the gates on a file's keys, in that file's dtypes.

    The keys are `spec`'s (``--by`` without one); a condition that cannot
    compare a key is refused once a file is scanned, before anything is
    computed, written or saved.
    """
    if not args.fail_if:
        return None
    keys = list(spec.by) if spec is not None else list(args.by)
    targets = [args.actual, args.baseline, *args.candidate]

    def check(found: dict[str, pl.DataType]) -> None:
        check_gates(args, list(found), found)

    return _gates.key_check(keys, targets, check)


def _comparison_schema(
    args: argparse.Namespace,
    keys: Sequence[str],
    key_dtypes: Mapping[str, pl.DataType],
) -> dict[str, pl.DataType]:
    """Return the comparison's schema: that of the comparison of no rows.

    Its columns do not depend on the names of the target and the models:
    names no key has stand in for them (a state need not record them).
    """
    stand_in = "_l2_" + "_" * max((len(key) for key in keys), default=0)
    actual, baseline, candidate = (stand_in + role for role in ("y", "b", "c"))
    weight = stand_in + "w" if args.weight is not None else None
    columns = [actual, baseline, candidate, *keys]
    columns += [name for name in (weight, args.cluster) if name is not None]
    table = polars_l2.compare(
        pl.LazyFrame(schema=dict.fromkeys(columns, pl.Float64)),
        actual,
        baseline,
        [candidate],
        by=list(keys) or None,
        weight=weight,
        cluster=args.cluster,
        **_options(args),
    )
    return {**table.schema, **{key: key_dtypes.get(key, pl.Null()) for key in keys}}


def status(
    args: argparse.Namespace,
    table: pl.DataFrame,
    *,
    say: Callable[[str], None],
    notice: Callable[[str], None],
) -> int:
    """Return the exit status of the gates: 3 if any row fails one, else 0."""
    return _gates.status(
        table, args.fail_if, worse=args.fail_if_worse, say=say, notice=notice
    )

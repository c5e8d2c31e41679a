"""The subcommands that answer "should I use L2 here?" from the files' rows.

``murphy``, ``decompose``, ``worst`` and ``bias``.

Each reads the data files' rows as one lazy frame (as ``compare --cluster``
does) and prints the table of the library function of the same name
(:func:`polars_l2.murphy`, :func:`polars_l2.decompose`,
:func:`polars_l2.worst`, :func:`polars_l2.bias_by`), in the formats and to
the outputs of ``evaluate``; ``--plot`` draws the Murphy diagram or the
reliability diagram. ``evaluate --worst N`` prints the worst rows after the
report (:func:`worst_text`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import polars_l2
from polars_l2 import plot
from polars_l2._core import options
from polars_l2.cli import _option_types as option_types
from polars_l2.cli._errors import CliError, about
from polars_l2.cli._evaluate import (
    add_nan_policy,
    nan_policy,
    read_rows,
    roles,
    rows_of,
)
from polars_l2.cli._output import plot_format, plot_writer, render
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    import polars as pl

    from polars_l2._core.arguments import Spec
    from polars_l2.cli._inputs import Source
    from polars_l2.cli._output import Format, Writer

_EPILOGS = {
    "murphy": """\
what it does:
  The mean elementary score of each model at each threshold theta (Ehm,
  Gneiting, Jordan and Kruger, 2016), for the mean (what L2 estimates) or
  the median (what L1 estimates). A model whose curve is nowhere above
  another's is better under every consistent loss of that functional, L2
  included; where the curves cross, the choice of loss decides. With
  --baseline: each model's difference from it, a pointwise interval and a
  dominance verdict (better, worse, equal, crossing) per segment.

examples:
  polars-l2 murphy preds.parquet --actual y --predicted mean --predicted median
  polars-l2 murphy preds.parquet --actual y --predicted new --baseline old \\
      --functional median --plot murphy.png
""",
    "decompose": """\
what it does:
  MSE (or MAE, --loss absolute) = miscalibration - discrimination +
  uncertainty, per model and segment (the CORP decomposition, by isotonic
  regression). Exact with one bin per distinct prediction (default); with
  --bins N, N quantile bins and a bound column. --plot draws the
  reliability diagram.

examples:
  polars-l2 decompose preds.parquet --actual y --predicted a --predicted b
  polars-l2 decompose preds.parquet --actual y --predicted a --bins 100 \\
      --loss absolute --plot reliability.png
""",
    "worst": """\
what it does:
  The K rows with the largest squared errors per model (and segment): every
  column of the input, then model, sq_error and sse_share, its share of the
  model's (segment's) SSE. Equal squared errors: the earlier row first.

examples:
  polars-l2 worst preds.parquet --actual y --predicted a -k 20 --by region
""",
    "bias": """\
what it does:
  The mean error (predicted - actual) per quantile bin of a numeric
  --feature, or per value of any other, with its interval, the t-test's
  p-value adjusted over the bins (Holm by default) and a verdict: over,
  under or inconclusive.

examples:
  polars-l2 bias preds.parquet --actual y --predicted a --feature age --bins 10
""",
}

_HELP = {
    "murphy": "Murphy diagrams: is a model better under every consistent loss?",
    "decompose": "miscalibration, discrimination and uncertainty of the score",
    "worst": "the rows with the largest squared errors",
    "bias": "the bias per bin of a feature, tested",
}


def _columns(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    parser.add_argument(
        "paths",
        nargs="+",
        type=option_types.input_path,
        metavar="PATH",
        help="data files, directories or globs",
    )
    group = parser.add_argument_group("column options")
    group.add_argument("--actual", metavar="COL", required=True, help="observed")
    group.add_argument(
        "--predicted",
        metavar="COL",
        action="append",
        default=[],
        required=True,
        help="a model's predictions; repeatable",
    )
    group.add_argument(
        "--by", metavar="COL", action="append", default=[], help="segment column"
    )
    add_nan_policy(group)
    return group


def _number_list(text: str) -> list[float]:
    msg = f"must be numbers separated by commas, got {text!r}"
    parts = text.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # the comma that makes one value a list (``2.5,``)
    if not all(part.strip() for part in parts):
        # An empty part (``1,,2``) is a mistake, not a value left out.
        raise argparse.ArgumentTypeError(msg)
    try:
        return [float(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(msg) from None


def _count_or_list(text: str) -> int | list[float]:
    """Read a count (a whole number) or values separated by commas.

    One value without a comma is a count: ``2.5`` or ``-1`` is refused
    rather than read as one value, which a count mistyped would silently
    become; one value is written with a comma (``2.5,``).
    """
    if "," in text:
        return _number_list(text)
    if text.strip().isdigit():
        return int(text)
    msg = (
        f"must be a whole number (a count) or values separated by commas "
        f"(one value: {text.strip()},), got {text!r}"
    )
    raise argparse.ArgumentTypeError(msg)


def register(
    commands: argparse._SubParsersAction[Any],
    add_output_options: Callable[..., object],
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """Add the ``murphy``, ``decompose``, ``worst`` and ``bias`` subcommands."""
    parsers: dict[str, argparse.ArgumentParser] = {}
    for name, help_text in _HELP.items():
        parsers[name] = commands.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper()
            + help_text[1:]
            + ("" if help_text.endswith("?") else "."),
            epilog=_EPILOGS[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parsers[name].set_defaults(handler=handler, evidence=name, state=[])
    _add_options(parsers)
    figures = {
        "murphy": "Murphy diagram",
        "decompose": "reliability diagram",
        "worst": "",
        "bias": "",
    }
    for name, parser in parsers.items():
        add_output_options(parser, table=name, plot=figures[name], html=False)


def _add_options(
    parsers: dict[str, argparse.ArgumentParser],
) -> None:
    """Add each subcommand's columns and options."""
    murphy = _columns(parsers["murphy"])
    murphy.add_argument("--weight", metavar="COL", help="row weights")
    murphy.add_argument("--baseline", metavar="COL", help="the model to compare with")
    murphy.add_argument(
        "--functional", choices=("mean", "median"), default="mean", help="(mean)"
    )
    murphy.add_argument(
        "--thetas",
        type=_count_or_list,
        metavar="N|A,B,...",
        help="the grid: a number of points chosen from the data (default 100) "
        "or the thresholds, comma-separated (one threshold: 2.5,)",
    )
    murphy.add_argument("--confidence", type=option_types.confidence, default=0.95)
    decompose = _columns(parsers["decompose"])
    decompose.add_argument("--weight", metavar="COL", help="row weights")
    decompose.add_argument(
        "--loss", choices=("squared", "absolute"), default="squared", help="(squared)"
    )
    decompose.add_argument(
        "--bins",
        type=_count_or_list,
        metavar="N|A,B,...",
        help="a number of quantile bins, or inner edges, comma-separated (one "
        "edge: 2.5,; default: one bin per distinct prediction)",
    )
    worst = _columns(parsers["worst"])
    worst.add_argument("-k", type=int, default=10, help="rows per model (10)")
    bias = _columns(parsers["bias"])
    bias.add_argument("--feature", metavar="COL", required=True, help="bin by it")
    bias.add_argument("--weight", metavar="COL", help="row weights")
    bias.add_argument(
        "--bins",
        type=_count_or_list,
        default=10,
        metavar="N|A,B,...",
        help="a number of quantile bins (10), or inner edges, comma-separated",
    )
    bias.add_argument(
        "--adjust", choices=("holm", "bh", "none"), default="holm", help="(holm)"
    )
    bias.add_argument("--confidence", type=option_types.confidence, default=0.95)
    bias.add_argument(
        "--min-n", type=option_types.min_n, default=30, metavar="N", help="(30)"
    )


def add_worst_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--worst N`` to ``evaluate``."""
    parser.add_argument(
        "--worst",
        type=int,
        metavar="N",
        help="also print the N rows with the largest squared errors per model "
        "(and segment) after the report (table and markdown formats; "
        "polars-l2 worst prints them in any format)",
    )


#: The options of each subcommand that the library checks: its name for
#: each, and the command line's flag.
_CHECKED = {
    "murphy": {"thetas": "--thetas"},
    "decompose": {"bins": "--bins"},
    "worst": {"k": "-k"},
    "bias": {"bins": "--bins"},
}


def check_options(args: argparse.Namespace) -> None:
    """Refuse, before any file is read, an option the library would refuse.

    The library's message names its keyword (``min_n``) and, raised while
    a file is read, would be said of the file: said here, of the flag.
    """
    if args.plot is not None and args.evidence in ("worst", "bias"):
        msg = f"--plot: {args.evidence} draws no figure"
        raise CliError(msg)
    for name, flag in _CHECKED[args.evidence].items():
        try:
            options.check(None, **{name: getattr(args, name)})
        except L2InputError as error:
            text = str(error).removeprefix(name).replace(" must be None, ", " must be ")
            raise CliError(flag + text) from None


def run(
    args: argparse.Namespace,
    sources: Sequence[Source],
    *,
    notice: Callable[[str], None],
) -> tuple[pl.DataFrame, list[tuple[Path, Writer]]]:
    """Return the subcommand's table and its ``--plot`` output, from the rows.

    Each file is read once (a file with the content of another is skipped
    with a notice), and stays open while the queries read it.
    """
    with read_rows(sources, identify=len(sources) > 1, notice=notice) as scans:
        frame = rows_of(scans, roles(args))
        result = table(args, frame, sources)
        return result, plot_output(args, result, frame)


def leading(args: argparse.Namespace) -> list[str]:
    """Return the columns that tell the subcommand's rows apart, always shown.

    The model (and baseline) and the keys, and what else names a row: the
    θ of a Murphy diagram, a bias test's bin edges or feature value.
    """
    names = ["model", "baseline", *args.by]
    if args.evidence == "murphy":
        names.append("theta")
    elif args.evidence == "bias":
        names += ["bin_low", "bin_high", args.feature]
    return names


def table(
    args: argparse.Namespace, frame: pl.LazyFrame, sources: Sequence[Source]
) -> pl.DataFrame:
    """Return the subcommand's table of the files' rows."""
    common: dict[str, Any] = {
        "by": args.by or None,
        "nan_policy": nan_policy(args),
    }
    with about(sources[0].path if len(sources) == 1 else None):
        if args.evidence == "murphy":
            return polars_l2.murphy(
                frame,
                args.actual,
                args.predicted,
                weight=args.weight,
                functional=args.functional,
                thetas=args.thetas,
                baseline=args.baseline,
                confidence=args.confidence,
                **common,
            )
        if args.evidence == "decompose":
            return polars_l2.decompose(
                frame,
                args.actual,
                args.predicted,
                weight=args.weight,
                loss=args.loss,
                bins=args.bins,
                **common,
            )
        if args.evidence == "worst":
            found = polars_l2.worst(
                frame, args.actual, args.predicted, k=args.k, **common
            )
            return found.collect()
        return polars_l2.bias_by(
            frame,
            args.actual,
            args.predicted,
            args.feature,
            bins=args.bins,
            weight=args.weight,
            confidence=args.confidence,
            adjust=None if args.adjust == "none" else args.adjust,
            min_n=args.min_n,
            **common,
        )


def plot_output(
    args: argparse.Namespace, result: pl.DataFrame, frame: pl.LazyFrame
) -> list[tuple[Path, Writer]]:
    """Return the ``--plot`` output, if asked: the Murphy or reliability diagram."""
    if args.plot is None:
        return []
    try:
        if args.evidence == "murphy":
            figure = plot.plot_murphy(result)
        else:
            with about(None):
                curve = plot.reliability_curve(
                    frame,
                    args.actual,
                    args.predicted,
                    by=args.by or None,
                    weight=args.weight,
                    loss=args.loss,
                    bins=100 if args.bins is None else args.bins,
                    nan_policy=nan_policy(args),
                )
            figure = plot.plot_reliability(curve)
    except ImportError as error:
        raise CliError(str(error)) from error
    return [(args.plot, plot_writer(figure, plot_format(args.plot)))]


def worst_text(k: int, fmt: Format, frame: pl.LazyFrame, spec: Spec) -> str:
    """Return ``evaluate --worst N``'s table, to print after the report."""
    by = list(spec.by)
    with about(None):
        worst = polars_l2.worst(
            frame,
            spec.actual,
            list(spec.predicted),
            k=k,
            by=by or None,
            nan_policy=spec.nan_policy,
        ).collect()
    heading = f"The {k} largest squared errors per model"
    heading += f" and {', '.join(by)}:" if by else ":"
    if fmt == "markdown":
        heading = f"**{heading}**"
    return f"\n{heading}\n\n{render(worst, fmt)}"

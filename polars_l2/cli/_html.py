"""``--format html``: one self-contained HTML file to hand on or keep in CI.

The page holds the formatted table (:mod:`polars_l2.view`, Great Tables), the
figures as inline SVG, the release gates' outcome, the notes the run gave,
and how it was made: the command, the inputs, the options and the versions.
It loads nothing: no script, no font, no style sheet, no image from
anywhere else, so it opens the same offline, in a mail or as a CI artefact.
Text from the data (model names, keys, paths) is escaped.
"""

from __future__ import annotations

import contextlib
import datetime
import html
import io
import os
import platform
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

import polars_l2
from polars_l2 import _extras
from polars_l2.cli._errors import CliError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from polars_l2.cli._gates import Outcome

#: The notes said during this run, for the page (see :func:`remember`).
_NOTES: list[str] = []


def remember(note: str) -> None:
    """Keep a note the run said on stderr, for the page's Notes."""
    _NOTES.append(" ".join(note.split()))


def forget() -> None:
    """Start a run with no notes."""
    _NOTES.clear()


def check_available() -> None:
    """Refuse ``--format html`` early when its libraries are missing.

    Raises
    ------
    CliError
        Naming the extra to install, before any file is read.
    """
    needed = (("great_tables", "great-tables"), ("matplotlib.figure", "matplotlib"))
    for module, library in needed:
        try:
            _extras.require(module, user="--format html", library=library, extra="view")
        except ImportError as error:
            raise CliError(str(error)) from None


_XML_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)


def svg(figure: Figure) -> str:
    """Return `figure` as an inline ``<svg>`` element, its text drawn as paths.

    Paths need no font on the reader's machine; matplotlib's ids are random
    per element, so several figures on one page do not clash.
    """
    matplotlib = _extras.require(
        "matplotlib", user="--format html", library="matplotlib", extra="view"
    )
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg")
    return _XML_PROLOG.sub("", buffer.getvalue(), count=1)


_STYLE = """\
body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; color: #222; margin: 0; background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 0.3rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid #ddd; }
.subtitle { color: #555; margin: 0 0 1rem; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; }
.gate-fail { color: #a40000; font-weight: bold; }
.gate-pass { color: #1d6b1d; font-weight: bold; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dt { font-weight: bold; }
dd { margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto;
  white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def _list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_escape(item)}</li>" for item in items) + "</ul>"


def _gates_section(outcomes: Sequence[Outcome]) -> str:
    if not outcomes:
        return ""
    parts = ['<section id="gates"><h2>Release gates</h2><ul>']
    for outcome in outcomes:
        verdict = (
            f'<span class="gate-fail">fails on {len(outcome.failing)} '
            f"row{'s' if len(outcome.failing) != 1 else ''}</span>"
            if outcome.failing
            else '<span class="gate-pass">passes</span>'
        )
        parts.append(f"<li><code>{_escape(outcome.gate)}</code>: {verdict}")
        rows = [line.split(": ", 1)[-1] for line in outcome.failing]
        if outcome.unchecked is not None:
            rows.append(outcome.unchecked)
        if rows:
            parts.append(_list(rows))
        parts.append("</li>")
    parts.append("</ul></section>")
    return "".join(parts)


def _described(pairs: Sequence[tuple[str, object]]) -> str:
    return (
        "<dl>"
        + "".join(f"<dt>{_escape(k)}</dt><dd>{_escape(v)}</dd>" for k, v in pairs)
        + "</dl>"
    )


def _input_lines(paths: Sequence[object]) -> list[str]:
    lines = []
    for path in paths:
        size = None
        if isinstance(path, Path):
            with contextlib.suppress(OSError):
                size = os.stat(path).st_size
        lines.append(f"{path} ({size:,} bytes)" if size is not None else str(path))
    return lines


#: The options shown on the page, by the attribute argparse gives them:
#: every option that changes what the page shows.
OPTIONS = (
    ("actual", "--actual"),
    ("predicted", "--predicted"),
    ("baseline", "--baseline"),
    ("candidate", "--candidate"),
    ("by", "--by"),
    ("weight", "--weight"),
    ("cluster", "--cluster"),
    ("feature", "--feature"),
    ("nan_policy", "--nan-policy"),
    ("loss", "--loss"),
    ("huber_delta", "--huber-delta"),
    ("functional", "--functional"),
    ("thetas", "--thetas"),
    ("bins", "--bins"),
    ("k", "-k"),
    ("variance", "--variance"),
    ("confidence", "--confidence"),
    ("adjust", "--adjust"),
    ("min_n", "--min-n"),
    ("overall", "--overall"),
    ("top_share", "top_1pct_share computed"),
    ("worst", "--worst"),
    ("allow_new_models", "--allow-new-models"),
    ("save_state", "--save-state"),
    ("columns", "--columns"),
    ("plot_segments", "--plot-segments"),
    ("fail_if", "--fail-if"),
    ("fail_if_worse", "--fail-if-worse"),
)

#: The options the page does not list, and why: where the page goes and
#: its format; the data files and --state files, which are its inputs;
#: how long to wait for a lock, which changes no figure.
NOT_SHOWN = frozenset(
    {"help", "format", "output", "plot", "paths", "state", "lock_timeout"}
)


def _options(args: argparse.Namespace) -> list[tuple[str, object]]:
    shown: list[tuple[str, object]] = []
    for attribute, label in OPTIONS:
        value = getattr(args, attribute, None)
        # A flag not given says nothing; top_1pct_share left out does.
        if (
            value is None
            or value in ([], ())
            or (value is False and attribute != "top_share")
        ):
            continue
        if attribute == "fail_if":
            value = "; ".join(each.text for each in value)
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        shown.append((label, value))
    return shown


def page(
    *,
    title: str,
    subtitle: str,
    table: str,
    figures: Sequence[tuple[str, str]],
    args: argparse.Namespace,
    inputs: Sequence[object],
    notes: Sequence[str],
    gates: Sequence[Outcome] = (),
) -> str:
    """Return the whole HTML document.

    Parameters
    ----------
    title, subtitle
        The page's heading and the line under it.
    table
        The formatted table's HTML (:func:`polars_l2.view.report_table`).
    figures
        Each figure's caption and inline SVG (:func:`svg`).
    args
        The parsed command line: its options are listed, and ``args.argv``
        is the command shown.
    inputs
        The data files and states read.
    notes
        What the reader should know besides the table (the run's notes are
        added after them).
    gates
        The release gates' outcomes (:func:`polars_l2.cli._gates.outcomes`).
    """
    argv = getattr(args, "argv", None) or []
    made = [
        ("command", shlex.join(["polars-l2", *argv])),
        ("created", datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")),
        ("polars-l2", polars_l2.__version__),
        ("polars", pl.__version__),
        ("Python", platform.python_version()),
    ]
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_escape(title)}</title><style>{_STYLE}</style></head>",
        "<body><main>",
        f'<h1>{_escape(title)}</h1><p class="subtitle">{_escape(subtitle)}</p>',
        f'<section id="table">{table}</section>',
        _gates_section(gates),
    ]
    if figures:
        sections.append('<section id="figures"><h2>Figures</h2>')
        sections += [
            f"<figure>{image}<figcaption>{_escape(caption)}</figcaption></figure>"
            for caption, image in figures
        ]
        sections.append("</section>")
    all_notes = [*notes, *_NOTES]
    if all_notes:
        sections.append(
            f'<section id="notes"><h2>Notes</h2>{_list(all_notes)}</section>'
        )
    sections += [
        '<section id="inputs"><h2>Inputs</h2>',
        _list(_input_lines(inputs)) if inputs else "<p>none</p>",
        "</section>",
        '<section id="options"><h2>Options</h2>',
        _described(_options(args)),
        "</section>",
        '<section id="made"><h2>How it was made</h2>',
        _described(made),
        "</section>",
        "</main></body></html>",
    ]
    return "\n".join(part for part in sections if part) + "\n"


def report_notes(report: pl.DataFrame, args: argparse.Namespace) -> list[str]:
    """Return what the reader of a report should know besides its table."""
    notes = []
    weight = getattr(args, "weight", None)
    notes.append(
        f"Weighted by the column {weight!r}: means, sums and n_eff are weighted."
        if weight
        else "Unweighted: every counted row counts once."
    )
    min_n = getattr(args, "min_n", 30)
    notes.append(
        f"small: a segment with fewer than {min_n} effective rows; its "
        "intervals are rough."
    )
    if "top_1pct_share" in report.columns and report["top_1pct_share"].is_null().all():
        notes.append(
            "top_1pct_share is empty: it was not asked for (--no-top-share), "
            "or it needs every squared error at once, which merged states of "
            "several files do not keep."
        )
    return notes


def _columns_names(args: argparse.Namespace) -> str:
    actual = getattr(args, "actual", None)
    predicted = getattr(args, "predicted", None) or []
    by = getattr(args, "by", None) or []
    text = f"{actual} against {', '.join(predicted)}" if predicted else ""
    return f"{text}, by {', '.join(by)}" if by and text else text


def report_page(
    report: pl.DataFrame,
    args: argparse.Namespace,
    *,
    figure: Figure | None,
    inputs: Sequence[object],
    gates: Sequence[Outcome] = (),
    command: str = "evaluate",
    subtitle: str | None = None,
) -> str:
    """Return the HTML report of an evaluation.

    `figure` is the evaluation's figure (RMSE and MAE per segment, and the
    concentration curves), drawn from the data rows; without rows (saved
    states only) the page draws the per-segment figure from the report.
    """
    view = _extras.require(
        "polars_l2.view", user="--format html", library="great-tables", extra="view"
    )
    confidence = getattr(args, "confidence", 0.95)
    table = view.report_table(report, confidence=confidence, title=None)
    table_html = table.as_raw_html()
    notes = report_notes(report, args)
    if figure is None:
        plot = _extras.require(
            "polars_l2.plot", user="--format html", library="matplotlib", extra="view"
        )
        figure = plot.plot_report(
            report,
            confidence=confidence,
            weighted=getattr(args, "weight", None) is not None,
        )
        notes.append(
            "The concentration curve needs the data rows; this report comes "
            "from saved states."
        )
    caption = (
        "RMSE and MAE per segment with their intervals, and where the squared "
        "error comes from: the share of SSE against the share of rows, largest "
        "errors first."
    )
    return page(
        title=f"polars-l2 {command}: model evaluation report",
        subtitle=_columns_names(args) if subtitle is None else subtitle,
        table=table_html,
        figures=[(caption, svg(figure))],
        args=args,
        inputs=inputs,
        notes=notes,
        gates=gates,
    )


def comparison_page(
    comparison: pl.DataFrame,
    args: argparse.Namespace,
    *,
    inputs: Sequence[object],
    gates: Sequence[Outcome] = (),
) -> str:
    """Return the HTML report of a comparison, with its forest plot."""
    view = _extras.require(
        "polars_l2.view", user="--format html", library="great-tables", extra="view"
    )
    plot = _extras.require(
        "polars_l2.plot", user="--format html", library="matplotlib", extra="view"
    )
    table = view.comparison_table(comparison, confidence=args.confidence).as_raw_html()
    caption = (
        "The MSE ratio, candidate over baseline, per segment, with the "
        "interval of the difference on the same scale; left of 1 the "
        "candidate is better; filled markers are significant after adjustment."
    )
    notes = [
        f"The paired test of squared errors per segment (Diebold-Mariano with "
        f"the Harvey-Leybourne-Newbold correction); p-values adjusted by "
        f"{args.adjust} over the segments of each candidate; the overall row "
        "is not adjusted.",
        f"small: fewer than {args.min_n} effective paired rows; no verdict.",
    ]
    return page(
        title="polars-l2 compare: is the candidate better?",
        subtitle=(
            f"{args.actual}: {', '.join(args.candidate)} against the baseline "
            f"{args.baseline}" + (f", by {', '.join(args.by)}" if args.by else "")
        ),
        table=table,
        figures=[(caption, svg(plot.plot_comparison(comparison)))],
        args=args,
        inputs=inputs,
        notes=notes,
        gates=gates,
    )

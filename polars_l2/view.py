"""Presentation tables of a report or a comparison, for notebooks and HTML.

:func:`report_table` and :func:`comparison_table` turn the output of
:func:`polars_l2.report` and :func:`polars_l2.compare` into a formatted
`Great Tables <https://posit-dev.github.io/great-tables/>`_ table (the
library Polars' own ``DataFrame.style`` hands a frame to): each number to a
chosen count of significant digits, each interval in brackets beside its
value, one group of rows per model, the overall rows set apart, small
segments and verdicts marked, and a null ("—", no value) told apart from NaN
(not a number). A notebook shows the table as the cell's result; its
``as_raw_html()`` gives the HTML, with its styles inline, no script and no
network resource (the command line's ``--format html`` report embeds it).

The table is for reading: the numbers are in the report itself, at full
precision. Needs great-tables, from the optional extra
``pip install 'polars-l2[view]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from polars_l2 import _extras
from polars_l2._compare import COLUMNS as COMPARE_COLUMNS
from polars_l2._core import metrics

if TYPE_CHECKING:
    from collections.abc import Sequence

    from great_tables import GT

__all__ = ["comparison_table", "report_table"]

#: The report's columns that are not segment keys.
_REPORT_COLUMNS = frozenset({"model", "overall", "n", "weight_sum", "small"}) | set(
    metrics.METRICS
)
_COMPARE_COLUMNS = frozenset(COMPARE_COLUMNS)
#: The metrics with an interval (``<name>_low``, ``<name>_high``).
_INTERVALS = ("mse", "rmse", "mae", "bias", "loss_diff")
#: Integer counts: thousands separators, no significant digits.
_COUNTS = ("n", "clusters")
#: Beyond these magnitudes a number is shown in scientific notation.
_LARGE, _SMALL = 1e6, 1e-3

#: The order in which people read an evaluation: the size of the segment,
#: RMSE with its interval, MAE, bias, the concentration of the squared error,
#: a comparison's verdict and its effect; every other column follows in the
#: table's order. The command line's table keeps columns by this priority on
#: a narrow terminal. Each group is shown whole or not at all.
PRIORITY: tuple[tuple[str, ...], ...] = (
    ("n",),
    ("rmse", "rmse_low", "rmse_high"),
    ("mae",),
    ("bias",),
    ("top_1pct_share",),
    ("verdict",),
    ("loss_diff", "loss_diff_low", "loss_diff_high"),
    ("skill",),
    ("p_value_adjusted",),
)

_NULL_TEXT = "—"
_VERDICT_FILL = {"better": "#d8f0d8", "worse": "#f8d4d4"}
_OVERALL_BORDER = "#6b6b6b"


def _great_tables() -> Any:  # noqa: ANN401 - the optional module, untyped here
    return _extras.require(
        "great_tables", user="polars_l2.view", library="great-tables", extra="view"
    )


def _interval_note(confidence: float) -> str:
    level = f"{round(confidence * 100, 6):g}%"
    return f"[low, high]: the {level} confidence interval of the value before it."


_NULL_NOTE = (
    f"{_NULL_TEXT} no value (null: no counted rows, or too few for the column); "
    "NaN: not a number (a NaN in the data, kept by nan_policy='propagate')."
)


def _frame(table: pl.DataFrame | pl.LazyFrame, function: str) -> pl.DataFrame:
    frame = table.collect() if isinstance(table, pl.LazyFrame) else table
    if not isinstance(frame, pl.DataFrame) or "model" not in frame.columns:
        msg = (
            f"polars_l2.view.{function}: expected the output of "
            f"polars_l2.{'report' if function == 'report_table' else 'compare'} "
            f"(a frame with a 'model' column), got {type(table).__name__}"
        )
        raise ValueError(msg)
    return frame


def _digits(digits: int | Mapping[str, int], column: str) -> int:
    if isinstance(digits, Mapping):
        return int(digits.get(column, 4))
    return int(digits)


def _formatted(
    gt: GT, frame: pl.DataFrame, values: Sequence[str], digits: int | Mapping[str, int]
) -> GT:
    """Format every value column: counts, then floats to significant digits."""
    for column in values:
        dtype = frame.schema[column]
        if column in _COUNTS or dtype.is_integer():
            gt = gt.fmt_integer(column)
        elif dtype.is_float():
            n = _digits(digits, column)
            size = pl.col(column).abs()
            extreme = (size >= _LARGE) | ((size < _SMALL) & (size != 0))
            gt = gt.fmt_number(column, n_sigfig=n)
            # The last format given for a cell is the one shown.
            gt = gt.fmt_scientific(column, n_sigfig=n, rows=extreme)
        # A null is "—"; a NaN is not missing, and stays "NaN".
        gt = gt.sub_missing(
            column, rows=pl.col(column).is_null(), missing_text=_NULL_TEXT
        )
    return gt


def _keys_shown(gt: GT, frame: pl.DataFrame, keys: Sequence[str]) -> GT:
    """Label the overall rows' keys "all rows", and a null key "null"."""
    if not keys:
        return gt
    overall = pl.col("overall") if "overall" in frame.columns else pl.lit(value=False)
    for i, key in enumerate(keys):
        gt = gt.sub_missing(
            key,
            rows=overall.not_() & pl.col(key).is_null(),
            missing_text="null",
        )
        gt = gt.sub_missing(
            key, rows=overall, missing_text="all rows" if i == 0 else ""
        )
    return gt


def _merged_intervals(gt: GT, shown: Sequence[str]) -> tuple[GT, list[str]]:
    """Put each interval beside its value: ``value [low, high]``."""
    merged = []
    for name in _INTERVALS:
        parts = [name, f"{name}_low", f"{name}_high"]
        if all(part in shown for part in parts):
            gt = gt.cols_merge(parts, pattern="{0}<< [{1}, {2}]>>")
            merged.append(name)
    return gt, merged


def _marked(gt: GT, frame: pl.DataFrame, *, small_note: str) -> GT:
    """Set the overall rows apart and mark the small segments."""
    great_tables = _great_tables()
    loc, style = great_tables.loc, great_tables.style
    overall = frame.get_column("overall") if "overall" in frame.columns else None
    if overall is not None and overall.any() and not overall.all():
        rows = pl.col("overall")
        gt = gt.tab_style(
            [
                style.text(weight="bold"),
                style.borders(sides="top", color=_OVERALL_BORDER, weight="2px"),
            ],
            loc.body(rows=rows),
        )
    if "small" in frame.columns and frame.get_column("small").any():
        small = pl.col("small").fill_null(value=False)
        gt = gt.tab_style(
            style.text(color="#777777", style="italic"), loc.body(rows=small)
        )
        gt = gt.tab_footnote(
            small_note, locations=loc.body(columns="n", rows=small), placement="right"
        )
    return gt


def _table(
    frame: pl.DataFrame,
    *,
    keys: list[str],
    values: list[str],
    digits: int | Mapping[str, int],
) -> tuple[GT, list[str]]:
    """Build the formatted table: grouped by model where there are segments."""
    great_tables = _great_tables()
    gt = great_tables.GT(frame, groupname_col="model" if keys else None)
    # A value and its interval stay on one line; a wide table scrolls.
    gt = gt.tab_style(
        great_tables.style.text(whitespace="nowrap"), great_tables.loc.body()
    )
    gt = _formatted(gt, frame, values, digits)
    # The keys, then the values in the order people read them (PRIORITY).
    gt = gt.cols_move_to_start([*keys, *values] if keys else ["model", *values])
    gt = _keys_shown(gt, frame, keys)
    gt, merged = _merged_intervals(gt, values)
    hidden: list[str] = [
        c for c in ("overall", "small", "baseline") if c in frame.columns
    ]
    hidden += [c for c in frame.columns if c not in {"model", *keys, *values}]
    if hidden:
        gt = gt.cols_hide(list(dict.fromkeys(hidden)))
    return gt, merged


def _value_columns(
    frame: pl.DataFrame,
    known: frozenset[str],
    columns: Sequence[str] | None,
    function: str,
) -> tuple[list[str], list[str]]:
    keys = [c for c in frame.columns if c not in known]
    available = [c for c in frame.columns if c in known and c not in ("model",)]
    if columns is None:
        values = [c for c in available if c not in ("overall", "small", "baseline")]
    else:
        missing = [c for c in columns if c not in available]
        if missing:
            msg = (
                f"polars_l2.view.{function}: no column {missing[0]!r} to show; "
                f"the table has {', '.join(available)}"
            )
            raise ValueError(msg)
        values = [c for c in available if c in columns]
    return keys, by_priority(values)


def by_priority(columns: Sequence[str]) -> list[str]:
    """Return `columns` in the order of :data:`PRIORITY`, then the others.

    Examples
    --------
    >>> by_priority(["n", "sse", "mse", "rmse", "rmse_low", "rmse_high", "mae"])
    ['n', 'rmse', 'rmse_low', 'rmse_high', 'mae', 'sse', 'mse']
    """
    first = [c for group in PRIORITY for c in group if c in columns]
    return [*first, *(c for c in columns if c not in first)]


def report_table(
    report: pl.DataFrame | pl.LazyFrame,
    *,
    columns: Sequence[str] | None = None,
    digits: int | Mapping[str, int] = 4,
    confidence: float = 0.95,
    title: str | None = "Model evaluation report",
) -> GT:
    """Return the report as a formatted table, for a notebook or an HTML page.

    One group of rows per model (with segments), its overall row (from
    ``overall=True``) last, in bold, below a rule; each metric to `digits`
    significant digits (in scientific notation from 1e6 up, and below 1e-3), with
    its interval beside it as ``value [low, high]``; small segments in grey
    italics with a footnote on ``n``; a null shown as "—" and a NaN as
    "NaN". Column names are the report's, so a condition of
    :func:`polars_l2.gate_failures` reads as the table does.

    Parameters
    ----------
    report
        The output of :func:`polars_l2.report` (or :func:`polars_l2.finalize`);
        a LazyFrame is collected. Its columns other than the report's are its
        segment keys.
    columns
        The report columns to show besides ``model`` and the keys (default:
        all of them; ``overall`` and ``small`` are marks, not columns). An
        interval is shown beside its value when both its ends are shown.
    digits
        Significant digits of the float columns: one count for all, or a
        mapping from column name to count (4 for columns it leaves out).
        Counts (``n``) are whole numbers with thousands separators.
    confidence
        The level the report's intervals were computed at, for the note.
    title
        The table's title, or None for none.

    Returns
    -------
    great_tables.GT
        The table. A notebook shows it; ``as_raw_html()`` returns it as HTML
        (a ``<div>`` with its own ``<style>``), ``write_raw_html(path)``
        writes it.

    Raises
    ------
    ImportError
        Without great-tables; install ``polars-l2[view]``.
    ValueError
        If `report` has no ``model`` column, or `columns` names a column it
        does not have.

    See Also
    --------
    comparison_table : The same for :func:`polars_l2.compare`.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> from polars_l2.view import report_table
    >>> df = pl.DataFrame(
    ...     {
    ...         "region": ["north"] * 3 + ["south"] * 3,
    ...         "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...         "yhat": [1.5, 2.5, 2.0, 4.5, 5.5, 9.0],
    ...     }
    ... )
    >>> report = polars_l2.report(df, "y", "yhat", by="region", overall=True)
    >>> table = report_table(report, columns=["n", "rmse", "rmse_low", "rmse_high"])
    >>> import re
    >>> cells = re.findall(r"<td[^>]*>(.*?)</td>", table.as_raw_html())
    >>> [cell for cell in cells if cell[:1].isdigit() and "[" in cell]
    ['0.7071 [0.4332, 1.154]', '1.780 [0.7216, 4.388]', '1.354 [0.6276, 2.921]']
    >>> "all rows" in cells
    True
    """
    frame = _frame(report, "report_table")
    keys, values = _value_columns(frame, _REPORT_COLUMNS, columns, "report_table")
    gt, merged = _table(frame, keys=keys, values=values, digits=digits)
    gt = _marked(
        gt,
        frame,
        small_note="small: fewer effective rows than min_n (30 by default); "
        "judge with care.",
    )
    if title is not None:
        gt = gt.tab_header(title=title)
    if merged:
        gt = gt.tab_source_note(_interval_note(confidence))
    return gt.tab_source_note(_NULL_NOTE)


def comparison_table(
    comparison: pl.DataFrame | pl.LazyFrame,
    *,
    digits: int | Mapping[str, int] = 4,
    confidence: float = 0.95,
    title: str | None = "Is the candidate better?",
) -> GT:
    """Return a comparison as a formatted table, verdicts marked.

    As :func:`report_table`, for the output of :func:`polars_l2.compare`:
    one group per candidate (and loss), ``loss_diff`` with its interval beside it, the
    verdict on a green (better) or red (worse) ground, the baseline in the
    subtitle, p-values to 2 significant digits unless `digits` says
    otherwise.

    Parameters
    ----------
    comparison
        The output of :func:`polars_l2.compare`; a LazyFrame is collected.
    digits
        Significant digits of the float columns: one count, or a mapping
        from column name to count.
    confidence
        The level `comparison` was computed at, for the note.
    title
        The table's title, or None for none.

    Returns
    -------
    great_tables.GT
        The table; ``as_raw_html()`` gives its HTML.

    Raises
    ------
    ImportError
        Without great-tables; install ``polars-l2[view]``.
    ValueError
        If `comparison` has no ``model`` column.

    See Also
    --------
    report_table : The same for :func:`polars_l2.report`.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> from polars_l2.view import comparison_table
    >>> df = pl.DataFrame(
    ...     {
    ...         "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...         "old": [1.5, 2.6, 2.4, 4.7, 4.2, 6.8],
    ...         "new": [1.1, 2.2, 2.9, 4.1, 4.8, 6.3],
    ...     }
    ... )
    >>> table = comparison_table(polars_l2.compare(df, "y", "old", "new", min_n=2))
    >>> "better" in table.as_raw_html()
    True
    """
    frame = _frame(comparison, "comparison_table")
    # The loss names a block of rows, as a key does.
    known = _COMPARE_COLUMNS - {"loss"}
    keys, values = _value_columns(frame, known, None, "comparison_table")
    p_values = {"p_value": 2, "p_value_adjusted": 2}
    if isinstance(digits, Mapping):
        digits = {**p_values, **digits}
    else:
        digits = {**dict.fromkeys(frame.columns, digits), **p_values}
    gt, merged = _table(frame, keys=keys, values=values, digits=digits)
    gt = _marked(
        gt,
        frame,
        small_note="small: fewer effective rows than min_n; no verdict.",
    )
    great_tables = _great_tables()
    for verdict, fill in _VERDICT_FILL.items():
        gt = gt.tab_style(
            great_tables.style.fill(color=fill),
            great_tables.loc.body(columns="verdict", rows=pl.col("verdict") == verdict),
        )
    baselines = (
        frame.get_column("baseline").unique().to_list()
        if "baseline" in frame.columns
        else []
    )
    subtitle = (
        f"candidates against the baseline {baselines[0]}; loss_diff < 0: the "
        "candidate is better"
        if len(baselines) == 1
        else None
    )
    if title is not None:
        gt = gt.tab_header(title=title, subtitle=subtitle)
    if merged:
        gt = gt.tab_source_note(_interval_note(confidence))
    return gt.tab_source_note(_NULL_NOTE)

"""The table on a terminal: the columns that fit its width, by priority.

On a terminal narrower than the whole table, the ``table`` format keeps the
columns that fit, chosen in this order (a group is kept whole or left out):

1. the names and keys: ``model``, the segment keys, ``output``, and
   ``overall`` where it tells rows apart (some overall rows, some not);
2. ``n``;
3. ``rmse`` with its interval (``rmse_low``, ``rmse_high``);
4. ``mae``; 5. ``bias``; 6. ``top_1pct_share``;
7. ``verdict`` (a comparison); 8. ``loss_diff`` with its interval;
   9. ``skill``; 10. ``p_value_adjusted``;
11. then every other column, in the table's order.

Each group in turn is added if the table still fits; one that does not fit
is left out, and a later, narrower one may still be added. The kept columns
keep the table's order. A line under the table names the columns left out
and how to see them (``--columns all``, or ``--format csv``), wrapped at the
terminal's width between words. The names and keys are always shown, so a
table whose keys alone are wider than the terminal is wider than it.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from polars_l2.cli._output import render, split_columns
from polars_l2.view import PRIORITY

if TYPE_CHECKING:
    import polars as pl

#: The narrowest width the note is wrapped at.
_MIN_NOTE_WIDTH = 20


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _names_and_values(table: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Return the columns always shown, and the value columns to choose from.

    ``overall`` names rows only where some are overall and some are not;
    else it is a value like any other (and ``baseline``, the same in every
    row of a comparison, too).
    """
    leading, values = split_columns(table)
    names = [c for c in leading if c not in ("overall", "baseline")]
    rest = [c for c in leading if c in ("overall", "baseline")]
    if "overall" in rest:
        overall = table.get_column("overall")
        if overall.any() and not overall.all():
            names.append("overall")
            rest.remove("overall")
    return names, [*rest, *values]


def _groups(values: list[str]) -> list[tuple[str, ...]]:
    """Return the value columns in groups, by priority (see the module doc)."""
    groups = [
        tuple(c for c in group if c in values)
        for group in PRIORITY
        if group[0] in values
    ]
    grouped = {c for group in groups for c in group}
    return [*groups, *((c,) for c in values if c not in grouped)]


def fit_table(table: pl.DataFrame, width: int) -> tuple[str, str | None]:
    """Render the table in `width` characters, leaving out columns if needed.

    Returns the table and, when columns were left out, the note that names
    them (wrapped at `width`, never inside a word).

    Examples
    --------
    >>> import polars as pl
    >>> report = pl.DataFrame(
    ...     {"model": ["a"], "n": [3], "rmse": [1.0], "sse": [3.0], "bias": [0.5]}
    ... )
    >>> table, note = fit_table(report, 30)
    >>> print(table, end="")
    ┌───────┬───┬──────┬──────┐
    │ model ┆ n ┆ rmse ┆ bias │
    ╞═══════╪═══╪══════╪══════╡
    │ a     ┆ 3 ┆ 1    ┆ 0.5  │
    └───────┴───┴──────┴──────┘
    >>> print(note)
    (left out to fit the terminal:
    sse; see them with --columns
    all or --format csv)
    """
    text = render(table, "table")
    if _widest(text) <= width:
        return text, None
    names, values = _names_and_values(table)
    kept: set[str] = set()
    for group in _groups(values):
        trial = [c for c in table.columns if c in kept or c in group]
        if _widest(render(table.select(*names, *trial), "table")) <= width:
            kept.update(group)
    shown = [c for c in table.columns if c in names or c in kept]
    left_out = [c for c in values if c not in kept]
    note = (
        f"(left out to fit the terminal: {', '.join(left_out)}; "
        "see them with --columns all or --format csv)"
    )
    wrapped = textwrap.fill(
        note,
        max(width, _MIN_NOTE_WIDTH),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return render(table.select(shown), "table"), wrapped

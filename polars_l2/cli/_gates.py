"""Release gates on the command line: ``--fail-if`` and ``--fail-if-worse``.

``--fail-if CONDITION`` (repeatable, on ``evaluate`` and ``compare``) fails the
run, with exit status 3, when some row of the report or comparison meets the
condition: each failing row and condition is one line on stderr, after the
output is written. The condition is :func:`polars_l2.gate_failures`'s, checked
when the command line is read: anything but comparisons of columns and
literals (a function call, a subquery, shell syntax) is refused in one line,
with exit status 2, before any file is read. ``compare --fail-if-worse`` is
the gate ``verdict = 'worse'``, and names the segments where it holds.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from polars_l2 import _gates
from polars_l2._core.per_output import OUTPUT_KEY
from polars_l2.cli._errors import CliError
from polars_l2.cli._output import _significant as significant
from polars_l2.cli._output import durations_as_text, escape_text, split_columns
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

#: The exit status when a gate fails (some row meets a --fail-if condition,
#: or a candidate is worse with --fail-if-worse).
EXIT_GATE = 3

#: The condition --fail-if-worse stands for.
WORSE = "verdict = 'worse'"

_HELP = (
    "exit with status {status} if any row of the {table} meets CONDITION, a "
    "comparison of its columns with values, joined by and, or, not: "
    "{examples}; repeatable (any fails)"
)

#: Conditions on each table's own columns, for its help.
_EXAMPLES = {
    "report": '"rmse > 12000", "top_1pct_share >= 0.5 and n >= 100"',
    "comparison": '"skill < -0.02", "loss_diff > 0 and n >= 100"',
}

_EPILOG = """\
release gates:
  --fail-if CONDITION fails the run (exit status 3) when a row of the table
  meets CONDITION, after writing every output; stderr names each failing row
  and condition, one line each. A condition compares columns (by name; quote
  an unusual one in double quotes) with each other or with values (numbers,
  'text', true, false), or tests "is null" / "is not null", joined by and,
  or, not and parentheses: {examples}.
  Nothing else is read: a function call, arithmetic or a subquery is
  refused (exit status 2) before any file is read. A null makes a comparison
  unknown, and an unknown row does not fail (stderr says how many); a NaN
  compares above every number.
"""


def epilog(table: str) -> str:
    """Return the help's paragraph on the gates, with conditions on `table`."""
    return _EPILOG.format(examples=_EXAMPLES[table])


def condition(text: str) -> _gates.Condition:
    """Parse one ``--fail-if`` value (argparse's ``type``), refusing bad syntax.

    Raises
    ------
    argparse.ArgumentTypeError
        If `text` is not a comparison of columns and values (one line).

    Examples
    --------
    >>> condition("rmse > 12000").columns
    ('rmse',)
    >>> condition("__import__('os')")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: condition "__import__('os')": function calls are not allowed (__import__(...))
    """  # noqa: E501 - a doctest's expected line is the message, whole
    try:
        return _gates.parse(text, function="--fail-if")
    except L2InputError as error:
        raise argparse.ArgumentTypeError(
            str(error).removeprefix("--fail-if: ")
        ) from None


def add_option(group: argparse._ArgumentGroup, *, table: str) -> None:
    """Add ``--fail-if`` to an argument group of a subcommand."""
    group.add_argument(
        "--fail-if",
        metavar="CONDITION",
        type=condition,
        action="append",
        default=[],
        help=_HELP.format(status=EXIT_GATE, table=table, examples=_EXAMPLES[table]),
    )


def file_keys(
    schema: Mapping[str, pl.DataType], keys: Sequence[str], targets: Sequence[str]
) -> dict[str, pl.DataType]:
    """Return the table's keys and their dtypes, from a data file's schema.

    The `keys` take the file's dtypes (Null where the file lacks one: that
    error comes with the file's); vector `targets` add the output number
    (``output``, Int64), the last key.
    """
    found = {key: schema.get(key, pl.Null()) for key in keys}
    vector = any(isinstance(schema.get(name), pl.Array | pl.List) for name in targets)
    if vector and OUTPUT_KEY not in found:
        found[OUTPUT_KEY] = pl.Int64()
    return found


def key_check(
    keys: Sequence[str],
    targets: Sequence[str],
    check: Callable[[dict[str, pl.DataType]], None],
) -> Callable[[pl.Schema], None]:
    """Return the check of a data file's schema: `check` of its keys' dtypes.

    `check` gets :func:`file_keys`, once per set of key dtypes: the files of
    one run mostly share theirs, and a check builds a table of no rows (a
    comparison's takes tens of milliseconds), which would otherwise be paid
    for every file.
    """
    checked: set[tuple[tuple[str, pl.DataType], ...]] = set()

    def on_file(schema: pl.Schema) -> None:
        found = file_keys(schema, keys, targets)
        seen = tuple(found.items())
        if seen not in checked:
            check(found)
            checked.add(seen)

    return on_file


def check_columns(
    conditions: Sequence[_gates.Condition], columns: Collection[str]
) -> None:
    """Refuse, before the evaluation, a condition on a column the table lacks.

    Raises
    ------
    CliError
        Naming the condition, the column and the columns there will be.
    """
    for each in conditions:
        for name in each.columns:
            if name not in columns:
                msg = (
                    f"--fail-if {each.text!r}: no column {name!r}"
                    f"{_gates.quoted_hint(each)}; the columns are "
                    f"{', '.join(columns)}"
                )
                raise CliError(msg)


def check_types(
    conditions: Sequence[_gates.Condition], schema: Mapping[str, pl.DataType]
) -> None:
    """Refuse, before the evaluation, a condition that cannot compare its columns.

    Each condition is evaluated on a table of `schema` (the report's
    columns, the keys as Null where their dtype is only known from the
    data), empty and of one row of a value in each dtype (some comparisons,
    a duration with text, fail only on a value), so a comparison of a
    String with a number fails here, before a state is saved, rather than
    after the run. Conditions on a column not in `schema` wait for the
    table.

    Raises
    ------
    CliError
        Naming the condition and Polars' reason.
    """
    tables = [pl.DataFrame(schema=dict(schema)), _one_row(schema)]
    for each in conditions:
        if not all(name in schema for name in each.columns):
            continue
        try:
            for table in tables:
                _gates.check_condition(table, each)
        except L2InputError as error:
            reason = str(error).split(": ", 2)[-1]
            msg = f"--fail-if {each.text!r}: {reason}"
            raise CliError(msg) from None


def _one_row(schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Return a row of `schema`: zero, empty text or false, else null."""
    columns = []
    for name, dtype in schema.items():
        column = pl.Series(name, [None], dtype=dtype)
        for value in (0, "", False):
            try:
                column = pl.Series(name, [value]).cast(dtype, strict=True)
                break
            except (pl.exceptions.PolarsError, TypeError, ValueError):
                continue
        columns.append(column)
    return pl.DataFrame(columns)


def _identity(row: dict[str, object], leading: Sequence[str]) -> str:
    """Return which row it is: model and keys, or the model and "all rows".

    An overall row keeps the keys it has (a comparison's loss, a vector
    target's output); the keys it pools over are null there.
    """
    overall = bool(row.get("overall"))
    parts = []
    for name in leading:
        pooled = overall and name != "model" and row[name] is None
        if name in ("baseline", "overall") or pooled:
            continue
        shown = escape_text(_key_text(row[name]), markdown=False)
        parts.append(f"{escape_text(name, markdown=False)}={shown}")
    if overall and len(leading) > 1:
        parts.append("all rows")
    return ", ".join(parts)


def _key_text(value: object) -> str:
    """Write a key as the conditions and the csv output do (true, P1DT3S).

    Durations come as ISO 8601 text (:func:`durations_as_text`): Python's
    "1 day, 0:00:03" has a comma, which separates the keys.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value(row: dict[str, object], name: str) -> str:
    value = row[name]
    if isinstance(value, float):
        text = f"{significant(value)}"
        low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
        if isinstance(low, float) and isinstance(high, float):
            text += f" [{significant(low)}, {significant(high)}]"
    else:
        text = "null" if value is None else escape_text(str(value), markdown=False)
    return f"{escape_text(name, markdown=False)}={text}"


def _lines(
    table: pl.DataFrame, each: _gates.Condition, label: str, shown: Sequence[str]
) -> list[str]:
    leading, _ = split_columns(table)
    failing = durations_as_text(
        _gates.gate_failures(table, [each.text]).drop(_gates.CONDITION)
    )
    values = [name for name in shown if name not in leading]
    return [
        f"{label}: {_identity(row, leading)}"
        + (f" ({', '.join(_value(row, n) for n in values)})" if values else "")
        for row in failing.iter_rows(named=True)
    ]


def _undecided(table: pl.DataFrame, each: _gates.Condition, label: str) -> str | None:
    rows = _gates.undecided(table, each)
    if rows.height == 0:
        return None
    noun = "row reads" if rows.height == 1 else "rows read"
    return (
        f"{label}: {rows.height} {noun} a null and could not be checked "
        f"({name_rows(rows)})"
    )


def name_rows(rows: pl.DataFrame, most: int = 3) -> str:
    """Name the first `most` rows of a report or comparison (model and keys)."""
    leading, _ = split_columns(rows)
    names = "; ".join(
        _identity(row, leading)
        for row in durations_as_text(rows.head(most)).iter_rows(named=True)
    )
    more = f"; and {rows.height - most} more" if rows.height > most else ""
    return names + more


@dataclass(frozen=True)
class Outcome:
    """What one gate found: its name, a line per failing row, rows unchecked."""

    gate: str
    failing: list[str]
    unchecked: str | None = None


def outcomes(
    table: pl.DataFrame,
    conditions: Sequence[_gates.Condition],
    *,
    worse: bool = False,
) -> list[Outcome]:
    """Check each gate on `table`: ``--fail-if-worse`` first, then each condition.

    Raises
    ------
    CliError
        If a condition cannot be evaluated on the table (a column it lacks,
        values that cannot be compared).
    """
    found = []
    try:
        if worse:
            shown = ["loss_diff", "skill", "p_value_adjusted"]
            gate = _gates.parse(WORSE)
            # A null verdict (no data, NaN, a small segment) is no verdict.
            unchecked = _undecided(table, gate, "--fail-if-worse")
            lines = _lines(table, gate, "worse", shown)
            found.append(Outcome("worse", lines, unchecked))
        for each in conditions:
            label = f"--fail-if {each.text!r}"
            lines = _lines(table, each, label, each.columns)
            found.append(Outcome(label, lines, _undecided(table, each, label)))
    except L2InputError as error:
        raise CliError(str(error).removeprefix(f"{_gates.FUNCTION}: ")) from None
    return found


def status(
    table: pl.DataFrame,
    conditions: Sequence[_gates.Condition],
    *,
    worse: bool = False,
    say: Callable[[str], None],
    notice: Callable[[str], None],
) -> int:
    """Check the gates on `table`; say each failing row; return the exit status.

    Returns
    -------
    int
        :data:`EXIT_GATE` if any row fails a gate, else 0.

    Raises
    ------
    CliError
        If a condition cannot be evaluated on the table (see :func:`outcomes`).
    """
    failed = False
    for outcome in outcomes(table, conditions, worse=worse):
        failed |= bool(outcome.failing)
        for line in outcome.failing:
            say(line)
        if outcome.unchecked is not None:
            notice(outcome.unchecked)
    return EXIT_GATE if failed else 0

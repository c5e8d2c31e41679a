"""What the Ray and Spark adapters share: column arguments, chunk states, errors.

Both adapters reduce each block or partition of the data to a metric state
(:func:`polars_l2.state`) on the workers, as an Arrow table with the state's
fixed schema, and combine the states with the engine or on the driver. This
module holds the parts that do not depend on the engine. It imports neither
Ray nor Spark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

import polars_l2
from polars_l2._core import dtypes
from polars_l2._core.columns import names as column_names
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import pyarrow as pa

    from polars_l2.typing import NanPolicy

#: How a worker's input error appears in the traceback text an engine relays.
_WORKER_INPUT_ERROR = re.compile(r"L2InputError: (?P<message>[^\n]+)")


@dataclass(frozen=True)
class Columns:
    """The columns a distributed evaluation reads, by name."""

    actual: str
    predicted: tuple[str, ...]
    by: tuple[str, ...]
    weight: str | None
    nan_policy: NanPolicy

    @property
    def needed(self) -> list[str]:
        """Every column read, each once, in a stable order."""
        names = [self.actual, *self.predicted, *self.by]
        if self.weight is not None:
            names.append(self.weight)
        return list(dict.fromkeys(names))


def parse_columns(
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None,
    weight: str | None,
    nan_policy: NanPolicy,
    function: str,
) -> Columns:
    """Check the column arguments of an adapter and return them as names."""
    actual_names = column_names(actual, role="actual", function=function)
    predicted_names = column_names(predicted, role="predicted", function=function)
    weight_names = column_names(weight, role="weight", function=function)
    if len(actual_names) != 1 or len(weight_names) > 1:
        msg = f"{function}: actual and weight must each be one column name"
        raise TypeError(msg)
    if not predicted_names:
        msg = f"{function}: predicted must name at least one column"
        raise ValueError(msg)
    dtypes.check_nan_policy(nan_policy)
    return Columns(
        actual_names[0],
        predicted_names,
        column_names(by, role="by", function=function),
        weight_names[0] if weight_names else None,
        nan_policy,
    )


def check_present(available: Sequence[str], columns: Columns, *, function: str) -> None:
    """Raise :class:`L2InputError` naming any column that is not `available`."""
    missing = [name for name in columns.needed if name not in available]
    if missing:
        msg = (
            f"{function}: column(s) {', '.join(map(repr, missing))} not found; "
            f"the data has {', '.join(map(repr, available)) or 'no columns'}"
        )
        raise L2InputError(msg)


def frame_state(frame: pl.DataFrame, columns: Columns) -> pl.DataFrame:
    """Return the metric state of one chunk of data."""
    return polars_l2.state(
        frame,
        columns.actual,
        list(columns.predicted),
        by=list(columns.by) or None,
        weight=columns.weight,
        nan_policy=columns.nan_policy,
    )


def to_frame(table: pa.Table) -> pl.DataFrame:
    """Return an Arrow table as a Polars DataFrame (zero-copy where it can)."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)  # a Table always gives a DataFrame
    return frame


def state_schema(state: pl.DataFrame) -> pa.Schema:
    """Return the fixed Arrow schema of `state`, its keys in their own types."""
    fixed = set(polars_l2.state_schema().names)
    keys = {name: dtype for name, dtype in state.schema.items() if name not in fixed}
    return polars_l2.state_schema(keys)


def to_state_table(state: pl.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """Return a state as an Arrow table with exactly the fixed `schema`.

    Without `schema`, the state's own (:func:`state_schema`): its keys keep
    the types they have in this chunk of data.
    """
    if schema is None:
        schema = state_schema(state)
    return state.to_arrow().select(schema.names).cast(schema)


def table_state(
    table: pa.Table,
    columns: Columns,
    *,
    function: str,
    schema: pa.Schema | None = None,
) -> pa.Table:
    """Return the state of one block of data, with the fixed Arrow schema.

    Runs on the workers. A missing column, or one of a dtype the metrics
    cannot use, raises :class:`L2InputError` naming it. `schema` is the
    state schema every block must give (where the engine needs one), else
    the block's own.
    """
    check_present(table.column_names, columns, function=function)
    state = frame_state(to_frame(table.select(columns.needed)), columns)
    return to_state_table(state, schema)


def merge_tables(
    tables: Iterable[pa.Table], schema: pa.Schema | None = None
) -> pa.Table:
    """Merge state tables into one, with the fixed schema (see :func:`table_state`)."""
    merged = polars_l2.merge_states(list(tables))
    return to_state_table(merged, schema)


def merge_in_order(
    base: pl.DataFrame, parts: Sequence[pa.Table], columns: Columns
) -> pl.DataFrame:
    """Merge the driver's empty state with the workers' states.

    Rows come in the order :func:`polars_l2.state` gives on one machine:
    models in the order of `predicted`, then segments sorted by key (by
    value, in the key's dtype, nulls last), whatever order the engine
    returned them in. Keys whose dtypes differ between the parts merge in
    their common dtype, as in :func:`polars_l2.merge_states`.
    """
    # An engine may hand back an empty block without columns; no rows, no state.
    merged = polars_l2.merge_states([base, *(part for part in parts if part.num_rows)])
    rank = pl.col("model").replace_strict(
        list(columns.predicted), range(len(columns.predicted)), return_dtype=pl.Int64
    )
    return merged.sort([rank, *columns.by], nulls_last=True, maintain_order=True)


def empty_state(
    schema: pa.Schema | None, columns: Columns, *, function: str
) -> pl.DataFrame:
    """Return the state of no rows of data with `schema`, checked on the driver.

    Checking the schema before any data is read catches a missing column or
    an unusable dtype at once. Merging this state with the workers' states
    changes nothing, and gives the report of no data for a dataset without
    rows. Without a schema, the columns are taken as of the Null dtype.
    """
    if schema is None:
        frame = pl.DataFrame(schema=dict.fromkeys(columns.needed, pl.Null))
    else:
        check_present(schema.names, columns, function=function)
        frame = to_frame(schema.empty_table())
    return frame_state(frame, columns)


def input_error_from_worker(
    error: BaseException, *, engine: str
) -> L2InputError | None:
    """Return the input error a worker raised, found in the engine's error.

    Ray and Spark relay a worker's exception as their own error type, with
    the original exception only as traceback text. This finds the
    :class:`L2InputError` message in that text so the driver can raise it as
    the error it is, naming the column; None if the error is something else.
    """
    found = _WORKER_INPUT_ERROR.findall(str(error))
    if not found:
        return None
    return L2InputError(f"{found[-1]} (raised by a {engine} worker)")

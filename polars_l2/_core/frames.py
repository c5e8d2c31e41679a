"""The data argument of every frame-level entrance, as a Polars frame.

:func:`polars_l2.report`, :func:`polars_l2.state`, :func:`polars_l2.finalize`,
:func:`polars_l2.merge_states` and :func:`polars_l2.l2` take Polars frames
and anything else that holds a table and speaks Arrow: an object that
exports the Arrow PyCapsule stream interface (``__arrow_c_stream__``: a
pyarrow ``Table``, ``RecordBatch`` or ``RecordBatchReader``, a pandas
DataFrame, a DuckDB relation, a narwhals DataFrame...), a pyarrow
``Dataset``, or a narwhals frame of any of these. :func:`coerce` is the one
place that turns such an argument into a Polars frame, and decides whether
the result is lazy: only a Polars LazyFrame (or a narwhals LazyFrame around
one) gives a LazyFrame; everything else gives a DataFrame.

A pyarrow ``Dataset`` is scanned lazily (``pl.scan_pyarrow_dataset``):
Polars reads only the columns and rows the query needs, and the query may
read it more than once (the report's top-1% share does). Any other Arrow
stream is read into memory once, by ``pl.DataFrame``: a stream can be read
only once, and the report reads its data once per model. A pyarrow
``RecordBatchReader`` gives its rows once: a second read sees none, so a
reader the package has read already is refused (:func:`_read_once`) rather
than reported on as empty. A pandas
DataFrame is read by ``pl.from_pandas(..., nan_to_null=False)``: the levels of
its index that have a name are columns, as pandas' ``groupby`` reads them
(unless a column has the same name, which wins; a state's index is dropped,
and so is an unnamed one), and NaN stays NaN on every input kind, so that
``nan_policy`` alone decides what a NaN does (``"omit"`` gives pandas' own
skip-NaN behaviour); pandas' missing values (``None``, ``pd.NA``, ``NaT``)
are null. A *state* given as a pandas DataFrame is the exception: a state's
missing moments (no rows) went to pandas' NumPy columns as NaN, the only
missing value they have, so there NaN is read back as null (keep states in
Parquet or Arrow to keep a NaN moment apart from a missing one).

A Rust library that panics while converting the input (Polars cannot read an
Arrow ``decimal256`` column, for one) raises ``pyo3_runtime.PanicException``,
which derives from ``BaseException`` and passes ``except Exception``: the
conversion here turns it into a one-line :class:`L2InputError` naming the
input and what is wrong, and refuses the types known to panic before any
conversion (:func:`unreadable_arrow_type`).
"""

from __future__ import annotations

import contextlib
import sys
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from polars_l2._core import row_checks
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: What the entrances accept, for the messages that refuse the rest.
ACCEPTED = (
    "a Polars DataFrame or LazyFrame, or a table that exports the Arrow "
    "PyCapsule stream interface (__arrow_c_stream__: a pyarrow Table or "
    "RecordBatchReader, a pandas DataFrame, a DuckDB relation...), a pyarrow "
    "Dataset or a narwhals frame"
)


@dataclass(frozen=True)
class Input:
    """A user's data as a Polars frame, and the kind of frame to return.

    Attributes
    ----------
    frame
        The data: a DataFrame, or a LazyFrame (a LazyFrame given, or the
        lazy scan of a pyarrow Dataset).
    lazy
        Whether the caller gets a LazyFrame back (only for a LazyFrame
        given); otherwise the query is collected into a DataFrame.
    """

    frame: pl.DataFrame | pl.LazyFrame
    lazy: bool

    def result(self, query: pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
        """Return `query` as the caller's kind of frame: lazy, or collected."""
        return query if self.lazy else row_checks.collect(query)

    def collected(self) -> pl.DataFrame:
        """Return the data as a DataFrame (a lazy frame is collected)."""
        frame = self.frame
        return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _narwhals_native() -> Callable[[object], object] | None:
    """Return ``narwhals.to_native`` if narwhals is imported, else None.

    A narwhals frame exists only once narwhals is imported, so an object
    cannot be one otherwise; importing it here would only cost time.
    """
    narwhals = sys.modules.get("narwhals")
    if narwhals is None:
        return None

    def native(data: object) -> object:
        return narwhals.to_native(data, pass_through=True)

    return native


def _is_dataset(data: object) -> bool:
    """Whether `data` is a pyarrow Dataset (without importing pyarrow.dataset)."""
    dataset = sys.modules.get("pyarrow.dataset")
    return dataset is not None and isinstance(data, dataset.Dataset)


def _from_pandas(data: Any, *, state: bool) -> pl.DataFrame:  # noqa: ANN401 (pandas: not a dependency)
    """Return a pandas DataFrame as Polars', the named levels of its index as columns.

    A segment key is often in the index (after a ``groupby``, or a
    ``set_index``), where pandas' own ``groupby(by=...)`` finds it by name.
    A level without a name (or with an empty one, or not a string), named
    like a column or like another level, stays in the index, which is
    dropped; so is every level where the levels cannot be columns (values
    Arrow cannot type, such as mixed integers and strings). A state's index
    is dropped: its columns are its keys and moments. NaN stays NaN
    (``nan_policy`` decides, as for every other input kind), except in a
    state, where it is how pandas holds a missing moment.
    """
    nan_to_null = state
    names = [] if state else [n for n in data.index.names if isinstance(n, str) and n]
    levels = [
        name for name in names if name not in data.columns and names.count(name) == 1
    ]
    if levels:
        try:
            return pl.from_pandas(
                data.reset_index(level=levels), nan_to_null=nan_to_null
            )
        except (pa.ArrowException, TypeError, ValueError):
            pass  # an index of values Arrow cannot type: dropped, as it was
    return pl.from_pandas(data, nan_to_null=nan_to_null)


def _is_pandas(data: object) -> bool:
    """Whether `data` is a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(data, pandas.DataFrame)


def _arrow_types(dtype: pa.DataType) -> Iterator[pa.DataType]:
    """Yield `dtype` and every type nested in it (list items, struct fields)."""
    yield dtype
    if isinstance(dtype, pa.ListType | pa.LargeListType | pa.FixedSizeListType):
        yield from _arrow_types(dtype.value_type)
    elif isinstance(dtype, pa.StructType):
        for i in range(dtype.num_fields):
            yield from _arrow_types(dtype.field(i).type)


def unreadable_arrow_type(schema: pa.Schema) -> str | None:
    """Return why Polars cannot read a column of `schema`, or None if it can.

    Polars panics on an Arrow ``decimal256`` column (it has no 256-bit
    integer); it reads ``decimal128`` (precision up to 38).

    Examples
    --------
    >>> print(unreadable_arrow_type(pa.schema([("y", pa.decimal256(40, 2))])))
    ... # doctest: +ELLIPSIS
    column 'y' has Arrow type decimal256(40, 2), which Polars cannot read: ...
    >>> unreadable_arrow_type(pa.schema([("y", pa.decimal128(38, 2))])) is None
    True
    """
    for arrow_field in schema:
        for dtype in _arrow_types(arrow_field.type):
            if isinstance(dtype, pa.Decimal256Type):
                return (
                    f"column {arrow_field.name!r} has Arrow type {arrow_field.type}, "
                    "which Polars cannot read: cast it to decimal128 (precision "
                    "at most 38) or float64 first"
                )
    return None


def _refuse_unreadable(data: object, *, function: str, role: str) -> None:
    """Refuse an Arrow table whose schema Polars would panic on, before reading."""
    schema = getattr(data, "schema", None)
    if isinstance(schema, pa.Schema):
        reason = unreadable_arrow_type(schema)
        if reason is not None:
            msg = f"{function}: `{role}` ({type(data).__name__}): {reason}"
            raise L2InputError(msg)


def refuse_duplicate_names(data: object, *, function: str, role: str) -> None:
    """Refuse a pandas or Arrow table with two columns of one name, naming it.

    A Polars frame's names are unique: Polars would refuse the table with
    its own error, which names no argument.
    """
    schema = getattr(data, "schema", None)
    if isinstance(schema, pa.Schema):
        names = [str(name) for name in schema.names]
    elif _is_pandas(data):
        names = [str(name) for name in getattr(data, "columns", ())]
    else:
        return
    seen: set[str] = set()
    for name in names:
        if name in seen:
            msg = (
                f"{function}: `{role}` ({type(data).__name__}) has more than one "
                f"column named {name!r}; rename them apart first"
            )
            raise L2InputError(msg)
        seen.add(name)


@contextlib.contextmanager
def panics_refused(what: str) -> Iterator[None]:
    """Turn a Rust panic inside the block into a one-line :class:`L2InputError`.

    `what` names the function and the input (``"polars_l2.report: `frame`
    (Table)"``); the message adds the panic's first line.
    """
    try:
        yield
    except pl.exceptions.PanicException as error:
        first = (str(error).strip().splitlines() or ["a panic"])[0]
        msg = f"{what}: could not be read ({first})"
        raise L2InputError(msg) from None


def coerce(
    data: object, *, function: str, role: str = "frame", accepted: str = ACCEPTED
) -> Input:
    """Return `data` as a Polars frame; raise naming what was given otherwise.

    Parameters
    ----------
    data
        What the user passed: see the module's docstring for what is
        accepted.
    function
        The public function's name, for the message.
    role
        The argument's name, for the message.
    accepted
        What the argument may be, for the message.

    Returns
    -------
    Input
        The Polars frame, and whether the caller returns a LazyFrame.

    Raises
    ------
    L2InputError
        If `data` is not a table (a Series, a dict, a path...), its Arrow
        stream does not hold one (an array's stream), or it holds a column
        Polars cannot read (a ``decimal256``; a Rust panic while converting).
    """
    with panics_refused(f"{function}: `{role}` ({type(data).__name__})"):
        return _coerce(data, function=function, role=role, accepted=accepted)


#: The pyarrow readers the package has read: each gives its rows once.
_READ: weakref.WeakSet[pa.RecordBatchReader] = weakref.WeakSet()


def _read_once(data: object, *, function: str, role: str) -> None:
    """Refuse a pyarrow ``RecordBatchReader`` read before, mark a new one read.

    A reader read to its end gives no more rows, without an error: reading
    it again would evaluate nothing and report it as empty data. A reader
    the user read themselves cannot be told from an empty one.
    """
    if not isinstance(data, pa.RecordBatchReader):
        return
    if data in _READ:
        msg = (
            f"{function}: `{role}` is a pyarrow RecordBatchReader that "
            "polars-l2 has read already; a reader gives its rows once, so it "
            "would now give none: pass a pyarrow Table (reader.read_all()) to "
            "use the rows more than once, or a new reader"
        )
        raise L2InputError(msg)
    _READ.add(data)


def _coerce(data: object, *, function: str, role: str, accepted: str) -> Input:
    """Return :func:`coerce`'s result (its body, inside the panic guard)."""
    native = _narwhals_native()
    if native is not None:
        data = native(data)
    if isinstance(data, pl.LazyFrame):
        return Input(data, lazy=True)
    if isinstance(data, pl.DataFrame):
        return Input(data, lazy=False)
    _refuse_unreadable(data, function=function, role=role)
    refuse_duplicate_names(data, function=function, role=role)
    if _is_dataset(data):
        return Input(pl.scan_pyarrow_dataset(data), lazy=False)
    if _is_pandas(data):
        # A state's columns are its keys and moments: an index is not one.
        state = role == "state"
        return Input(_from_pandas(data, state=state), lazy=False)
    if not isinstance(data, pl.Series) and hasattr(data, "__arrow_c_stream__"):
        _read_once(data, function=function, role=role)
        try:
            return Input(pl.DataFrame(data), lazy=False)
        except pl.exceptions.SchemaError as error:
            # A ChunkedArray's or an Array's stream holds a column: Polars
            # wants a stream of structs (rows of a table).
            msg = (
                f"{function}: `{role}` has type {type(data).__name__}, whose Arrow "
                f"stream holds a column, not a table ({error}); expected {accepted}"
            )
            raise L2InputError(msg) from error
    msg = f"{function}: `{role}` has type {type(data).__name__}; expected {accepted}"
    raise L2InputError(msg)

"""Segment keys in states: their stored dtype, Arrow type, canonical form, merge.

A state keeps each ``by`` column in its own dtype (see :mod:`polars_l2.state`),
so that :func:`polars_l2.finalize` gives keys that join back to the data.
This module is the one home of the rules that makes that work:

- :func:`stored_dtype`: the dtype a key is stored in (Categorical and Enum
  as String: their categories are not part of a fixed Arrow schema, and a
  state must merge with states built from other category sets).
- :func:`canonical`: one value per key (a float ``-0.0`` becomes ``0.0``;
  Polars' group-by already puts every NaN in one group).
- :func:`arrow_type`: the key's type in the state's Arrow schema.
- :func:`unify`: the common dtype of a key across states, and the states'
  keys cast to it, refusing any cast that would merge distinct keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeAlias

import polars as pl
import pyarrow as pa

from polars_l2._core.arguments import column
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars._typing import TimeUnit

#: What :func:`polars_l2.state_schema` accepts as a key's dtype.
KeyDtype: TypeAlias = "pl.DataType | type[pl.DataType] | pa.DataType"

_UNITS: tuple[TimeUnit, ...] = ("ns", "us", "ms")  # finest first


def stored_dtype(dtype: pl.DataType) -> pl.DataType:
    """Return the dtype a key of `dtype` is stored in: its own, or String."""
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.String()
    return dtype


def canonical(name: str, dtype: pl.DataType) -> pl.Expr:
    """Return key `name` (of `dtype`) in its stored dtype and canonical form."""
    key = column(name).cast(stored_dtype(dtype))
    if dtype.is_float():
        # -0.0 and 0.0 are one key (the group-by already says so); store 0.0.
        key = pl.when(key == 0).then(pl.lit(0.0, dtype)).otherwise(key)
    return key.alias(name)


def polars_dtype(name: str, dtype: object, *, function: str) -> pl.DataType:
    """Return a key dtype given as a Polars or Arrow type as a Polars dtype."""
    try:
        if isinstance(dtype, pa.DataType):
            frame = pl.from_arrow(pa.schema([pa.field(name, dtype)]).empty_table())
            assert isinstance(frame, pl.DataFrame)  # a Table gives a DataFrame
            return frame.schema[name]
        if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
            dtype = dtype()  # pl.Date for pl.Date(); Polars' default unit
        if isinstance(dtype, pl.DataType):
            return dtype
    except (TypeError, ValueError, pa.ArrowException, pl.exceptions.PolarsError):
        pass  # refused below, with the same message as any other value
    msg = (
        f"{function}: by column {name!r} has dtype {dtype!r}; expected a "
        "Polars dtype (pl.Int64, pl.Datetime('ns'), ...) or an Arrow type "
        "(pa.int64(), ...)"
    )
    raise L2InputError(msg)


def arrow_type(name: str, dtype: pl.DataType, *, function: str) -> pa.DataType:
    """Return the Arrow type of a stored key of `dtype` (``string``, not large)."""
    try:
        exported = pl.DataFrame(schema={name: dtype}).to_arrow().schema.field(name)
    except (pa.ArrowException, pl.exceptions.PolarsError):
        msg = (
            f"{function}: by column {name!r} has dtype {dtype}, which has no "
            "Arrow type, so no state can hold it; cast it first (for example "
            "to pl.String)"
        )
        raise L2InputError(msg) from None
    kind = exported.type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    return kind


def key_schema(
    by: Mapping[str, KeyDtype] | None, *, function: str
) -> dict[str, pl.DataType]:
    """Return the stored Polars dtype of each key of a ``state_schema`` `by`."""
    if by is None:
        return {}
    if not isinstance(by, Mapping):
        msg = (
            f"{function}: by must map each key column's name to its dtype, "
            f"such as {{'region': pl.String, 'day': pl.Date}}, got {by!r}: "
            "a state keeps its keys in their own dtypes. For a state you "
            "have, pass its key columns' schema: "
            "state.select(<by columns>).schema"
        )
        raise L2InputError(msg)
    return {
        name: stored_dtype(polars_dtype(name, dtype, function=function))
        for name, dtype in by.items()
    }


def _key_kind(dtype: pl.DataType) -> str:
    """Return the kind of a key dtype: keys merge only within one kind."""
    if dtype == pl.Boolean:
        return "Boolean"
    if dtype.is_numeric():
        return "numeric"
    if isinstance(dtype, pl.Datetime):
        return f"Datetime(time_zone={dtype.time_zone!r})"
    if isinstance(dtype, pl.Duration):
        return "Duration"
    return repr(dtype)  # String, Date, Time, Null...: only with itself


def _unit(dtype: pl.DataType) -> str | None:
    return dtype.time_unit if isinstance(dtype, pl.Datetime | pl.Duration) else None


def _candidates(dtypes: list[pl.DataType]) -> list[pl.DataType]:
    """Return the dtypes `dtypes` could merge in, the preferred first."""
    known = list(dict.fromkeys(d for d in dtypes if d != pl.Null))
    if len(known) <= 1:
        return known or [pl.Null()]
    first = known[0]
    if any(_key_kind(d) != _key_kind(first) for d in known):
        return []
    if isinstance(first, pl.Datetime | pl.Duration):
        # The finest unit keeps every value if it can hold them (Polars'
        # supertype is the coarsest unit, which merges distinct keys).
        units = [u for u in _UNITS if any(_unit(d) == u for d in known)]
        if isinstance(first, pl.Datetime):
            return [pl.Datetime(u, first.time_zone) for u in (units[0], units[-1])]
        return [pl.Duration(u) for u in (units[0], units[-1])]
    # Numbers: Polars' own supertype (Int64 and Float64 give Float64).
    frames = [pl.DataFrame(schema={"k": d}) for d in known]
    return [pl.concat(frames, how="vertical_relaxed").schema["k"]]


def _cast_losslessly(
    frame: pl.DataFrame, name: str, dtype: pl.DataType
) -> pl.DataFrame | None:
    """Return `frame` with key `name` cast to `dtype`, or None if a key changes."""
    source = frame.schema[name]
    if source == dtype:
        return frame
    try:
        cast = frame.with_columns(column(name).cast(dtype, strict=True))
    except pl.exceptions.PolarsError:
        return None
    back = cast.get_column(name).cast(source, strict=False)
    if not back.eq_missing(frame.get_column(name)).all():
        return None
    return cast


def unify(
    frames: Sequence[pl.DataFrame], keys: Sequence[str], *, function: str
) -> list[pl.DataFrame]:
    """Cast every state's keys to their common dtype, or raise naming the key.

    Keys merge within one kind (numbers, Boolean, String, Date, Time,
    Datetime of one time zone, Duration; Null joins any): numbers in Polars'
    supertype, Datetime and Duration in their finest unit (else the
    coarsest). A cast that would change a key's value (so merge distinct
    keys, such as 2**53 + 1 as a Float64) is refused.
    """
    result = list(frames)
    for name in keys:
        dtypes = [frame.schema[name] for frame in result]
        for dtype in _candidates(dtypes):
            cast = [_cast_losslessly(frame, name, dtype) for frame in result]
            if all(frame is not None for frame in cast):
                result = [frame for frame in cast if frame is not None]
                break
        else:
            found = ", ".join(str(d) for d in dict.fromkeys(dtypes))
            hint = (
                " (states of version 1 keep every key as a string: rebuild "
                "such a state, or cast its keys)"
                if any(d == pl.String for d in dtypes)
                else ""
            )
            msg = (
                f"{function}: by column {name!r} has dtypes {found} in the "
                "states, and no common dtype holds every key without changing "
                f"one; cast the keys to one dtype first{hint}"
            )
            raise L2InputError(msg)
    return result

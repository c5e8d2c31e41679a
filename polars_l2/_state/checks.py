"""The checks of a state read back: columns, dtypes, version markers, values."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, TypeAlias

import polars as pl
import pyarrow as pa

from polars_l2._core import frames, moments
from polars_l2._core import losses as losses_
from polars_l2._core import top_share as top_share_
from polars_l2._state.schema import (
    FIXED,
    LEADING,
    METADATA_KEY,
    STATE_VERSION,
    TRAILING,
    fixed_schema,
)
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from polars_l2.typing import ArrowStreamExportable

StateSource: TypeAlias = (
    "pl.DataFrame | pl.LazyFrame | pa.Table | ArrowStreamExportable | str | "
    "os.PathLike[str]"
)


def _read(
    source: StateSource, *, function: str
) -> tuple[pl.DataFrame, Mapping[str, str] | None]:
    """Return a state source as a DataFrame, and its metadata if it has any."""
    if isinstance(source, pl.DataFrame):
        return source, None
    if isinstance(source, pl.LazyFrame):
        return source.collect(), None
    if isinstance(source, pa.Table):
        frames.refuse_duplicate_names(source, function=function, role="state")
        frame = pl.from_arrow(source)
        assert isinstance(frame, pl.DataFrame)  # a Table always gives a DataFrame
        metadata = source.schema.metadata or {}
        return frame, {k.decode(): v.decode() for k, v in metadata.items()}
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        return pl.read_parquet(path), pl.read_parquet_metadata(path)
    # Any other table the public entrances take (pandas, DuckDB, ...).
    accepted = f"{frames.ACCEPTED}, or parquet paths"
    data = frames.coerce(source, function=function, role="state", accepted=accepted)
    return data.collected(), None


def is_state(frame: object) -> bool:
    """Whether `frame` is a frame with every column of a state."""
    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        return False
    names = frame.collect_schema().names()
    return all(name in names for name in (*LEADING, *TRAILING))


def is_state_file_schema(
    names: Sequence[str], metadata: Mapping[str, str] | None
) -> bool:
    """Whether a table's columns and metadata are those of a saved state.

    Both version markers must be there (the metadata's version, a number,
    and the ``state_version`` column) with the columns of that version: all
    of this version's, or for an older one at least those every version
    had. One column named ``state_version`` does not make a state.

    Examples
    --------
    >>> is_state_file_schema(["state_version", "y"], {METADATA_KEY: "5"})
    False
    >>> is_state_file_schema([*LEADING, *TRAILING], {})
    False
    >>> is_state_file_schema([*LEADING, *TRAILING], {METADATA_KEY: str(STATE_VERSION)})
    True
    """
    written = (metadata or {}).get(METADATA_KEY, "")
    if re.fullmatch(r"[0-9]{1,18}", written) is None:
        return False
    # Every version had these; the others came one version or another.
    oldest = ("state_version", "model", "n")
    needed = (*LEADING, *TRAILING) if int(written) >= STATE_VERSION else oldest
    return all(name in names for name in needed)


def state_keys(names: Sequence[str], *, function: str) -> list[str]:
    """Return the key columns of a state's columns, or raise naming what is missing."""
    return key_columns(names, function=function)


def key_columns(names: Sequence[str], *, function: str, label: str = "") -> list[str]:
    """Return the key columns of a state, or raise naming what is missing."""
    missing = [name for name in (*LEADING, *TRAILING) if name not in names]
    if missing:
        msg = (
            f"{function}: {label}not a polars-l2 state: column(s) "
            f"{', '.join(map(repr, missing))} missing; it has "
            f"{', '.join(map(repr, names)) or 'no columns'}"
        )
        raise L2InputError(msg)
    return [name for name in names if name not in FIXED]


def _invalid(function: str, label: str, problem: str) -> L2InputError:
    return L2InputError(
        f"{function}: {label}not a valid polars-l2 state: {problem}; was it "
        "changed after polars-l2 wrote it?"
    )


#: The dtype kind each fixed column must have (Null: a column of nulls).
_KINDS: dict[str, tuple[str, Callable[[pl.DataType], bool]]] = {
    "integer": ("an integer", lambda dtype: dtype.is_integer()),
    "float": ("a float", lambda dtype: dtype.is_float()),
    "string": ("a string", lambda dtype: dtype == pl.String),
    "boolean": ("a Boolean", lambda dtype: dtype == pl.Boolean),
    "list": (
        f"the histogram's {top_share_.HISTOGRAM_DTYPE}",
        lambda dtype: dtype == top_share_.HISTOGRAM_DTYPE,
    ),
    "floats": (
        "a list of floats",
        lambda dtype: isinstance(dtype, pl.List) and dtype.inner.is_float(),
    ),
}


def _column_kind(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype == pl.List(pl.Float64):
        return "floats"
    if isinstance(dtype, pl.List):
        return "list"
    return "float" if dtype.is_float() else str(dtype).lower()


def check_dtypes(schema: pl.Schema, *, function: str, label: str) -> None:
    """Refuse a fixed column whose dtype is not of its kind (a String ``n``)."""
    for name, expected in fixed_schema({}).items():
        if name not in schema or schema[name] == pl.Null:
            continue
        words, accepts = _KINDS[_column_kind(expected)]
        if not accepts(schema[name]):
            problem = f"column {name!r} has dtype {schema[name]}, not {words} dtype"
            raise _invalid(function, label, problem)


def _check_versions(
    frame: pl.DataFrame,
    metadata: Mapping[str, str] | None,
    *,
    function: str,
    label: str = "",
) -> int:
    """Check both version markers; return the newest version of the rows."""
    versions = frame.get_column("state_version").cast(pl.Int64)
    if versions.null_count():
        raise _invalid(function, label, "column 'state_version' has nulls")
    newest = versions.max()
    lowest = versions.min()
    if isinstance(lowest, int) and lowest < 1:
        problem = f"column 'state_version' holds {lowest}, below 1"
        raise _invalid(function, label, problem)
    written = None if metadata is None else metadata.get(METADATA_KEY)
    if written is not None:
        # ASCII digits only ('²' is a digit to str.isdigit, not to int), and
        # few of them (int() refuses 4,300 digits).
        if re.fullmatch(r"[0-9]{1,18}", written) is None:
            problem = f"its metadata {METADATA_KEY}={written!r} is not a version"
            raise _invalid(function, label, problem)
        if isinstance(newest, int) and int(written) < newest:
            problem = (
                f"its metadata says version {written} but column "
                f"'state_version' holds {newest}"
            )
            raise _invalid(function, label, problem)
    stated = max(
        newest if isinstance(newest, int) else 0,
        0 if written is None else int(written),
    )
    if stated > STATE_VERSION:
        msg = (
            f"{function}: {label}the state was written by a newer polars-l2 "
            f"(state version {stated}); this version reads states up to "
            f"version {STATE_VERSION}: upgrade polars-l2"
        )
        raise L2InputError(msg)
    return stated


#: The problem of a value whose sign only a negative weight explains.
_UNKNOWN = "is negative with no negative weight"


def _value_rules() -> list[tuple[str, str, pl.Expr]]:
    """(column, problem, rows that break the rule) for every possible state.

    NaN moments are possible (``nan_policy="propagate"``); negative weights
    too, and they make weight sums and second moments of either sign, so
    those rules hold where no counted weight is negative.
    """
    col = pl.col
    unweighted, none_negative = (
        col("weighted").not_(),
        col("negative_weight_count") == 0,
    )
    low, high = col("actual_min"), col("actual_max")
    rules = [
        *_count_rules(),
        ("abs_error_max", "is negative", col("abs_error_max") < 0),
        ("abs_error_sum", _UNKNOWN, none_negative & (col("abs_error_sum") < 0)),
        (
            "actual_min",
            "exceeds actual_max",
            ~low.is_nan() & ~high.is_nan() & (low > high),
        ),
        ("weight", "is set, unweighted", unweighted & col("weight").is_not_null()),
        (
            "nan_policy",
            "is not 'propagate' or 'omit'",
            col("nan_policy").is_in(["propagate", "omit"]).not_(),
        ),
    ]
    spreads = [m2 for _, m2, _ in moments.CENTRED if m2 is not None]
    # Spreads, and means of squares and absolute values, are not negative,
    # unless a negative weight made them so.
    signed = [
        *spreads,
        "abs_error_m2",
        "sq_error_mean",
        *(w2m2 for _, w2m2, _, _, _ in moments.SANDWICH),
    ]
    rules += [(name, _UNKNOWN, none_negative & (col(name) < 0)) for name in signed]
    return rules + _paired_rules()


def _count_rules() -> list[tuple[str, str, pl.Expr]]:
    """Return the rules of the identifying columns, counts and weight sums."""
    col = pl.col
    n, negatives, total = col("n"), col("negative_weight_count"), col("weight_sum")
    unweighted, none_negative = col("weighted").not_(), negatives == 0
    return [
        ("model", "is null", col("model").is_null()),
        ("weighted", "is null", col("weighted").is_null()),
        ("per_output", "is null", col("per_output").is_null()),
        ("n", "is null", n.is_null()),
        ("n", "is negative", n < 0),
        ("negative_weight_count", "is null", negatives.is_null()),
        ("negative_weight_count", "is negative", negatives < 0),
        ("negative_weight_count", "exceeds n", negatives > n),
        (
            "negative_weight_count",
            "is not 0, unweighted",
            unweighted & (negatives != 0),
        ),
        ("weight_sum", "is null", total.is_null()),
        ("weight_sum", "differs from n, unweighted", unweighted & (total != n)),
        ("weight_sum", "is not 0 where n is 0", (n == 0) & (total != 0)),
        ("weight_sum", _UNKNOWN, none_negative & (total < 0)),
        (
            "weight_sq_ratio",
            "is null where weight_sum is not 0",
            col("weight_sq_ratio").is_null() & (total != 0),
        ),
        ("weight_sq_ratio", _UNKNOWN, none_negative & (col("weight_sq_ratio") < 0)),
        (
            "weight_sq_ratio",
            "differs from 1, unweighted",
            unweighted & (n > 0) & (col("weight_sq_ratio") != 1),
        ),
    ]


def _paired_rules() -> list[tuple[str, str, pl.Expr]]:
    """Return the rules of the paired moments (null without a baseline)."""
    col = pl.col
    paired, negatives = col("paired_n"), col("paired_negative_weight_count")
    unweighted, none_negative = col("weighted").not_(), negatives == 0
    rules = [
        # Paired rows are some of the model's counted rows.
        ("paired_n", "is negative", paired < 0),
        ("paired_n", "exceeds n", paired > col("n")),
        ("paired_negative_weight_count", "is negative", negatives < 0),
        ("paired_negative_weight_count", "exceeds paired_n", negatives > paired),
        (
            "paired_negative_weight_count",
            "is not 0, unweighted",
            unweighted & (negatives != 0),
        ),
        (
            "paired_weight_sq_ratio",
            _UNKNOWN,
            none_negative & (col("paired_weight_sq_ratio") < 0),
        ),
        (
            "paired_weight_sq_ratio",
            "differs from 1, unweighted",
            unweighted & (paired > 0) & (col("paired_weight_sq_ratio") != 1),
        ),
        ("sq_error_diff_m2", _UNKNOWN, none_negative & (col("sq_error_diff_m2") < 0)),
    ]
    rules += [
        (name, "differs from paired_n, unweighted", unweighted & (col(name) != paired))
        for name in ("paired_weight_sum",)
    ]
    rules += [
        (name, _UNKNOWN, none_negative & (col(name) < 0))
        for name in ("paired_sq_error_mean", "paired_baseline_sq_error_mean")
    ]
    return rules + _loss_rules()


def _loss_rules() -> list[tuple[str, str, pl.Expr]]:
    """Return the rules of the paired losses: known names, Huber's delta, signs."""
    col = pl.col
    label, delta = col("paired_losses"), col("huber_delta")
    names = label.str.split(",")
    unknown = names.list.eval(pl.element().is_in(list(losses_.NAMES)).not_()).list.any()
    repeated = names.list.len() != names.list.unique().list.len()
    huber = names.list.contains("huber")
    no_negative = col("paired_negative_weight_count") == 0
    rules = [
        ("paired_losses", "names an unknown loss", unknown),
        ("paired_losses", "names a loss twice", repeated),
        (
            "paired_losses",
            "is null with a baseline",
            col("baseline").is_not_null() & label.is_null(),
        ),
        (
            "huber_delta",
            "is not a finite positive number with loss 'huber'",
            huber & ~(delta.is_finite() & (delta > 0)).fill_null(value=False),
        ),
        ("huber_delta", "is set without loss 'huber'", ~huber & delta.is_not_null()),
    ]
    # Every loss is non-negative, and so is each model's mean loss.
    rules += [
        (mean, "is negative with no negative weight", no_negative & (col(mean) < 0))
        for stem in losses_.STEMS.values()
        for mean in (f"paired_{stem}_mean", f"paired_baseline_{stem}_mean")
    ]
    return rules


def _check_values(frame: pl.DataFrame, *, function: str, label: str) -> None:
    """Refuse a state whose values no evaluation gives (a negative count...)."""
    rules = _value_rules()
    broken = frame.select(
        rows.fill_null(value=False).sum().alias(str(i))
        for i, (_, _, rows) in enumerate(rules)
    ).row(0)
    for (name, problem, _), count in zip(rules, broken, strict=True):
        if count:
            rows = "1 row" if count == 1 else f"{count} rows"
            raise _invalid(function, label, f"column {name!r} {problem} ({rows})")


def load(
    source: StateSource,
    *,
    function: str,
    label: str = "",
    metadata: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Return a state, checked, with the columns of this version.

    Checks the columns and their dtypes, both version markers (the
    ``state_version`` column and, for an Arrow table or a parquet file, the
    metadata :data:`METADATA_KEY`) and that every value is possible. A
    state of an older version is refused, naming the columns it lacks.

    Raises
    ------
    L2InputError
        In one line, naming the column and the problem (prefixed by
        `label`, which should end with ``": "``).
    """
    frame, found = _read(source, function=function)
    frame = _nulls_in_their_dtype(_integers_from_floats(frame))
    metadata = found if metadata is None else metadata
    check_dtypes(frame.schema, function=function, label=label)
    if "state_version" in frame.columns:
        check_version(frame, frame.columns, metadata, function=function, label=label)
    key_columns(frame.columns, function=function, label=label)
    _check_values(frame, function=function, label=label)
    return frame


def _nulls_in_their_dtype(frame: pl.DataFrame) -> pl.DataFrame:
    """Give a fixed column that holds only nulls the dtype of its schema.

    A table that went through pandas holds a column of nulls (the Murphy
    columns of a state built without ``murphy=``) as Python objects, which
    come back as String or Null: a null is the same value in any dtype. A
    list column of empty lists (the histogram of a state of no rows) comes
    back as List(Null), which holds nothing but empty lists and nulls.
    """
    fixed = fixed_schema({})
    typed = []
    for name, dtype in frame.schema.items():
        want = fixed.get(name)
        if want is None or dtype == want:
            continue
        if dtype == pl.List(pl.Null) and isinstance(want, pl.List):
            typed.append(pl.col(name).cast(want))
        elif frame.get_column(name).null_count() == frame.height:
            typed.append(pl.lit(None, want).alias(name))
    return frame.with_columns(typed)


def _integers_from_floats(frame: pl.DataFrame) -> pl.DataFrame:
    """Take back the integer columns a NumPy-backed table turned into floats.

    NumPy has no missing integer, so pandas holds a count with a missing
    value (``paired_n`` without a baseline) as float64 with NaN (null once
    read through Arrow). Only such
    columns are taken back, as integers and nulls: some NaN, and otherwise
    whole numbers. Any other float column is left to the dtype check, which
    refuses it.
    """
    floats = [
        name
        for name, dtype in fixed_schema({}).items()
        if dtype.is_integer() and frame.schema.get(name, pl.Null).is_float()
    ]
    if not floats:
        return frame
    col = pl.col
    whole = frame.select(
        (
            (col(name).is_nan() | (col(name) == col(name).round())).all()
            & (col(name).is_nan() | col(name).is_null()).any()
        ).alias(name)
        for name in floats
    ).row(0, named=True)
    return frame.with_columns(
        col(name).fill_nan(None).cast(pl.Int64) for name in floats if whole[name]
    )


def check_version(
    frame: pl.DataFrame,
    names: Sequence[str],
    metadata: Mapping[str, str] | None,
    *,
    function: str,
    label: str = "",
) -> None:
    """Refuse a state of a newer or an older version, naming what it lacks."""
    version = _check_versions(frame, metadata, function=function, label=label)
    # Version 0: a state of no rows without metadata says no version.
    if 0 < version < STATE_VERSION:
        raise _older(names, version, function=function, label=label)


def _older(
    names: Sequence[str], version: int, *, function: str, label: str
) -> L2InputError:
    """Return the error for a state of an older version, naming what it lacks."""
    missing = [name for name in (*LEADING, *TRAILING) if name not in names]
    lacks = f", which lacks {', '.join(map(repr, missing))}" if missing else ""
    return L2InputError(
        f"{function}: {label}the state was written by an older polars-l2 "
        f"(state version {version}{lacks}); this version reads states of "
        f"version {STATE_VERSION}: rebuild it from the data"
    )

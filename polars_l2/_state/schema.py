"""The state's fixed, versioned schema: its columns, in order, and their dtypes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import polars as pl
import pyarrow as pa

from polars_l2._core import arguments, metrics, moments
from polars_l2._core import elementary as _murphy
from polars_l2._core import keys as keys_
from polars_l2._core import top_share as top_share_

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Version of the state's schema and meaning. A state records the version
#: that wrote it; :func:`merge_states` and :func:`finalize` read states of
#: this version, and refuse others, naming what differs. Version 3 recorded
#: what was measured (``actual``, ``weight``, ``nan_policy``); version 4
#: added ``abs_error_m2``, the paired moments and the histogram; version 5
#: ``per_output`` (whether the last key numbers the outputs of vector
#: columns), ``weight_sq_ratio`` (:math:`\sum w^2 / W`) with its paired
#: twin, in place of the sums of squared weights, which overflow, the
#: Murphy diagram's columns (``murphy_*``), the sandwich moments
#: (``*_w2m2``, ``*_w2m1``) and the paired moments of the absolute and Huber
#: losses (``paired_losses``, ``huber_delta``). An older reader would take
#: the new columns for keys, so it must refuse them.
STATE_VERSION: Final = 5

LEADING = ("state_version", "actual", "model")
TRAILING = (
    "weight",
    "weighted",
    "nan_policy",
    "per_output",
    *moments.MOMENTS,
    top_share_.HISTOGRAM,
    *_murphy.COLUMNS,
)
FIXED = frozenset(LEADING + TRAILING)
METADATA_KEY_BYTES = b"polars_l2.state_version"

#: Report columns a `by` column may not take.
RESERVED = (
    "model",
    "overall",
    "n",
    "weight_sum",
    "small",
    *metrics.METRICS,
    *FIXED,
)


def fixed_schema(keys: Mapping[str, pl.DataType]) -> pl.Schema:
    """Return the state's Polars schema, with `keys` in their stored dtypes."""
    fields: dict[str, pl.DataType] = {
        "state_version": pl.Int64(),
        "actual": pl.String(),
        "model": pl.String(),
    }
    fields.update(keys)
    fields["weight"] = pl.String()
    fields["weighted"] = pl.Boolean()
    fields["nan_policy"] = pl.String()
    fields["per_output"] = pl.Boolean()
    fields.update(moments.MOMENTS)
    fields[top_share_.HISTOGRAM] = top_share_.HISTOGRAM_DTYPE
    fields.update(_murphy.COLUMNS)
    return pl.Schema(fields)


def state_schema(by: Mapping[str, keys_.KeyDtype] | None = None) -> pa.Schema:
    """Return the fixed Arrow schema of a state with the given key columns.

    Every state of the same key columns and dtypes has this schema, in this
    column order: signed 64-bit counts, 64-bit floats, ``string`` (not
    ``large_string``) model names, each key in its own type (``string`` for
    String, Categorical and Enum keys), and the version in the schema's
    metadata (``polars_l2.state_version``) as well as in a column. It is the
    schema to declare where an engine needs one up front (Spark's
    ``mapInArrow``), and to cast a state's Arrow table to:
    ``state.to_arrow().cast(state_schema(state.select(by).schema))``.

    Parameters
    ----------
    by
        Each key column's name and dtype, in order: a mapping (a dict, or a
        ``pl.Schema``) of names to Polars dtypes (``pl.Date``,
        ``pl.Datetime("us")``...) or Arrow types (``pa.date32()``...); None
        for no keys.

    Returns
    -------
    pyarrow.Schema
        The state's columns; see :mod:`polars_l2.state` for their meaning.

    Raises
    ------
    L2InputError
        If `by` is not a mapping (a name or a list of names says nothing of
        the keys' dtypes), a dtype is not a fully specified dtype or has no
        Arrow type (Int128, Object), or a key has the name of a state or
        report column, as :func:`state` refuses it.

    References
    ----------
    .. [1] Apache Arrow, "Arrow Columnar Format",
           https://arrow.apache.org/docs/format/Columnar.html

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> schema = polars_l2.state_schema(by={"region": pl.String, "day": pl.Date})
    >>> schema.names[:6]
    ['state_version', 'actual', 'model', 'region', 'day', 'weight']
    >>> [str(schema.field(name).type) for name in ("region", "day", "n")]
    ['string', 'date32[day]', 'int64']
    """
    function = "polars_l2.state_schema"
    keys = keys_.key_schema(by, function=function)
    # The names `state` refuses, with its message.
    arguments.names(list(keys), role="by", function=function, reserved=RESERVED)
    fixed: dict[object, object] = {
        pl.String: pa.string(),
        pl.Int64: pa.int64(),
        pl.Boolean: pa.bool_(),
        pl.Float64: pa.float64(),
    }
    # A list, not a large list, as ``string`` is not ``large_string``.
    bins = pl.Series(dtype=top_share_.HISTOGRAM_DTYPE).to_arrow().type.value_type
    lists = {
        top_share_.HISTOGRAM: pa.list_(bins),
        **dict.fromkeys(
            (name for name in _murphy.COLUMNS if name != _murphy.FUNCTIONAL),
            pa.list_(pa.float64()),
        ),
    }
    fields = [
        pa.field(
            name,
            keys_.arrow_type(name, dtype, function=function)
            if name in keys
            else lists[name]
            if name in lists
            else fixed[dtype.base_type()],
        )
        for name, dtype in fixed_schema(keys).items()
    ]
    return pa.schema(fields, metadata={METADATA_KEY_BYTES: str(STATE_VERSION).encode()})


#: The parquet (and Arrow schema) metadata key of the writer's state version.
METADATA_KEY: Final = METADATA_KEY_BYTES.decode()

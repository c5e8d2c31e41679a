r"""Mergeable metric states: build, merge and finalise the evaluation report.

MSE, RMSE, MAE, bias and R² are decomposable. :func:`state` reduces a frame
(a batch, a file, a partition, a day) to one small row per model and segment:
counts, weight sums, and means with centred second moments, never raw sums of
squares. :func:`merge_states` combines any number of states, in any order,
with Chan et al.'s numerically stable pairwise formulas, and :func:`finalize`
turns a state into the columns of :func:`polars_l2.report`.

The state has one fixed, versioned Arrow schema (:func:`state_schema`), so it
can be written to parquet, read back by a later version, and exchanged with
Ray or Spark:

========================  ==========  =============================================
column                    Arrow type  meaning (over the counted rows)
========================  ==========  =============================================
``state_version``         int64       :data:`STATE_VERSION` of the writer
``actual``                string      name of the actual column (null: not recorded)
``model``                 string      name of the predicted column
*by columns*              own type    the segment's keys, in their own dtypes
``weight``                string      name of the weight column (null: unweighted,
                                      or not recorded)
``weighted``              bool        whether the state was built with weights
``nan_policy``            string      ``"propagate"`` or ``"omit"`` (null: not recorded)
``n``                     int64       rows counted (actual, prediction, weight present,
                                      weight not zero)
``negative_weight_count`` int64       counted rows with a negative weight
``weight_sum``            double      :math:`W = \sum w` (``n`` unweighted)
``weight_sq_sum``         double      :math:`\sum w^2` (``n`` unweighted)
``error_mean``            double      weighted mean of :math:`e = \hat y - y` (the bias)
``error_m2``              double      :math:`\sum w (e - \bar e)^2`
``sq_error_mean``         double      weighted mean of :math:`e^2` (the MSE)
``sq_error_m2``           double      :math:`\sum w (e^2 - \overline{e^2})^2`
``actual_mean``           double      weighted mean of :math:`y`
``actual_m2``             double      :math:`\sum w (y - \bar y)^2`
``actual_min``            double      :math:`\min y` (null without rows)
``actual_max``            double      :math:`\max y` (null without rows)
``abs_error_sum``         double      :math:`\sum w |e|`
``abs_error_m2``          double      :math:`\sum w (|e| - \overline{|e|})^2`
``abs_error_max``         double      :math:`\max |e|` (null without rows)
``baseline``              string      the baseline named when built (null: none)
``paired_n``              int64       paired rows: actual, this model's and the
                                      baseline's predictions and weight present
                                      (null without a baseline and on its rows)
``paired_*``              ...         count of negative weights, :math:`W`,
                                      :math:`\sum w^2`, both models' MSE over
                                      the paired rows
``sq_error_diff_mean``    double      weighted mean of :math:`d = e^2 - e_b^2`
``sq_error_diff_m2``      double      :math:`\sum w (d - \bar d)^2`
``sq_error_histogram``    list        the squared errors' power-of-two histogram:
                                      per bin its weight, sum, minimum, maximum
                                      (null if built with ``top_share=False``)
========================  ==========  =============================================

The histogram's bins are fixed (the sign and exponent bits of the squared
error), so histograms merge by adding bin by bin; ``finalize`` walks the
merged histogram and gives the ``top_1pct_share`` of all the data, as the
report does. The paired moments are what :func:`polars_l2.compare` needs;
they are kept only for the pairs of each model with the ``baseline=`` named
when the state is built, so a state grows linearly with the models.

The error is predicted minus actual, :math:`e = \hat y - y`, as in the
report's ``bias``: a positive ``error_mean`` means the model over-predicts.
A row of weight zero is not counted at all (not in ``n``, nor in
``abs_error_max``), whatever its error. Means are null where the weight sum
is zero (no rows); merging such a part changes nothing. ``actual_min`` and
``actual_max`` decide exactly whether the target is constant (then R² is
1.0 for a perfect fit and 0.0 otherwise), which its computed variance cannot
(the variance of ``[0.1] * 7`` is 1.9e-34).

**Keys** keep their dtype, so :func:`finalize` gives keys in the dtype
:func:`polars_l2.report` gives, which join back to the data: integers,
floats, Decimal, Boolean, String, Date, Time, Datetime and Duration keys are
stored as they are (``Datetime`` with its unit and time zone). Two
exceptions: Categorical and Enum keys are stored as String (their categories
are no part of a fixed schema, and states built from different category
sets must merge), and a float ``-0.0`` is stored as ``0.0``. Equal keys are
one segment (``-0.0`` and ``0.0``; every NaN is one key, sorted after the
numbers and before null), distinct keys never are. :func:`merge_states`
merges states whose key dtypes differ in a common dtype: numbers in Polars'
supertype (Int32 and Int64 in Int64, Int64 and Float64 in Float64),
Datetime and Duration in the finest unit that holds every value (else the
coarsest), Null with anything; it refuses, naming the key, keys of different
kinds (String and Int64, Date and Datetime, Datetime in two time zones) and
any cast that would change a key (an integer beyond 2**53 as a Float64, a
nanosecond Datetime as microseconds).

**What was measured.** ``actual``, ``weight``, ``nan_policy``, the models
and the keys say what a state measured; :func:`merge_states` refuses states
that differ in any of them, naming the difference (models may differ only
with ``allow_new_models=True``). Every state read is checked: its columns'
dtypes, both version markers (the ``state_version`` column and the metadata
``polars_l2.state_version`` of a parquet file or Arrow table) and that its
values are possible (counts not null nor negative, weight sums of an
unweighted state equal to ``n``, second moments not negative where no weight
is, ``actual_min`` at most ``actual_max``...).

States of versions 1 to 3 lack columns version 4 needs (``abs_error_m2``,
the paired moments, the histogram; versions 1 and 2 also what was
measured): they are refused, with a message naming the version and the
missing columns. Rebuild them from the data. Reading them with those
columns null would not do: a merge adds what is present, so a missing part
would silently vanish from the sums.

The moments come from Polars' stable ``var`` and ``cov`` (weighted:
:math:`\sum w (v - \bar v_w)^2 = n[\mathrm{cov}(wv, v) - \bar v_w
\mathrm{cov}(w, v)]` over the rows of non-zero weight), never from raw sums
of squares, with one exception that no metric uses: a weighted state's
``error_m2`` is :math:`W(\overline{e^2} - \bar e^2)`, which loses digits
where the bias dwarfs the spread of the errors. ``sq_error_mean`` is the MSE
itself, the (weighted) mean of :math:`e^2`, never :math:`\bar e^2` plus a
variance: an infinite error gives an infinite MSE, as in
:func:`polars_l2.mse`, not NaN.

Combining states by hand (in SQL...) is allowed: sum the counts,
weight sums and ``abs_error_sum``, take the minimum of ``actual_min`` and the
maximum of ``actual_max`` and ``abs_error_max``, and merge each (mean,
second moment) pair with the weight ``weight_sum``:
:math:`\bar m = \sum_i W_i m_i / W` and
:math:`M_2 = \sum_i M_{2,i} + \sum_i W_i (m_i - \bar m)^2`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

import polars as pl
import pyarrow as pa

from polars_l2._core import (
    columns,
    finish,
    frames,
    metrics,
    moments,
    options,
    per_output,
)
from polars_l2._core import keys as keys_
from polars_l2._core import top_share as top_share_
from polars_l2._frame_kind import same_kind
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from polars_l2.typing import ArrowStreamExportable, NanPolicy

__all__ = [
    "STATE_VERSION",
    "finalize",
    "merge_states",
    "state",
    "state_schema",
]

#: Version of the state's schema and meaning. A state records the version
#: that wrote it; :func:`merge_states` and :func:`finalize` read states of
#: this version, and refuse others, naming what differs. Version 3 recorded
#: what was measured (``actual``, ``weight``, ``nan_policy``); version 4
#: added ``abs_error_m2``, the paired moments and the histogram. An older
#: reader would take the new columns for keys, so it must refuse them.
STATE_VERSION: Final = 4

_LEADING = ("state_version", "actual", "model")
_TRAILING = (
    "weight",
    "weighted",
    "nan_policy",
    *moments.MOMENTS,
    top_share_.HISTOGRAM,
)
_FIXED = frozenset(_LEADING + _TRAILING)
_METADATA_KEY = b"polars_l2.state_version"

#: Report columns a `by` column may not take.
RESERVED = (
    "model",
    "overall",
    "n",
    "weight_sum",
    "small",
    *metrics.METRICS,
    *_FIXED,
)


def _fixed_schema(keys: Mapping[str, pl.DataType]) -> pl.Schema:
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
    fields.update(moments.MOMENTS)
    fields[top_share_.HISTOGRAM] = top_share_.HISTOGRAM_DTYPE
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
    columns.names(list(keys), role="by", function=function, reserved=RESERVED)
    fixed: dict[object, object] = {
        pl.String: pa.string(),
        pl.Int64: pa.int64(),
        pl.Boolean: pa.bool_(),
        pl.Float64: pa.float64(),
    }
    # A list, not a large list, as ``string`` is not ``large_string``.
    bins = pl.Series(dtype=top_share_.HISTOGRAM_DTYPE).to_arrow().type.value_type
    fixed[pl.List] = pa.list_(bins)
    fields = [
        pa.field(
            name,
            keys_.arrow_type(name, dtype, function=function)
            if name in keys
            else fixed[dtype.base_type()],
        )
        for name, dtype in _fixed_schema(keys).items()
    ]
    return pa.schema(fields, metadata={_METADATA_KEY: str(STATE_VERSION).encode()})


@same_kind
def state(
    frame: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    weight: str | None = None,
    nan_policy: NanPolicy = "propagate",
    baseline: str | None = None,
    top_share: bool = True,
) -> pl.DataFrame | pl.LazyFrame:
    """Reduce a frame to its metric state: one row per model and segment.

    The state holds what every column of :func:`polars_l2.report` needs,
    ``top_1pct_share``'s histogram included, and with `baseline` what
    :func:`polars_l2.compare` needs; see :mod:`polars_l2.state` for its
    columns.
    It is built by one query of plain per-group aggregations, which the
    streaming engine runs natively, in bounded memory.

    Parameters
    ----------
    frame
        The data: a DataFrame or a LazyFrame, or any other table
        :func:`polars_l2.report` takes (Arrow, pandas, DuckDB...).
    actual
        Name of the column of observed values (numeric or Boolean), or a
        vector (Array or List) column, as in :func:`polars_l2.report`: each
        output is then a segment of its own, numbered in an ``output`` key.
    predicted
        Name of the column of predictions, or a list of names, one per model.
    by
        Name(s) of the column(s) that define the segments, or None for one
        state row per model. The state keeps their dtypes (see
        :mod:`polars_l2.state`).
    weight
        Name of a column of non-negative sample weights, or None.
    nan_policy
        ``"propagate"`` (default) or ``"omit"`` NaN, as in
        :func:`polars_l2.mse`.
    baseline
        One of `predicted`, or None: each other model then also keeps its
        paired moments against it, which :func:`polars_l2.compare` needs.
        Only these pairs are kept, never every pair of models, so the state
        grows linearly with the number of models.
    top_share
        Keep the histogram of the squared errors that ``top_1pct_share``
        needs (default); False leaves it null, and the share null. The
        histogram reads the data again, which a LazyFrame that computes
        columns cannot do in bounded memory on the streaming engine: see
        the Notes of :func:`polars_l2.report`.

    Returns
    -------
    DataFrame or LazyFrame
        A LazyFrame for a LazyFrame, else a DataFrame, with the schema of
        :func:`state_schema`.
        Rows come in the order of `predicted`, then sorted by the keys (in
        their own dtype, nulls last).

    Raises
    ------
    L2InputError
        Before any data is read, if a column is missing or has a dtype the
        metrics cannot use; the message names the column, its dtype and the
        columns that exist. Also for a bad argument, as
        :func:`polars_l2.report`.

    See Also
    --------
    merge_states : Combine states.
    finalize : Turn a state into the report.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and
           a pairwise algorithm for computing sample variances", Stanford
           technical report STAN-CS-79-773, 1979 (the centred moments
           kept in the state).
    .. [2] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations",
           *The American Statistician* 37(3), 242-247, 1983.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 4.0], "yhat": [1.5, 2.0, 3.0]})
    >>> polars_l2.state(df, "y", "yhat").select("model", "n", "error_mean", "error_m2")
    shape: (1, 4)
    ┌───────┬─────┬────────────┬──────────┐
    │ model ┆ n   ┆ error_mean ┆ error_m2 │
    │ ---   ┆ --- ┆ ---        ┆ ---      │
    │ str   ┆ i64 ┆ f64        ┆ f64      │
    ╞═══════╪═════╪════════════╪══════════╡
    │ yhat  ┆ 3   ┆ -0.166667  ┆ 1.166667 │
    └───────┴─────┴────────────┴──────────┘
    """
    function = "polars_l2.state"
    spec = columns.parse(
        actual,
        predicted,
        by=by,
        weight=weight,
        nan_policy=nan_policy,
        function=function,
        reserved=RESERVED,
    )
    options.check(function, top_share=top_share)
    data = frames.coerce(frame, function=function)
    result = evaluate(
        data.frame, spec, function=function, baseline=baseline, top_share=top_share
    )
    return data.result(result)


def evaluate(
    frame: pl.DataFrame | pl.LazyFrame,
    spec: columns.Spec,
    *,
    function: str = "polars_l2.state",
    baseline: str | None = None,
    top_share: bool = True,
) -> pl.LazyFrame:
    """Return the state of `frame` for a checked column spec, lazily.

    The body of :func:`state` for callers that hold a
    :class:`~polars_l2._core.columns.Spec` already (Ray, Spark, the command
    line).
    """
    resolved = columns.resolve(frame, spec, function=function, allow_vectors=True)
    if resolved.vector:
        # One row per output, with the output number as the last key, exactly
        # as in the report.
        resolved = per_output.rows_per_output(resolved, function=function)
    internal = resolved.spec
    position = _baseline_position(spec, baseline, function=function)
    long = moments.long_moments(
        resolved.frame, internal, baseline=position, baseline_name=baseline
    )
    group = [moments.ORDER, *internal.by]
    if top_share:
        histograms = top_share_.histogram(resolved.frame, internal)
        packed = top_share_.pack(histograms, group)
        long = long.join(
            packed, on=group, how="left", nulls_equal=True, maintain_order="left"
        )
        # A segment without a counted row has an empty histogram, not none.
        empty = pl.lit([], top_share_.HISTOGRAM_DTYPE)
        histogram = pl.col(top_share_.HISTOGRAM).fill_null(empty)
    else:
        histogram = pl.lit(None, top_share_.HISTOGRAM_DTYPE)
    return long.select(
        pl.lit(STATE_VERSION, pl.Int64).alias("state_version"),
        pl.lit(spec.actual, pl.String).alias("actual"),
        resolved.model_column(),
        *(
            keys_.canonical(key, internal.schema[key]).alias(name)
            for key, name in resolved.key_names()
        ),
        pl.lit(spec.weight, pl.String).alias("weight"),
        pl.lit(internal.weighted).alias("weighted"),
        pl.lit(spec.nan_policy, pl.String).alias("nan_policy"),
        *moments.MOMENTS,
        histogram.alias(top_share_.HISTOGRAM),
    )


def _baseline_position(
    spec: columns.Spec, baseline: object, *, function: str
) -> int | None:
    """Return the baseline's position among the predicted columns, or None."""
    if baseline is None:
        return None
    if not isinstance(baseline, str) or baseline not in spec.predicted:
        msg = (
            f"{function}: baseline must be None or one of the predicted columns "
            f"{list(spec.predicted)}, got {baseline!r}"
        )
        raise L2InputError(msg)
    return spec.predicted.index(baseline)


StateSource: TypeAlias = (
    "pl.DataFrame | pl.LazyFrame | pa.Table | ArrowStreamExportable | str | "
    "os.PathLike[str]"
)

#: The parquet (and Arrow schema) metadata key of the writer's state version.
METADATA_KEY: Final = _METADATA_KEY.decode()


@dataclass(frozen=True)
class Measured:
    """What a state says it measured; None where it does not say.

    A state of no rows records nothing but its keys. What is not recorded
    agrees with anything.
    """

    actual: str | None
    models: tuple[str, ...]
    keys: tuple[str, ...]
    weight: str | None
    weighted: bool | None
    nan_policy: str | None

    def differences(self, other: Measured, *, models: bool = True) -> list[str]:
        """Describe each way `other` measured something else (empty if none).

        Keys are compared as sets of names (their dtypes merge, or are
        refused, in :func:`merge_states`); models as sets, unless `models`
        is False.
        """
        found = []
        for what, mine, theirs in (
            ("actual column", self.actual, other.actual),
            ("nan_policy", self.nan_policy, other.nan_policy),
        ):
            if mine is not None and theirs is not None and mine != theirs:
                found.append(f"{what} {mine!r} and {theirs!r}")
        if (
            self.weighted is not None
            and other.weighted is not None
            and self.weighted != other.weighted
        ) or (self.weight and other.weight and self.weight != other.weight):
            found.append(
                "weighted and unweighted (weight "
                f"{_weight_name(self)} and {_weight_name(other)})"
                if self.weighted != other.weighted
                else f"weight columns {self.weight!r} and {other.weight!r}"
            )
        if sorted(self.keys) != sorted(other.keys):
            found.append(f"by columns {list(self.keys)} and {list(other.keys)}")
        if (
            models
            and self.models
            and other.models
            and set(self.models) != set(other.models)
        ):
            found.append(f"models {list(self.models)} and {list(other.models)}")
        return found


def _weight_name(record: Measured) -> str:
    if not record.weighted:
        return "none"
    return repr(record.weight) if record.weight else "not recorded"


def _single(frame: pl.DataFrame, name: str) -> str | None:
    values = frame.get_column(name).drop_nulls().unique(maintain_order=True)
    return None if values.is_empty() else str(values[0])


def measured(frame: pl.DataFrame) -> Measured:
    """Return what a checked state (see :func:`load`) says it measured."""
    kinds = frame.get_column("weighted").drop_nulls().unique().to_list()
    return Measured(
        actual=_single(frame, "actual"),
        models=tuple(frame.get_column("model").unique(maintain_order=True)),
        keys=tuple(name for name in frame.columns if name not in _FIXED),
        weight=_single(frame, "weight"),
        weighted=bool(kinds[0]) if len(kinds) == 1 else None,
        nan_policy=_single(frame, "nan_policy"),
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
    return all(name in names for name in (*_LEADING, *_TRAILING))


def state_keys(names: Sequence[str], *, function: str) -> list[str]:
    """Return the key columns of a state's columns, or raise naming what is missing."""
    return _keys(names, function=function)


def _keys(names: Sequence[str], *, function: str, label: str = "") -> list[str]:
    """Return the key columns of a state, or raise naming what is missing."""
    missing = [name for name in (*_LEADING, *_TRAILING) if name not in names]
    if missing:
        msg = (
            f"{function}: {label}not a polars-l2 state: column(s) "
            f"{', '.join(map(repr, missing))} missing; it has "
            f"{', '.join(map(repr, names)) or 'no columns'}"
        )
        raise L2InputError(msg)
    return [name for name in names if name not in _FIXED]


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
}


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if isinstance(dtype, pl.List):
        return "list"
    return "float" if dtype.is_float() else str(dtype).lower()


def _check_dtypes(schema: pl.Schema, *, function: str, label: str) -> None:
    """Refuse a fixed column whose dtype is not of its kind (a String ``n``)."""
    for name, expected in _fixed_schema({}).items():
        if name not in schema or schema[name] == pl.Null:
            continue
        words, accepts = _KINDS[_kind(expected)]
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
        if not written.isdigit():
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


def _value_rules() -> list[tuple[str, str, pl.Expr]]:
    """(column, problem, rows that break the rule) for every possible state.

    NaN moments are possible (``nan_policy="propagate"``); negative weights
    too, and they make weight sums and second moments of either sign, so
    those rules hold where no counted weight is negative.
    """
    col = pl.col
    n, negatives, total = col("n"), col("negative_weight_count"), col("weight_sum")
    unweighted, none_negative = col("weighted").not_(), negatives == 0
    low, high, weight = col("actual_min"), col("actual_max"), col("weight")
    unknown = "is negative with no negative weight"
    rules = [
        ("model", "is null", col("model").is_null()),
        ("weighted", "is null", col("weighted").is_null()),
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
        ("weight_sum", unknown, none_negative & (total < 0)),
        ("weight_sq_sum", "is null", col("weight_sq_sum").is_null()),
        ("weight_sq_sum", "is negative", col("weight_sq_sum") < 0),
        (
            "weight_sq_sum",
            "differs from n, unweighted",
            unweighted & (col("weight_sq_sum") != n),
        ),
        ("abs_error_max", "is negative", col("abs_error_max") < 0),
        ("abs_error_sum", unknown, none_negative & (col("abs_error_sum") < 0)),
        (
            "actual_min",
            "exceeds actual_max",
            ~low.is_nan() & ~high.is_nan() & (low > high),
        ),
        ("weight", "is set, unweighted", unweighted & weight.is_not_null()),
        (
            "nan_policy",
            "is not 'propagate' or 'omit'",
            col("nan_policy").is_in(["propagate", "omit"]).not_(),
        ),
    ]
    spreads = [m2 for _, m2, _ in moments.CENTRED if m2 is not None]
    rules += [
        (m2, unknown, none_negative & (col(m2) < 0))
        for m2 in (*spreads, "abs_error_m2")
    ]
    # Paired rows are some of the model's counted rows.
    paired = col("paired_n")
    rules += [
        ("paired_n", "is negative", paired < 0),
        ("paired_n", "exceeds n", paired > n),
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
    frame = _integers_from_floats(frame)
    metadata = found if metadata is None else metadata
    _check_dtypes(frame.schema, function=function, label=label)
    if "state_version" in frame.columns:
        _check_version(frame, frame.columns, metadata, function=function, label=label)
    _keys(frame.columns, function=function, label=label)
    _check_values(frame, function=function, label=label)
    return frame


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
        for name, dtype in _fixed_schema({}).items()
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


def _check_version(
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
    missing = [name for name in (*_LEADING, *_TRAILING) if name not in names]
    lacks = f", which lacks {', '.join(map(repr, missing))}" if missing else ""
    return L2InputError(
        f"{function}: {label}the state was written by an older polars-l2 "
        f"(state version {version}{lacks}); this version reads states of "
        f"version {STATE_VERSION}: rebuild it from the data"
    )


def _combine(a: Measured, b: Measured) -> Measured:
    """Return what two agreeing states measured together: what either records."""
    return Measured(
        actual=a.actual or b.actual,
        models=(*a.models, *(m for m in b.models if m not in a.models)),
        keys=a.keys,
        weight=a.weight or b.weight,
        weighted=a.weighted if a.weighted is not None else b.weighted,
        nan_policy=a.nan_policy or b.nan_policy,
    )


def agree(
    parts: Sequence[tuple[str, pl.DataFrame]], *, allow_new_models: bool, function: str
) -> Measured:
    """Return what the states measured, or refuse naming how two differ."""
    labels = [label for label, _ in parts]
    records = [measured(frame) for _, frame in parts]
    for label, record in zip(labels[1:], records[1:], strict=True):
        if sorted(record.keys) != sorted(records[0].keys):
            msg = (
                f"{function}: states have different by columns: "
                f"{list(records[0].keys)} ({labels[0]}) and {list(record.keys)} "
                f"({label}); merge states of the same segments"
            )
            raise L2InputError(msg)
    combined = records[0]
    for i in range(1, len(records)):
        found = combined.differences(records[i], models=not allow_new_models)
        if found:
            earlier = labels[0] if i == 1 else f"the states before it ({labels[0]}...)"
            hint = (
                "; to add a model to a state deliberately, pass "
                "allow_new_models=True (--allow-new-models on the command line)"
                if any(text.startswith("models ") for text in found)
                else ""
            )
            msg = (
                f"{function}: {labels[i]} measured something else than "
                f"{earlier}: {'; '.join(found)}{hint}"
            )
            raise L2InputError(msg)
        combined = _combine(combined, records[i])
    return combined


def merge(
    parts: Sequence[tuple[str, pl.DataFrame]],
    *,
    allow_new_models: bool = False,
    function: str = "polars_l2.merge_states",
) -> pl.DataFrame:
    """Merge states checked by :func:`load`, each with a label for messages.

    The body of :func:`merge_states`, for callers that name their states
    (the command line names files).
    """
    if not parts:
        msg = f"{function}: no states to merge"
        raise ValueError(msg)
    common = agree(parts, allow_new_models=allow_new_models, function=function)
    keys = list(common.keys)
    frames = []
    for _, frame in parts:
        stored = {key: keys_.stored_dtype(frame.schema[key]) for key in keys}
        frames.append(
            frame.select(
                columns.column(name).cast(dtype)
                for name, dtype in _fixed_schema(stored).items()
            )
        )
    stacked = pl.concat(keys_.unify(frames, keys, function=function), how="vertical")
    _check_weighted(stacked, function=function)
    moments.check_baselines(stacked, function=function)
    # Keys by exact name; the order column's name is free of every key.
    order = "_l2_order" + "_" * max((len(key) for key in keys), default=0)
    by = [columns.column(key) for key in keys]
    histogram = top_share_.HISTOGRAM
    merged = (
        stacked.with_row_index(order)
        .group_by([pl.col("model"), *by])
        .agg(
            pl.col(order).min(),
            pl.col("weighted").first(),
            *moments.merge_aggregations(),
            # A part without its histogram leaves the merged one unknown.
            pl.col(histogram).is_not_null().all().alias(histogram),
        )
        .with_columns(pl.col(order).min().over("model"))
        .sort([pl.col(order), *by], nulls_last=True)
    )
    merged = _merge_histograms(stacked, merged, keys)
    recorded = {
        "actual": common.actual,
        "weight": common.weight,
        "nan_policy": common.nan_policy,
    }
    schema = _fixed_schema({key: stacked.schema[key] for key in keys})
    return merged.select(
        pl.lit(STATE_VERSION, pl.Int64).alias("state_version"),
        *(
            keys_.canonical(name, dtype)
            if name in keys
            else pl.lit(recorded[name], pl.String).alias(name)
            if name in recorded
            else columns.column(name).cast(dtype)
            for name, dtype in schema.items()
            if name != "state_version"
        ),
    )


def _merge_histograms(
    stacked: pl.DataFrame, merged: pl.DataFrame, keys: list[str]
) -> pl.DataFrame:
    """Put the histograms of `stacked`, added per model and keys, in `merged`.

    `merged` holds, in the histogram's column, whether every part had one;
    where one did not, the merged histogram is null.
    """
    histogram = top_share_.HISTOGRAM
    # Internal names: a key may be named like a pattern or like a bin column.
    longest = max((len(key) for key in keys), default=0)
    inner: list[str] = [f"_l2_key{'_' * longest}{i}" for i in range(len(keys))]
    renamed = [
        columns.column(key).alias(name) for key, name in zip(keys, inner, strict=True)
    ]
    bins = top_share_.unpack(
        stacked.lazy().select(pl.col("model"), *renamed, pl.col(histogram)),
        [pl.col("model"), *(pl.col(name) for name in inner)],
    )
    group = ["model", *inner]
    packed = top_share_.pack(top_share_.merge(bins, group), group).collect()
    empty = pl.lit([], top_share_.HISTOGRAM_DTYPE)
    joined = (
        merged.select(pl.all(), *renamed)
        .join(
            packed,
            on=group,
            how="left",
            nulls_equal=True,
            suffix="_l2_bins",
            maintain_order="left",
        )
        .with_columns(
            pl.when(pl.col(histogram))
            .then(pl.col(f"{histogram}_l2_bins").fill_null(empty))
            .alias(histogram)
        )
    )
    return joined.select(columns.column(name) for name in merged.columns)


def _check_weighted(frame: pl.DataFrame, *, function: str) -> bool | None:
    kinds = frame.get_column("weighted").drop_nulls().unique().to_list()
    if len(kinds) > 1:
        msg = (
            f"{function}: cannot combine weighted and unweighted states; "
            "build every state with the same weight column"
        )
        raise L2InputError(msg)
    return bool(kinds[0]) if kinds else None


def merge_states(
    states: Iterable[StateSource], *, allow_new_models: bool = False
) -> pl.DataFrame:
    """Combine metric states into one, exactly and in any order.

    Rows of the same model and keys are merged with Chan et al.'s pairwise
    formulas, as Polars expressions on the concatenated states (see
    :mod:`polars_l2.state`): counts and sums add, maxima take the maximum,
    and each mean and centred second moment combine without raw sums of
    squares. The merge is associative and commutative up to rounding, and
    merging the state of no rows changes nothing.

    Parameters
    ----------
    states
        States from :func:`state`: DataFrames, LazyFrames, Arrow tables (or
        any other table :func:`polars_l2.report` takes), or paths of parquet
        files written from them. They must have measured
        the same thing: the same ``actual`` column, models, ``by`` columns,
        weight column (or none) and ``nan_policy``. Key dtypes that differ
        merge in a common dtype (see :mod:`polars_l2.state`). Each is
        checked first: its columns' dtypes, both version markers, and that
        its values are possible (no negative or null count...).
    allow_new_models
        Whether states of different models may merge: a model that is
        missing from some states is then counted from the states that have
        it, so models may have different ``n`` (a model added to a running
        evaluation). False (default) refuses it, naming the models.

    Returns
    -------
    DataFrame
        The merged state, one row per model and segment, with the schema of
        :func:`state_schema`. Models come in the order they first appear,
        then segments sorted by key, by value in the key's dtype (nulls
        last).

    Raises
    ------
    L2InputError
        If an input is not a valid state (a missing column, a column of the
        wrong dtype, an impossible value, version markers that disagree),
        was written by a newer polars-l2, or the inputs measured different
        things (the message names the difference), a key has dtypes with no
        common dtype that keeps every key, or a state file is given twice.
    ValueError
        If `states` is empty.

    References
    ----------
    .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and
           a pairwise algorithm for computing sample variances", Stanford
           technical report STAN-CS-79-773, 1979.
    .. [2] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations",
           *The American Statistician* 37(3), 242-247, 1983.

    Examples
    --------
    Two days of predictions, reduced separately and merged:

    >>> import polars as pl
    >>> import polars_l2
    >>> monday = pl.DataFrame({"y": [1.0, 2.0], "yhat": [1.5, 2.0]})
    >>> tuesday = pl.DataFrame({"y": [4.0], "yhat": [3.0]})
    >>> states = [polars_l2.state(day, "y", "yhat") for day in (monday, tuesday)]
    >>> merged = polars_l2.merge_states(states)
    >>> merged.select("model", "n", "error_mean", "sq_error_mean")
    shape: (1, 4)
    ┌───────┬─────┬────────────┬───────────────┐
    │ model ┆ n   ┆ error_mean ┆ sq_error_mean │
    │ ---   ┆ --- ┆ ---        ┆ ---           │
    │ str   ┆ i64 ┆ f64        ┆ f64           │
    ╞═══════╪═════╪════════════╪═══════════════╡
    │ yhat  ┆ 3   ┆ -0.166667  ┆ 0.416667      │
    └───────┴─────┴────────────┴───────────────┘
    """
    function = "polars_l2.merge_states"
    sources = list(states)
    _refuse_same_file(sources, function=function)
    parts = []
    for i, source in enumerate(sources):
        label = (
            repr(os.fspath(source))
            if isinstance(source, str | os.PathLike)
            else f"state {i + 1}"
        )
        parts.append((label, load(source, function=function, label=f"{label}: ")))
    return merge(parts, allow_new_models=allow_new_models, function=function)


def _refuse_same_file(sources: Sequence[StateSource], *, function: str) -> None:
    """Refuse a state file given twice (two spellings, a link): it would count twice."""
    paths = [os.fspath(s) for s in sources if isinstance(s, str | os.PathLike)]
    for i, path in enumerate(paths):
        for other in paths[:i]:
            if _same_file(path, other):
                msg = (
                    f"{function}: the state file {path!r} is given twice (also "
                    f"as {other!r}); its rows would be counted twice"
                )
                raise L2InputError(msg)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


@same_kind
def finalize(
    state: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable,
    *,
    confidence: float = 0.95,
    weighted: bool | None = None,
    min_n: int = 30,
    overall: bool = False,
) -> pl.DataFrame | pl.LazyFrame:
    """Turn a (merged) state into the evaluation report.

    Gives the columns of :func:`polars_l2.report`, in the state's row order,
    with the keys in the report's dtypes (Categorical and Enum keys as
    String; see :mod:`polars_l2.state`). Every column is computed from the
    merged moments by the same formula as the report computes it from the
    whole data (one registry,
    ``polars_l2._core.metrics.REGISTRY``), equal up to rounding: R² of a
    constant target, an infinite error and a zero weight give the same
    values here. That includes ``rmse_low`` and ``rmse_high``, whose
    interval uses only the count, the weight sums and the mean and centred
    second moment of the squared errors, all of which merge exactly, and
    ``top_1pct_share``, from the merged histogram (null where a state was
    built with ``top_share=False``).

    Parameters
    ----------
    state
        A state from :func:`state` or :func:`merge_states`: a DataFrame or a
        LazyFrame, or an Arrow table of one (any table
        :func:`polars_l2.report` takes).
    confidence
        Level of the RMSE confidence interval, strictly between 0 and 1.
    weighted
        Whether to include the ``weight_sum`` column, as the report of
        weighted data does. None (default) reads it from the state's
        ``weighted`` column (for a LazyFrame, by collecting that column).
    min_n, overall
        As in :func:`polars_l2.report`: the effective size below which a
        row is ``small``, and whether to add each model's overall row.

    Returns
    -------
    DataFrame or LazyFrame
        A LazyFrame for a LazyFrame, else a DataFrame.

    Raises
    ------
    L2InputError
        If `state` is not a state, mixes weighted and unweighted rows, or was
        written by a newer polars-l2; if `confidence` is not strictly between
        0 and 1, or `weighted` is not True, False or None.

    References
    ----------
    .. [1] L. Kish, *Survey Sampling*, Wiley, 1965 (the effective sample
           size of the RMSE interval).
    .. [2] G. W. Oehlert, "A note on the delta method", *The American
           Statistician* 46(1), 27-29, 1992 (the interval on the log scale).

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 4.0], "yhat": [1.5, 2.0, 3.0]})
    >>> polars_l2.finalize(polars_l2.state(df, "y", "yhat")).select(
    ...     "model", "n", "mse", "mae", "bias", "r2"
    ... )
    shape: (1, 6)
    ┌───────┬─────┬──────────┬─────┬───────────┬──────────┐
    │ model ┆ n   ┆ mse      ┆ mae ┆ bias      ┆ r2       │
    │ ---   ┆ --- ┆ ---      ┆ --- ┆ ---       ┆ ---      │
    │ str   ┆ i64 ┆ f64      ┆ f64 ┆ f64       ┆ f64      │
    ╞═══════╪═════╪══════════╪═════╪═══════════╪══════════╡
    │ yhat  ┆ 3   ┆ 0.416667 ┆ 0.5 ┆ -0.166667 ┆ 0.732143 │
    └───────┴─────┴──────────┴─────┴───────────┴──────────┘
    """
    function = "polars_l2.finalize"
    data = frames.coerce(state, function=function, role="state")
    frame = data.frame
    options.check(
        function,
        confidence=confidence,
        weighted=weighted,
        min_n=min_n,
        overall=overall,
    )
    schema = frame.collect_schema()
    if isinstance(frame, pl.DataFrame):
        # A state at hand is small: check every value.
        found = _check_weighted(load(frame, function=function), function=function)
    else:
        _check_dtypes(schema, function=function, label="")
        if "state_version" in schema:
            versions = frame.select("state_version").collect()
            _check_version(versions, schema.names(), None, function=function)
        _keys(schema.names(), function=function)
        if weighted is None:
            found = _check_weighted(
                frame.select("weighted").collect(), function=function
            )
    keys = _keys(schema.names(), function=function)
    if weighted is None:
        weighted = bool(found)
    rows, bins, inner = _internal_rows(frame.lazy(), keys)
    result = finish.finish(
        rows,
        bins,
        keys=inner,
        weighted=weighted,
        confidence=confidence,
        min_n=min_n,
        overall=overall,
    )
    return data.result(result.rename(dict(zip(inner, keys, strict=True))))


def _internal_rows(
    state: pl.LazyFrame, keys: list[str]
) -> tuple[pl.LazyFrame, pl.LazyFrame, list[str]]:
    """Return a checked state's moment rows and histogram bins for the report.

    Also the internal names the keys take in both, in the order of `keys`.
    """
    # Internal key names: a key may be named like a pattern or a moment.
    longest = max((len(key) for key in keys), default=0)
    inner: list[str] = [f"_l2_key{'_' * longest}{i}" for i in range(len(keys))]
    histogram = top_share_.HISTOGRAM
    rows = state.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(moments.ORDER),
        pl.col("model"),
        *(
            columns.column(key).alias(name)
            for key, name in zip(keys, inner, strict=True)
        ),
        *moments.MOMENTS,
        pl.col(histogram),
        pl.col(histogram).is_not_null().alias(finish.KNOWN),
    )
    # Each model's position: its first row.
    rows = rows.with_columns(pl.col(moments.ORDER).min().over("model"))
    bins = top_share_.unpack(
        rows, [pl.col(moments.ORDER), *(pl.col(name) for name in inner)]
    )
    return rows.drop(histogram), bins, inner

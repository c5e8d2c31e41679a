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
``model``                 string      name of the predicted column
*by columns*              own type    the segment's keys, in their own dtypes
``weighted``              bool        whether the state was built with weights
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

States of versions 1 and 2 lack the columns version 3 added
(``abs_error_m2``, the paired moments, the histogram): they are refused,
with a message naming the missing columns. Rebuild them from the data.

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
from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar, overload

import polars as pl
import pyarrow as pa

from polars_l2._core import (
    columns,
    finish,
    metrics,
    moments,
    options,
    per_output,
)
from polars_l2._core import keys as keys_
from polars_l2._core import top_share as top_share_
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from polars_l2.typing import NanPolicy

__all__ = [
    "STATE_VERSION",
    "finalize",
    "merge_states",
    "state",
    "state_schema",
]

#: Version of the state's schema and meaning. A state records the version
#: that wrote it; :func:`merge_states` and :func:`finalize` read states of
#: this version and older ones, and refuse newer ones.
#: Version 3 added ``abs_error_m2``, the paired moments and the histogram:
#: an older reader would take them for keys, so it must refuse them.
STATE_VERSION: Final = 3

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

_LEADING = ("state_version", "model")
_TRAILING = ("weighted", *moments.MOMENTS, top_share_.HISTOGRAM)
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
        "model": pl.String(),
    }
    fields.update(keys)
    fields["weighted"] = pl.Boolean()
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

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> schema = polars_l2.state_schema(by={"region": pl.String, "day": pl.Date})
    >>> schema.names[:5]
    ['state_version', 'model', 'region', 'day', 'weighted']
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


@overload
def state(
    frame: pl.DataFrame,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = ...,
    weight: str | None = ...,
    nan_policy: NanPolicy = ...,
    baseline: str | None = ...,
    top_share: bool = ...,
) -> pl.DataFrame: ...


@overload
def state(
    frame: pl.LazyFrame,
    actual: str,
    predicted: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = ...,
    weight: str | None = ...,
    nan_policy: NanPolicy = ...,
    baseline: str | None = ...,
    top_share: bool = ...,
) -> pl.LazyFrame: ...


def state(
    frame: pl.DataFrame | pl.LazyFrame,
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
        The data: a DataFrame or a LazyFrame.
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
        needs (default); False leaves it null, and the share null.

    Returns
    -------
    DataFrame or LazyFrame
        The same type as `frame`, with the schema of :func:`state_schema`.
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
    result = evaluate(
        frame, spec, function=function, baseline=baseline, top_share=top_share
    )
    return result.collect() if isinstance(frame, pl.DataFrame) else result


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
        resolved.model_column(),
        *(
            keys_.canonical(key, internal.schema[key]).alias(name)
            for key, name in resolved.key_names()
        ),
        pl.lit(internal.weighted).alias("weighted"),
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


StateSource: TypeAlias = pl.DataFrame | pl.LazyFrame | pa.Table | str | os.PathLike[str]


def _read(source: StateSource) -> pl.DataFrame:
    if isinstance(source, pl.DataFrame):
        return source
    if isinstance(source, pl.LazyFrame):
        return source.collect()
    if isinstance(source, pa.Table):
        frame = pl.from_arrow(source)
        assert isinstance(frame, pl.DataFrame)  # a Table always gives a DataFrame
        return frame
    if isinstance(source, str | os.PathLike):
        return pl.read_parquet(os.fspath(source))
    msg = (
        "polars_l2.merge_states: expected DataFrames, LazyFrames, Arrow tables "
        f"or parquet paths, got {type(source).__name__}"
    )
    raise TypeError(msg)


def _keys(names: Sequence[str], *, function: str) -> list[str]:
    """Return the key columns of a state, or raise naming what is missing."""
    missing = [name for name in (*_LEADING, *_TRAILING) if name not in names]
    if missing:
        msg = (
            f"{function}: not a polars-l2 state: column(s) "
            f"{', '.join(map(repr, missing))} missing; it has "
            f"{', '.join(map(repr, names)) or 'no columns'}"
        )
        raise L2InputError(msg)
    return [name for name in names if name not in _FIXED]


def is_state(frame: object) -> bool:
    """Whether `frame` is a frame with every column of a state."""
    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        return False
    names = frame.collect_schema().names()
    return all(name in names for name in (*_LEADING, *_TRAILING))


def state_keys(names: Sequence[str], *, function: str) -> list[str]:
    """Return the key columns of a state's columns, or raise naming what is missing."""
    return _keys(names, function=function)


def _check_versions(frame: pl.DataFrame, *, function: str) -> None:
    newest = frame.get_column("state_version").cast(pl.Int64).max()
    if isinstance(newest, int) and newest > STATE_VERSION:
        msg = (
            f"{function}: the state was written by a newer polars-l2 (state "
            f"version {newest}); this version reads states up to version "
            f"{STATE_VERSION}: upgrade polars-l2"
        )
        raise L2InputError(msg)


def _check_weighted(frame: pl.DataFrame, *, function: str) -> bool | None:
    kinds = frame.get_column("weighted").drop_nulls().unique().to_list()
    if len(kinds) > 1:
        msg = (
            f"{function}: cannot combine weighted and unweighted states; "
            "build every state with the same weight column"
        )
        raise L2InputError(msg)
    return bool(kinds[0]) if kinds else None


def merge_states(states: Iterable[StateSource]) -> pl.DataFrame:
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
        States from :func:`state`: DataFrames, LazyFrames, Arrow tables, or
        paths of parquet files written from them. They must have the same
        ``by`` columns, and all be weighted or all unweighted. Key dtypes
        that differ merge in a common dtype (see :mod:`polars_l2.state`).

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
        If an input is not a state, the inputs have different ``by``
        columns, a key has dtypes with no common dtype that keeps every key,
        some are weighted and some not, or one was written by a newer
        polars-l2.
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
    >>> merged.select("model", "n", "error_mean", "error_m2")
    shape: (1, 4)
    ┌───────┬─────┬────────────┬──────────┐
    │ model ┆ n   ┆ error_mean ┆ error_m2 │
    │ ---   ┆ --- ┆ ---        ┆ ---      │
    │ str   ┆ i64 ┆ f64        ┆ f64      │
    ╞═══════╪═════╪════════════╪══════════╡
    │ yhat  ┆ 3   ┆ -0.166667  ┆ 1.166667 │
    └───────┴─────┴────────────┴──────────┘
    """
    function = "polars_l2.merge_states"
    frames = [_read(source) for source in states]
    if not frames:
        msg = f"{function}: no states to merge"
        raise ValueError(msg)
    keys = _keys(frames[0].columns, function=function)
    parts = []
    for frame in frames:
        other = _keys(frame.columns, function=function)
        if sorted(other) != sorted(keys):
            msg = (
                f"{function}: states have different by columns: {keys} and "
                f"{other}; merge states of the same segments"
            )
            raise L2InputError(msg)
        _check_versions(frame, function=function)
        stored = {key: keys_.stored_dtype(frame.schema[key]) for key in keys}
        parts.append(
            frame.select(
                columns.column(name).cast(dtype)
                for name, dtype in _fixed_schema(stored).items()
            )
        )
    stacked = pl.concat(keys_.unify(parts, keys, function=function), how="vertical")
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
    schema = _fixed_schema({key: stacked.schema[key] for key in keys})
    return merged.select(
        pl.lit(STATE_VERSION, pl.Int64).alias("state_version"),
        *(
            keys_.canonical(name, dtype)
            if name in keys
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


def finalize(
    state: FrameT,
    *,
    confidence: float = 0.95,
    weighted: bool | None = None,
    min_n: int = 30,
    overall: bool = False,
) -> FrameT:
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
        A state from :func:`state` or :func:`merge_states`: DataFrame or
        LazyFrame.
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
        The same type as `state`.

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
    if not isinstance(state, pl.DataFrame | pl.LazyFrame):
        msg = (
            f"{function}: expected a DataFrame or LazyFrame, not {type(state).__name__}"
        )
        raise TypeError(msg)
    options.check(
        function,
        confidence=confidence,
        weighted=weighted,
        min_n=min_n,
        overall=overall,
    )
    keys = _keys(state.collect_schema().names(), function=function)
    if weighted is None or isinstance(state, pl.DataFrame):
        checked = (
            state
            if isinstance(state, pl.DataFrame)
            else state.select("state_version", "weighted").collect()
        )
        _check_versions(checked, function=function)
        found = _check_weighted(checked, function=function)
        if weighted is None:
            weighted = bool(found)
    return _finish(
        state,
        keys,
        weighted=weighted,
        confidence=confidence,
        min_n=min_n,
        overall=overall,
    )


def _finish(
    state: FrameT,
    keys: list[str],
    *,
    weighted: bool,
    confidence: float,
    min_n: int,
    overall: bool,
) -> FrameT:
    """Return the report of a checked state: the body of :func:`finalize`."""
    # Internal key names: a key may be named like a pattern or a moment.
    longest = max((len(key) for key in keys), default=0)
    inner: list[str] = [f"_l2_key{'_' * longest}{i}" for i in range(len(keys))]
    histogram = top_share_.HISTOGRAM
    rows = state.lazy().select(
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
    result = finish.finish(
        rows.drop(histogram),
        bins,
        keys=inner,
        weighted=weighted,
        confidence=confidence,
        min_n=min_n,
        overall=overall,
    ).rename(dict(zip(inner, keys, strict=True)))
    return result.collect() if isinstance(state, pl.DataFrame) else result

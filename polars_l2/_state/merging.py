"""Merge states: what they measured must agree; moments and histograms combine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import arguments, moments, options
from polars_l2._core import elementary as _murphy
from polars_l2._core import keys as keys_
from polars_l2._core import top_share as top_share_
from polars_l2._state.checks import StateSource, load
from polars_l2._state.schema import FIXED, STATE_VERSION, fixed_schema
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


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
    #: Whether the last key numbers the outputs of vector columns.
    per_output: bool | None = None

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
        if (
            self.per_output is not None
            and other.per_output is not None
            and self.per_output != other.per_output
        ):
            found.append("vector (per output) and scalar columns")
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


def _flag(frame: pl.DataFrame, name: str) -> bool | None:
    values = frame.get_column(name).drop_nulls().unique().to_list()
    return bool(values[0]) if len(values) == 1 else None


def measured(frame: pl.DataFrame) -> Measured:
    """Return what a checked state (see :func:`load`) says it measured."""
    kinds = frame.get_column("weighted").drop_nulls().unique().to_list()
    return Measured(
        actual=_single(frame, "actual"),
        models=tuple(frame.get_column("model").unique(maintain_order=True)),
        keys=tuple(name for name in frame.columns if name not in FIXED),
        weight=_single(frame, "weight"),
        weighted=bool(kinds[0]) if len(kinds) == 1 else None,
        nan_policy=_single(frame, "nan_policy"),
        per_output=_flag(frame, "per_output"),
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
        per_output=a.per_output if a.per_output is not None else b.per_output,
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
                arguments.column(name).cast(dtype)
                for name, dtype in fixed_schema(stored).items()
            )
        )
    stacked = pl.concat(keys_.unify(frames, keys, function=function), how="vertical")
    check_weighted(stacked, function=function)
    moments.check_baselines(stacked, function=function)
    # Keys by exact name; the order column's name is free of every key.
    order = "_l2_order" + "_" * max((len(key) for key in keys), default=0)
    by = [arguments.column(key) for key in keys]
    _check_counts_fit(stacked, by, function=function)
    histogram = top_share_.HISTOGRAM
    merged = (
        stacked.with_row_index(order)
        .group_by([pl.col("model"), *by])
        .agg(
            pl.col(order).min(),
            pl.col("weighted").first(),
            pl.col("per_output").first(),
            *moments.merge_aggregations(),
            # A part without its histogram leaves the merged one unknown.
            pl.col(histogram).is_not_null().all().alias(histogram),
        )
        .with_columns(pl.col(order).min().over("model"))
        .sort([pl.col(order), *by], nulls_last=True)
    )
    merged = _merge_histograms(stacked, merged, keys)
    merged = _merge_murphy(stacked, merged, keys, function=function)
    recorded = {
        "actual": common.actual,
        "weight": common.weight,
        "nan_policy": common.nan_policy,
    }
    schema = fixed_schema({key: stacked.schema[key] for key in keys})
    return merged.select(
        pl.lit(STATE_VERSION, pl.Int64).alias("state_version"),
        *(
            keys_.canonical(name, dtype)
            if name in keys
            else pl.lit(recorded[name], pl.String).alias(name)
            if name in recorded
            else arguments.column(name).cast(dtype)
            for name, dtype in schema.items()
            if name != "state_version"
        ),
    )


#: The counts of a state (Int64): merged, they are summed.
_COUNTS = tuple(name for name, dtype in moments.MOMENTS.items() if dtype == pl.Int64)
_INT64_MAX = 2**63 - 1


def _check_counts_fit(
    stacked: pl.DataFrame, by: Sequence[pl.Expr], *, function: str
) -> None:
    """Refuse a merge whose summed counts would pass Int64's range (and wrap)."""
    wide = [arguments.column(name).cast(pl.Int128) for name in _COUNTS]
    # Counts are checked non-negative, so the column's total bounds each group's.
    totals = stacked.select(column.sum() for column in wide).row(0)
    if all(total <= _INT64_MAX for total in totals):
        return
    sums = stacked.group_by([pl.col("model"), *by]).agg(c.sum() for c in wide)
    for name in _COUNTS:
        largest = sums.get_column(name).max()
        if isinstance(largest, int) and largest > _INT64_MAX:
            msg = (
                f"{function}: merging these states would count {largest} in "
                f"column {name!r} of one segment, more than a state holds "
                "(2**63 - 1); merge fewer states"
            )
            raise L2InputError(msg)


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
        arguments.column(key).alias(name) for key, name in zip(keys, inner, strict=True)
    ]
    bins = top_share_.unpack(
        stacked.lazy().select(pl.col("model"), *renamed, pl.col(histogram)),
        [pl.col("model"), *(pl.col(name) for name in inner)],
    )
    group = ["model", *inner]
    # Longer than every key, so no key is named like it.
    merged_bins = f"_l2_bins{'_' * longest}"
    packed = (
        top_share_.pack(top_share_.merge(bins, group), group)
        .rename({histogram: merged_bins})
        .collect()
    )
    empty = pl.lit([], top_share_.HISTOGRAM_DTYPE)
    joined = (
        merged.select(pl.all(), *renamed)
        .join(packed, on=group, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            pl.when(pl.col(histogram))
            .then(pl.col(merged_bins).fill_null(empty))
            .alias(histogram)
        )
    )
    return joined.select(arguments.column(name) for name in merged.columns)


def _merge_murphy(
    stacked: pl.DataFrame, merged: pl.DataFrame, keys: list[str], *, function: str
) -> pl.DataFrame:
    """Put the Murphy columns of `stacked`, merged per model and keys, in `merged`.

    States of different grids are refused; where a part was built without
    ``murphy=``, the merged columns are null.
    """
    if not _murphy.check_grids(stacked, function=function):
        return merged.with_columns(_murphy.absent())
    longest = max((len(key) for key in keys), default=0)
    inner: list[str] = [f"_l2_key{'_' * longest}{i}" for i in range(len(keys))]
    renamed = [
        arguments.column(key).alias(name) for key, name in zip(keys, inner, strict=True)
    ]
    group = ["model", *inner]
    parts = stacked.select(
        pl.col("model"),
        *renamed,
        "weight_sum",
        "paired_weight_sum",
        *_murphy.COLUMNS,
    )
    lists = _murphy.merged(parts, group)
    joined = merged.select(pl.all(), *renamed).join(
        lists, on=group, how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.select(
        *(arguments.column(name) for name in merged.columns),
        *(pl.col(name) for name in _murphy.COLUMNS if name not in merged.columns),
    )


def check_weighted(frame: pl.DataFrame, *, function: str) -> bool | None:
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
    options.check(function, allow_new_models=allow_new_models)
    sources = _sources(states, function=function)
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


def _sources(states: Iterable[StateSource], *, function: str) -> list[StateSource]:
    """Return the states as a list; refuse one state where a list is expected.

    A path or a frame is one state, not the states to merge: iterating it
    would give its characters or its columns.
    """
    if isinstance(states, str | os.PathLike | pl.DataFrame | pl.LazyFrame) or hasattr(
        states, "__arrow_c_stream__"
    ):
        msg = (
            f"{function}: states must be a list of states (frames or paths), "
            f"got one {type(states).__name__}: pass [state] to merge it alone"
        )
        raise L2InputError(msg)
    return list(states)


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

"""The share of SSE in the largest 1% of squared errors, from a histogram.

The squared errors of each model and segment are binned by power of two
(:func:`histogram`, one group-by for every model at once). The bins are fixed,
so histograms merge by adding (:func:`merge`): a state keeps its histogram
as a list column (:data:`HISTOGRAM`, :func:`pack`, :func:`unpack`), and the
share of merged states is the share of all the data (:func:`walk`).

Unweighted, a segment of at most :data:`EXACT_UP_TO` rows has its top 1% inside
its largest squared error, so its share is exact from the moments alone
(:func:`share`); the report bins only the larger segments (`large` in
:func:`histogram`), which keeps its cost flat when segments are many and small.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core.arguments import counted
from polars_l2._core.moments import ORDER

if TYPE_CHECKING:
    from polars_l2._core.arguments import Spec

#: The share of the rows (of the weight, when weighted) whose errors
#: `top_share` measures.
TOP_FRACTION = 0.01

#: The suffixes of the columns :func:`walk` gives: the share (the midpoint
#: of its bounds), its lower and its upper bound.
BOUNDS = ("", "_low", "_high")

#: Unweighted, up to this many rows the top 1% is at most one row, the
#: largest: the share is then TOP_FRACTION times the largest squared error
#: over the mean squared error, from the moments (:func:`share`).
EXACT_UP_TO = round(1 / TOP_FRACTION)

#: Bits of a Float64 below the bin index: 52 keeps the sign and exponent,
#: so each bin of the squared errors spans one power of two.
_BIN_SHIFT = 52


#: The state's histogram column: one struct per non-empty bin, by bin.
HISTOGRAM = "sq_error_histogram"

#: Its dtype: the bin (the squared error's sign and exponent bits), the
#: bin's weight (its row count unweighted), sum of weighted squared errors,
#: smallest and largest squared error.
HISTOGRAM_DTYPE = pl.List(
    pl.Struct(
        {
            "bin": pl.Int64(),
            "weight": pl.Float64(),
            "sum": pl.Float64(),
            "min": pl.Float64(),
            "max": pl.Float64(),
        }
    )
)

_BIN, _MASS, _SUM, _LO, _HI = "_l2_bin", "_l2_mass", "_l2_sum", "_l2_lo", "_l2_hi"
_FIELDS = {"bin": _BIN, "weight": _MASS, "sum": _SUM, "min": _LO, "max": _HI}
_X, _W, _H, _REM = "_l2_x", "_l2_w", "_l2_h", "_l2_rem"


#: Up to this many models, each model's histogram is a group-by of its own;
#: beyond, one group-by of every model's squared errors turned long. A
#: group-by per model is cheaper with few models (benchmark case 3, report)
#: but scans the input again for each model, so a file is read once more per
#: model (downloaded again, from object storage) where the long form reads it
#: once, and its plans grow with the models.
PER_MODEL_UP_TO = 4


def histogram(
    frame: pl.LazyFrame, spec: Spec, *, large: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Every model's histogram of squared errors, per segment.

    Returns one row per non-empty bin: the model's position
    (:data:`ORDER`), the keys, and the bin's columns. Up to
    :data:`PER_MODEL_UP_TO` models, each model is grouped by keys and bin
    on its own; beyond, the squared errors (and weights) of every model are
    turned long, one row per input row and model, and grouped once by
    model, keys and bin. With `large` (:data:`ORDER`, the keys, ``n``: the
    moments' rows), unweighted, by keys, and up to :data:`PER_MODEL_UP_TO`
    models, only the segments of more than :data:`EXACT_UP_TO` rows are
    binned (:func:`_only_large`); :func:`share` gives the others.
    """
    keys = list(spec.by)
    if len(spec.predicted) > PER_MODEL_UP_TO:
        return _long_histogram(frame, spec)
    if not keys or spec.weight is not None:
        large = None
    parts = []
    for i, model in enumerate(spec.predicted):
        columns = [*map(pl.col, keys), *_squares(*counted(spec, model)[:2])]
        if large is None:
            binned = _binned(frame.select(columns), keys, spec)
        else:
            sizes = large.filter(pl.col(ORDER) == i).select(*keys, "n")
            binned = _only_large(frame, columns, sizes, spec)
        parts.append(binned.with_columns(pl.lit(i, pl.Int64).alias(ORDER)))
    return pl.concat(parts).select(ORDER, *keys, *_FIELDS.values())


_FLAG = "_l2_flag"


def _only_large(
    source: pl.LazyFrame, columns: list[pl.Expr], sizes: pl.LazyFrame, spec: Spec
) -> pl.LazyFrame:
    """Bin `columns` (keys, squares) of `source` in segments of over EXACT_UP_TO rows.

    `sizes` holds the segments (the keys) and their row counts ``n``. Of
    two branches, Polars runs at most one: each starts with a cross join of
    the rows with a flag, a table of one row or none, and the streaming
    engine skips every step before a join whose other side is empty. With
    no small segment, every row is binned (the cross join costs a copy of
    the rows' columns); with small and large segments, the rows of the large
    ones are kept by a semi-join on the keys; with only small segments,
    nothing runs. Benchmark case 3's segment curve measures each.
    """
    keys = list(spec.by)
    small = pl.col("n").is_between(1, EXACT_UP_TO).any()
    large = pl.col("n") > EXACT_UP_TO

    def when(rows: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
        gate = sizes.select(condition.alias(_FLAG)).filter(pl.col(_FLAG))
        return rows.join(gate, how="cross").drop(_FLAG)

    # The squares are taken before the gate in one branch and after it in
    # the other: the branches share no subplan but the bare input, which
    # Polars reads twice rather than cache (and buffer) for both.
    everything = when(source.select(columns), small.not_())
    wanted = sizes.filter(large).select(keys)
    mixed = when(source, small & large.any()).join(
        wanted, on=keys, how="semi", nulls_equal=True
    )
    return pl.concat(
        [_binned(rows, keys, spec) for rows in (everything, mixed.select(columns))]
    )


def share(
    n: pl.Expr, sq_error_mean: pl.Expr, abs_error_max: pl.Expr, binned: pl.Expr
) -> pl.Expr:
    """Return the top-1% share of unweighted rows: exact from the moments where small.

    A segment of at most :data:`EXACT_UP_TO` rows has its top 1% (``0.01 n``
    rows) inside its largest squared error, so its share is
    ``0.01 * max(e²) / mean(e²)`` (0.01 when SSE is 0, as in :func:`walk`);
    larger segments take `binned`, the share :func:`walk` gives.
    """
    exact = (
        pl.when(sq_error_mean == 0)
        .then(TOP_FRACTION)
        .otherwise(TOP_FRACTION * abs_error_max.pow(2) / sq_error_mean)
    )
    return pl.when(n <= EXACT_UP_TO).then(exact).otherwise(binned)


def _squares(e: pl.Expr, w: pl.Expr | None) -> list[pl.Expr]:
    """Return the squared error (and weight) of counted rows, named for binning."""
    x = e.pow(2).alias(_X)
    return [x] if w is None else [x, w.alias(_W)]


def _long_histogram(frame: pl.LazyFrame, spec: Spec) -> pl.LazyFrame:
    """:func:`histogram` of many models: one group-by of the long rows."""
    keys = list(spec.by)
    weighted = spec.weight is not None
    columns = []
    for i, model in enumerate(spec.predicted):
        squares = _squares(*counted(spec, model)[:2])
        # Unweighted, the squared error alone is turned long: a struct with
        # a weight of one cost a quarter more.
        columns.append(
            (pl.struct(squares) if weighted else squares[0]).alias(f"{_H}{i}")
        )
    long = frame.select(*keys, *columns).unpivot(
        index=keys, variable_name=ORDER, value_name=_H if weighted else _X
    )
    if weighted:
        long = long.unnest(_H)
    order = pl.col(ORDER).str.strip_prefix(_H).cast(pl.Int64)
    return _binned(long, [ORDER, *keys], spec).select(
        order.alias(ORDER), *keys, *_FIELDS.values()
    )


def _binned(rows: pl.LazyFrame, group: list[str], spec: Spec) -> pl.LazyFrame:
    """Group `rows` by `group` and bin (squared errors `_X`, weights `_W`)."""
    x = pl.col(_X)
    # The bin (sign and exponent: 12 bits) is grouped on as an Int16, which
    # Polars hashes and compares more cheaply than an Int64 (benchmark case
    # 3, segment curve); the histogram keeps it as an Int64.
    bin_index = (x.reinterpret(dtype=pl.Int64) // (1 << _BIN_SHIFT)).cast(pl.Int16)
    mass, total = (
        (pl.col(_W).sum(), (pl.col(_W) * x).sum())
        if spec.weight is not None
        else (pl.len().cast(pl.Float64), x.sum())
    )
    return (
        rows.group_by(*group, bin_index.alias(_BIN))
        .agg(
            mass.alias(_MASS), total.alias(_SUM), x.min().alias(_LO), x.max().alias(_HI)
        )
        # The rows not counted (a null squared error) fall in a null bin,
        # dropped here rather than filtered row by row before the group-by.
        .filter(pl.col(_BIN).is_not_null())
        .with_columns(pl.col(_BIN).cast(pl.Int64))
    )


def _in_order(values: pl.Expr, by: pl.Expr) -> pl.Expr:
    """Return the sum of `values` added in the order of `by`, in an aggregation.

    A running sum's last value: Polars drops a sort before a plain sum (the
    sum does not depend on the order, but its last bits do), and adds the
    values in the order its threads split them.
    """
    return values.sort_by(by).cum_sum().last()


def merge(
    histograms: pl.LazyFrame, group: list[str], *, ordered: bool = False
) -> pl.LazyFrame:
    """Add histograms bin by bin within each `group`.

    `ordered` adds each bin's weights and sums in the order of their
    values, so the same histograms give the same bits every time (otherwise
    the sums follow how threads split the rows). It sorts within each
    group: the overall rows of :func:`polars_l2.finalize` pool a few groups
    of many bins so; merging states, of very many small groups, does not
    (sorting within each costs several times the merge).
    """

    def added(name: str) -> pl.Expr:
        values = pl.col(name)
        return _in_order(values, values) if ordered else values.sum()

    return histograms.group_by(*group, _BIN).agg(
        added(_MASS),
        added(_SUM),
        pl.col(_LO).min(),
        pl.col(_HI).max(),
    )


def pack(histograms: pl.LazyFrame, group: list[str]) -> pl.LazyFrame:
    """One row per `group`: its bins in the :data:`HISTOGRAM` list column."""
    fields = [pl.col(internal).alias(name) for name, internal in _FIELDS.items()]
    packed = pl.struct(fields).sort_by(pl.col(_BIN)).alias(HISTOGRAM)
    return histograms.group_by(group).agg(packed)


def unpack(state: pl.LazyFrame, group: list[pl.Expr]) -> pl.LazyFrame:
    """Return the bins of a state's :data:`HISTOGRAM` column, one row per bin.

    `group` selects the state's model and key columns (by exact name); the
    bins' columns have internal names, so no key can take them.
    """
    bins = (
        state.select(*group, pl.col(HISTOGRAM))
        .explode(HISTOGRAM)
        .filter(pl.col(HISTOGRAM).is_not_null())
    )
    return bins.select(
        pl.all().exclude(HISTOGRAM),
        *(
            pl.col(HISTOGRAM).struct.field(name).alias(internal)
            for name, internal in _FIELDS.items()
        ),
    )


def walk(
    histograms: pl.LazyFrame, group: list[str], *, weighted: bool, name: str
) -> pl.LazyFrame:
    """Per `group`, the share of SSE in the largest 1% of squared errors.

    Returns the share in column `name`, and the bounds the histogram allows
    in `name` + ``"_low"`` and ``"_high"`` (:data:`BOUNDS`): the exact
    share lies between them. The largest 1% is counted by weight, the
    boundary row fractionally: the squared errors that make up the top
    :data:`TOP_FRACTION` of the rows (of the weight) once sorted. The bins
    are walked from the top. Bins wholly inside the top 1% count exactly;
    the one bin that straddles the boundary counts, in the bounds, the ends
    of the range its weight, sum, minimum and maximum allow, and in the
    share their midpoint. That range is zero, and the share exact, when the bin's
    values are equal or, unweighted, when the boundary falls inside its
    largest row, as it does for every segment of at most 100 rows.
    """
    bins = _at_the_top(histograms, group, weighted=weighted)
    m, s, lo, hi = pl.col(_MASS), pl.col(_SUM), pl.col(_LO), pl.col(_HI)
    rem = pl.col(_REM)
    rest = m - rem
    if not weighted:
        # Each row has weight one: the largest row is in the top part and
        # the smallest in the rest.
        lower = pl.max_horizontal(
            rem * s / m,
            pl.min_horizontal(rem, 1.0) * hi + (rem - 1).clip(lower_bound=0) * lo,
            s - pl.min_horizontal(rest, 1.0) * lo - (rest - 1).clip(lower_bound=0) * hi,
        )
    else:
        lower = pl.max_horizontal(rem * lo, s - rest * hi, rem * s / m)
    upper = pl.min_horizontal(rem * hi, s - rest * lo)
    # Where the bin's range is nil (its values equal, or the boundary inside
    # its largest row), the two ends differ in the last bits only, either
    # way: ordered, the share's bounds hold it (sums and the division by the
    # total keep the order).
    lower, upper = pl.min_horizontal(lower, upper), pl.max_horizontal(lower, upper)

    def part(within: pl.Expr) -> pl.Expr:
        return pl.when(rem >= m).then(s).when(rem <= 0).then(0.0).otherwise(within)

    parts = {"": part((lower + upper) / 2), "_low": part(lower), "_high": part(upper)}
    # Each group's parts added from its top bin down, as _at_the_top's
    # sums, so the same histograms give the same bits every time.
    walked = bins.with_columns(
        _from_the_top(value.sum(), group).alias(f"_l2_part{bound}")
        for bound, value in parts.items()
    )
    summary = [
        *(pl.col(f"_l2_part{bound}").first() for bound in BOUNDS),
        pl.col("_l2_total").first(),
    ]
    shares = walked.group_by(group).agg(summary) if group else walked.select(summary)
    total = pl.col("_l2_total")
    # Equal errors are the case of no concentration; all-zero errors too.
    return shares.select(
        *group,
        *(
            pl.when(total == 0)
            .then(TOP_FRACTION)
            .otherwise(pl.col(f"_l2_part{bound}") / total)
            .alias(name + bound)
            for bound in BOUNDS
        ),
    )


def _from_the_top(expr: pl.Expr, group: list[str]) -> pl.Expr:
    """Return `expr` over each group's bins, taken from the top bin down.

    A window ordered by bin, cheaper than sorting every bin by group and
    bin with very many segments (benchmark case 3, segment curve). Its sums
    are taken in that order too, so the same histograms give the same bits
    every time (unordered, they follow how threads split the rows); the
    windows share one order, which Polars computes once. Without `group`,
    the frame is the window: sort it from the top bin first.
    """
    return expr.over(group, order_by=_BIN, descending=True) if group else expr


def _at_the_top(
    histograms: pl.LazyFrame, group: list[str], *, weighted: bool
) -> pl.LazyFrame:
    """Return the bins of each group that hold part of its top 1%, for :func:`walk`.

    Adds :data:`_REM`, the mass of the top 1% that falls in the bin, and
    ``_l2_total``, the group's sum. Weighted, masses are fractions of the
    group's weight and sums per unit of it.
    """
    m, s = pl.col(_MASS), pl.col(_SUM)

    per_group = functools.partial(_from_the_top, group=group)
    # Without groups, the one window is the frame, sorted from the top bin.
    bins = (
        histograms if group else histograms.sort(_BIN, descending=True, nulls_last=True)
    )
    above = per_group(m.cum_sum()) - m
    if weighted:
        # Scale-free: no product of a weight with a weighted sum (rem * s)
        # overflows or underflows, whatever the weights' scale.
        whole = per_group(m.sum())
        bins = bins.with_columns(m / whole, s / whole)
    bins = bins.with_columns(
        (TOP_FRACTION * per_group(m.sum()) - above).clip(0.0, m).alias(_REM),
        per_group(s.sum()).alias("_l2_total"),
    )
    rem = pl.col(_REM)
    # Only the bins above the boundary and the one that straddles it have a
    # part; most bins lie below it, and their parts (zero) are not computed.
    # The total is taken before. A NaN rem keeps its bin (the comparisons
    # are false); each group keeps its top bin, whose rem is its target.
    return bins.filter(~((rem <= 0) & (rem < m)))

"""The one query behind :func:`polars_l2.report` and :func:`polars_l2.state`.

Every model's moments come from one ``group_by().agg()`` over the data (one
wide row per segment, all models side by side), so the data is scanned once
however many models there are. The wide row is then turned long, one row per
model and segment, in the order the models were given and then by the keys.
The report's top-1% share needs a histogram per model: one more group-by per
model, each reading only the key, actual, prediction and weight columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2 import _moments

if TYPE_CHECKING:
    from polars_l2._frames import Spec

_MODEL = "_l2_model_"
_ORDER = "_l2_order"
_TOP = "_l2_top_"


def long_moments(
    frame: pl.DataFrame | pl.LazyFrame, spec: Spec, *, with_top_share: bool
) -> pl.LazyFrame:
    """One row per model and segment: ``model``, the keys, the state's moments.

    With `with_top_share`, a ``_l2_top`` column holds the top-1% share.
    """
    keys = list(spec.by)
    # The top-1% share's group-bys read the data again rather than share one
    # scan: Polars' multiplexer, which a shared scan (``cache()``) needs,
    # buffers every row a slower consumer has not taken yet, and the
    # histograms are slower than the moments, so memory grew with the data
    # (1.1 GB for 30 million rows, against 0.2 GB reading it again).
    source = frame.lazy()
    prefixes = [f"{_MODEL}{i}_" for i in range(len(spec.predicted))]
    aggs = [
        agg
        for model, prefix in zip(spec.predicted, prefixes, strict=True)
        for agg in _moments.aggregations(spec, model, prefix)
    ]
    wide = source.group_by(keys).agg(aggs) if keys else source.select(aggs)
    if with_top_share:
        for i, model in enumerate(spec.predicted):
            shares = _moments.top_share(source, spec, model, f"{_TOP}{i}")
            if keys:
                wide = wide.join(
                    shares, on=keys, how="left", nulls_equal=True, coalesce=True
                )
            else:
                wide = pl.concat([wide, shares], how="horizontal")
    structs = []
    for i, prefix in enumerate(prefixes):
        fields = _moments.state_columns(spec, prefix)
        if with_top_share:
            fields.append(pl.col(f"{_TOP}{i}").alias("_l2_top"))
        structs.append(pl.struct(fields).alias(f"{_MODEL}{i}"))
    long = wide.select(*keys, *structs).unpivot(
        on=[f"{_MODEL}{i}" for i in range(len(prefixes))],
        index=keys,
        variable_name=_ORDER,
        value_name="_l2_moments",
    )
    # when/then chains, not replace_strict, which the streaming engine runs
    # in memory.
    order: pl.Expr = pl.lit(None, pl.Int64)
    model_name: pl.Expr = pl.lit(None, pl.String)
    for i, name in reversed(list(enumerate(spec.predicted))):
        is_model = pl.col(_ORDER) == f"{_MODEL}{i}"
        order = pl.when(is_model).then(pl.lit(i, pl.Int64)).otherwise(order)
        model_name = (
            pl.when(pl.col(_ORDER) == i).then(pl.lit(name)).otherwise(model_name)
        )
    return (
        long.with_columns(order.alias(_ORDER))
        .sort([_ORDER, *keys], nulls_last=True)
        .select(model_name.alias("model"), *keys, pl.col("_l2_moments"))
        .unnest("_l2_moments")
    )

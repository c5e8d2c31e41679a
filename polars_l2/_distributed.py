"""What the Ray and Spark adapters share: column spec, chunk states, errors.

Both adapters reduce each block or partition of the data to a metric state
(:func:`polars_l2.state`) on the workers, as an Arrow table with the state's
fixed schema, and combine the states with the engine or on the driver. This
module holds the parts that do not depend on the engine. It imports neither
Ray nor Spark.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

import polars_l2
from polars_l2._core import arguments, options
from polars_l2._core import losses as losses_
from polars_l2._state import RESERVED, state_query
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import pyarrow as pa

    from polars_l2._core.arguments import Spec

#: How a worker's input error appears in the traceback text an engine relays.
_WORKER_INPUT_ERROR = re.compile(r"L2InputError: (?P<message>[^\n]+)")

#: How a worker's failed import of a module polars-l2 runs on appears there.
_WORKER_MISSING_MODULE = re.compile(
    r"No module named '(?P<module>(?:polars|polars_l2|pyarrow)(?:\.[\w.]+)?)'"
)


#: Check the column arguments of an adapter, as :func:`polars_l2.state` does:
#: the state's own column names are reserved.
parse = functools.partial(arguments.parse, reserved=RESERVED)


@dataclass(frozen=True)
class Pairing:
    """What the states keep besides the moments: the paired moments, the histogram.

    Sent to the workers with the column spec.
    """

    #: The baseline the other models are paired with (None: no pairs).
    baseline: str | None = None
    #: The losses of the paired moments.
    losses: losses_.Losses = losses_.SQUARED
    #: Whether to keep the histogram of ``top_1pct_share``.
    top_share: bool = True


#: The states of :func:`polars_l2.state`'s defaults.
PLAIN = Pairing()


def pairing(
    spec: Spec,
    *,
    baseline: object,
    loss: object,
    huber_delta: object,
    top_share: object,
    function: str,
) -> Pairing:
    """Return the checked pairing options of an adapter's state."""
    options.check(function, top_share=top_share)
    if baseline is not None and (
        not isinstance(baseline, str) or baseline not in spec.predicted
    ):
        msg = (
            f"{function}: baseline must be None or one of the predicted columns "
            f"{list(spec.predicted)}, got {baseline!r}"
        )
        raise L2InputError(msg)
    losses = losses_.parse(loss, huber_delta, function=function)  # type: ignore[arg-type]
    return Pairing(baseline, losses, bool(top_share))


def compare_models(
    baseline: object,
    candidates: object,
    *,
    loss: object,
    variance: object,
    confidence: object,
    adjust: object,
    min_n: object,
    function: str,
) -> tuple[str, ...]:
    """Check an adapter's compare options before any work; return the candidates."""
    options.check(
        function,
        loss=loss,
        variance=variance,
        confidence=confidence,
        adjust=adjust,
        min_n=min_n,
    )
    models = arguments.names(candidates, role="candidates", function=function)
    if not isinstance(baseline, str) or not models or baseline in models:
        msg = (
            f"{function}: baseline must be one column name and candidates at "
            f"least one other, got baseline {baseline!r} and candidates "
            f"{list(models)}"
        )
        raise L2InputError(msg)
    return models


def frame_state(
    frame: pl.DataFrame, spec: Spec, *, function: str, pairing: Pairing = PLAIN
) -> pl.DataFrame:
    """Return the metric state of one chunk of data."""
    return state_query(
        frame,
        spec,
        function=function,
        baseline=pairing.baseline,
        losses=pairing.losses,
        top_share=pairing.top_share,
    ).collect()


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
    spec: Spec,
    *,
    function: str,
    schema: pa.Schema | None = None,
    pairing: Pairing = PLAIN,
) -> pa.Table:
    """Return the state of one block of data, with the fixed Arrow schema.

    Runs on the workers. A missing column, or one of a dtype the metrics
    cannot use, raises :class:`L2InputError` naming it. `schema` is the
    state schema every block must give (where the engine needs one), else
    the block's own.
    """
    spec.check_present(table.column_names, function=function)
    frame = to_frame(table.select(spec.needed))
    state = frame_state(frame, spec, function=function, pairing=pairing)
    return to_state_table(state, schema)


def merge_tables(
    tables: Iterable[pa.Table], schema: pa.Schema | None = None
) -> pa.Table:
    """Merge state tables into one, with the fixed schema (see :func:`table_state`)."""
    merged = polars_l2.merge_states(list(tables))
    return to_state_table(merged, schema)


def merge_in_order(
    base: pl.DataFrame, parts: Sequence[pa.Table], spec: Spec
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
        list(spec.predicted), range(len(spec.predicted)), return_dtype=pl.Int64
    )
    keys = [arguments.column(key) for key in spec.by]
    return merged.sort([rank, *keys], nulls_last=True, maintain_order=True)


def empty_state(
    schema: pa.Schema | None, spec: Spec, *, function: str, pairing: Pairing = PLAIN
) -> pl.DataFrame:
    """Return the state of no rows of data with `schema`, checked on the driver.

    Checking the schema before any data is read catches a missing column or
    an unusable dtype at once. Merging this state with the workers' states
    changes nothing, and gives the report of no data for a dataset without
    rows. Without a schema, the columns are taken as of the Null dtype.
    """
    if schema is None:
        frame = pl.DataFrame(schema=dict.fromkeys(spec.needed, pl.Null))
    else:
        spec.check_present(schema.names, function=function)
        frame = to_frame(schema.empty_table())
    return frame_state(frame, spec, function=function, pairing=pairing)


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


def missing_module_on_worker(error: BaseException) -> str | None:
    """Return the module a worker could not import, found in the engine's error.

    A worker whose interpreter lacks polars-l2 (or Polars, or pyarrow) fails
    when it unpickles the function it was sent; the engine relays that as
    traceback text. This finds the module's name there (None if the error
    is something else), in every mode of the engine: it needs nothing from
    the cluster (under Spark Connect the client cannot ask which interpreter
    the workers run).
    """
    found = _WORKER_MISSING_MODULE.search(str(error))
    return None if found is None else found["module"]

"""The column arguments of every function, checked once and read literally.

Two kinds of functions take columns:

- The expression functions (:func:`polars_l2.mse` and the others) take a
  column name or an expression for each input. :func:`parse_into_expr` turns
  a name into an expression that reads that column literally, and checks at
  plan time that an expression reads one column, not several.
- The frame-level functions (:func:`polars_l2.report`, :func:`polars_l2.state`,
  Ray, Spark and the command line) take column names. :func:`parse` checks
  them once, where the user passes them, into one frozen :class:`Spec`, and
  :func:`resolve` checks that spec against the frame's schema
  (``collect_schema()`` reads no data). Where a name could be misread, it
  selects the columns, by exact name, under internal names, and the query is
  built on those only: a user's column named like a pattern (``^y$``, ``*``)
  is never read as one, and no temporary column of a query can take the
  name of a user's column; the keys get their names back in the result.

Every temporary column of a frame-level query (here, in
:mod:`polars_l2._core.moments`, :mod:`polars_l2._core.top_share` and
:mod:`polars_l2._core.per_output`) has a name that begins with ``_``; a
user's name that begins with ``_`` is therefore always read under an
internal name (:func:`resolve`).

A column name is always literal: Polars reads ``pl.col("^y$")`` as a regular
expression and ``pl.col("*")`` as every column, so such names are selected
with :func:`polars.selectors.by_name`, which matches names exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import polars as pl
import polars.selectors as cs

from polars_l2._core import dtypes, options
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import IntoExpr, NanPolicy

#: The internal names of the columns a frame-level query reads.
ACTUAL = "_l2_actual"
PREDICTED = "_l2_predicted_"
BY = "_l2_by_"
WEIGHT = "_l2_weight"


def column(name: str) -> pl.Expr:
    """Return an expression that reads the column named `name`, literally.

    ``pl.col(name)`` where Polars reads `name` as a column name (the plan
    stays the plain ``col(name)``); an exact-name selector where Polars would
    read it as a pattern (``*``, ``^...$``).

    Examples
    --------
    >>> import polars as pl
    >>> from polars_l2._core.arguments import column
    >>> df = pl.DataFrame({"y": [1.0], "^y$": [2.0]})
    >>> df.select(column("^y$")).columns
    ['^y$']
    """
    expr = pl.col(name)
    if expr.meta.has_multiple_outputs():
        return cs.by_name(name, require_all=True).as_expr()
    return expr


def parse_into_expr(value: IntoExpr, *, role: str) -> pl.Expr:
    """Return `value` as an expression of one column; a string is a column name.

    A string names a column literally (see :func:`column`). An expression
    that may expand to several columns (``pl.all()``, ``pl.col("^a.*$")``,
    a selector) is checked when the plan is resolved: it must give exactly
    one column, else :class:`L2InputError` names `role` and the columns.
    """
    if isinstance(value, str):
        return column(value)
    if isinstance(value, pl.Expr):
        return value if not value.meta.has_multiple_outputs() else _single(value, role)
    msg = (
        f"{role} must be a column name or a Polars expression, "
        f"got {type(value).__name__}"
    )
    raise L2InputError(msg)


def _single(expr: pl.Expr, role: str) -> pl.Expr:
    # A struct of the expression has one field per column it expands to, in
    # one callback: the check sees them all. The plan keeps only the column.
    def check(struct: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        assert isinstance(dtype, pl.Struct)  # a struct of the expansion
        if len(dtype.fields) != 1:
            found = ", ".join(repr(field.name) for field in dtype.fields)
            msg = (
                f"{role} must be one column, but the expression `{expr}` "
                f"gives {len(dtype.fields)}: {found}; pass one column name"
            )
            raise L2InputError(msg)
        (inner,) = struct.meta.pop()
        return inner

    return pl.struct(expr).pipe_with_dtype(check)


@dataclass(frozen=True)
class Spec:
    """The column arguments of a frame-level function, checked.

    Built by :func:`parse` from the user's arguments, then by
    :func:`resolve` for one frame: that spec names the internal columns and
    holds their schema.
    """

    actual: str
    predicted: tuple[str, ...]
    by: tuple[str, ...] = ()
    weight: str | None = None
    nan_policy: NanPolicy = "propagate"
    #: The dtypes of the columns, once resolved against a frame.
    resolved: pl.Schema | None = field(default=None, compare=False, repr=False)
    #: Whether every model is known to count the same rows (:func:`same_rows`),
    #: once resolved against a frame.
    same_rows: bool = field(default=False, compare=False, repr=False)

    @property
    def weighted(self) -> bool:
        """Whether the metrics are weighted."""
        return self.weight is not None

    @property
    def schema(self) -> pl.Schema:
        """The dtypes of the columns (only for a resolved spec)."""
        if self.resolved is None:
            msg = "the column spec has not been resolved against a frame"
            raise RuntimeError(msg)
        return self.resolved

    @property
    def needed(self) -> list[str]:
        """Every column read, each once, in a stable order."""
        named = [self.actual, *self.predicted, *self.by]
        if self.weight is not None:
            named.append(self.weight)
        return list(dict.fromkeys(named))

    def roles(self) -> list[tuple[str, str]]:
        """Every column argument as (role, name), in the order given."""
        pairs = [("actual", self.actual)]
        pairs += [("predicted", name) for name in self.predicted]
        pairs += [("by", name) for name in self.by]
        if self.weight is not None:
            pairs.append(("weight", self.weight))
        return pairs

    def check_present(self, available: Sequence[str], *, function: str) -> None:
        """Raise :class:`L2InputError` naming any column not `available`."""
        missing = [name for name in self.needed if name not in available]
        if missing:
            msg = (
                f"{function}: column(s) {', '.join(map(repr, missing))} not "
                f"found; the data has {', '.join(map(repr, available)) or 'no columns'}"
            )
            raise L2InputError(msg)


def names(
    value: object, *, role: str, function: str, reserved: Sequence[str] = ()
) -> tuple[str, ...]:
    """Return a column argument as a tuple of names (None gives no names).

    A string is one name; a list (any iterable) of strings several, each
    once. Anything else, an expression included, raises
    :class:`L2InputError` naming `role`, as does a name in `reserved`.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: tuple[object, ...] = (value,)
    elif isinstance(value, Iterable) and not isinstance(value, bytes | pl.Expr):
        items = tuple(value)
    else:
        items = (value,)
    for item in items:
        if not isinstance(item, str):
            msg = (
                f"{function}: {role} must be a column name or a list of column "
                f"names{_hint(item)}, got {_shown(item)}"
            )
            raise L2InputError(msg)
    if len(set(items)) != len(items):
        msg = f"{function}: {role} names a column more than once: {list(items)}"
        raise L2InputError(msg)
    clash = [item for item in items if item in reserved]
    if clash:
        # Not the whole list: most of it is a state's moments.
        taken, free = clash[0], f"{clash[0]}_key"
        msg = (
            f"{function}: {role} column {taken!r} has the name of an output "
            "column (of the result, or a moment a state keeps); rename it "
            f"first, for example with .rename({{{taken!r}: {free!r}}})"
        )
        raise L2InputError(msg)
    return tuple(str(item) for item in items)


def _shown(value: object) -> str:
    """Show a wrong argument in a message: its type and value."""
    shown = f"`{value}`" if isinstance(value, pl.Expr) else repr(value)
    return f"{type(value).__name__} {shown}"


def _hint(value: object) -> str:
    """Suggest the name where an expression of one column was given."""
    if isinstance(value, pl.Expr) and value.meta.is_column():
        return f" (the name {value.meta.output_name()!r}, not an expression)"
    return ""


def parse(
    actual: object,
    predicted: object,
    *,
    by: object = None,
    weight: object = None,
    nan_policy: object = "propagate",
    function: str,
    reserved: Sequence[str] = (),
) -> Spec:
    """Check the column arguments of a frame-level function, where given.

    Parameters
    ----------
    actual, predicted, by, weight, nan_policy
        The user's arguments: one name for `actual` and `weight` (or None),
        a name or a list of names for `predicted` (at least one) and `by`.
    function
        The public function's name, for messages.
    reserved
        Output column names a `by` column may not take.

    Returns
    -------
    Spec
        The arguments as names, not yet resolved against a frame.

    Raises
    ------
    L2InputError
        Naming the argument and what is wrong with it.
    """
    options.check(function, nan_policy=nan_policy)
    if not isinstance(actual, str):
        msg = (
            f"{function}: actual must be one column name (str){_hint(actual)}, "
            f"got {_shown(actual)}"
        )
        raise L2InputError(msg)
    models = names(predicted, role="predicted", function=function)
    if not models:
        msg = f"{function}: predicted must name at least one column"
        raise L2InputError(msg)
    if weight is not None and not isinstance(weight, str):
        msg = (
            f"{function}: weight must be a column name (str) or None"
            f"{_hint(weight)}, got {_shown(weight)}"
        )
        raise L2InputError(msg)
    keys = names(by, role="by", function=function, reserved=reserved)
    policy: NanPolicy = "omit" if nan_policy == "omit" else "propagate"
    return Spec(actual, models, keys, weight, policy)


@dataclass(frozen=True)
class Resolved:
    """A spec resolved against a frame: the query's input, in internal names."""

    #: The user's columns under internal names, and nothing else.
    frame: pl.LazyFrame
    #: The spec of `frame`: internal names, with their dtypes.
    spec: Spec
    #: The user's spec; its keys name the result's keys.
    user: Spec
    #: Whether actual or a predicted column is a vector (Array or List).
    vector: bool = False

    def key_names(self) -> list[tuple[str, str]]:
        """Return the keys as (internal name, user's name) pairs."""
        return list(zip(self.spec.by, self.user.by, strict=True))

    def model_column(self) -> pl.Expr:
        """Return ``model`` with the user's names of the predicted columns."""
        if self.spec.predicted == self.user.predicted:
            return pl.col("model")
        # A when/then chain, not replace_strict, which the streaming engine
        # runs in memory.
        label: pl.Expr = pl.lit(None, pl.String)
        pairs = zip(self.spec.predicted, self.user.predicted, strict=True)
        for internal, name in reversed(list(pairs)):
            label = (
                pl.when(pl.col("model") == internal).then(pl.lit(name)).otherwise(label)
            )
        return label.alias("model")

    def with_key(self, frame: pl.LazyFrame, internal: str, name: str) -> Resolved:
        """Return this with `frame` as input and one more key, last."""
        spec = replace(
            self.spec,
            by=(*self.spec.by, internal),
            resolved=frame.collect_schema(),
        )
        return Resolved(frame, spec, replace(self.user, by=(*self.user.by, name)))


def _columns_listing(schema: pl.Schema) -> str:
    # The package's own columns (a row index it added) are not the user's.
    listing = ", ".join(
        f"{name!r} ({dtype})"
        for name, dtype in schema.items()
        if not name.startswith("_l2_")
    )
    return listing or "no columns"


def _is_metric_dtype(dtype: pl.DataType) -> bool:
    return dtypes.is_metric_dtype(dtype)


def resolve(
    frame: pl.DataFrame | pl.LazyFrame,
    spec: Spec,
    *,
    function: str,
    allow_vectors: bool = False,
) -> Resolved:
    """Check `spec` against the schema of `frame` and select its columns.

    A missing column, or one of a dtype the metrics cannot use, raises
    :class:`L2InputError` naming it, its dtype and the columns that exist.
    With `allow_vectors`, actual and predicted may be vectors (Array or List);
    their dtypes are then left to :mod:`polars_l2._core.per_output`.
    """
    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        msg = (
            f"{function}: expected a Polars DataFrame or LazyFrame, "
            f"got {type(frame).__name__}"
        )
        raise L2InputError(msg)
    schema = frame.collect_schema()
    check_columns(schema, spec.roles(), function=function)
    targets = [spec.actual, *spec.predicted]
    vector = allow_vectors and any(dtypes.is_vector(schema[name]) for name in targets)
    for role, name in spec.roles():
        dtype = schema[name]
        if role == "by":
            _check_key_dtype(name, dtype, schema, function=function)
        elif dtypes.is_vector(dtype) and not allow_vectors and role != "weight":
            msg = (
                f"{function}: {role} column {name!r} has dtype {dtype}, a vector "
                "per row; this takes a numeric or Boolean column (vector "
                "targets: polars_l2.report, compare, state, loss, sse, mse and rmse)"
            )
            raise L2InputError(msg)
        elif not _is_metric_dtype(dtype) and not (vector and role != "weight"):
            msg = (
                f"{function}: {role} column {name!r} has dtype {dtype}; "
                f"{dtypes.EXPECTED}; the frame has {_columns_listing(schema)}"
            )
            raise L2InputError(msg)
    shared = not vector and same_rows(frame, spec)
    if not vector and not any(_needs_internal(name) for name in spec.needed):
        # The plain names stay: a renaming node would be a subplan common
        # to every group-by of the query, which Polars then caches, making
        # the streaming engine buffer the data (see polars_l2.report).
        plain = replace(spec, resolved=schema, same_rows=shared)
        return Resolved(frame.lazy(), plain, spec)
    internal = Spec(
        ACTUAL,
        tuple(f"{PREDICTED}{i}" for i in range(len(spec.predicted))),
        tuple(f"{BY}{i}" for i in range(len(spec.by))),
        None if spec.weight is None else WEIGHT,
        spec.nan_policy,
    )
    # By role, not by name: one column may serve in two roles.
    pairs = [
        (alias, name)
        for (_, alias), (_, name) in zip(internal.roles(), spec.roles(), strict=True)
    ]
    selected = frame.lazy().select(column(name).alias(alias) for alias, name in pairs)
    types = pl.Schema({alias: schema[name] for alias, name in pairs})
    internal = replace(internal, resolved=types, same_rows=shared)
    return Resolved(selected, internal, spec, vector)


def check_columns(
    schema: pl.Schema, roles: Sequence[tuple[str, str]], *, function: str
) -> None:
    """Raise :class:`L2InputError` naming the first of `roles` not in `schema`.

    `roles` holds (role, column name) pairs; the message lists the columns
    there are, with their dtypes.
    """
    for role, name in roles:
        if name not in schema:
            msg = (
                f"{function}: {role} column {name!r} not found; the frame has "
                f"{_columns_listing(schema)}"
            )
            raise L2InputError(msg)


def _needs_internal(name: str) -> bool:
    """Whether a query must read the column `name` under an internal name.

    Polars would read the name as a pattern, or it could be the name of one
    of the queries' own temporary columns, which all begin with ``_``.
    """
    return name.startswith("_") or pl.col(name).meta.has_multiple_outputs()


def _check_key_dtype(
    name: str, dtype: pl.DataType, schema: pl.Schema, *, function: str
) -> None:
    # A state stores its keys as strings, so a key must have a string form.
    if dtype.is_nested() or dtype in (pl.Object, pl.Binary):
        msg = (
            f"{function}: by column {name!r} has dtype {dtype}; a segment key "
            "must be a scalar (string, categorical, integer, float, Boolean, "
            f"Decimal or temporal) column; the frame has {_columns_listing(schema)}"
        )
        raise L2InputError(msg)


def as_float64(name: str, dtype: pl.DataType, spec: Spec) -> pl.Expr:
    """Return column `name` as Float64, NaN as null under ``nan_policy="omit"``.

    The one rule for the actual and the weight, wide or long.
    """
    expr = dtypes.to_float64(pl.col(name), dtype)
    return expr.fill_nan(None) if spec.nan_policy == "omit" else expr


def counted_rows(
    error: pl.Expr, weight: pl.Expr | None, actual: pl.Expr | None = None
) -> tuple[pl.Expr, pl.Expr | None, pl.Expr | None]:
    """Return `error`, `weight` and `actual` on the rows that count, null elsewhere.

    The one rule of which rows count, for every path (the expression
    functions, the report, the state, the long form of many models): a row
    counts only where the error (so the actual and the prediction), the
    weight and the actual are all present and the weight is not zero. A row
    of weight zero counts for nothing whatever its error (``0 * inf`` would
    be NaN), so it is not in ``n`` either. Every aggregation then sees the
    same rows.
    """
    if weight is None:
        present = error.is_not_null()
        return error, None, None if actual is None else pl.when(present).then(actual)
    valid = error.is_not_null() & weight.is_not_null() & (weight != 0)
    return (
        pl.when(valid).then(error),
        pl.when(valid).then(weight),
        None if actual is None else pl.when(valid).then(actual),
    )


def same_rows(frame: pl.DataFrame | pl.LazyFrame, spec: Spec) -> bool:
    """Whether every model of `spec` counts the same rows of `frame`, read for free.

    By :func:`counted_rows`, a row counts for a model where its prediction
    is present (and the actual and the weight, which every model shares).
    Where no predicted column has a null, and none can turn missing by
    ``nan_policy="omit"`` (a float prediction could be NaN), every model
    counts the rows that the actual and the weight allow: the moments of
    those (the count, the actual's, the weights') are then the same for every
    model and computed once (:func:`polars_l2._core.moments.long_moments`).
    Only an in-memory DataFrame tells its null counts without a pass over
    the data (Polars keeps them with each column); for a LazyFrame, or a
    single model, this is False and every model's moments are its own.
    """
    if not isinstance(frame, pl.DataFrame) or len(spec.predicted) < 2:
        return False
    for name in spec.predicted:
        column = frame.get_column(name)
        if column.null_count():
            return False
        if spec.nan_policy == "omit" and column.dtype.is_float():
            return False
    return True


def counted(spec: Spec, model: str) -> tuple[pl.Expr, pl.Expr | None, pl.Expr]:
    """Return the error, weight and actual of one model's counted rows.

    See :func:`counted_rows` for which rows count. The error is ``actual -
    predicted``; the state and the report give its mean with the other sign.
    """
    schema = spec.schema
    error = dtypes.difference(
        pl.col(spec.actual),
        schema[spec.actual],
        pl.col(model),
        schema[model],
        nan_policy=spec.nan_policy,
        metric="report",
    )
    actual = as_float64(spec.actual, schema[spec.actual], spec)
    weight = (
        None
        if spec.weight is None
        else as_float64(spec.weight, schema[spec.weight], spec)
    )
    e, w, y = counted_rows(error, weight, actual)
    assert y is not None  # an actual was given
    return e, w, y

"""Vector targets: Array and List columns, one output per element.

A row's L2 loss is then the squared Euclidean distance between the two
vectors. The aggregates are computed for each output as for a scalar column
and combined the way scikit-learn's ``multioutput`` option combines them.

As in :mod:`polars_l2._core.dtypes`, every decision that depends on a dtype (scalar
or vector, the vector width, the casts) is taken in a
:func:`polars.pipe_with_dtype` callback at plan time; the plan keeps only
native expressions.

Per-output aggregation needs the number of outputs when the plan is built.
An Array dtype holds it; a List dtype does not, so a List column is
aggregated only when the width is known another way (``width=``, the number of
output weights, or an Array on the other side). Whether the rows of a List
column really have that width can only be checked on the data: that check is
an expression that fails the query with a message naming the widths met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from polars_l2._core import arguments, dtypes, options, row_checks
from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from polars_l2.typing import IntoExpr, MultiOutput, NanPolicy


def output_weights(multioutput: MultiOutput) -> str | tuple[float, ...]:
    """Return a checked `multioutput` as a mode name or a tuple of output weights."""
    if isinstance(multioutput, str):
        return multioutput
    return tuple(float(w) for w in multioutput)


@dataclass(frozen=True)
class Side:
    """One input (actual or predicted) with its resolved dtype."""

    expr: pl.Expr
    dtype: pl.DataType
    role: str

    def describe(self) -> str:
        """Name the side for an error message: its role and column."""
        return f"{self.role} {dtypes.describe(self.expr)}"

    @property
    def inner(self) -> pl.DataType:
        """The element dtype of a vector (Null for an all-null column)."""
        if isinstance(self.dtype, pl.Array | pl.List):
            inner = self.dtype.inner
            return inner if isinstance(inner, pl.DataType) else inner()
        return pl.Null()

    @property
    def is_list(self) -> bool:
        """Whether the side is a List (its width is only known from the data)."""
        return isinstance(self.dtype, pl.List)


@dataclass(frozen=True)
class _Pair:
    """Actual and predicted, resolved at plan time.

    For vectors, `width` is the number of outputs when it is known, and
    `check` (when the rows' widths can only be checked on the data) is an
    expression that is null on every row or fails the query.
    """

    a: Side
    p: Side
    vector: bool
    width: int | None = None
    check: pl.Expr | None = None

    def errors(self, *, nan_policy: NanPolicy, metric: str) -> list[pl.Expr]:
        """Return the Float64 error of each output.

        The vector difference is taken once and each output read from it:
        the in-memory engine computes the difference once for all outputs
        (common subexpression elimination). Reading each output out of both
        vectors and subtracting them as scalars was measured slower on the
        in-memory engine and in streaming ``group_by``, faster only in a
        streaming ``select``, which recomputes the difference per output.
        """
        if not self.vector:
            return [
                dtypes.difference(
                    self.a.expr,
                    self.a.dtype,
                    self.p.expr,
                    self.p.dtype,
                    nan_policy=nan_policy,
                    metric=metric,
                )
            ]
        assert self.width is not None  # aggregates require a known width
        d = self.difference()
        errors = [element(d, j) for j in range(self.width)]
        if nan_policy == "omit":
            errors = [e.fill_nan(None) for e in errors]
        return errors

    def difference(self) -> pl.Expr:
        """Return the Float64 vector difference (an Array if the width is known)."""
        a, p = (self._checked(side) for side in (self.a, self.p))
        return _difference(a, self.a.inner, p, self.p.inner, self.width)

    def squared_distance(self, *, nan_policy: NanPolicy, metric: str) -> pl.Expr:
        """Return the per-row squared error, or squared Euclidean distance."""
        if not self.vector:
            (e,) = self.errors(nan_policy=nan_policy, metric=metric)
            return e.pow(2)
        d = self.difference()
        if self.width is None:
            present = d.list.count_matches(None) == 0
            total = (d * d).list.sum()
        else:
            present = d.arr.count_matches(None) == 0
            total = d.arr.dot(d)
        # A missing element makes the distance unknown: null, not a partial
        # sum over the present elements.
        sq = pl.when(present).then(total)
        # A sum of squares is NaN only where an element is NaN.
        return sq.fill_nan(None) if nan_policy == "omit" else sq

    def _checked(self, side: Side) -> pl.Expr:
        """Return a side as an Array of the known width (or a List), checked."""
        if not side.is_list:
            return side.expr
        # The check comes before the vectors meet: Polars' own error for
        # unequal lengths would otherwise come first, without the columns.
        expr = (
            pl.when(self.check.is_null()).then(side.expr)
            if self.check is not None
            else side.expr
        )
        return expr if self.width is None else expr.list.to_array(self.width)


def squared_distance(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    width: int | None,
    nan_policy: NanPolicy,
    metric: str,
) -> pl.Expr:
    """Per-row squared error (scalars) or squared Euclidean distance (vectors)."""
    return _resolve(
        actual,
        predicted,
        width=width,
        n_weights=None,
        need_width=False,
        metric=metric,
        finish=lambda pair: pair.squared_distance(nan_policy=nan_policy, metric=metric),
        nan_policy=nan_policy,
    )


def aggregate(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    per_output: Callable[[pl.Expr], pl.Expr],
    root: bool,
    multioutput: MultiOutput,
    width: int | None,
    nan_policy: NanPolicy,
    metric: str,
) -> pl.Expr:
    """Aggregate each output's Float64 error with `per_output`, then combine.

    `per_output` maps one output's error to its aggregate of squares (SSE or
    MSE); `root` takes the square root of each (RMSE). A scalar column is one
    output.
    """
    options.check(f"polars_l2.{metric}", multioutput=multioutput)
    mode = output_weights(multioutput)
    n_weights = None if isinstance(mode, str) else len(mode)

    def finish(pair: _Pair) -> pl.Expr:
        errors = pair.errors(nan_policy=nan_policy, metric=metric)
        return _combine([per_output(e) for e in errors], mode=mode, root=root)

    return _resolve(
        actual,
        predicted,
        width=width,
        n_weights=n_weights,
        need_width=True,
        metric=metric,
        finish=finish,
        nan_policy=nan_policy,
    )


def _combine(
    values: list[pl.Expr], *, mode: str | tuple[float, ...], root: bool
) -> pl.Expr:
    """Combine per-output aggregates of squares as `multioutput` says."""
    per = [v.sqrt() for v in values] if root else values
    if mode == "raw_values":
        return pl.concat_arr(per)
    if mode == "sum":
        total = _sum(values)
        return total.sqrt() if root else total
    if len(per) == 1:
        # One output: its value is every average of it (the scalar path).
        return per[0]
    if mode == "uniform_average":
        return _sum(per) / len(per)
    assert isinstance(mode, tuple)
    # An output with weight 0 is left out, so it cannot make the result null.
    kept = [(w, v) for w, v in zip(mode, per, strict=True) if w != 0]
    total_weight = math.fsum(w for w, _ in kept)
    return _sum([v * (w / total_weight) for w, v in kept])


def _sum(exprs: list[pl.Expr]) -> pl.Expr:
    """Sum over outputs; null if any output is null (it has no data)."""
    return exprs[0] if len(exprs) == 1 else pl.sum_horizontal(exprs, ignore_nulls=False)


def _resolve(
    actual: IntoExpr,
    predicted: IntoExpr,
    *,
    width: int | None,
    n_weights: int | None,
    need_width: bool,
    nan_policy: NanPolicy,
    metric: str,
    finish: Callable[[_Pair], pl.Expr],
) -> pl.Expr:
    """Dispatch on the input dtypes at plan time and build the metric."""
    options.check(f"polars_l2.{metric}", nan_policy=nan_policy, width=width)
    a = arguments.parse_into_expr(actual, role="actual")
    p = arguments.parse_into_expr(predicted, role="predicted")

    def build(inputs: list[tuple[pl.Expr, pl.DataType]]) -> pl.Expr:
        (a_expr, a_dtype), (p_expr, p_dtype) = inputs
        a_side = Side(a_expr, a_dtype, "actual")
        p_side = Side(p_expr, p_dtype, "predicted")
        if not (dtypes.is_vector(a_dtype) or dtypes.is_vector(p_dtype)):
            _check_scalar_width(a_side, p_side, width, n_weights, metric)
            return finish(_Pair(a_side, p_side, vector=False))
        return finish(
            _vector_pair(
                a_side,
                p_side,
                width=width,
                n_weights=n_weights,
                need_width=need_width,
                metric=metric,
            )
        )

    return pl.pipe_with_dtype([a, p], build)


def _check_scalar_width(
    a: Side, p: Side, width: int | None, n_weights: int | None, metric: str
) -> None:
    """Refuse a width or output weights for scalars, which are one output."""
    if width not in (None, 1):
        msg = (
            f"polars_l2.{metric}: width={width} was given, but {a.describe()} "
            f"({a.dtype}) and {p.describe()} ({p.dtype}) are scalar columns, "
            "which have one output"
        )
        raise L2InputError(msg)
    if n_weights not in (None, 1):
        msg = (
            f"polars_l2.{metric}: multioutput has {n_weights} output weights, "
            f"but {a.describe()} ({a.dtype}) and {p.describe()} ({p.dtype}) are "
            "scalar columns, which have one output"
        )
        raise L2InputError(msg)


def check_inner(side: Side, metric: str) -> None:
    """Raise unless a side is a vector of numbers or Booleans (or all null).

    The element dtype obeys :func:`polars_l2._core.dtypes.is_metric_dtype`,
    the rule for scalar columns.
    """
    if not dtypes.is_vector(side.dtype):
        if dtypes.is_metric_dtype(side.dtype):
            return  # a scalar (or all null) facing a vector: reported by the caller
    elif dtypes.is_metric_dtype(side.inner):
        return
    msg = (
        f"polars_l2.{metric}: {side.describe()} has dtype {side.dtype}; expected "
        "a numeric or Boolean column, or a vector (a 1-dimensional Array, or a "
        "List) of numeric or Boolean values"
    )
    raise L2InputError(msg)


def _check_exact_without_width(a: Side, p: Side, k: int | None, metric: str) -> None:
    """Refuse Lists of unknown width whose exact difference needs the width.

    The exact difference of 128-bit integers and Decimals compares the two
    sides element by element, which Polars does on Arrays (one output at a
    time) but not on Lists of unknown width. Rounding each side first would
    be silently wrong, so ask for the width.
    """
    if k is not None:
        return
    if dtypes.vector_difference(a.expr, a.inner, p.expr, p.inner, k) is not None:
        return
    msg = (
        f"polars_l2.{metric}: {a.describe()} ({a.dtype}) and {p.describe()} "
        f"({p.dtype}) are exactly subtracted element by element, which needs "
        "the number of outputs: pass width=<number of outputs>, or cast to "
        "pl.Array(<inner>, <width>)"
    )
    raise L2InputError(msg)


def _vector_pair(
    a: Side,
    p: Side,
    *,
    width: int | None,
    n_weights: int | None,
    need_width: bool,
    metric: str,
) -> _Pair:
    """Check two inputs, one at least a vector, at plan time."""
    check_inner(a, metric)
    check_inner(p, metric)
    for side, other in ((a, p), (p, a)):
        if not dtypes.is_vector(side.dtype) and side.dtype != pl.Null:
            msg = (
                f"polars_l2.{metric}: {other.describe()} is a vector "
                f"({other.dtype}) but {side.describe()} is not ({side.dtype}); "
                "both must be vectors (Array or List) of the same width, or both "
                "scalar columns"
            )
            raise L2InputError(msg)
    k, source = _known_width(a, p, width, n_weights, metric)
    if k is None and need_width:
        msg = (
            f"polars_l2.{metric}: {a.describe()} ({a.dtype}) and {p.describe()} "
            f"({p.dtype}) do not fix the number of outputs in their dtype, which "
            "a per-output aggregate needs; pass width=<number of outputs>, give "
            "output weights in multioutput, or cast to pl.Array(<inner>, <width>)"
        )
        raise L2InputError(msg)
    a, p = _null_as_vector(a, k), _null_as_vector(p, k)
    _check_exact_without_width(a, p, k, metric)
    return _Pair(
        a, p, vector=True, width=k, check=_width_check(a, p, k, source, metric)
    )


def _known_width(
    a: Side, p: Side, width: int | None, n_weights: int | None, metric: str
) -> tuple[int | None, str]:
    """Return the number of outputs fixed at plan time, and what fixes it."""
    claims = [
        (side.dtype.size, f"{side.describe()} has dtype {side.dtype}")
        for side in (a, p)
        if isinstance(side.dtype, pl.Array)
    ]
    if width is not None:
        claims.append((width, f"width={width} was given"))
    if n_weights is not None:
        claims.append((n_weights, f"multioutput has {n_weights} output weights"))
    if len({k for k, _ in claims}) > 1:
        # One clause per width: the claims that agree are said together.
        by_width: dict[int, list[str]] = {}
        for k, why in claims:
            by_width.setdefault(k, []).append(why)
        detail = " but ".join(
            f"{' and '.join(whys)} (width {k})" for k, whys in by_width.items()
        )
        msg = f"polars_l2.{metric}: vector widths differ: {detail}"
        raise L2InputError(msg)
    if not claims:
        return None, ""
    k, source = claims[0]
    if k == 0:
        msg = f"polars_l2.{metric}: {source}: a vector needs at least one output"
        raise L2InputError(msg)
    return k, source


def _null_as_vector(side: Side, k: int | None) -> Side:
    """Turn an all-null (Null dtype) input facing a vector into null vectors."""
    if side.dtype != pl.Null:
        return side
    target = pl.Array(pl.Float64, k) if k is not None else pl.List(pl.Float64)
    return Side(side.expr.cast(target), target, side.role)


def _width_check(
    a: Side, p: Side, k: int | None, source: str, metric: str
) -> pl.Expr | None:
    """Return an expression that fails the query where List rows' widths are wrong.

    The width of a List row is only known from the data. Polars has no
    expression that raises, so the check builds a message for the offending
    rows only and casts it, strictly, to an integer: the cast fails, and
    Polars' error quotes the message. Elsewhere the result is null. None when
    there is nothing to check (two Arrays).
    """
    lists = [s for s in (a, p) if isinstance(s.dtype, pl.List)]
    if not lists:
        return None
    length = {
        s.role: s.expr.list.len() if isinstance(s.dtype, pl.List) else pl.lit(k)
        for s in (a, p)
    }
    if k is None:
        bad = length["actual"] != length["predicted"]
        expected = ""
    else:
        bad = pl.any_horizontal([length[s.role] != k for s in lists])
        expected = f"; expected width {k}, as {source}"

    def width_of(role: str) -> pl.Expr:
        # Only the offending rows get a string; the others stay null and cheap.
        return pl.when(bad).then(length[role]).cast(pl.String)

    return row_checks.fail_where(
        [
            pl.lit(
                f"polars_l2.{metric}: vectors of different widths in one row: "
                f"{a.describe()} has width "
            ),
            width_of("actual"),
            pl.lit(f", {p.describe()} has width "),
            width_of("predicted"),
            pl.lit(expected),
        ]
    )


#: Whether ``arr.get`` gives null where the whole Array is null. Polars
#: 2.0.0's reads the values under the null (the buffer a null Array keeps);
#: 2.1.0 and later give null.
_GET_GIVES_NULL = tuple(int(part) for part in pl.__version__.split(".")[:2]) >= (2, 1)


def element(vector: pl.Expr, j: int) -> pl.Expr:
    """Return element `j` of an Array, null where the whole Array is null.

    On Polars 2.0.0 the null is applied here (:data:`_GET_GIVES_NULL`); later
    versions give it themselves, and the mask, a pass over every row per
    output, is left out (benchmark case 6).
    """
    got = vector.arr.get(j)
    return got if _GET_GIVES_NULL else pl.when(vector.is_not_null()).then(got)


def _difference(
    a: pl.Expr, a_inner: pl.DataType, p: pl.Expr, p_inner: pl.DataType, k: int | None
) -> pl.Expr:
    """Float64 vector ``a - p`` by the scalar rule, element by element.

    The rule is :func:`polars_l2._core.dtypes.exact_difference`: whole vectors
    where :func:`polars_l2._core.dtypes.vector_difference` can, otherwise each
    of the `k` outputs by the scalar rule itself. `a` and `p` are Arrays of
    width `k`, or Lists when `k` is None.
    """
    whole = dtypes.vector_difference(a, a_inner, p, p_inner, k)
    if whole is not None:
        return whole
    assert k is not None  # refused at plan time by _check_exact_without_width
    return pl.concat_arr(
        [
            dtypes.exact_difference(element(a, j), a_inner, element(p, j), p_inner)
            for j in range(k)
        ]
    )

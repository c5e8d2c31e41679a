"""Turn user inputs into validated Float64 expressions, at plan time.

Every metric goes through here. The dtype of an input is only known once the
plan is resolved against a schema, so validation and the choice of casts run
inside :func:`polars.pipe_with_dtype`: its callback runs while the plan is
resolved, never on data, and the plan keeps only the native expression it
returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

from polars_l2.exceptions import L2InputError

if TYPE_CHECKING:
    from polars_l2.typing import NanPolicy

_F64 = pl.Float64()
_I64 = pl.Int64()
_I128 = pl.Int128()
_INT128_MAX = 2**127 - 1
#: Integers up to this magnitude are exact in Float64 (53-bit significand).
_EXACT_IN_F64 = 2**53
#: The 64-bit rule splits at bit 32: both halves are exact in Float64.
_HALF = 2**32
#: Where the 128-bit rule's quotient q is below this, 4q + t is small enough to
#: compute exactly; otherwise |4q + t| >= 2**61 and a sticky bit is sound.
_SMALL_QUOTIENT = 2**60
#: The largest power of ten exact in Float64 (5**22 < 2**53).
_EXACT_POWER_OF_TEN = 22
#: Decimal digits Polars holds (Decimal(38, s)).
_DIGITS = 38
#: Below this, a difference checked in Float64 is surely below 10**38.
_NEAR = 5e37
_INTEGER_BITS: dict[type[pl.DataType], int] = {
    pl.Int8: 8,
    pl.Int16: 16,
    pl.Int32: 32,
    pl.Int64: 64,
    pl.Int128: 128,
    pl.UInt8: 8,
    pl.UInt16: 16,
    pl.UInt32: 32,
    pl.UInt64: 64,
    pl.UInt128: 128,
}


def describe(expr: pl.Expr) -> str:
    """Name an expression the way a user wrote it, for error messages."""
    if expr.meta.is_column():
        return f"column {expr.meta.output_name()!r}"
    return f"expression `{expr}`"


def is_metric_dtype(dtype: pl.DataType) -> bool:
    """Whether a column of `dtype` can be an actual, a prediction or a weight.

    The one rule for every path: numbers (integers of any width, floats,
    Decimals), Booleans (0 and 1) and Null (an all-null column).

    Examples
    --------
    >>> is_metric_dtype(pl.Decimal(38, 18)), is_metric_dtype(pl.String())
    (True, False)
    """
    return dtype.is_numeric() or dtype in (pl.Boolean, pl.Null)


def unreadable_column(schema: pl.Schema) -> str | None:
    """Return why Polars cannot compute with a column of `schema`, or None.

    A Decimal of precision above 38 (an Arrow ``decimal256``, which a scan
    of a Feather file reports) makes Polars panic when it reads the data.

    Examples
    --------
    >>> print(unreadable_column(pl.Schema({"y": pl.Decimal(40, 2)})))
    ... # doctest: +ELLIPSIS
    column 'y' has dtype Decimal(precision=40, scale=2), a 256-bit decimal ...
    >>> unreadable_column(pl.Schema({"y": pl.Decimal(38, 2)})) is None
    True
    """
    for name, dtype in schema.items():
        reason = _unreadable(dtype)
        if reason is not None:
            return f"column {name!r} {reason}"
    return None


def _unreadable(dtype: pl.DataType) -> str | None:
    """:func:`unreadable_column` of one dtype: the reason, after the name."""
    inner: pl.DataType | None = dtype
    while inner is not None:
        if isinstance(inner, pl.Decimal) and (inner.precision or 0) > _DIGITS:
            return (
                f"has dtype {dtype}, a 256-bit decimal that Polars cannot read: "
                "cast it to decimal128 (precision at most 38) or float64 first"
            )
        nested = inner.inner if isinstance(inner, pl.List | pl.Array) else None
        inner = nested if isinstance(nested, pl.DataType) else None
    return None


def is_vector(dtype: pl.DataType) -> bool:
    """Whether `dtype` holds one vector per row (an Array or a List)."""
    return isinstance(dtype, pl.Array | pl.List)


#: What a metric's column must be, and how to make it so: the end of the
#: message that refuses another dtype, wherever it is refused.
EXPECTED = (
    "expected a numeric or Boolean column (cast it first, for example with "
    ".cast(pl.Float64))"
)


def check_dtype(expr: pl.Expr, dtype: pl.DataType, *, role: str, metric: str) -> None:
    """Raise :class:`L2InputError` unless :func:`is_metric_dtype` accepts `dtype`."""
    wide = _unreadable(dtype)
    if wide is not None:
        msg = f"polars_l2.{metric}: {role} {describe(expr)} {wide}"
        raise L2InputError(msg)
    if is_metric_dtype(dtype):
        return
    msg = f"polars_l2.{metric}: {role} {describe(expr)} has dtype {dtype}; {EXPECTED}"
    raise L2InputError(msg)


def to_float64(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Cast to Float64 unless already Float64 (keeps the plan minimal)."""
    return expr if dtype == pl.Float64 else expr.cast(pl.Float64)


def exact_difference(
    actual: pl.Expr, a_dtype: pl.DataType, predicted: pl.Expr, p_dtype: pl.DataType
) -> pl.Expr:
    """Return the Float64 ``actual - predicted``, subtracted before it is rounded.

    The one exact-difference rule, for scalars and (element by element) for
    vectors. Casting each side to Float64 first would round 64- and 128-bit
    integers and Decimals to 53 bits, and the difference of two close large
    values would lose all its digits:

    - two integers (8 to 128 bits, signed or unsigned, Boolean as 0/1): the
      correctly rounded Float64 of the exact difference;
    - Decimals, or a Decimal and an integer: the exact difference ``D`` in
      units of ``10**-S`` (``S`` the larger scale), correctly rounded where
      |D| < 5e37, within 1.5 units in the last place beyond. Where a side
      rescaled to ``S`` exceeds Int128 (1.7e38 units), the other side is
      below 1e38 units, so there is no cancellation: each side is cast
      (relative error below 5 * 2**-53);
    - an integer or a Decimal facing a float: each side cast (the float is
      already rounded to 53 bits), then subtracted;
    - anything else (floats, Booleans, Null, integers of at most 32 bits):
      each side cast, which is exact, then subtracted, which rounds once.

    Polars wraps silently on Int64 and Int128 overflow and raises on Decimal
    overflow; this rule does neither.

    Examples
    --------
    >>> df = pl.DataFrame(
    ...     {"y": [2**127 - 1], "p": [-(2**127)]},
    ...     schema={"y": pl.Int128, "p": pl.Int128},
    ... )
    >>> rule = exact_difference(pl.col("y"), pl.Int128(), pl.col("p"), pl.Int128())
    >>> df.select(rule).item() == float(2**128 - 1)
    True
    """
    kind = _difference_kind(a_dtype, p_dtype)
    if kind == "integer":
        a, p = _Int.of(actual, a_dtype), _Int.of(predicted, p_dtype)
        return _integer_difference(a, p)
    if kind == "decimal":
        return _decimal_difference(actual, a_dtype, predicted, p_dtype)
    return to_float64(actual, a_dtype) - to_float64(predicted, p_dtype)


def vector_difference(
    actual: pl.Expr,
    a_inner: pl.DataType,
    predicted: pl.Expr,
    p_inner: pl.DataType,
    width: int | None,
) -> pl.Expr | None:
    """Return :func:`exact_difference` of two vectors at once, where possible.

    `actual` and `predicted` are Arrays of `width` elements, or Lists when
    `width` is None; the result is the same container of Float64, each
    element exactly what :func:`exact_difference` gives for that pair:

    - where the rule casts each side, the vectors are cast;
    - integers of at most 64 bits are subtracted in Int128, which holds every
      such difference, and rounded once by Polars' correctly rounding cast:
      the same value as the scalar form, which avoids Int128 for speed, while
      on vectors Int128 was measured faster than the split;
    - Decimals of a List whose declared precisions keep every difference
      below 38 digits are rescaled in a :meth:`polars.Expr.list.eval`.

    None where the rule compares the two sides element by element (128-bit
    integers, Decimals that may reach 38 digits, Decimal Arrays): the caller
    subtracts output by output, or asks for the width of a List.
    """

    def container(inner: pl.DataType) -> pl.DataType:
        return pl.Array(inner, width) if width is not None else pl.List(inner)

    kind = _difference_kind(a_inner, p_inner)
    if kind == "cast":
        a64 = actual if a_inner == pl.Float64 else actual.cast(container(_F64))
        p64 = predicted if p_inner == pl.Float64 else predicted.cast(container(_F64))
        return a64 - p64
    if kind == "integer" and max(map(_integer_bound, (a_inner, p_inner))) < 2**64:
        wide = container(_I128)
        diff = actual.cast(wide) - predicted.cast(wide)
        return diff.cast(container(_F64))
    if kind == "decimal" and width is None:
        return _decimal_list_difference(actual, a_inner, predicted, p_inner)
    return None


def _difference_kind(a_dtype: pl.DataType, p_dtype: pl.DataType) -> str:
    """Which branch of the exact-difference rule a pair of dtypes takes."""
    if isinstance(a_dtype, pl.Decimal) or isinstance(p_dtype, pl.Decimal):
        if all(_is_exact_number(d) for d in (a_dtype, p_dtype)):
            return "decimal"
        return "cast"
    if (
        _is_integer(a_dtype)
        and _is_integer(p_dtype)
        and max(_integer_bound(a_dtype), _integer_bound(p_dtype)) > _EXACT_IN_F64
    ):
        return "integer"
    return "cast"


def _is_integer(dtype: pl.DataType) -> bool:
    return dtype.is_integer() or dtype == pl.Boolean


def _is_exact_number(dtype: pl.DataType) -> bool:
    return _is_integer(dtype) or isinstance(dtype, pl.Decimal)


def _integer_bound(dtype: pl.DataType) -> int:
    """Return the largest magnitude a value of an integer (or Boolean) dtype has."""
    if dtype == pl.Boolean:
        return 1
    bits = _INTEGER_BITS[type(dtype)]
    return 1 << (bits - 1) if dtype.is_signed_integer() else (1 << bits) - 1


#: A side split as ``hi + lo``; hi is None where the side needs no split.
_Halves = tuple[pl.Expr | None, pl.Expr]


@dataclass(frozen=True)
class _Int:
    """An integer-valued side: its expression, dtype and a bound on magnitude."""

    expr: pl.Expr
    dtype: pl.DataType
    bound: int

    @classmethod
    def of(cls, expr: pl.Expr, dtype: pl.DataType) -> _Int:
        if dtype == pl.Boolean:
            return cls(expr.cast(pl.UInt8), pl.UInt8(), 1)
        return cls(expr, dtype, _integer_bound(dtype))

    def has_halves(self) -> bool:
        """Whether :func:`_halves` can split the side (at most 64 bits)."""
        return self.bound <= 2**52 or self.dtype in (pl.Int64, pl.UInt64)

    def narrowed(self) -> _Int:
        """Cast an Int128 whose bound allows it to Int64 (cheaper rule).

        The cast wraps instead of checking each value: the bound (for a
        Decimal, its declared precision, which Arrow and Polars require every
        value to keep) proves that nothing wraps, and a checked cast costs
        about twice the rest of a Decimal(12, 2) difference.
        """
        if self.dtype == pl.Int128 and self.bound < 2**63:
            return _Int(self.expr.cast(_I64, wrap_numerical=True), _I64, self.bound)
        return self


def _integer_difference(a: _Int, p: _Int) -> pl.Expr:
    """Correctly rounded Float64 of the exact ``a - p`` of two integer sides."""
    if max(a.bound, p.bound) <= _EXACT_IN_F64:
        # Both casts are exact, and IEEE subtraction rounds once.
        return a.expr.cast(_F64) - p.expr.cast(_F64)
    same = _same_64_bits(a, p)
    if same is not None:
        a64, p64, signed = same
        return _sign_rule_difference(a64, p64, signed=signed)
    if a.has_halves() and p.has_halves():
        return _combine_halves(_halves(a), _halves(p))
    return _int128_difference(a, p)


def _same_64_bits(a: _Int, p: _Int) -> tuple[pl.Expr, pl.Expr, bool] | None:
    """Return both sides in one 64-bit dtype (Int64 or UInt64), and if signed.

    Where both fit Int64 (signed sides of at most 64 bits, unsigned of at
    most 32), or both are unsigned: the narrower side is cast, which is
    exact. None for a UInt64 facing a signed side (the halves rule).
    """
    signed = [s.dtype.is_signed_integer() for s in (a, p)]
    if all(s.bound < 2**63 or s.dtype == pl.Int64 for s in (a, p)):
        dtype: pl.DataType = _I64
    elif not any(signed) and max(a.bound, p.bound) < 2**64:
        dtype = pl.UInt64()
    else:
        return None

    def wide(side: _Int) -> pl.Expr:
        return side.expr if side.dtype == dtype else side.expr.cast(dtype)

    return wide(a), wide(p), dtype == _I64


def _sign_rule_difference(a: pl.Expr, p: pl.Expr, *, signed: bool) -> pl.Expr:
    """Correctly rounded Float64 of ``a - p``, both Int64 (or both UInt64).

    ``d = a - p`` is subtracted in the sides' own dtype, which wraps
    silently. It has not wrapped exactly where its sign agrees with the
    comparison ``a >= p``; there ``d`` is exact and cast once. Where it
    wrapped, the exact difference ``D`` has ``2**63 <= |D| < 2**64``, and
    ``|D|`` is the bit pattern of ``d`` (``D > 0``) or of ``-d`` (``D < 0``)
    read as a UInt64, cast once. Unsigned, ``d`` wrapped exactly where
    ``a < p``, and then ``p - a`` is exact. Cheaper than splitting each side
    into 32-bit halves; benchmark case 5 measures it against the inexact
    ``a.cast(Float64) - p.cast(Float64)``.
    """
    d = a - p
    if not signed:
        return pl.when(a >= p).then(d.cast(_F64)).otherwise(-((p - a).cast(_F64)))
    wrapped_positive = d.reinterpret(signed=False).cast(_F64)
    wrapped_negative = -((-d).reinterpret(signed=False).cast(_F64))
    # The first branch is the common one; keep it first (benchmark case 5).
    return (
        pl.when((a >= p) == (d >= 0))
        .then(d.cast(_F64))
        .when(d < 0)
        .then(wrapped_positive)
        .otherwise(wrapped_negative)
    )


def _halves(side: _Int) -> _Halves:
    """Split a side of at most 64 bits as ``hi + lo``, both exact in Float64.

    ``hi`` is the side with its low 32 bits cleared, as Float64 (a multiple
    of 2**32 below 2**64: at most 32 significant bits; None where the side is
    below 2**52 and needs no split); ``lo`` is the low 32 bits, as Int64.
    """
    if side.bound <= 2**52:
        return None, side.expr.cast(_I64)
    dtype = side.dtype
    high_mask = -_HALF if dtype == pl.Int64 else 2**64 - _HALF
    hi = (side.expr & pl.lit(high_mask, dtype)).cast(_F64)
    lo = (side.expr & pl.lit(_HALF - 1, dtype)).cast(_I64)
    return hi, lo


def _combine_halves(a: _Halves, p: _Halves) -> pl.Expr:
    """Return ``(a_hi - p_hi) + (a_lo - p_lo)``, rounded once.

    ``a_hi - p_hi`` is a multiple of 2**32 below 2**65 and ``a_lo - p_lo``
    (in Int64) is below 2**53: both are exact in Float64, so the one
    addition is the only rounding.
    """
    (a_hi, a_lo), (p_hi, p_lo) = a, p
    lo = (a_lo - p_lo).cast(_F64)
    if a_hi is not None and p_hi is not None:
        return (a_hi - p_hi) + lo
    if a_hi is not None:
        return a_hi + lo
    assert p_hi is not None  # one side at least is above 2**53
    return lo - p_hi


def _int128_difference(a: _Int, p: _Int) -> pl.Expr:
    """Correctly rounded Float64 of ``a - p`` for sides up to 128 bits.

    Int128 arithmetic wraps silently on overflow in Polars, and the exact
    difference needs up to 129 bits. Each side is split as ``x = 4h + r``
    (floor division, 0 <= r < 4); ``q = h_a - h_b`` fits Int128, and the
    difference is ``4q + t`` with ``t = r_a - r_b`` in [-3, 3]:

    - where |q| < 2**60, ``4q + t`` is computed exactly and cast once (Polars'
      Int128 cast rounds correctly, to nearest even);
    - elsewhere |4q + t| >= 2**61, whose rounding bit is far above bit 2, so
      ``4 * (z | sticky)`` rounds the same way, with ``z = floor((4q + t) / 4)``
      and ``sticky = (t != 0)``: both values lie strictly between the same two
      multiples of 8, and every rounding boundary there is a multiple of 8.
    """
    (h_a, r_a), (h_p, r_p) = _quarters(a), _quarters(p)
    q = h_a - h_p
    t = r_a - r_p
    near = (q * 4 + t).cast(_F64)
    z = q - (t < 0).cast(_I128)
    far = (z | (t != 0).cast(_I128)).cast(_F64) * 4.0
    return pl.when(q.abs() < _SMALL_QUOTIENT).then(near).otherwise(far)


def _quarters(side: _Int) -> tuple[pl.Expr, pl.Expr]:
    """Return ``h = x // 4`` and ``r = x mod 4`` of a side, as Int128."""
    four = pl.lit(4, side.dtype)
    three = pl.lit(3, side.dtype)
    return (side.expr // four).cast(_I128), (side.expr & three).cast(_I128)


def _decimal_difference(
    actual: pl.Expr, a_dtype: pl.DataType, predicted: pl.Expr, p_dtype: pl.DataType
) -> pl.Expr:
    """Float64 ``actual - predicted`` of Decimals, or of a Decimal and an integer.

    Both sides become integers at the larger scale ``S`` (a Decimal's
    physical Int128, times ``10**k`` for a smaller scale): see
    :func:`_scaled_difference`. Where a rescaled side would not fit Int128,
    the other side is far smaller (see :func:`exact_difference`) and each
    side is cast instead. Polars' own Decimal subtraction raises where a
    rescaled side or the result exceeds 38 digits; this never does.
    """
    scale = max(_scale(a_dtype), _scale(p_dtype))
    a, a_fits = _at_scale(actual, a_dtype, scale)
    p, p_fits = _at_scale(predicted, p_dtype, scale)
    exact = _scaled_difference(a, p, scale, present=actual.is_not_null())
    fits = [f for f in (a_fits, p_fits) if f is not None]
    if not fits:
        return exact
    per_side = to_float64(actual, a_dtype) - to_float64(predicted, p_dtype)
    return pl.when(pl.all_horizontal(fits)).then(exact).otherwise(per_side)


def _scaled_difference(a: _Int, p: _Int, scale: int, *, present: pl.Expr) -> pl.Expr:
    """Float64 of ``(a - p) * 10**-scale`` for integer sides at that scale.

    `present` is true where the actual is not null (the rows where the
    result can be).

    Where the difference ``D`` is below 5e37 (checked in Float64, whose error
    here is below 1e23), it is exact in Int128 and :func:`_units_to_float`
    rounds it correctly. Beyond that, ``D`` is rounded once by
    :func:`_integer_difference` and divided by ``10**S``: within 1.5 units in
    the last place.
    """
    if scale == 0:
        return _integer_difference(a, p)
    if a.bound + p.bound <= _EXACT_IN_F64 and scale <= _EXACT_POWER_OF_TEN:
        # The difference, below 2**53, is exact in Int64 and in Float64, as
        # is 10**scale, and IEEE division rounds once: correctly rounded,
        # without Int128 arithmetic (benchmark case 5, Decimal(12, 2)). The
        # divisor is a column: Polars divides by a scalar as a product with
        # its reciprocal, which rounds twice (-3.0 / 10.0 gives
        # -0.30000000000000004). It is built from the actual's validity
        # alone: built from the units, the streaming engine (no common
        # subexpressions) would compute them twice. A when/then would not
        # do: the in-memory engine turns one whose condition is all true
        # into the scalar.
        units = (a.expr.cast(_I64) - p.expr.cast(_I64)).cast(_F64)
        return units / (present.cast(_F64) * float(10**scale))
    wide_a, wide_p = a.expr.cast(_I128), p.expr.cast(_I128)
    if a.bound + p.bound < 10**_DIGITS:
        return _units_to_float(wide_a - wide_p, scale)
    near = (wide_a.cast(_F64) - wide_p.cast(_F64)).abs() < _NEAR
    exact = _units_to_float(pl.when(near).then(wide_a - wide_p), scale)
    rounded = _integer_difference(a, p) / float(10**scale)
    return pl.when(near).then(exact).otherwise(rounded)


def _units_to_float(units: pl.Expr, scale: int) -> pl.Expr:
    """Correctly rounded Float64 of ``units * 10**-scale``, |units| < 10**38.

    The Int128 count is read as a Decimal(38, scale), whose Float64 cast
    Polars rounds correctly (dividing in Float64 would round twice).
    """
    if scale == 0:
        return units.cast(_F64)
    one = pl.lit(Decimal(f"1E-{scale}"), pl.Decimal(_DIGITS, scale))
    return (units.cast(pl.Decimal(_DIGITS, 0)) * one).cast(_F64)


def _decimal_list_difference(
    actual: pl.Expr, a_inner: pl.DataType, predicted: pl.Expr, p_inner: pl.DataType
) -> pl.Expr | None:
    """Return the List form of :func:`_decimal_difference`, where none is checked.

    That is where the declared precisions guarantee that the rescaled sides
    and their difference stay below 10**38: each side is rescaled in a
    :meth:`polars.Expr.list.eval`, the Int128 Lists are subtracted, and the
    difference is read as in :func:`_units_to_float`.
    """
    scale = max(_scale(a_inner), _scale(p_inner))
    a, a_fits = _at_scale(pl.element(), a_inner, scale)
    p, p_fits = _at_scale(pl.element(), p_inner, scale)
    if a_fits is not None or p_fits is not None or a.bound + p.bound >= 10**_DIGITS:
        return None
    units = actual.list.eval(a.expr.cast(_I128)) - predicted.list.eval(
        p.expr.cast(_I128)
    )
    return units.list.eval(_units_to_float(pl.element(), scale))


def _scale(dtype: pl.DataType) -> int:
    return dtype.scale if isinstance(dtype, pl.Decimal) else 0


def _at_scale(
    expr: pl.Expr, dtype: pl.DataType, scale: int
) -> tuple[_Int, pl.Expr | None]:
    """Return a side as an integer count of ``10**-scale``, and where it fits.

    The second value is None when every value fits Int128 after rescaling;
    otherwise a Boolean expression, and the integer is null where it is false.
    """
    if isinstance(dtype, pl.Decimal):
        side = _Int(expr.to_physical(), _I128, 10**dtype.precision - 1)
    else:
        side = _Int.of(expr, dtype)
    k = scale - _scale(dtype)
    if k == 0:
        return side.narrowed(), None
    factor = 10**k
    if side.bound * factor < 2**63:
        # Rescaled in Int64, which holds every value: cheaper than Int128.
        narrow = side.narrowed().expr.cast(_I64)
        return _Int(narrow * pl.lit(factor, _I64), _I64, side.bound * factor), None
    limit = _INT128_MAX // factor
    fits = None
    value = side.expr
    if side.bound > limit:
        bound = pl.lit(limit, side.dtype)
        fits = value <= bound
        if side.dtype.is_signed_integer():
            fits &= value >= -bound
        value = pl.when(fits).then(value)
    scaled = value.cast(_I128) * pl.lit(factor, _I128)
    return _Int(scaled, _I128, min(side.bound, limit) * factor), fits


def difference(
    a_expr: pl.Expr,
    a_dtype: pl.DataType,
    p_expr: pl.Expr,
    p_dtype: pl.DataType,
    *,
    nan_policy: NanPolicy,
    metric: str,
) -> pl.Expr:
    """Return the checked Float64 ``actual - predicted`` of inputs of known dtypes.

    For callers inside a plan-time callback (:func:`polars.pipe_with_dtype`).
    """
    check_dtype(a_expr, a_dtype, role="actual", metric=metric)
    check_dtype(p_expr, p_dtype, role="predicted", metric=metric)
    diff = exact_difference(a_expr, a_dtype, p_expr, p_dtype)
    return diff.fill_nan(None) if nan_policy == "omit" else diff


def weight(w: pl.Expr, *, nan_policy: NanPolicy, metric: str) -> pl.Expr:
    """Float64 expression for a weight column, validated at plan time."""

    def build(w_expr: pl.Expr, w_dtype: pl.DataType) -> pl.Expr:
        check_dtype(w_expr, w_dtype, role="weight", metric=metric)
        w64 = to_float64(w_expr, w_dtype)
        return w64.fill_nan(None) if nan_policy == "omit" else w64

    return w.pipe_with_dtype(build)

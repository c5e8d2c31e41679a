"""The fast routes of the exact-difference rule give the correctly rounded value.

64-bit integers go by the sign rule (subtract in 64 bits, detect the wrap);
Decimals whose counts stay below 2**53 go through Float64 without Int128. The
references are Python's exact integers and fractions: ``float(Fraction)`` and
``float(int)`` round correctly.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from polars_l2._core import dtypes

I64 = (-(2**63), 2**63 - 1)
U64 = (0, 2**64 - 1)


def _difference(df: pl.DataFrame) -> list[float | None]:
    schema = df.schema
    expr = dtypes.exact_difference(pl.col("y"), schema["y"], pl.col("p"), schema["p"])
    result = df.select(expr.alias("d")).to_series().to_list()
    # The engines evaluate some expressions differently (the in-memory one
    # turns a when/then whose condition is all true into its scalar), so
    # both must round the same way.
    streamed = df.lazy().select(expr.alias("d")).collect(engine="streaming")
    assert streamed.to_series().to_list() == result
    return result


def _near_limits(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers of [lo, hi], often next to a limit, zero or 2**62."""
    edges = [lo, lo + 1, hi, hi - 1, 0, 1, -1, 2**62, -(2**62), 2**53 + 1]
    near = st.sampled_from([e for e in edges if lo <= e <= hi])
    return st.one_of(near, st.integers(lo, hi))


@given(
    pairs=st.lists(
        st.tuples(_near_limits(*I64), _near_limits(*I64)), min_size=1, max_size=20
    )
)
def test_int64_sign_rule_is_correctly_rounded(pairs: list[tuple[int, int]]) -> None:
    df = pl.DataFrame(
        {"y": [a for a, _ in pairs], "p": [b for _, b in pairs]},
        schema={"y": pl.Int64, "p": pl.Int64},
    )
    assert _difference(df) == [float(a - b) for a, b in pairs]


@given(
    pairs=st.lists(
        st.tuples(_near_limits(*U64), _near_limits(*U64)), min_size=1, max_size=20
    )
)
def test_uint64_pairs_are_correctly_rounded(pairs: list[tuple[int, int]]) -> None:
    df = pl.DataFrame(
        {"y": [a for a, _ in pairs], "p": [b for _, b in pairs]},
        schema={"y": pl.UInt64, "p": pl.UInt64},
    )
    assert _difference(df) == [float(a - b) for a, b in pairs]


def test_every_wrap_of_int64_and_its_neighbours() -> None:
    # Each overflow direction, at and next to the largest differences.
    top, bottom = 2**63 - 1, -(2**63)
    pairs = [
        (top, bottom),
        (bottom, top),
        (top, -1),
        (-2, top),
        (0, bottom),
        (bottom, 0),
        (bottom, 1),
        (2**62, -(2**62)),
        (-(2**62), 2**62 + 1),
        (2**63 - 1025, -1024),
        (None, 1),
    ]
    df = pl.DataFrame(
        {"y": [a for a, _ in pairs], "p": [b for _, b in pairs]},
        schema={"y": pl.Int64, "p": pl.Int64},
    )
    want = [None if a is None else float(a - b) for a, b in pairs]
    assert _difference(df) == want


@st.composite
def small_decimals(
    draw: st.DrawFn,
) -> tuple[pl.Decimal, pl.Decimal, list[tuple[Decimal, Decimal]]]:
    """Two Decimal dtypes of at most 16 digits and values at and near their limits."""
    dtypes_ = [
        pl.Decimal(p, draw(st.integers(0, p)))
        for p in (draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    ]

    def value(dtype: pl.Decimal) -> st.SearchStrategy[Decimal]:
        top = 10**dtype.precision - 1
        units = st.one_of(st.integers(-top, top), st.sampled_from([top, -top, 0]))
        return units.map(lambda u: Decimal(f"{u}E-{dtype.scale}"))

    pairs = draw(st.lists(st.tuples(value(dtypes_[0]), value(dtypes_[1])), min_size=1))
    return dtypes_[0], dtypes_[1], pairs


@given(case=small_decimals())
def test_small_decimals_are_correctly_rounded(
    case: tuple[pl.Decimal, pl.Decimal, list[tuple[Decimal, Decimal]]],
) -> None:
    a_dtype, p_dtype, pairs = case
    df = pl.DataFrame(
        {"y": [a for a, _ in pairs], "p": [b for _, b in pairs]},
        schema={"y": a_dtype, "p": p_dtype},
    )
    want = [float(Fraction(a) - Fraction(b)) for a, b in pairs]
    assert _difference(df) == want


@given(
    values=st.lists(
        st.tuples(
            st.integers(-(10**15) + 1, 10**15 - 1), st.integers(-(2**31), 2**31 - 1)
        ),
        min_size=1,
    ),
    scale=st.integers(0, 15),
)
def test_small_decimal_against_int32(values: list[tuple[int, int]], scale: int) -> None:
    actual = [Decimal(f"{u}E-{scale}") for u, _ in values]
    df = pl.DataFrame(
        {"y": actual, "p": [b for _, b in values]},
        schema={"y": pl.Decimal(15, scale), "p": pl.Int32},
    )
    want = [float(Fraction(a) - b) for a, (_, b) in zip(actual, values, strict=True)]
    assert _difference(df) == want

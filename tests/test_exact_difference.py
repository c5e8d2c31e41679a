"""The exact-difference rule: every integer pair and Decimals, scalars and vectors.

References are Python's exact integers (``float(a - b)`` is the correctly
rounded difference) and :class:`fractions.Fraction`.
"""

from __future__ import annotations

import decimal
import itertools
import math
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import polars_l2
from polars_l2._core import dtypes

if TYPE_CHECKING:
    from pathlib import Path

#: Every integer dtype Polars has, with its smallest and largest value.
INTEGERS: dict[str, tuple[pl.DataType, int, int]] = {
    "Int8": (pl.Int8(), -(2**7), 2**7 - 1),
    "Int16": (pl.Int16(), -(2**15), 2**15 - 1),
    "Int32": (pl.Int32(), -(2**31), 2**31 - 1),
    "Int64": (pl.Int64(), -(2**63), 2**63 - 1),
    "Int128": (pl.Int128(), -(2**127), 2**127 - 1),
    "UInt8": (pl.UInt8(), 0, 2**8 - 1),
    "UInt16": (pl.UInt16(), 0, 2**16 - 1),
    "UInt32": (pl.UInt32(), 0, 2**32 - 1),
    "UInt64": (pl.UInt64(), 0, 2**64 - 1),
    "UInt128": (pl.UInt128(), 0, 2**128 - 1),
}
PAIRS = list(itertools.product(INTEGERS, INTEGERS))

#: A relative error of this many units of 2**-53 bounds the Decimal rule.
HALF_ULP = 2.0**-53


def _units(units: int, scale: int) -> Decimal:
    """Return ``units * 10**-scale`` exactly (scaleb rounds to 28 digits)."""
    return Decimal(f"{units}E-{scale}")


def _difference(df: pl.DataFrame) -> list[float | None]:
    """Apply the rule to columns y and p of `df`, as the metrics do."""
    schema = df.schema
    expr = dtypes.exact_difference(pl.col("y"), schema["y"], pl.col("p"), schema["p"])
    return df.select(expr.alias("d")).to_series().to_list()


@st.composite
def integer(draw: st.DrawFn, lo: int, hi: int) -> int:
    """Draw an integer of [lo, hi], often at or next to a limit or a power of two."""
    edge = st.sampled_from(
        [lo, lo + 1, hi - 1, hi, 0, -1, 1, 2**53, 2**63, -(2**63), 2**64 - 1, 2**127]
    )
    power = st.builds(
        lambda e, d, s: s * 2**e + d,
        st.integers(0, 128),
        st.integers(-3, 3),
        st.sampled_from([1, -1]),
    )
    value = draw(st.one_of(edge, power, st.integers(lo, hi)))
    return min(max(value, lo), hi)


@st.composite
def tie(draw: st.DrawFn, lo: int, hi: int, other: int) -> int:
    """Draw a value whose difference from `other` is at or next to a rounding tie."""
    k = draw(st.integers(54, 129))
    mantissa = draw(st.integers(2**52, 2**53 - 1))
    # (mantissa + 1/2) * 2**(k - 53) is a tie between two Float64 neighbours.
    d = (2 * mantissa + 1) * (1 << (k - 54)) + draw(st.integers(-4, 4))
    d *= draw(st.sampled_from([1, -1]))
    return min(max(other + d, lo), hi)


@pytest.mark.parametrize(
    ("a_name", "p_name"), PAIRS, ids=[f"{a}-{p}" for a, p in PAIRS]
)
@settings(max_examples=8)
@given(data=st.data())
def test_every_integer_pair_is_correctly_rounded(
    a_name: str, p_name: str, data: st.DataObject
) -> None:
    a_dtype, a_lo, a_hi = INTEGERS[a_name]
    p_dtype, p_lo, p_hi = INTEGERS[p_name]
    predicted = data.draw(st.lists(integer(p_lo, p_hi), min_size=1, max_size=30))
    actual = [
        data.draw(st.one_of(integer(a_lo, a_hi), tie(a_lo, a_hi, p))) for p in predicted
    ]
    df = pl.DataFrame(
        {"y": actual, "p": predicted}, schema={"y": a_dtype, "p": p_dtype}
    )
    want = [float(a - p) for a, p in zip(actual, predicted, strict=True)]
    assert _difference(df) == want
    loss = df.select(polars_l2.loss("y", "p")).to_series().to_list()
    assert loss == [w * w for w in want]


@pytest.mark.parametrize("name", ["Int128", "UInt128", "Int64", "UInt64"])
@given(data=st.data())
def test_polars_casts_wide_integers_with_correct_rounding(
    name: str, data: st.DataObject
) -> None:
    # The rule rounds once with Polars' integer-to-Float64 cast: it must be
    # round-to-nearest-even, as Python's float(int) is.
    dtype, lo, hi = INTEGERS[name]
    values = data.draw(
        st.lists(st.one_of(integer(lo, hi), tie(lo, hi, 0)), min_size=1, max_size=20)
    )
    cast = pl.Series(values, dtype=dtype).cast(pl.Float64).to_list()
    assert cast == [float(v) for v in values]


def test_a_128_bit_csv_column_through_report_and_state(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        "y,p\n"
        "12345678901234567890123,12345678901234567890120\n"
        "99999999999999999999,99999999999999999998\n"
    )
    lf = pl.scan_csv(path)
    assert lf.collect_schema() == pl.Schema({"y": pl.Int128, "p": pl.Int128})
    want = (3**2 + 1**2) / 2
    report = polars_l2.report(lf, "y", "p").collect()
    assert report["mse"].item() == want
    assert report["bias"].item() == -2.0
    state = polars_l2.state(lf, "y", "p").collect()
    assert polars_l2.finalize(state)["mse"].item() == want
    assert lf.select(polars_l2.mse("y", "p")).collect().item() == want


def test_int128_differences_beyond_128_bits() -> None:
    # Int128 subtraction wraps in Polars; the difference here needs 129 bits.
    big = 2**127 - 1
    df = pl.DataFrame(
        {"y": [big, -(2**127), big], "p": [-(2**127), big, big - 1]},
        schema={"y": pl.Int128, "p": pl.Int128},
    )
    assert _difference(df) == [float(2**128 - 1), -float(2**128 - 1), 1.0]
    unsigned = pl.DataFrame(
        {"y": [0, 2**128 - 1], "p": [2**128 - 1, 2**128 - 2]},
        schema={"y": pl.UInt128, "p": pl.UInt128},
    )
    assert _difference(unsigned) == [-float(2**128 - 1), 1.0]


def _check_decimal(
    got: list[float | None],
    actual: list[Decimal],
    predicted: list[Decimal],
    scales: tuple[int, int],
) -> None:
    """Check the Decimal rule's promise row by row against exact fractions.

    At the larger scale S, both sides are integers; where they fit Int128 and
    their difference D is below 5e37, the result is the correctly rounded
    difference; where D is larger, within 3 half-ulps (D rounded, then
    divided by 10**S); where a side does not fit Int128, within 5 half-ulps
    (each side cast: no cancellation is possible there).
    """
    scale = max(scales)
    for g, a, p in zip(got, actual, predicted, strict=True):
        exact = Fraction(a) - Fraction(p)
        assert g is not None
        fits = all(
            abs(Fraction(x) * 10**s) <= (2**127 - 1) // 10 ** (scale - s)
            for x, s in ((a, scales[0]), (p, scales[1]))
        )
        if fits and abs(exact * 10**scale) < Fraction(499, 100) * 10**37:
            assert g == float(exact), (a, p)
        else:
            bound = 3 if fits else 5
            assert abs(Fraction(g) - exact) <= bound * HALF_ULP * abs(exact), (a, p)


@st.composite
def decimal_pair(
    draw: st.DrawFn, a_dtype: pl.Decimal, p_dtype: pl.Decimal
) -> tuple[Decimal, Decimal]:
    """Two values of the two dtypes, often close to each other or at a limit."""

    def value(dtype: pl.Decimal) -> st.SearchStrategy[Decimal]:
        top = 10**dtype.precision - 1
        units = st.one_of(
            st.integers(-top, top),
            st.sampled_from([top, -top, 0, 1, -1]),
            st.integers(0, dtype.precision).map(lambda e: 10**e - 1),
        )
        return units.map(lambda u: _units(u, dtype.scale))

    a = draw(value(a_dtype))
    if draw(st.booleans()):
        return a, draw(value(p_dtype))
    # Close to a: a rounded to the other scale, nudged by a few units.
    with decimal.localcontext(prec=100):
        step = _units(1, p_dtype.scale)
        top = _units(10**p_dtype.precision - 1, p_dtype.scale)
        p = a.quantize(step, rounding=decimal.ROUND_FLOOR)
        p += draw(st.integers(-3, 3)) * step
        return a, min(max(p, -top), top)


DECIMAL_DTYPES = st.builds(
    lambda p, s: pl.Decimal(p, min(s, p)),
    st.sampled_from([38, 38, 38, 30, 19, 18, 10, 4]),
    st.integers(0, 38),
)


@given(data=st.data(), a_dtype=DECIMAL_DTYPES, p_dtype=DECIMAL_DTYPES)
@example(data=None, a_dtype=pl.Decimal(38, 0), p_dtype=pl.Decimal(38, 6))
def test_decimal_pairs_against_fractions(
    data: st.DataObject | None, a_dtype: pl.Decimal, p_dtype: pl.Decimal
) -> None:
    if data is None:
        # A rescaled side beyond 38 digits next to a close value: Polars'
        # own subtraction raises here; the difference is 1e-6.
        pairs = [(Decimal(10**32), _units(10**38 - 1, 6))]
    else:
        pairs = data.draw(st.lists(decimal_pair(a_dtype, p_dtype), min_size=1))
    actual = [a for a, _ in pairs]
    predicted = [p for _, p in pairs]
    df = pl.DataFrame(
        {"y": actual, "p": predicted}, schema={"y": a_dtype, "p": p_dtype}
    )
    _check_decimal(_difference(df), actual, predicted, (a_dtype.scale, p_dtype.scale))


def test_a_decimal_38_difference_of_one_millionth_is_exact() -> None:
    df = pl.DataFrame(
        {"y": [Decimal("123456789012.345678")], "p": [Decimal("123456789012.345677")]}
    )
    assert df.schema["y"] == pl.Decimal(38, 6)
    assert df.select(polars_l2.mse("y", "p")).item() == float(Fraction(1, 10**6)) ** 2
    report = polars_l2.report(df, "y", "p")
    assert report["mse"].item() == pytest.approx(1e-12, rel=1e-15)
    hand_written = df.select((pl.col("y") - pl.col("p")).cast(pl.Float64) ** 2).item()
    assert report["mse"].item() == hand_written


def test_decimal_differences_beyond_38_digits() -> None:
    # Polars raises "overflow in decimal subtraction" here; the rule does not.
    top = 10**38 - 1
    # Decimal arithmetic would round to 28 digits: build the values exactly.
    df = pl.DataFrame(
        {
            "y": [Decimal(top), Decimal(top), Decimal(-top)],
            "p": [Decimal(-top), Decimal(top - 1), Decimal(top)],
        },
        schema={"y": pl.Decimal(38, 0), "p": pl.Decimal(38, 0)},
    )
    with pytest.raises(pl.exceptions.ComputeError, match="overflow"):
        df.select(pl.col("y") - pl.col("p"))
    assert _difference(df) == [float(2 * (10**38 - 1)), 1.0, -float(2 * (10**38 - 1))]


@pytest.mark.parametrize("name", list(INTEGERS))
@given(data=st.data(), scale=st.integers(0, 38))
def test_decimal_against_every_integer(
    name: str, scale: int, data: st.DataObject
) -> None:
    int_dtype, lo, hi = INTEGERS[name]
    dec_dtype = pl.Decimal(38, scale)
    ints = data.draw(st.lists(integer(lo, hi), min_size=1, max_size=8))
    top = 10**38 - 1
    units = st.one_of(
        st.integers(-top, top), st.integers(-3, 3), st.integers(-(10**20), 10**20)
    )
    # Often the integer itself, nudged by a few units of the last place.
    decs = [
        _units(min(max(i * 10**scale + data.draw(units), -top), top), scale)
        for i in ints
    ]
    df = pl.DataFrame({"y": decs, "p": ints}, schema={"y": dec_dtype, "p": int_dtype})
    # Where the integer exceeds the Decimal range by far, each side is cast:
    # no cancellation is possible, and the bound holds all the same.
    _check_decimal(_difference(df), decs, [Decimal(i) for i in ints], (scale, 0))
    flipped = df.select(y="p", p="y")
    _check_decimal(_difference(flipped), [Decimal(i) for i in ints], decs, (0, scale))


def test_decimal_against_float_casts_each_side() -> None:
    # The float side is already rounded to 53 bits; the Decimal side is
    # rounded once by Polars' (correctly rounding) cast, then subtracted.
    a = [Decimal("123456789012.345678"), Decimal("0.1")]
    p = [123456789012.345677, 0.1]
    df = pl.DataFrame(
        {"y": a, "p": p}, schema={"y": pl.Decimal(38, 6), "p": pl.Float64}
    )
    assert _difference(df) == [float(x) - y for x, y in zip(a, p, strict=True)]


@pytest.mark.slow
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**127), 2**127 - 1), st.integers(-(2**127), 2**127 - 1)
        ),
        min_size=3,
        max_size=3,
    )
)
def test_int128_vectors_follow_the_scalar_rule(pairs: list[tuple[int, int]]) -> None:
    y = [a for a, _ in pairs]
    p = [b for _, b in pairs]
    df = pl.DataFrame(
        {"y": [y], "p": [p]},
        schema={"y": pl.Array(pl.Int128, 3), "p": pl.Array(pl.Int128, 3)},
    )
    # The difference rounded once to Float64, then squared by one correctly
    # rounded product; not ``** 2``, which calls libm's pow, off by an ulp
    # for some values (119639531.0 ** 2).
    want = [float(a - b) * float(a - b) for a, b in pairs]
    raw = df.select(polars_l2.sse("y", "p", multioutput="raw_values")).item()
    assert raw.to_list() == want
    loss = df.select(polars_l2.loss("y", "p")).item()
    assert loss == pytest.approx(math.fsum(want), rel=1e-15)


def test_decimal_vectors_of_precision_38() -> None:
    a = [Decimal("123456789012.345678"), Decimal("1.000001")]
    b = [Decimal("123456789012.345677"), Decimal("1.000000")]
    schema = {"y": pl.Array(pl.Decimal(38, 6), 2), "p": pl.Array(pl.Decimal(38, 6), 2)}
    df = pl.DataFrame({"y": [a], "p": [b]}, schema=schema)
    raw = df.select(polars_l2.mse("y", "p", multioutput="raw_values")).item()
    assert raw.to_list() == [float(Fraction(1, 10**6)) ** 2] * 2
    as_list = df.with_columns(pl.col("y", "p").cast(pl.List(pl.Decimal(38, 6))))
    with pytest.raises(polars_l2.L2InputError, match=r"width=<number of outputs>"):
        as_list.select(polars_l2.loss("y", "p"))
    with_width = as_list.select(polars_l2.loss("y", "p", width=2)).item()
    assert with_width == pytest.approx(2e-12, rel=1e-15)


def test_lists_of_64_bit_integers_need_no_width() -> None:
    big = 2**63 - 1
    df = pl.DataFrame(
        {"y": [[big, -(2**63), 5], [1]], "p": [[0, 2**64 - 1, 2], [2**64 - 1]]},
        schema={"y": pl.List(pl.Int64), "p": pl.List(pl.UInt64)},
    )
    want = [
        math.fsum([float(big) ** 2, float(-(2**63) - (2**64 - 1)) ** 2, 9.0]),
        float(1 - (2**64 - 1)) ** 2,
    ]
    got = df.select(polars_l2.loss("y", "p")).to_series().to_list()
    assert got == pytest.approx(want, rel=1e-15)


ACCEPTED = [
    pl.Int8(),
    pl.UInt128(),
    pl.Float32(),
    pl.Decimal(38, 18),
    pl.Boolean(),
    pl.Null(),
]
REFUSED = [pl.String(), pl.Date(), pl.Duration("ms"), pl.Categorical(), pl.Binary()]


@pytest.mark.parametrize("dtype", ACCEPTED + REFUSED, ids=str)
def test_one_dtype_rule_for_every_path(dtype: pl.DataType) -> None:
    accepted = dtypes.is_metric_dtype(dtype)
    assert accepted == (dtype in ACCEPTED)
    lf = pl.LazyFrame(schema={"y": dtype, "p": pl.Float64, "w": dtype})

    def outcome(query: object) -> bool:
        try:
            query()  # type: ignore[operator]
        except polars_l2.L2InputError:
            return False
        return True

    vectors = pl.LazyFrame(
        schema={"y": pl.Array(dtype, 2), "p": pl.Array(pl.Float64, 2)}
    )
    assert (
        outcome(lambda: lf.select(polars_l2.mse("y", "p")).collect_schema()) == accepted
    )
    assert (
        outcome(lambda: lf.select(polars_l2.mse("p", "p", weight="w")).collect())
        == accepted
    )
    assert outcome(lambda: polars_l2.report(lf, "y", "p")) == accepted
    assert outcome(lambda: polars_l2.state(lf, "y", "p")) == accepted
    assert (
        outcome(lambda: vectors.select(polars_l2.mse("y", "p")).collect_schema())
        == accepted
    )


@pytest.mark.parametrize(
    "other", [pl.Int64(), pl.UInt64(), pl.Int128(), pl.UInt128(), pl.Decimal(38, 20)]
)
def test_boolean_counts_as_zero_and_one(other: pl.DataType) -> None:
    values: list[int | Decimal | None] = [10**17 + 1, 1, 0, None]
    if isinstance(other, pl.Decimal):
        values = [Decimal("1.00000000000000000001"), Decimal(1), Decimal(0), None]
    df = pl.DataFrame(
        {"y": [True, True, False, True], "p": values},
        schema={"y": pl.Boolean, "p": other},
    )
    want = [
        None if v is None else float(Fraction(int(b)) - Fraction(v))
        for b, v in zip([True, True, False, True], values, strict=True)
    ]
    assert _difference(df) == want


@pytest.mark.slow
# Each example builds a report, two states, their merge and its report.
@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**127), 2**127 - 1),
            st.integers(-(2**10), 2**10),
            st.sampled_from(["a", "b"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_int128_through_report_and_merged_states(
    rows: list[tuple[int, int, str]],
) -> None:
    # Close 128-bit values: per-side rounding would lose every difference.
    actual = [a for a, _, _ in rows]
    predicted = [max(min(a + d, 2**127 - 1), -(2**127)) for a, d, _ in rows]
    keys = [g for _, _, g in rows]
    df = pl.DataFrame(
        {"g": keys, "y": actual, "p": predicted},
        schema={"g": pl.String, "y": pl.Int128, "p": pl.Int128},
    )
    want: dict[str, float] = {}
    for key in set(keys):
        errors = [
            float(a - p)
            for a, p, g in zip(actual, predicted, keys, strict=True)
            if g == key
        ]
        want[key] = math.fsum(e * e for e in errors) / len(errors)
    report = polars_l2.report(df, "y", "p", by="g")
    got = dict(zip(report["g"].to_list(), report["mse"].to_list(), strict=True))
    assert got == pytest.approx(want, rel=1e-12)
    half = len(rows) // 2
    merged = polars_l2.merge_states(
        [
            polars_l2.state(df[half:], "y", "p", by="g"),
            polars_l2.state(df[:half], "y", "p", by="g"),
        ]
    )
    final = polars_l2.finalize(merged)
    got = dict(zip(final["g"].to_list(), final["mse"].to_list(), strict=True))
    assert got == pytest.approx(want, rel=1e-12)

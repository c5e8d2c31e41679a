"""Every numeric dtype is computed in Float64, without wrap-around or lost scale."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from polars.testing import assert_series_equal
from sklearn.metrics import brier_score_loss

import polars_l2

if TYPE_CHECKING:
    from tests.conftest import Runner

#: (dtype, signed, bits) for every integer type Polars has.
INTEGERS: list[tuple[pl.DataType, bool, int]] = [
    (pl.Int8(), True, 8),
    (pl.Int16(), True, 16),
    (pl.Int32(), True, 32),
    (pl.Int64(), True, 64),
    (pl.Int128(), True, 128),
    (pl.UInt8(), False, 8),
    (pl.UInt16(), False, 16),
    (pl.UInt32(), False, 32),
    (pl.UInt64(), False, 64),
    (pl.UInt128(), False, 128),
]


def _limits(*, signed: bool, bits: int) -> tuple[int, int]:
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _exact_mse(actual: list[int], predicted: list[int]) -> float:
    """MSE from exact integer differences, rounded once, summed exactly."""
    errors = [float(a - p) for a, p in zip(actual, predicted, strict=True)]
    return math.fsum(e * e for e in errors) / len(errors)


@st.composite
def near_limits(
    draw: st.DrawFn, *, signed: bool, bits: int
) -> tuple[list[int], list[int]]:
    lo, hi = _limits(signed=signed, bits=bits)
    value = st.one_of(
        st.integers(lo, min(lo + 1000, hi)),
        st.integers(max(hi - 1000, lo), hi),
        st.integers(lo, hi),
    )
    n = draw(st.integers(1, 20))
    return draw(st.lists(value, min_size=n, max_size=n)), draw(
        st.lists(value, min_size=n, max_size=n)
    )


@pytest.mark.parametrize(("dtype", "signed", "bits"), INTEGERS, ids=str)
@given(data=st.data())
def test_integers_near_their_limits(
    dtype: pl.DataType, signed: bool, bits: int, data: st.DataObject
) -> None:
    actual, predicted = data.draw(near_limits(signed=signed, bits=bits))
    df = pl.DataFrame({"y": actual, "p": predicted}, schema={"y": dtype, "p": dtype})
    out = df.select(
        mse=polars_l2.mse("y", "p"), loss=polars_l2.loss("y", "p").implode()
    )
    # Every integer type, 128-bit included, is subtracted exactly.
    expected = _exact_mse(actual, predicted)
    assert out.schema["mse"] == pl.Float64
    assert out["mse"].item() == pytest.approx(expected, rel=1e-12)
    expected_loss = [float(a - p) ** 2 for a, p in zip(actual, predicted, strict=True)]
    assert out["loss"].item().to_list() == pytest.approx(expected_loss, rel=1e-12)


@pytest.mark.parametrize(
    ("dtype", "actual", "predicted", "expected_loss"),
    [
        (pl.Int32, 100_000, 0, 1e10),
        (pl.Int32, 2_000_000_000, -2_000_000_000, 1.6e19),
        (pl.Int64, 2**40, 0, 2.0**80),
        (pl.Int64, 4_000_000_000, 0, 1.6e19),
        (pl.UInt32, 1, 3, 4.0),
        (pl.UInt64, 0, 2**64 - 1, float(2**64 - 1) ** 2),
        (pl.Int64, 2**62 + 1, 2**62, 1.0),
    ],
)
def test_hand_written_failures_are_right_here(
    run: Runner, dtype: pl.DataType, actual: int, predicted: int, expected_loss: float
) -> None:
    df = pl.DataFrame(
        {"y": [actual], "p": [predicted]}, schema={"y": dtype, "p": dtype}
    )
    out = run(
        df, lambda f: f.select(polars_l2.loss("y", "p"), m=polars_l2.rmse("y", "p"))
    )
    assert out["y"].item() == expected_loss
    assert out["m"].item() == pytest.approx(math.sqrt(expected_loss), rel=1e-15)


@given(
    st.lists(
        st.tuples(
            st.decimals(-(10**6), 10**6, places=2, allow_nan=False),
            st.decimals(-(10**6), 10**6, places=2, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    )
)
@example([(Decimal("0.05"), Decimal("0.00"))])
def test_decimals_keep_their_scale(pairs: list[tuple[Decimal, Decimal]]) -> None:
    schema = {"y": pl.Decimal(10, 2), "p": pl.Decimal(10, 2)}
    df = pl.DataFrame(
        {"y": [a for a, _ in pairs], "p": [p for _, p in pairs]}, schema=schema
    )
    out = df.select(
        mse=polars_l2.mse("y", "p"), loss=polars_l2.loss("y", "p").implode()
    )
    errors = [float(a - p) for a, p in pairs]
    assert out["mse"].item() == pytest.approx(
        math.fsum(e * e for e in errors) / len(errors), rel=1e-12
    )
    assert out["loss"].item().to_list() == pytest.approx(
        [e * e for e in errors], rel=1e-12
    )


def test_decimal_money_example() -> None:
    df = pl.DataFrame(
        {"y": [Decimal("0.05")], "p": [Decimal("0.00")]},
        schema={"y": pl.Decimal(10, 2), "p": pl.Decimal(10, 2)},
    )
    assert df.select(polars_l2.loss("y", "p")).item() == pytest.approx(
        0.0025, rel=1e-15
    )


def test_mixed_decimal_and_float() -> None:
    df = pl.DataFrame(
        {"y": [Decimal("1.25"), Decimal("2.50")], "p": [1.0, 3.0]},
        schema={"y": pl.Decimal(38, 2), "p": pl.Float64},
    )
    assert df.select(polars_l2.mse("y", "p")).item() == pytest.approx(
        (0.25**2 + 0.5**2) / 2, rel=1e-15
    )


def test_widest_decimals_do_not_overflow() -> None:
    # Subtracting two Decimal(38, 0) values near the limit overflows Decimal
    # (Polars raises); the package subtracts the 128-bit integers instead.
    big = 9 * 10**37
    df = pl.DataFrame(
        {"y": [Decimal(big)], "p": [Decimal(-big)]},
        schema={"y": pl.Decimal(38, 0), "p": pl.Decimal(38, 0)},
    )
    assert df.select(polars_l2.loss("y", "p")).item() == pytest.approx(
        float(2 * big) ** 2, rel=1e-12
    )


def test_float32_is_computed_in_float64(run: Runner) -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(1e4, 1, 1000).astype(np.float32)
    p = (y + rng.normal(0, 1e-3, 1000)).astype(np.float32)
    df = pl.DataFrame({"y": y, "p": p})
    out = run(df, lambda f: f.select(polars_l2.mse("y", "p")))
    assert out.schema["y"] == pl.Float64
    e = y.astype(np.float64) - p.astype(np.float64)
    assert out.item() == pytest.approx(math.fsum(e * e) / len(e), rel=1e-12)


def test_boolean_actual_gives_the_brier_score(run: Runner) -> None:
    outcome = [True, False, True, True, False]
    prob = [0.9, 0.2, 0.6, 0.4, 0.0]
    df = pl.DataFrame({"y": outcome, "p": prob})
    out = run(df, lambda f: f.select(polars_l2.mse("y", "p")))
    assert out.item() == pytest.approx(brier_score_loss(outcome, prob), rel=1e-15)


def test_all_null_column_gives_null() -> None:
    df = pl.DataFrame(
        {"y": [None, None], "p": [1.0, 2.0]}, schema={"y": pl.Null, "p": pl.Float64}
    )
    out = df.select(m=polars_l2.mse("y", "p"), loss=polars_l2.loss("y", "p"))
    assert out.schema == pl.Schema({"m": pl.Float64, "loss": pl.Float64})
    assert out["m"].to_list() == [None, None]
    assert out["loss"].to_list() == [None, None]


@pytest.mark.parametrize(
    "dtype", [pl.Int16, pl.UInt8, pl.Boolean, pl.Float32, pl.Decimal(12, 3)], ids=str
)
@pytest.mark.parametrize("name", ["loss", "sse", "mse", "rmse"])
def test_result_dtype_is_float64(dtype: pl.DataType, name: str) -> None:
    lf = pl.LazyFrame(schema={"y": dtype, "p": dtype, "w": dtype})
    metric = getattr(polars_l2, name)
    kwargs = {} if name == "loss" else {"weight": "w"}
    assert lf.select(metric("y", "p", **kwargs)).collect_schema()["y"] == pl.Float64


NON_NUMERIC: list[pl.DataType] = [
    pl.String(),
    pl.Date(),
    pl.Datetime("us"),
    pl.Duration("us"),
    pl.Time(),
    pl.Categorical(),
    pl.Binary(),
    pl.List(pl.String),
    pl.Struct({"a": pl.Int64}),
]


@pytest.mark.parametrize("dtype", NON_NUMERIC, ids=str)
@pytest.mark.parametrize("role", ["actual", "predicted", "weight"])
def test_non_numeric_input_fails_at_plan_resolution(
    dtype: pl.DataType, role: str
) -> None:
    columns = {"actual": "y", "predicted": "p", "weight": "w"}
    schema: dict[str, pl.DataType] = {
        "y": pl.Float64(),
        "p": pl.Float64(),
        "w": pl.Float64(),
    }
    schema[columns[role]] = dtype
    # An empty frame: the error can only come from resolving the plan.
    lf = pl.LazyFrame(schema=schema)
    query = lf.select(polars_l2.mse("y", "p", weight="w"))
    with pytest.raises(
        polars_l2.L2InputError,
        match=rf"mse: {role} column '{columns[role]}' has dtype "
        rf"{re.escape(str(dtype))}.*numeric",
    ):
        query.collect_schema()


def test_error_names_an_expression() -> None:
    lf = pl.LazyFrame(schema={"y": pl.String, "p": pl.Float64})
    with pytest.raises(
        polars_l2.L2InputError, match=r"actual expression `.*col\(\"y\"\)"
    ):
        lf.select(polars_l2.loss(pl.col("y").str.to_uppercase(), "p")).collect_schema()


def test_error_is_raised_inside_group_by() -> None:
    lf = pl.LazyFrame(schema={"g": pl.Int64, "y": pl.Date, "p": pl.Float64})
    with pytest.raises(polars_l2.L2InputError, match="column 'y' has dtype Date"):
        lf.group_by("g").agg(pl.col("y").l2.rmse("p")).collect_schema()  # type: ignore[attr-defined]


def test_uint_subtraction_does_not_wrap_in_mse(run: Runner) -> None:
    df = pl.DataFrame(
        {"y": [1, 5], "p": [3, 2]}, schema={"y": pl.UInt32, "p": pl.UInt32}
    )
    out = run(df, lambda f: f.select(polars_l2.mse("y", "p")))
    assert out.item() == (4 + 9) / 2
    assert_series_equal(
        df.select(polars_l2.loss("y", "p")).to_series(), pl.Series("y", [4.0, 9.0])
    )

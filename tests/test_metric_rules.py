"""Exact references for the metric rules at their edges.

Constant targets, infinite errors, zero weights, and the sign of the error.

Each input goes through every path that computes a metric: ``report``
(eager, and lazy on the streaming engine), ``state`` then ``finalize``,
``merge_states`` of one state per row, and the expression functions. The
right values come from the definitions (worked by hand or with ``fractions``)
or from scikit-learn where it defines the case.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import r2_score

import polars_l2
from polars_l2.plot import concentration_curve

INF, NAN = math.inf, math.nan


def _frame(
    y: list[float], p: list[float], w: list[float] | None = None
) -> pl.DataFrame:
    data: dict[str, list[float]] = {"y": y, "p": p}
    if w is not None:
        data["w"] = w
    return pl.DataFrame(data, schema=dict.fromkeys(data, pl.Float64))


def paths(
    frame: pl.DataFrame, *, weight: str | None = None
) -> dict[str, dict[str, Any]]:
    """One report row per path, by path name."""
    rows = {
        "report": polars_l2.report(frame, "y", "p", weight=weight),
        "streaming": polars_l2.report(frame.lazy(), "y", "p", weight=weight).collect(
            engine="streaming"
        ),
        "finalize": polars_l2.finalize(polars_l2.state(frame, "y", "p", weight=weight)),
        "merged": polars_l2.finalize(
            polars_l2.merge_states(
                [
                    polars_l2.state(frame[i : i + 1], "y", "p", weight=weight)
                    for i in reversed(range(frame.height))
                ]
            )
        ),
    }
    return {name: result.row(0, named=True) for name, result in rows.items()}


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-12)


def assert_everywhere(
    frame: pl.DataFrame, want: dict[str, float | None], *, weight: str | None = None
) -> None:
    for path, row in paths(frame, weight=weight).items():
        for name, value in want.items():
            assert _same(row[name], value), (path, name, row[name], value)
    for name in ("sse", "mse", "rmse"):
        if name in want:
            function = getattr(polars_l2, name)("y", "p", weight=weight)
            got = frame.select(function).item()
            assert _same(got, want[name]), ("function", name, got, want[name])


# A constant target, decided exactly.


def test_seven_equal_targets_whose_variance_is_not_zero_give_r2_zero() -> None:
    frame = _frame([0.1] * 7, [0.6] * 7)
    assert pl.Series([0.1] * 7).var() != 0  # why the variance cannot decide
    assert_everywhere(frame, {"r2": 0.0})


@pytest.mark.parametrize("target", [0.1, 1e9 + 0.1, -3.3, 1e-300, 123456.789], ids=repr)
@pytest.mark.parametrize("weighted", [False, True])
def test_a_constant_target_gives_zero_or_one(target: float, weighted: bool) -> None:
    n = 7
    w = [1.0, 2.5, 0.5, 3.0, 1.0, 7.0, 0.25] if weighted else None
    weight = "w" if weighted else None
    assert_everywhere(
        _frame([target] * n, [target + 0.5] * n, w), {"r2": 0.0}, weight=weight
    )
    assert_everywhere(_frame([target] * n, [target] * n, w), {"r2": 1.0}, weight=weight)


def test_a_constant_target_after_merging_two_states() -> None:
    a = _frame([0.1] * 3, [0.2, 0.1, 0.4])
    b = _frame([0.1] * 4, [0.6] * 4)
    merged = polars_l2.merge_states(
        [polars_l2.state(a, "y", "p"), polars_l2.state(b, "y", "p")]
    )
    assert merged["actual_min"].item() == merged["actual_max"].item() == 0.1
    assert polars_l2.finalize(merged)["r2"].item() == 0.0


def test_a_zero_weight_row_does_not_break_constancy() -> None:
    frame = _frame([0.1, 0.1, 5.0], [0.3, 0.1, 0.0], [1.0, 2.0, 0.0])
    assert_everywhere(frame, {"r2": 0.0, "n": 2}, weight="w")


def test_a_spread_that_underflows_is_constant_as_in_scikit_learn() -> None:
    y, p = [0.0, 1e-200], [1.0, 1.0]
    want = r2_score(y, p, force_finite=True)
    assert want == 0.0
    assert_everywhere(_frame(y, p), {"r2": want})


@pytest.mark.slow
@settings(max_examples=30)
@given(
    value=st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
    n=st.integers(2, 20),
    off=st.sampled_from([0.0, 0.5, -1e-3]),
)
def test_any_constant_target(value: float, n: int, off: float) -> None:
    frame = _frame([value] * n, [value + off] * n)
    perfect = frame["p"].item(0) == value
    for row in paths(frame).values():
        assert row["r2"] == (1.0 if perfect else 0.0)


def test_a_target_of_a_billion_still_varies() -> None:
    # Not constant: min != max, and R² is computed, not forced.
    y = [1e9 + 0.1, 1e9 + 0.3, 1e9 + 0.2]
    p = [1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.2]
    want = r2_score(y, p)
    for row in paths(_frame(y, p)).values():
        assert math.isclose(row["r2"], want, rel_tol=1e-6)


# MSE is the mean of the squares, on every path.


@pytest.mark.parametrize(
    ("y", "p", "want"),
    [
        ([INF, 1.0], [1.0, 1.0], INF),  # an infinite error in one row
        ([-INF, 1.0], [1.0, 1.0], INF),
        ([1.0, 2.0], [INF, 2.0], INF),
        ([1.0, 2.0], [-INF, 2.0], INF),
        ([INF, 1.0], [INF, 1.0], NAN),  # inf - inf is not a number
        ([1e200, 0.0], [0.0, 0.0], INF),  # the square overflows, as in numpy
        ([NAN, 1.0], [1.0, 1.0], NAN),
    ],
)
def test_infinite_errors_give_the_same_mse_everywhere(
    y: list[float], p: list[float], want: float
) -> None:
    with np.errstate(invalid="ignore", over="ignore"):
        reference = float(np.mean((np.array(y) - np.array(p)) ** 2))
    assert _same(reference, want)
    assert_everywhere(
        _frame(y, p),
        {"mse": want, "rmse": math.sqrt(want), "sse": want * 2},
    )


@pytest.mark.parametrize(
    ("w", "want"),
    [
        ([INF, 1.0], NAN),  # inf / inf: the weighted mean is undefined
        ([INF, INF], NAN),
        ([NAN, 1.0], NAN),  # nan_policy="propagate"
        ([-INF, 1.0], None),  # a negative weight: null
        ([1.0, 3.0], 1.0),  # both errors are 1
    ],
)
def test_extreme_weights(w: list[float], want: float | None) -> None:
    frame = _frame([1.0, 2.0], [2.0, 3.0], w)
    assert_everywhere(frame, {"mse": want, "mae": want}, weight="w")
    if w[0] == w[0]:
        return
    # A NaN weight with nan_policy="omit" is a missing weight: the row goes.
    omitted = frame.select(polars_l2.mse("y", "p", weight="w", nan_policy="omit"))
    assert omitted.item() == 1.0


@pytest.mark.slow
@settings(max_examples=40)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([0.0, 1.5, -2.0, 1e100, INF, -INF]),
            st.sampled_from([0.0, 1.5, -2.0, INF]),
            st.sampled_from([0.0, 0.5, 2.0, INF]),
        ),
        min_size=1,
        max_size=6,
    ),
    weighted=st.booleans(),
)
def test_report_finalize_and_functions_agree_with_infinities(
    rows: list[tuple[float, float, float]], weighted: bool
) -> None:
    y, p, w = (list(column) for column in zip(*rows, strict=True))
    frame = _frame(y, p, w)
    weight = "w" if weighted else None
    found = paths(frame, weight=weight)
    for name in ("sse", "mse", "rmse"):
        got = frame.select(getattr(polars_l2, name)("y", "p", weight=weight)).item()
        for path, row in found.items():
            assert _same(row[name], got), (path, name, row[name], got)


# A zero weight removes its row, whatever its error.


def test_a_zero_weight_removes_a_row_whose_error_would_overflow() -> None:
    frame = _frame([1.0, 2.0, 1e300], [1.5, 2.0, 0.0], [1.0, 1.0, 0.0])
    sse = Fraction(1, 4)
    assert_everywhere(
        frame,
        {
            "n": 2,
            "weight_sum": 2.0,
            "sse": float(sse),
            "mse": float(sse / 2),
            "mae": 0.25,
            "max_error": 0.5,
            "bias": 0.25,  # predicted minus actual
        },
        weight="w",
    )


@pytest.mark.parametrize("bad", [INF, -INF, NAN, 1e300])
@pytest.mark.parametrize("zero", [0.0, -0.0])
def test_a_zero_weight_removes_any_error(bad: float, zero: float) -> None:
    frame = _frame([1.0, 2.0, bad], [2.0, 2.0, 0.0], [1.0, 3.0, zero])
    # Over the two counted rows: SSE 1, W 4, weighted mean of y 7/4.
    sst = 1 * Fraction(3, 4) ** 2 + 3 * Fraction(1, 4) ** 2
    assert_everywhere(
        frame,
        {"n": 2, "mse": 0.25, "sse": 1.0, "max_error": 1.0, "r2": float(1 - 1 / sst)},
        weight="w",
    )


def test_the_concentration_curve_leaves_zero_weights_out() -> None:
    frame = _frame([1.0, 2.0, INF], [2.0, 2.0, 0.0], [1.0, 3.0, 0.0])
    curve = concentration_curve(frame, "y", "p", weight="w")
    assert curve["share_of_sse"].to_list()[-1] == 1.0
    assert not curve["share_of_sse"].is_nan().any()


# One sign: the error is predicted minus actual, in the state and the report.


def test_the_state_and_the_report_share_the_sign_of_the_error() -> None:
    frame = _frame([1.0, 2.0], [3.0, 3.0])  # over-predicts by 2 and 1
    state = polars_l2.state(frame, "y", "p")
    assert state["error_mean"].item() == 1.5
    assert_everywhere(frame, {"bias": 1.5})

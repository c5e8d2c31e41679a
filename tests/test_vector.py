"""Vector targets (Array, List) against scikit-learn, numpy and the scalar API.

References are built independently of the code under test: scikit-learn's
``multioutput`` results on 2-D numpy data (rows or elements dropped per the
null policy, since scikit-learn takes no nulls), ``numpy.linalg.norm`` for the
per-row loss, exact ``math.fsum`` over Python integers and Decimals, and a loop
over one scalar column per output through the scalar API.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from polars.exceptions import InvalidOperationError
from polars.testing import assert_frame_equal, assert_series_equal
from sklearn.metrics import mean_squared_error, root_mean_squared_error

import polars_l2

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tests.conftest import Runner

AGGREGATES = ["sse", "mse", "rmse"]
MODES: list[Any] = ["uniform_average", "raw_values", "sum"]

# ---------------------------------------------------------------- helpers


def vector_frame(
    y: np.ndarray,
    p: np.ndarray,
    *,
    present: np.ndarray | None = None,
    row_null: np.ndarray | None = None,
    w: np.ndarray | None = None,
    kind: str = "array",
) -> pl.DataFrame:
    """Build a frame with vector columns "y" and "p" (and weight "w").

    `present` (n, k) marks the elements kept (others are null in "y");
    `row_null` (n,) marks rows whose "p" vector is null.
    """
    n, k = y.shape
    keep = np.ones((n, k), bool) if present is None else present
    gone = np.zeros(n, bool) if row_null is None else row_null
    ys = [
        [float(v) if ok else None for v, ok in zip(r, m, strict=True)]
        for r, m in zip(y, keep, strict=True)
    ]
    ps = [None if g else [float(v) for v in r] for r, g in zip(p, gone, strict=True)]
    dtype: pl.DataType = (
        pl.Array(pl.Float64, k) if kind == "array" else pl.List(pl.Float64)
    )
    data: dict[str, Any] = {"y": ys, "p": ps}
    schema: dict[str, pl.DataType] = {"y": dtype, "p": dtype}
    if w is not None:
        data["w"] = [float(v) for v in w]
        schema["w"] = pl.Float64()
    return pl.DataFrame(data, schema=schema)


def reference(  # noqa: PLR0917
    metric: str,
    y: np.ndarray,
    p: np.ndarray,
    present: np.ndarray,
    w: np.ndarray | None,
    multioutput: Any,
) -> Any:
    """Compute the metric with scikit-learn per output, over present elements."""
    k = y.shape[1]
    mse: list[float | None] = []
    sse: list[float | None] = []
    for j in range(k):
        rows = present[:, j]
        if not rows.any():
            mse.append(None)
            sse.append(None)
            continue
        sw = None if w is None else w[rows]
        mse.append(mean_squared_error(y[rows, j], p[rows, j], sample_weight=sw))
        ww = np.ones(rows.sum()) if sw is None else sw
        sse.append(math.fsum(ww * (y[rows, j] - p[rows, j]) ** 2))
    base = sse if metric == "sse" else mse
    per = (
        [None if v is None else math.sqrt(v) for v in base]
        if metric == "rmse"
        else base
    )
    if multioutput == "raw_values":
        return per
    if multioutput == "sum":
        if None in base:
            return None
        total = math.fsum(base)  # type: ignore[arg-type]
        return math.sqrt(total) if metric == "rmse" else total
    weights = (
        np.ones(k) if multioutput == "uniform_average" else np.asarray(multioutput)
    )
    kept = [(wt, v) for wt, v in zip(weights, per, strict=True) if wt != 0]
    if any(v is None for _, v in kept):
        return None
    return float(np.average([v for _, v in kept], weights=[wt for wt, _ in kept]))


def assert_close(got: Any, want: Any) -> None:
    if isinstance(want, list):
        assert isinstance(got, list)
        assert len(got) == len(want)
        for g, v in zip(got, want, strict=True):
            assert_close(g, v)
    elif want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def metric_fn(name: str) -> Callable[..., pl.Expr]:
    fn: Callable[..., pl.Expr] = getattr(polars_l2, name)
    return fn


# ------------------------------------------------ scikit-learn, 2-D data


@st.composite
def matrices(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, p, w): n rows of k outputs, and positive row weights."""
    n = draw(st.integers(1, 25))
    k = draw(st.integers(1, 8))
    values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    y = draw(hnp.arrays(np.float64, (n, k), elements=values))
    p = draw(hnp.arrays(np.float64, (n, k), elements=values))
    w = draw(hnp.arrays(np.float64, (n,), elements=st.floats(0.1, 10)))
    return y, p, w


output_weights = st.integers(1, 8).flatmap(
    lambda k: st.lists(st.floats(0, 5), min_size=k, max_size=k).filter(
        lambda ws: sum(ws) > 0.1
    )
)


@pytest.mark.slow
@given(data=matrices(), weighted=st.booleans(), kind=st.sampled_from(["array", "list"]))
def test_matches_sklearn_multioutput_on_complete_data(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], weighted: bool, kind: str
) -> None:
    y, p, w = data
    k = y.shape[1]
    df = vector_frame(y, p, w=w, kind=kind)
    sw = w if weighted else None
    weight = "w" if weighted else None
    width = k if kind == "list" else None
    out_weights = np.linspace(1.0, 2.0, k)
    modes: list[tuple[Any, Any]] = [
        ("uniform_average", "uniform_average"),
        ("raw_values", "raw_values"),
    ]
    if k > 1:  # scikit-learn refuses output weights for one output
        modes.append((out_weights.tolist(), out_weights))
    for mode, sk_mode in modes:
        got = df.select(
            mse=polars_l2.mse("y", "p", weight=weight, multioutput=mode, width=width),
            rmse=polars_l2.rmse("y", "p", weight=weight, multioutput=mode, width=width),
        ).row(0)
        want_mse = mean_squared_error(y, p, sample_weight=sw, multioutput=sk_mode)
        want_rmse = root_mean_squared_error(y, p, sample_weight=sw, multioutput=sk_mode)
        if mode == "raw_values":
            assert_close(list(got[0]), list(want_mse))
            assert_close(list(got[1]), list(want_rmse))
        else:
            assert_close(got[0], float(want_mse))
            assert_close(got[1], float(want_rmse))
    # "sum": the mean over rows of the squared distance, and its root.
    ww = w if weighted else np.ones(len(y))
    sq = np.linalg.norm(y - p, axis=1) ** 2
    got_sum = df.select(
        sse=polars_l2.sse("y", "p", weight=weight, multioutput="sum", width=width),
        mse=polars_l2.mse("y", "p", weight=weight, multioutput="sum", width=width),
        rmse=polars_l2.rmse("y", "p", weight=weight, multioutput="sum", width=width),
    ).row(0)
    mean_sq = math.fsum(ww * sq) / math.fsum(ww)
    assert_close(list(got_sum), [math.fsum(ww * sq), mean_sq, math.sqrt(mean_sq)])


@given(
    data=matrices(),
    weighted=st.booleans(),
    kind=st.sampled_from(["array", "list"]),
    masks=st.data(),
    metric=st.sampled_from(AGGREGATES),
)
def test_matches_sklearn_per_output_with_nulls(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    weighted: bool,
    kind: str,
    masks: st.DataObject,
    metric: str,
) -> None:
    # Null elements drop one output of one row; a null vector drops the row.
    y, p, w = data
    n, k = y.shape
    present = masks.draw(hnp.arrays(np.bool_, (n, k)), label="present")
    row_null = masks.draw(hnp.arrays(np.bool_, (n,)), label="row_null")
    ws = masks.draw(st.lists(st.floats(0, 5), min_size=k, max_size=k))
    df = vector_frame(y, p, present=present, row_null=row_null, w=w, kind=kind)
    kept = present & ~row_null[:, None]
    sw = w if weighted else None
    modes = [*MODES] + ([ws] if sum(ws) > 0.1 else [])
    fn = metric_fn(metric)
    width = k if kind == "list" else None
    got = df.select(
        [
            fn(
                "y", "p", weight="w" if weighted else None, multioutput=m, width=width
            ).alias(str(i))
            for i, m in enumerate(modes)
        ]
    ).row(0)
    for g, mode in zip(got, modes, strict=True):
        want = reference(metric, y, p, kept, sw, mode)
        assert_close(list(g) if mode == "raw_values" else g, want)


@given(data=matrices(), masks=st.data())
def test_loss_is_numpy_squared_norm(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], masks: st.DataObject
) -> None:
    y, p, _ = data
    n, k = y.shape
    present = masks.draw(hnp.arrays(np.bool_, (n, k)), label="present")
    row_null = masks.draw(hnp.arrays(np.bool_, (n,)), label="row_null")
    want = np.linalg.norm(y - p, axis=1) ** 2
    complete = present.all(axis=1) & ~row_null
    for kind in ("array", "list"):
        df = vector_frame(y, p, present=present, row_null=row_null, kind=kind)
        got = df.select(polars_l2.loss("y", "p"))["y"]
        assert got.dtype == pl.Float64
        for g, v, ok in zip(got.to_list(), want, complete, strict=True):
            assert_close(g, float(v) if ok else None)


# --------------------------------- a loop over scalar columns, one per output


def scalar_columns(df: pl.DataFrame, k: int) -> pl.DataFrame:
    """One scalar column per output: y0..y{k-1}, p0..p{k-1} (plus w)."""
    # A null vector becomes nulls in every output of its row.
    return df.select(
        *[pl.col("y").arr.get(j).alias(f"y{j}") for j in range(k)],
        *[pl.col("p").arr.get(j).alias(f"p{j}") for j in range(k)],
        pl.exclude("y", "p"),
    )


@st.composite
def integer_vectors(draw: st.DrawFn) -> tuple[pl.DataFrame, int]:
    """Array(Int64) vectors with big values, nulls and NaN-free weights."""
    n = draw(st.integers(0, 12))
    k = draw(st.integers(1, 5))
    big = st.one_of(st.none(), st.integers(-(2**62), 2**62))
    vec = st.one_of(st.none(), st.lists(big, min_size=k, max_size=k))
    return (
        pl.DataFrame(
            {
                "y": draw(st.lists(vec, min_size=n, max_size=n)),
                "p": draw(st.lists(vec, min_size=n, max_size=n)),
                "w": draw(
                    st.lists(
                        st.one_of(st.none(), st.floats(0, 10)), min_size=n, max_size=n
                    )
                ),
            },
            schema={
                "y": pl.Array(pl.Int64, k),
                "p": pl.Array(pl.Int64, k),
                "w": pl.Float64,
            },
        ),
        k,
    )


@given(
    data=integer_vectors(), metric=st.sampled_from(AGGREGATES), weighted=st.booleans()
)
def test_raw_values_equal_a_loop_over_scalar_columns(
    data: tuple[pl.DataFrame, int], metric: str, weighted: bool
) -> None:
    df, k = data
    fn = metric_fn(metric)
    weight = "w" if weighted else None
    got = df.select(fn("y", "p", weight=weight, multioutput="raw_values"))["y"]
    cols = scalar_columns(df, k)
    loop = cols.select(
        [fn(f"y{j}", f"p{j}", weight=weight).alias(f"o{j}") for j in range(k)]
    ).row(0)
    assert got.to_list() == [list(loop)]
    # The default combines the same per-output values.
    avg = df.select(fn("y", "p", weight=weight)).item()
    assert_close(avg, None if None in loop else math.fsum(loop) / k)


def test_int64_vectors_are_exact() -> None:
    # Differences of 64-bit integers near the limits, exactly, per element.
    big = 2**62
    df = pl.DataFrame(
        {"y": [[big + 3, -big], [1, 2]], "p": [[big, big], [4, 2]]},
        schema={"y": pl.Array(pl.Int64, 2), "p": pl.Array(pl.Int64, 2)},
    )
    want = [float(3**2 + (2 * big) ** 2), 9.0]
    assert df.select(polars_l2.loss("y", "p"))["y"].to_list() == want
    raw = df.select(polars_l2.sse("y", "p", multioutput="raw_values")).item()
    assert raw.to_list() == [9.0 + 9.0, float((2 * big) ** 2)]
    as_list = df.with_columns(pl.col("y", "p").cast(pl.List(pl.Int64)))
    assert as_list.select(polars_l2.loss("y", "p"))["y"].to_list() == want


def test_unsigned_vectors_do_not_wrap() -> None:
    df = pl.DataFrame(
        {"y": [[1, 200]], "p": [[3, 0]]},
        schema={"y": pl.Array(pl.UInt8, 2), "p": pl.Array(pl.UInt8, 2)},
    )
    assert df.select(polars_l2.loss("y", "p")).item() == 4.0 + 200.0**2


def test_decimal_vectors_keep_their_scale_and_are_exact() -> None:
    # 0.05 squared is 0.0025; two close 20-digit Decimals differ exactly.
    a = [Decimal("1234567890123456789.05"), Decimal("0.10")]
    b = [Decimal("1234567890123456789.00"), Decimal("0.15")]
    df = pl.DataFrame(
        {"y": [a], "p": [b]},
        schema={
            "y": pl.Array(pl.Decimal(22, 2), 2),
            "p": pl.Array(pl.Decimal(22, 2), 2),
        },
    )
    want = math.fsum(float((x - z) ** 2) for x, z in zip(a, b, strict=True))
    assert df.select(polars_l2.loss("y", "p")).item() == pytest.approx(want, rel=1e-15)
    raw = df.select(polars_l2.mse("y", "p", multioutput="raw_values")).item()
    assert raw.to_list() == pytest.approx([0.0025, 0.0025], rel=1e-15)


@pytest.mark.parametrize(
    "inner",
    [pl.Int8, pl.Int32, pl.UInt32, pl.Float32, pl.Boolean, pl.Decimal(10, 3)],
    ids=str,
)
@pytest.mark.parametrize("kind", ["array", "list"])
def test_every_numeric_inner_type_matches_the_scalar_loop(
    inner: pl.DataType, kind: str
) -> None:
    values = {
        "y": [[1, 0, 1], [0, None, 1], None],
        "p": [[0, 0, 1], [1, 1, 0], [1, 1, 1]],
    }
    base = pl.DataFrame(
        values, schema={"y": pl.Array(pl.Int8, 3), "p": pl.Array(pl.Int8, 3)}
    )
    typed = base.with_columns(pl.col("y", "p").cast(pl.Array(inner, 3)))
    cols = scalar_columns(typed, 3)
    if kind == "list":
        typed = typed.with_columns(pl.col("y", "p").cast(pl.List(inner)))
    width = 3 if kind == "list" else None
    got = typed.select(
        loss=polars_l2.loss("y", "p"),
        raw=polars_l2.mse("y", "p", multioutput="raw_values", width=width),
    )
    assert got.schema == pl.Schema(
        {"loss": pl.Float64(), "raw": pl.Array(pl.Float64, 3)}
    )
    loop = cols.select([polars_l2.mse(f"y{j}", f"p{j}") for j in range(3)]).row(0)
    assert got["raw"][0].to_list() == list(loop)
    loss_loop = cols.select(
        pl.sum_horizontal(
            [polars_l2.loss(f"y{j}", f"p{j}") for j in range(3)], ignore_nulls=False
        )
    ).to_series()
    assert got["loss"].to_list() == loss_loop.to_list()


# ------------------------------------------------------------- null policy


def test_null_vector_drops_the_row_and_null_element_drops_one_output() -> None:
    df = pl.DataFrame(
        {
            "y": [[1.0, 10.0], [2.0, None], None, [4.0, 40.0]],
            "p": [[0.0, 10.0], [0.0, 0.0], [0.0, 0.0], [0.0, 38.0]],
        },
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 2)},
    )
    out = df.select(
        loss=polars_l2.loss("y", "p"),
        raw=polars_l2.mse("y", "p", multioutput="raw_values"),
    )
    # Output 0 counts rows 1, 2, 4; output 1 rows 1 and 4 only.
    assert out["raw"][0].to_list() == [(1 + 4 + 16) / 3, (0 + 4) / 2]
    # A row's distance is unknown if any element is missing.
    assert out["loss"].to_list() == [1.0, None, None, 20.0]


def test_an_output_without_data_makes_averages_null_not_partial() -> None:
    df = pl.DataFrame(
        {
            "g": [1, 1, 2],
            "y": [[1.0, None], [2.0, None], [3.0, 3.0]],
            "p": [[0.0, 0.0]] * 3,
        },
        schema={
            "g": pl.Int64,
            "y": pl.Array(pl.Float64, 2),
            "p": pl.Array(pl.Float64, 2),
        },
    )
    out = df.group_by("g", maintain_order=True).agg(
        raw=polars_l2.mse("y", "p", multioutput="raw_values"),
        avg=polars_l2.mse("y", "p"),
        sum=polars_l2.mse("y", "p", multioutput="sum"),
        first_only=polars_l2.mse("y", "p", multioutput=[1, 0]),
    )
    assert out["raw"].to_list() == [[2.5, None], [9.0, 9.0]]
    assert out["avg"].to_list() == [None, 9.0]
    assert out["sum"].to_list() == [None, 18.0]
    # An output with weight 0 is left out, so its missing value does not matter.
    assert out["first_only"].to_list() == [2.5, 9.0]


def test_nan_policy_applies_per_element() -> None:
    nan = float("nan")
    df = pl.DataFrame(
        {"y": [[1.0, nan], [2.0, 2.0]], "p": [[0.0, 0.0], [0.0, 1.0]]},
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 2)},
    )
    propagate = df.select(
        loss=polars_l2.loss("y", "p"),
        raw=polars_l2.mse("y", "p", multioutput="raw_values"),
    )
    assert math.isnan(propagate["loss"][0])
    assert propagate["raw"][0][0] == 2.5
    assert math.isnan(propagate["raw"][0][1])
    omit = df.select(
        loss=polars_l2.loss("y", "p", nan_policy="omit"),
        raw=polars_l2.mse("y", "p", multioutput="raw_values", nan_policy="omit"),
    )
    assert omit["loss"].to_list() == [None, 5.0]
    assert omit["raw"][0].to_list() == [2.5, 1.0]


def test_weight_is_per_row_and_counts_only_present_elements() -> None:
    df = pl.DataFrame(
        {
            "y": [[1.0, 1.0], [3.0, None], [5.0, 5.0]],
            "p": [[0.0, 0.0]] * 3,
            "w": [1.0, 3.0, None],
        },
        schema={
            "y": pl.Array(pl.Float64, 2),
            "p": pl.Array(pl.Float64, 2),
            "w": pl.Float64,
        },
    )
    raw = df.select(
        polars_l2.mse("y", "p", weight="w", multioutput="raw_values")
    ).item()
    assert raw.to_list() == [(1 * 1 + 3 * 9) / (1 + 3), 1.0]


# ------------------------------------------------------ scalar inputs


def test_scalar_columns_are_one_output() -> None:
    df = pl.DataFrame({"y": [1.0, 2.0, 4.0], "p": [1.5, 2.0, 2.0]})
    plain = df.select(polars_l2.rmse("y", "p")).item()
    out = df.select(
        raw=polars_l2.rmse("y", "p", multioutput="raw_values"),
        sum=polars_l2.rmse("y", "p", multioutput="sum"),
        weights=polars_l2.rmse("y", "p", multioutput=[3.0]),
        width=polars_l2.rmse("y", "p", width=1),
    )
    assert out.schema["raw"] == pl.Array(pl.Float64, 1)
    assert out["raw"][0].to_list() == [plain]
    assert out.row(0)[1:] == (plain, plain, plain)


def test_default_scalar_plan_is_unchanged() -> None:
    lf = pl.LazyFrame({"y": [1.0], "p": [2.0]})
    assert (
        lf.select(polars_l2.mse("y", "p")).explain()
        == lf.select(((pl.col("y") - pl.col("p")).pow(2)).mean()).explain()
    )


# ------------------------------------------------------------------ errors


def test_array_widths_differ_at_plan_time() -> None:
    lf = pl.LazyFrame(
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 3)}
    )
    for name in ["loss", *AGGREGATES]:
        with pytest.raises(
            polars_l2.L2InputError,
            match=rf"{name}: vector widths differ: actual column 'y' .*\(width 2\) "
            r"but predicted column 'p' .*\(width 3\)",
        ):
            lf.select(metric_fn(name)("y", "p")).collect_schema()


def test_width_and_output_weights_must_match_the_array() -> None:
    lf = pl.LazyFrame(
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 2)}
    )
    with pytest.raises(
        polars_l2.L2InputError, match=r"\(width 2\) but width=3 was given"
    ):
        lf.select(polars_l2.mse("y", "p", width=3)).collect_schema()
    with pytest.raises(
        polars_l2.L2InputError, match=r"multioutput has 3 output weights \(width 3\)"
    ) as error:
        lf.select(polars_l2.rmse("y", "p", multioutput=[1, 1, 1])).collect_schema()
    # The two columns agree: said together, once, not as differing.
    first = str(error.value).splitlines()[0]
    assert first.count("(width 2)") == 1
    assert "'y' has dtype Array(Float64, shape=(2,)) and predicted column 'p'" in first


@pytest.mark.parametrize("name", ["loss", *AGGREGATES])
def test_list_rows_of_different_widths_fail_the_query(name: str, run: Runner) -> None:
    df = pl.DataFrame(
        {"y": [[1.0, 2.0], [1.0, 2.0, 3.0]], "p": [[1.0, 2.0], [1.0, 2.0]]}
    )
    kwargs = {} if name == "loss" else {"width": 2}
    with pytest.raises(
        InvalidOperationError,
        match=rf"polars_l2.{name}: vectors of different widths in one row: "
        r"actual column 'y' has width 3, predicted column 'p' has width 2",
    ):
        run(df, lambda lf: lf.select(metric_fn(name)("y", "p", **kwargs)))


def test_list_row_of_another_width_than_expected_fails() -> None:
    df = pl.DataFrame({"y": [[1.0, 2.0, 3.0]], "p": [[1.0, 2.0, 3.0]]})
    with pytest.raises(
        InvalidOperationError, match=r"has width 3.*expected width 2, as width=2"
    ):
        df.select(polars_l2.mse("y", "p", width=2))
    arr = df.with_columns(pl.col("p").cast(pl.Array(pl.Float64, 3)))
    short = arr.with_columns(y=pl.lit([1.0, 2.0], dtype=pl.List(pl.Float64)))
    with pytest.raises(
        InvalidOperationError, match=r"actual column 'y' has width 2.*expected width 3"
    ):
        short.select(polars_l2.mse("y", "p"))
    # Equal widths pass, and give the same as Arrays.
    assert df.select(polars_l2.mse("y", "p", width=3)).item() == 0.0


def test_list_aggregate_needs_a_width() -> None:
    lf = pl.LazyFrame(schema={"y": pl.List(pl.Float64), "p": pl.List(pl.Float64)})
    for name in AGGREGATES:
        with pytest.raises(polars_l2.L2InputError, match=rf"{name}: .*pass width="):
            lf.select(metric_fn(name)("y", "p")).collect_schema()
    # The loss does not need one; output weights give one.
    lf.select(polars_l2.loss("y", "p")).collect_schema()
    schema = lf.select(polars_l2.mse("y", "p", multioutput=[1, 2])).collect_schema()
    assert schema["y"] == pl.Float64


@pytest.mark.parametrize(
    "dtype",
    [
        pl.List(pl.String),
        pl.Array(pl.String, 2),
        pl.Array(pl.Date, 2),
        pl.Array(pl.Float64, (2, 2)),
        pl.List(pl.List(pl.Float64)),
    ],
    ids=str,
)
def test_non_numeric_inner_type_fails_at_plan_time(dtype: pl.DataType) -> None:
    lf = pl.LazyFrame(schema={"y": pl.Array(pl.Float64, 2), "p": dtype})
    with pytest.raises(
        polars_l2.L2InputError,
        match=rf"mse: predicted column 'p' has dtype {re.escape(str(dtype))}.*numeric",
    ):
        lf.select(polars_l2.mse("y", "p")).collect_schema()


def test_vector_against_scalar_fails_at_plan_time() -> None:
    lf = pl.LazyFrame(schema={"y": pl.Array(pl.Float64, 2), "p": pl.Float64})
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"actual column 'y' is a vector .* but predicted column 'p' is not",
    ):
        lf.select(polars_l2.loss("y", "p")).collect_schema()


def test_scalar_with_a_width_of_several_outputs_fails() -> None:
    lf = pl.LazyFrame(schema={"y": pl.Float64, "p": pl.Float64})
    with pytest.raises(polars_l2.L2InputError, match=r"width=2 was given.*one output"):
        lf.select(polars_l2.mse("y", "p", width=2)).collect_schema()
    with pytest.raises(polars_l2.L2InputError, match=r"2 output weights.*one output"):
        lf.select(polars_l2.mse("y", "p", multioutput=[1, 1])).collect_schema()


def test_zero_width_array_fails() -> None:
    lf = pl.LazyFrame(
        schema={"y": pl.Array(pl.Float64, 0), "p": pl.Array(pl.Float64, 0)}
    )
    with pytest.raises(polars_l2.L2InputError, match="at least one output"):
        lf.select(polars_l2.mse("y", "p")).collect_schema()


@pytest.mark.parametrize(
    ("multioutput", "message"),
    [
        ("mean", "multioutput must be one of"),
        ([], "must not be empty"),
        ([1.0, -1.0], "finite and >= 0"),
        ([1.0, float("nan")], "finite and >= 0"),
        ([0, 0], "must not all be zero"),
        ([True, 1], "must be numbers"),
        (["a"], "must be numbers"),
        (3, "or a sequence of output weights"),
    ],
)
def test_bad_multioutput_fails_when_the_expression_is_built(
    multioutput: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        polars_l2.mse("y", "p", multioutput=multioutput)


@pytest.mark.parametrize("width", [0, -1, 2.0, True])
def test_bad_width_fails_when_the_expression_is_built(width: Any) -> None:
    with pytest.raises(ValueError, match="width must be a positive integer"):
        polars_l2.loss("y", "p", width=width)


def test_output_weights_accept_numpy() -> None:
    df = pl.DataFrame(
        {"y": [[1.0, 2.0]], "p": [[0.0, 0.0]]},
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 2)},
    )
    out = df.select(polars_l2.mse("y", "p", multioutput=np.array([1, 3]))).item()
    assert out == pytest.approx((1 * 1 + 3 * 4) / 4)


# ------------------------------------------- contexts, engines and plans


VECTORS = pl.DataFrame(
    {
        "g": ["a", "a", "b", "b", "b"],
        "y": [[1.0, 2.0], [2.0, None], [0.0, 0.0], None, [3.0, 1.0]],
        "p": [[1.5, 2.0], [1.0, 1.0], [1.0, -1.0], [0.0, 0.0], [1.0, 1.0]],
        "w": [1.0, 2.0, 1.0, 1.0, 0.5],
    },
    schema={
        "g": pl.String,
        "y": pl.Array(pl.Float64, 2),
        "p": pl.Array(pl.Float64, 2),
        "w": pl.Float64,
    },
)


def per_group_reference(metric: str, mode: Any, *, weighted: bool) -> dict[str, Any]:
    out = {}
    for (g,), part in VECTORS.group_by("g"):
        rows = part.filter(pl.col("y").is_not_null() & pl.col("p").is_not_null())
        y = np.array(
            [[np.nan if v is None else v for v in r] for r in rows["y"].to_list()]
        )
        p = np.array(rows["p"].to_list(), dtype=float)
        w = rows["w"].to_numpy() if weighted else None
        out[g] = reference(metric, y, p, ~np.isnan(y), w, mode)
    return out


@pytest.mark.parametrize("metric", AGGREGATES)
@pytest.mark.parametrize("kind", ["array", "list"])
def test_group_by_and_over_on_every_engine(metric: str, kind: str, run: Runner) -> None:
    df = (
        VECTORS
        if kind == "array"
        else VECTORS.with_columns(pl.col("y", "p").cast(pl.List(pl.Float64)))
    )
    fn = metric_fn(metric)
    width = 2 if kind == "list" else None
    modes: list[Any] = [*MODES, [1.0, 3.0]]
    exprs = [
        fn("y", "p", weight="w", multioutput=m, width=width).alias(f"m{i}")
        for i, m in enumerate(modes)
    ]
    grouped = run(df, lambda lf: lf.group_by("g").agg(exprs).sort("g"))
    over = run(df, lambda lf: lf.select("g", *[e.over("g") for e in exprs]))
    for i, mode in enumerate(modes):
        want = per_group_reference(metric, mode, weighted=True)
        for g, value in zip(grouped["g"], grouped[f"m{i}"], strict=True):
            got = value.to_list() if mode == "raw_values" else value
            assert_close(got, want[g])
        for g, value in zip(over["g"], over[f"m{i}"], strict=True):
            got = value.to_list() if mode == "raw_values" else value
            assert_close(got, want[g])


def test_lazy_schema_names_and_dtypes() -> None:
    lf = VECTORS.lazy()
    schema = lf.select(
        polars_l2.loss("y", "p").alias("loss"),
        polars_l2.mse("y", "p", multioutput="raw_values").alias("raw"),
        polars_l2.rmse("y", "p", weight="w"),
    ).collect_schema()
    assert schema == pl.Schema(
        {"loss": pl.Float64(), "raw": pl.Array(pl.Float64, 2), "y": pl.Float64()}
    )
    assert polars_l2.l2("y").mse("p", multioutput="sum").meta.output_name() == "y"


VECTOR_QUERIES: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {
    "loss-array": lambda lf: lf.with_columns(polars_l2.loss("y", "p").alias("l")),
    "loss-list": lambda lf: lf.with_columns(
        polars_l2.loss(
            pl.col("y").cast(pl.List(pl.Float64)), pl.col("p").cast(pl.List(pl.Int64))
        ).alias("l")
    ),
    "select": lambda lf: lf.select(
        polars_l2.mse("y", "p", weight="w", multioutput="raw_values").alias("a"),
        polars_l2.rmse("y", "p", nan_policy="omit").alias("b"),
    ),
    "group_by-list": lambda lf: lf.group_by("g").agg(
        polars_l2.rmse(
            pl.col("y").cast(pl.List(pl.Float64)), "p", multioutput=[1, 2]
        ).alias("r")
    ),
    "over": lambda lf: lf.with_columns(
        polars_l2.sse("y", "p", multioutput="sum").over("g").alias("s")
    ),
}


@pytest.mark.parametrize("name", list(VECTOR_QUERIES))
def test_plans_hold_native_expressions_only(name: str) -> None:
    lf = VECTOR_QUERIES[name](VECTORS.lazy())
    plan = lf.explain()
    assert "python" not in plan.lower()
    assert "udf" not in plan.lower()
    graph = lf.show_graph(engine="streaming", plan_stage="physical", raw_output=True)
    assert isinstance(graph, str)
    nodes = [line for line in graph.splitlines() if re.match(r"\s*\d+ \[label=", line)]
    assert nodes, graph
    for node in nodes:
        assert 'fillcolor="0.0 0.3 1.0"' not in node, node
        assert "in-memory-map" not in node, node
    # And the query runs on the streaming engine.
    assert_frame_equal(
        lf.collect(engine="streaming"),
        lf.collect(engine="in-memory"),
        check_row_order=False,
    )


def test_namespace_matches_functions() -> None:
    for name in AGGREGATES:
        via_fn = VECTORS.select(
            metric_fn(name)("y", "p", weight="w", multioutput="raw_values")
        )
        via_ns = VECTORS.select(
            getattr(polars_l2.l2("y"), name)("p", weight="w", multioutput="raw_values")
        )
        assert_frame_equal(via_fn, via_ns)
    assert_series_equal(
        VECTORS.select(polars_l2.loss("y", "p")).to_series(),
        VECTORS.select(polars_l2.l2("y").loss("p", width=2)).to_series(),
    )


def rmse_average_vs_root_of_average(
    y: Sequence[Sequence[float]], p: Sequence[Sequence[float]]
) -> tuple[float, float]:
    """scikit-learn's uniform average of RMSEs, and the root of the averaged MSE."""
    ya, pa = np.asarray(y), np.asarray(p)
    return (
        float(root_mean_squared_error(ya, pa)),
        math.sqrt(float(mean_squared_error(ya, pa))),
    )


def test_rmse_uniform_average_is_not_the_root_of_the_average_mse() -> None:
    y = [[0.0, 0.0], [0.0, 0.0]]
    p = [[1.0, 0.0], [1.0, 10.0]]
    df = vector_frame(np.asarray(y), np.asarray(p))
    mean_of_roots, root_of_mean = rmse_average_vs_root_of_average(y, p)
    assert mean_of_roots != pytest.approx(root_of_mean)
    got = df.select(
        a=polars_l2.rmse("y", "p"),
        b=polars_l2.mse("y", "p").sqrt(),
        c=polars_l2.rmse("y", "p", multioutput="sum") / math.sqrt(2),
    ).row(0)
    assert got == pytest.approx((mean_of_roots, root_of_mean, root_of_mean))


# ------------------------------------------------ the docs page's examples

DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "vector-targets.md"
NUMBER = re.compile(r"-?\d+\.\d+(?:e[+-]?\d+)?")


def run_docs_page() -> tuple[list[str], dict[str, Any]]:
    """Run the page's Python blocks in one namespace; return what each prints."""
    text = DOCS_PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r'^```python exec="on"[^\n]*\n(.*?)^```', text, re.S | re.M)
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {}
    printed = []
    for code in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)  # the page's own code, as the docs build runs it
        printed.append(out.getvalue())
    return printed, namespace


def numbers(text: str) -> list[float]:
    return [float(x) for x in NUMBER.findall(text)]


def test_docs_worked_example_prints_scikit_learn_figures() -> None:
    printed, ns = run_docs_page()
    page = DOCS_PAGE.read_text(encoding="utf-8")
    forecast = ns["forecast"]
    y = np.asarray(forecast["actual"].to_list())
    p = np.asarray(forecast["predicted"].to_list())
    raw_mse = mean_squared_error(y, p, multioutput="raw_values")
    raw_rmse = root_mean_squared_error(y, p, multioutput="raw_values")
    uniform = root_mean_squared_error(y, p)
    root_of_mean = math.sqrt(mean_squared_error(y, p))
    distance = math.sqrt(np.mean(np.linalg.norm(y - p, axis=1) ** 2))
    shown = numbers(printed[1])
    want = [*raw_mse, *raw_rmse, uniform, root_of_mean, distance]
    assert shown == pytest.approx(want, rel=1e-6)
    # The prose quotes the same figures, to three decimals.
    for value in [raw_rmse[0], raw_rmse[1], uniform, root_of_mean, distance]:
        assert f"{value:.3f}" in page, value


def last_column(table: str) -> list[float | None]:
    """Read the last column of a printed frame's rows, as numbers or None."""
    values: list[float | None] = []
    for line in table.splitlines():
        if line.startswith("│") and "┆" in line and not line.startswith("│ ---"):
            cell = line.rstrip("│ ").rsplit("┆", 1)[-1].strip()
            if cell == "null":
                values.append(None)
            elif NUMBER.fullmatch(cell):
                values.append(float(cell))
    return values


def test_docs_examples_print_what_the_references_give() -> None:
    printed, ns = run_docs_page()
    xy = ns["xy"]
    d = np.asarray(xy["pos"].to_list()) - np.asarray(xy["pred"].to_list())
    assert last_column(printed[0]) == list(np.linalg.norm(d, axis=1) ** 2)
    holes = ns["holes"]
    rows = holes["y"].to_list()
    present = np.array(
        [[r is not None and v is not None for v in (r or [None, None])] for r in rows]
    )
    y = np.array([[0.0 if v is None else v for v in (r or [0.0, 0.0])] for r in rows])
    p = np.asarray(holes["yhat"].to_list(), dtype=float)
    loss_table, per_output_table = printed[2].split("shape:")[1:]
    complete = [all(row) for row in present.tolist()]
    norms = np.linalg.norm(y - p, axis=1) ** 2
    want_loss = [
        float(v) if ok else None for v, ok in zip(norms, complete, strict=True)
    ]
    assert_close(last_column(loss_table), want_loss)
    want = reference("mse", y, p, present, None, "raw_values")
    assert numbers(per_output_table) == want
    assert "(width 2) but predicted column 'yhat'" in printed[4]
    assert "(width 3)" in printed[4]
    assert (
        "actual column 'y' has width 3, predicted column 'yhat' has width 2"
        in printed[5]
    )
    # The report's per-output rows: scikit-learn's raw values, and bias.
    forecast = ns["forecast"]
    y = np.asarray(forecast["actual"].to_list())
    p = np.asarray(forecast["predicted"].to_list())
    rows = [line for line in printed[6].splitlines() if line.startswith("│ predicted")]
    assert len(rows) == 2
    mse = mean_squared_error(y, p, multioutput="raw_values")
    rmse = root_mean_squared_error(y, p, multioutput="raw_values")
    bias = (p - y).mean(axis=0)
    max_error = np.abs(p - y).max(axis=0)
    for j, line in enumerate(rows):
        cells = [float(c) for c in line.strip("│ ").split("┆")[1:]]
        want = [j, len(y), mse[j], rmse[j], bias[j], max_error[j]]
        assert cells == pytest.approx(want, rel=1e-6)


# ----------------------------------------------------------------- report

REPORT = pl.DataFrame(
    {
        "g": ["a", "a", "b", "b", "b", "a"],
        "y": [[1.0, 2.0], [2.0, None], [0.0, 0.0], None, [3.0, 1.0], [1.0, 1.0]],
        "p": [[1.5, 2.0], [1.0, 1.0], [1.0, -1.0], [0.0, 0.0], [1.0, 1.0], None],
        "q": [[1.0, 2.5], [2.0, 0.0], [0.5, 0.5], [1.0, 1.0], [2.0, 2.0], [0.0, 3.0]],
        "w": [1.0, 2.0, 1.0, 1.0, 0.5, 3.0],
    },
    schema={
        "g": pl.String,
        "y": pl.Array(pl.Float64, 2),
        "p": pl.Array(pl.Float64, 2),
        "q": pl.List(pl.Float64),
        "w": pl.Float64,
    },
)


def report_per_output_loop(df: pl.DataFrame, k: int, **kwargs: Any) -> pl.DataFrame:
    """Stack the scalar report of each output's column, as a reference.

    Each output is a report of its own (its segments' ``sse_share`` are
    shares of that output's SSE), stacked in the vector report's order.
    """
    reports = [
        polars_l2.report(
            df.select(
                "g",
                "w",
                *[pl.col(c).cast(pl.Array(pl.Float64, k)).arr.get(j) for c in "ypq"],
                output=pl.lit(j, pl.Int64),
            ),
            "y",
            ["p", "q"],
            by=["g", "output"],
            **kwargs,
        )
        for j in range(k)
    ]
    return pl.concat(reports).sort("model", "g", "output", nulls_last=True)


@pytest.mark.parametrize("weighted", [False, True])
def test_report_gives_the_scalar_report_of_each_output(
    run: Runner, *, weighted: bool
) -> None:
    kwargs: dict[str, Any] = {"weight": "w"} if weighted else {}
    got = run(
        REPORT, lambda lf: polars_l2.report(lf, "y", ["p", "q"], by="g", **kwargs)
    )
    want = report_per_output_loop(REPORT, 2, **kwargs)
    assert got.columns[:3] == ["model", "g", "output"]
    assert_frame_equal(got, want)
    # The same per-output figures as the metric functions' raw values.
    for model in ("p", "q"):
        raw = REPORT.group_by("g").agg(
            polars_l2.rmse("y", model, multioutput="raw_values", width=2, **kwargs)
        )
        for g, values in raw.iter_rows():
            rows = got.filter(model=model, g=g).sort("output")["rmse"].to_list()
            assert rows == pytest.approx(list(values), rel=1e-12)


def test_report_of_vectors_is_lazy_and_streams_natively() -> None:
    lf = polars_l2.report(REPORT.lazy(), "y", ["p", "q"], by="g")
    assert lf.collect_schema()["output"] == pl.Int64
    graph = lf.show_graph(engine="streaming", plan_stage="physical", raw_output=True)
    assert isinstance(graph, str)
    nodes = [line for line in graph.splitlines() if re.match(r"\s*\d+ \[label=", line)]
    for node in nodes:
        assert 'fillcolor="0.0 0.3 1.0"' not in node, node
        assert "in-memory-map" not in node, node
    assert "python" not in lf.explain().lower()


def test_report_vector_errors() -> None:
    arrays = pl.LazyFrame(
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 3)}
    )
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"report: vector widths differ: .*\(width 2\) "
        r"but predicted column 'p' .*\(width 3\)",
    ):
        polars_l2.report(arrays, "y", "p")
    mixed = pl.LazyFrame(schema={"y": pl.Array(pl.Float64, 2), "p": pl.Float64})
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"predicted column 'p' has dtype Float64, but other columns are vectors",
    ):
        polars_l2.report(mixed, "y", "p")
    strings = pl.LazyFrame(schema={"y": pl.List(pl.String), "p": pl.List(pl.Float64)})
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"actual column 'y' has dtype List\(String\).*numeric",
    ):
        polars_l2.report(strings, "y", "p")
    clash = pl.LazyFrame(
        schema={
            "output": pl.Int64,
            "y": pl.Array(pl.Float64, 2),
            "p": pl.Array(pl.Float64, 2),
        }
    )
    with pytest.raises(ValueError, match="in a column named 'output'"):
        polars_l2.report(clash, "y", "p", by="output")
    ragged = pl.DataFrame({"y": [[1.0, 2.0], [1.0]], "p": [[1.0, 2.0], [1.0, 2.0]]})
    said = (
        "vectors of different widths in one row: actual column 'y' has width 1, "
        "predicted column 'p' has width 2"
    )
    # Collected by the package (a DataFrame given): its own error, its words
    # alone; collected by the user (a LazyFrame given): Polars' error, with
    # the words in it.
    calls: dict[str, Callable[[pl.DataFrame], object]] = {
        "report": lambda frame: polars_l2.report(frame, "y", "p"),
        "state": lambda frame: polars_l2.state(frame, "y", "p"),
        "compare": lambda frame: polars_l2.compare(
            frame.with_columns(q=pl.col("p")), "y", "p", "q"
        ),
    }
    for function, call in calls.items():
        with pytest.raises(polars_l2.L2InputError) as refused:
            call(ragged)
        want = f"polars_l2.{function}: {said}"
        assert str(refused.value) == (
            want
            if function != "compare"
            else f"{want}, predicted column 'q' has width 2"
        )
    with pytest.raises(InvalidOperationError, match=f"polars_l2.report: {said}"):
        polars_l2.report(ragged.lazy(), "y", "p").collect()


def test_report_of_scalars_has_no_output_column() -> None:
    df = pl.DataFrame({"y": [1.0, 2.0], "p": [1.5, 2.5]})
    assert "output" not in polars_l2.report(df, "y", "p").columns

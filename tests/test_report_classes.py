"""Classes of wrong numbers the report must never give, each with its members.

- vector targets: the overall rows are per output (scikit-learn's linnerud
  data), never pooled across outputs, on the report and on a state;
- an empty input gives the same overall row with and without ``by``
  (report and compare);
- ``sse_share`` is null for every segment of a model whose SSE is unknown,
  and sums to 1 otherwise;
- intervals of MAE, MSE and RMSE never leave [0, inf);
- ``top_1pct_share`` lies within its bounds, which hold the exact share (a
  sort) and merge;
- NaN from pandas stays NaN (``nan_policy`` decides), and inputs Polars
  cannot read are one-line errors, never a Rust panic.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from sklearn.datasets import load_linnerud
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score, root_mean_squared_error

import polars_l2
from tests.report_reference import top_share

if TYPE_CHECKING:
    from polars_l2.typing import NanPolicy

pd = pytest.importorskip("pandas")

# --- vector targets: overall rows per output --------------------------------


def _linnerud() -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Linnerud's 3 outputs, a weak model's predictions, and a segment."""
    x, y = load_linnerud(return_X_y=True)
    predicted = LinearRegression().fit(x[:, :1], y).predict(x[:, :1])
    vector = pl.Array(pl.Float64, 3)
    frame = pl.DataFrame(
        {"group": (np.arange(len(y)) % 3).tolist(), "y": y, "p": predicted},
        schema={"group": pl.Int64, "y": vector, "p": vector},
    )
    return frame, y, predicted


@pytest.mark.parametrize("from_state", [False, True])
def test_overall_rows_of_vector_targets_are_per_output(*, from_state: bool) -> None:
    frame, y, predicted = _linnerud()
    if from_state:
        parts = [frame.head(7), frame.slice(7, 6), frame.tail(7)]
        state = polars_l2.merge_states(
            [polars_l2.state(p, "y", "p", by="group") for p in parts]
        )
        got = polars_l2.finalize(state, overall=True)
        alone = polars_l2.finalize(polars_l2.state(frame, "y", "p"))
    else:
        got = polars_l2.report(frame, "y", "p", by="group", overall=True)
        alone = polars_l2.report(frame, "y", "p")
    overall = got.filter(pl.col("overall"))
    assert overall["output"].to_list() == [0, 1, 2]
    assert overall["group"].null_count() == 3
    assert_frame_equal(
        overall.drop("group"), alone, check_exact=False, rel_tol=1e-12, abs_tol=1e-12
    )
    r2 = r2_score(y, predicted, multioutput="raw_values")
    rmse = root_mean_squared_error(y, predicted, multioutput="raw_values")
    assert overall["r2"].to_numpy() == pytest.approx(r2, rel=1e-12)
    assert overall["rmse"].to_numpy() == pytest.approx(rmse, rel=1e-12)
    # Each output's segments share that output's SSE.
    sums = (
        got.filter(~pl.col("overall")).group_by("output").agg(pl.col("sse_share").sum())
    )
    assert sums["sse_share"].to_list() == pytest.approx([1.0, 1.0, 1.0])


def test_a_state_says_whether_it_numbers_outputs() -> None:
    frame, _, _ = _linnerud()
    scalar = frame.select(
        "group", pl.col("y").arr.get(0), pl.col("p").arr.get(0), output=pl.lit(1)
    )
    # A scalar state whose last key is named "output" pools its overall row.
    state = polars_l2.state(scalar, "y", "p", by=["group", "output"])
    assert state["per_output"].to_list() == [False] * 3
    overall = polars_l2.finalize(state, overall=True).filter(pl.col("overall"))
    assert overall.height == 1
    assert overall["output"].to_list() == [None]
    vector = polars_l2.state(frame, "y", "p", by="group")
    with pytest.raises(polars_l2.L2InputError, match=r"vector .* and scalar"):
        polars_l2.merge_states([vector, state])


# --- an empty input's overall row -------------------------------------------


EMPTY = pl.DataFrame(
    schema={"g": pl.String, "c": pl.Int64, "y": pl.Float64, "p": pl.Float64,
            "q": pl.Float64, "w": pl.Float64}
)  # fmt: skip


@pytest.mark.parametrize("weight", [None, "w"])
def test_an_empty_input_has_its_overall_row_with_and_without_by(
    weight: str | None,
) -> None:
    keyed = polars_l2.report(
        EMPTY, "y", ["p", "q"], by="g", overall=True, weight=weight
    )
    alone = polars_l2.report(EMPTY, "y", ["p", "q"], weight=weight)
    assert keyed["overall"].to_list() == [True, True]
    assert_frame_equal(keyed.drop("g"), alone)
    lazy = polars_l2.report(
        EMPTY.lazy(), "y", ["p", "q"], by="g", overall=True, weight=weight
    )
    assert_frame_equal(lazy.collect(engine="streaming"), keyed)


@pytest.mark.parametrize("cluster", [None, "c"])
def test_compare_of_an_empty_input_has_its_overall_row(cluster: str | None) -> None:
    keyed = polars_l2.compare(EMPTY, "y", "p", ["q"], by="g", cluster=cluster)
    alone = polars_l2.compare(EMPTY, "y", "p", ["q"], cluster=cluster)
    assert alone.height == 1
    assert alone["n"].to_list() == [0]
    assert_frame_equal(keyed.drop("g"), alone)


# --- sse_share ----------------------------------------------------------------


def test_sse_share_is_null_for_every_segment_when_the_total_is_unknown() -> None:
    frame = pl.DataFrame(
        {
            "g": ["a", "a", "b", "b", "c", "c"],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "p": [1.5, 2.5, 2.0, 4.0, 4.0, 7.5],
            "w": [1.0, 2.0, -1.0, 3.0, 1.0, 1.0],  # b has a negative weight
            "q": [1.0, 2.0, 3.5, 4.5, 5.0, 6.5],
        }
    )
    got = polars_l2.report(frame, "y", ["p", "q"], by="g", weight="w", overall=True)
    p = got.filter(model="p")
    assert p.filter(g="b")["sse"].item() is None
    assert p["sse_share"].null_count() == p.height  # overall row included
    # The same without the negative weight: the shares sum to 1.
    fine = polars_l2.report(
        frame.with_columns(pl.col("w").abs()), "y", "p", by="g", weight="w"
    )
    assert fine["sse_share"].sum() == pytest.approx(1.0, rel=1e-12)
    # A segment without counted rows adds nothing and keeps the others known.
    holes = frame.with_columns(
        pl.when(pl.col("g") == "c").then(None).otherwise(pl.col("y")).alias("y")
    )
    shares = polars_l2.report(holes.drop("w"), "y", "q", by="g")
    assert shares.filter(g="c")["sse_share"].item() is None
    assert shares["sse_share"].sum() == pytest.approx(1.0, rel=1e-12)


# --- intervals of non-negative metrics ----------------------------------------


def test_mae_interval_of_one_outlier_stays_non_negative() -> None:
    frame = pl.DataFrame({"y": [0.0] * 30, "p": [0.0] * 29 + [3.0]})
    row = polars_l2.report(frame, "y", "p").row(0, named=True)
    assert row["small"] is False
    assert 0 < row["mae_low"] < row["mae"] < row["mae_high"]
    # The log-scale delta method: mae * exp(+-z se / mae), se with ddof=1.
    errors = np.array([0.0] * 29 + [3.0])
    se = errors.std(ddof=1) / math.sqrt(30)
    z = 1.959963984540054
    assert row["mae_low"] == pytest.approx(0.1 * math.exp(-z * se / 0.1), rel=1e-12)
    assert row["mae_high"] == pytest.approx(0.1 * math.exp(z * se / 0.1), rel=1e-12)


@pytest.mark.slow
@given(
    errors=st.lists(
        st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False),
        min_size=2,
        max_size=40,
    ),
    weights=st.lists(st.floats(0.01, 100.0), min_size=40, max_size=40),
    confidence=st.floats(0.5, 0.999),
)
def test_intervals_of_non_negative_metrics_never_go_below_zero(
    errors: list[float], weights: list[float], confidence: float
) -> None:
    frame = pl.DataFrame(
        {"y": [0.0] * len(errors), "p": errors, "w": weights[: len(errors)]}
    )
    for weight in (None, "w"):
        row = polars_l2.report(
            frame, "y", "p", weight=weight, confidence=confidence
        ).row(0, named=True)
        for metric in ("mae", "mse", "rmse"):
            low, high = row[f"{metric}_low"], row[f"{metric}_high"]
            if low is not None:
                assert 0 <= low <= row[metric] * (1 + 1e-12) + 1e-300, (metric, row)
                assert high >= row[metric] * (1 - 1e-12), (metric, row)


# --- the top-1% share and its bounds ------------------------------------------


def _sample(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, 1.0, n)
    return pl.DataFrame(
        {
            "g": rng.choice(["a", "b"], n).tolist(),
            "y": y,
            "p": y + rng.standard_t(3, n),
            "w": rng.uniform(0.1, 5.0, n),
        }
    )


@pytest.mark.parametrize("weight", [None, "w"])
@pytest.mark.parametrize("n", [150, 2_000])
def test_the_exact_top_share_lies_within_the_reported_bounds(
    weight: str | None, n: int
) -> None:
    frame = _sample(n, n)
    got = polars_l2.report(frame, "y", "p", by="g", weight=weight, overall=True)
    for row in got.iter_rows(named=True):
        part = frame if row["overall"] else frame.filter(g=row["g"])
        errors = (part["p"] - part["y"]).to_numpy()
        weights = np.ones(part.height) if weight is None else part["w"].to_numpy()
        exact, _ = top_share(errors**2, weights)
        low, share, high = (
            row["top_1pct_share_low"],
            row["top_1pct_share"],
            row["top_1pct_share_high"],
        )
        slack = 1e-12 * share
        assert low - slack <= share <= high + slack
        assert low - slack <= exact <= high + slack, (row, exact)
        assert share == pytest.approx((low + high) / 2, rel=1e-12)


def test_the_top_share_bounds_merge() -> None:
    frame = _sample(7, 3_000)
    whole = polars_l2.report(frame, "y", "p", by="g", weight="w")
    parts = [frame.slice(i, 1_000) for i in (0, 1_000, 2_000)]
    merged = polars_l2.finalize(
        polars_l2.merge_states(
            [polars_l2.state(p, "y", "p", by="g", weight="w") for p in parts]
        )
    )
    columns = ["top_1pct_share_low", "top_1pct_share", "top_1pct_share_high"]
    assert_frame_equal(
        merged.select(columns), whole.select(columns), check_exact=False, rel_tol=1e-12
    )


# --- input conversion -----------------------------------------------------------


NAN_CASES: dict[str, Any] = {
    "numpy": pd.DataFrame({"y": [1.0, 2.0, np.nan, 4.0], "p": [1.5, 2.0, 3.0, 4.0]}),
    # pd.array(..., dtype="float64[pyarrow]") would read np.nan as missing:
    # an Arrow array holds the NaN itself.
    "pyarrow": pd.DataFrame(
        {
            "y": pd.arrays.ArrowExtensionArray(
                pa.chunked_array([[1.0, 2.0, math.nan, 4.0]])
            ),
            "p": [1.5, 2.0, 3.0, 4.0],
        }
    ),
}


@pytest.mark.parametrize("kind", list(NAN_CASES))
def test_nan_from_pandas_stays_nan_and_nan_policy_decides(kind: str) -> None:
    frame = NAN_CASES[kind]
    assert frame["y"].isna().sum() == (1 if kind == "numpy" else 0)  # pandas' view
    polars = pl.DataFrame({"y": [1.0, 2.0, math.nan, 4.0], "p": [1.5, 2.0, 3.0, 4.0]})

    def report(f: Any, policy: NanPolicy) -> pl.DataFrame:
        return pl.DataFrame(polars_l2.report(f, "y", "p", nan_policy=policy))

    def finalized(f: Any, policy: NanPolicy) -> pl.DataFrame:
        state = polars_l2.state(f, "y", "p", nan_policy=policy)
        return pl.DataFrame(polars_l2.finalize(state))

    policies: list[NanPolicy] = ["propagate", "omit"]
    for policy in policies:
        for build in (report, finalized):
            got = build(frame, policy).row(0, named=True)
            want = build(polars, policy).row(0, named=True)
            assert got["n"] == want["n"] == (4 if policy == "propagate" else 3)
            assert (math.isnan(got["mse"]) and math.isnan(want["mse"])) or (
                got["mse"] == pytest.approx(want["mse"], rel=1e-12)
            )
    assert math.isnan(polars_l2.report(frame, "y", "p")["mse"].item())
    omitted = polars_l2.report(frame, "y", "p", nan_policy="omit")["mse"].item()
    assert omitted == pytest.approx((0.25 + 0.0 + 0.0) / 3, rel=1e-12)


def test_pandas_missing_values_are_null() -> None:
    frame = pd.DataFrame(
        {"y": pd.array([1.0, None, 3.0], dtype="Float64"), "p": [1.0, 2.0, 4.0]}
    )
    row = polars_l2.report(frame, "y", "p").row(0, named=True)
    assert row["n"] == 2
    assert row["mse"] == pytest.approx(0.5)


WIDE = pa.table({"y": pa.array([1, 2], pa.decimal256(40, 2)), "p": [1.0, 2.0]})


class _Stream:
    """Only the Arrow stream interface, without a schema attribute."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.table.__arrow_c_stream__(requested_schema)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: WIDE, r"`frame` \(Table\): column 'y' has Arrow type decimal256"),
        (WIDE.to_reader, r"`frame` \(RecordBatchReader\): column 'y' has Arrow"),
        (
            lambda: pa.table({"y": pa.array([[1]], pa.list_(pa.decimal256(40, 0)))}),
            r"column 'y' has Arrow type list<item: decimal256",
        ),
        (lambda: _Stream(WIDE), r"`frame` \(_Stream\): could not be read \(.*Int256"),
    ],
)
def test_an_input_polars_cannot_read_is_one_line(make: Any, message: str) -> None:
    for name in ("report", "state"):
        with pytest.raises(polars_l2.L2InputError, match=message) as caught:
            getattr(polars_l2, name)(make(), "y", "p")
        assert "\n" not in str(caught.value)
        assert str(caught.value).startswith(f"polars_l2.{name}: ")


def test_a_lazy_frame_with_a_256_bit_decimal_is_refused_at_plan_time() -> None:
    frame = pl.LazyFrame({"p": [1.0]}).with_columns(
        pl.lit(1, pl.Decimal(38, 0)).alias("y")
    )
    schema = frame.collect_schema()
    assert schema["y"] == pl.Decimal(38, 0)  # Polars holds at most 38 digits
    from polars_l2._core.dtypes import unreadable_column  # noqa: PLC0415

    assert unreadable_column(pl.Schema({"y": pl.Decimal(40, 2)})) is not None
    assert unreadable_column(pl.Schema({"y": pl.List(pl.Decimal(39, 0))})) is not None
    assert unreadable_column(schema) is None


def test_a_null_vector_counts_in_no_output_of_the_functions() -> None:
    # The null Array keeps hidden values under it (Polars builds it from a
    # full one): they must not count (Polars 2.0.0's arr.get reads them).
    frame = pl.DataFrame(
        {"y": [[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]], "p": [[2.0, 2.0]] * 3},
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 2)},
    ).with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(None).otherwise("y").alias("y")
    )
    got = frame.select(polars_l2.sse("y", "p", multioutput="raw_values")).item()
    # Rows 0 and 2 only: (2-1)^2 + (2-0)^2, and (2-2)^2 + (2-1)^2.
    assert got.to_list() == [5.0, 1.0]
    report = polars_l2.report(frame, "y", "p")
    assert report["sse"].to_list() == [5.0, 1.0]
    assert report["n"].to_list() == [2, 2]

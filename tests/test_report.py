"""polars_l2.report against independent per-segment references, and its rules."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sklearn.metrics import r2_score

import polars_l2
from polars_l2._core import top_share
from tests.conftest import RUNNERS
from tests.report_reference import reference_report
from tests.routes import Query

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import Runner
    from tests.routes import BoundRoute

COLUMNS = [
    "model",
    "region",
    "overall",
    "n",
    "small",
    "sse",
    "sse_share",
    "mse",
    "mse_low",
    "mse_high",
    "rmse",
    "rmse_low",
    "rmse_high",
    "mae",
    "mae_low",
    "mae_high",
    "bias",
    "bias_low",
    "bias_high",
    "r2",
    "max_error",
    "top_1pct_share",
    "top_1pct_share_low",
    "top_1pct_share_high",
]


def random_data(seed: int, n: int = 3_000) -> pl.DataFrame:
    """Two models with nulls, weights, uneven segments, and a null segment."""
    rng = np.random.default_rng(seed)
    region = rng.choice(
        ["north", "south", "east", "west", "tiny"], n, p=[0.4, 0.3, 0.2, 0.0995, 0.0005]
    )
    y = rng.normal(200.0, 40.0, n)
    good = y + rng.normal(1.0, 5.0, n)
    # Heavy tails: a few outliers dominate the second model's SSE.
    bad = y + rng.standard_t(2, n) * 5.0

    def holes(values: np.ndarray, rate: float) -> list[float | None]:
        return [None if rng.random() < rate else float(v) for v in values]

    return pl.DataFrame(
        {
            "region": [None if rng.random() < 0.03 else r for r in region],
            "y": holes(y, 0.05),
            "good": holes(good, 0.05),
            "bad": holes(bad, 0.1),
            "w": holes(rng.uniform(0.1, 3.0, n), 0.05),
        }
    )


def assert_matches_reference(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Every column within rounding; the top-1% share within its bound."""
    # The columns the reference computes; tests/test_report_decisions.py
    # checks the others (overall, small, sse_share).
    named = [c for c in want.columns if not c.startswith("_")]
    assert set(named) <= set(got.columns)
    got = got.select(named)
    assert got.height == want.height
    assert got.select("model", "region").equals(want.select("model", "region"))
    assert got["n"].to_list() == want["n"].to_list()
    for name in got.columns[3:]:
        if name == "top_1pct_share":
            continue
        assert_frame_equal(
            got.select(name),
            want.select(pl.col(name).cast(pl.Float64)),
            rel_tol=1e-9,
            abs_tol=1e-9,
        )
    share = got["top_1pct_share"].to_numpy()
    exact = want["top_1pct_share"].to_numpy()
    bound = want["_top_bound"].to_numpy()
    assert np.all(np.abs(share - exact) <= bound + 1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("weighted", [False, True])
def test_every_column_matches_the_references(seed: int, *, weighted: bool) -> None:
    df = random_data(seed)
    weight = "w" if weighted else None
    got = polars_l2.report(df, "y", ["good", "bad"], by="region", weight=weight)
    want = reference_report(df, "y", ["good", "bad"], by=["region"], weight=weight)
    expected = COLUMNS.copy()
    if weighted:
        expected.insert(4, "weight_sum")
    assert got.columns == expected
    assert_matches_reference(got, want)


@pytest.mark.parametrize("variance", ["hc1", "hc0", "kish"])
def test_weighted_intervals_match_the_references_for_every_variance(
    variance: Literal["hc1", "hc0", "kish"],
) -> None:
    df = random_data(4)
    got = polars_l2.report(
        df, "y", ["good", "bad"], by="region", weight="w", variance=variance
    )
    want = reference_report(
        df, "y", ["good", "bad"], by=["region"], weight="w", variance=variance
    )
    assert_matches_reference(got, want)


def test_whole_frame_without_by() -> None:
    df = random_data(2)
    got = polars_l2.report(df, "y", ["good", "bad"], weight="w", confidence=0.9)
    want = reference_report(df, "y", ["good", "bad"], by=[], weight="w", confidence=0.9)
    assert got["model"].to_list() == ["good", "bad"]
    for name in want.columns[1:]:
        if name.startswith("_"):
            continue
        if name != "top_1pct_share":
            np.testing.assert_allclose(
                got[name].to_numpy(), want[name].to_numpy(), rtol=1e-9
            )


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_eager_lazy_and_streaming_agree(runner: str) -> None:
    df = random_data(3)
    eager = polars_l2.report(df, "y", ["good", "bad"], by="region", weight="w")
    run: Runner = RUNNERS[runner]
    got = run(
        df,
        lambda frame: polars_l2.report(
            frame, "y", ["good", "bad"], by="region", weight="w"
        ),
    )
    assert_frame_equal(got, eager, rel_tol=1e-12)


def test_a_lazy_frame_gives_a_lazy_frame_and_its_schema_without_data() -> None:
    lf = pl.LazyFrame(
        {"g": [1, 2], "y": [1, 2], "a": [1.0, 2.5], "w": [1, 1]},
        schema={"g": pl.Int16, "y": pl.Int32, "a": pl.Float32, "w": pl.UInt8},
    )
    got = polars_l2.report(lf, "y", "a", by="g", weight="w")
    assert isinstance(got, pl.LazyFrame)
    schema = got.collect_schema()
    assert schema["model"] == pl.String
    assert schema["g"] == pl.Int16  # keys keep their dtype
    assert schema["n"] == pl.Int64
    assert schema["overall"] == schema["small"] == pl.Boolean
    assert all(schema[c] == pl.Float64 for c in list(schema)[6:])


def test_the_namespaces_give_the_function_s_result() -> None:
    df = random_data(4, n=300)
    want = polars_l2.report(df, "y", ["good", "bad"], by="region")
    # Registered namespaces are invisible to type checkers.
    eager = df.l2.report("y", ["good", "bad"], by="region")  # type: ignore[attr-defined]
    lazy = df.lazy().l2.report("y", ["good", "bad"], by="region")  # type: ignore[attr-defined]
    assert_frame_equal(eager, want)
    assert_frame_equal(lazy.collect(), want)


def test_rows_come_in_model_order_then_sorted_keys_nulls_last() -> None:
    df = pl.DataFrame(
        {
            "g": ["b", None, "a", "b", "a"],
            "h": [2, 1, 1, 1, None],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0],
            "z": [1.0, 2.0, 3.0, 4.0, 5.0],
            "a": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    got = polars_l2.report(df, "y", ["z", "a"], by=["g", "h"])
    assert got.select("model", "g", "h").rows() == [
        ("z", "a", 1),
        ("z", "a", None),
        ("z", "b", 1),
        ("z", "b", 2),
        ("z", None, 1),
        ("a", "a", 1),
        ("a", "a", None),
        ("a", "b", 1),
        ("a", "b", 2),
        ("a", None, 1),
    ]


def test_a_row_counts_only_where_actual_prediction_and_weight_are_present(
    route: BoundRoute,
) -> None:
    df = pl.DataFrame(
        {
            "y": [1.0, 2.0, None, 4.0, 5.0],
            "p": [2.0, None, 3.0, 5.0, 8.0],
            "w": [1.0, 1.0, 1.0, None, 3.0],
        }
    )
    got = route.report(Query(df, weight="w"))
    # Counted: rows 0 and 4 only, errors -1 and -3, weights 1 and 3.
    assert got["n"].item() == 2
    assert got["weight_sum"].item() == 4.0
    assert got["mse"].item() == pytest.approx((1 + 3 * 9) / 4)
    assert got["mae"].item() == pytest.approx((1 + 3 * 3) / 4)
    assert got["bias"].item() == pytest.approx((1 + 3 * 3) / 4)
    assert got["max_error"].item() == 3.0


def test_no_rows_zero_weights_and_negative_weights_give_null_metrics(
    route: BoundRoute,
) -> None:
    df = pl.DataFrame(
        {
            "g": ["empty", "zero", "zero", "negative", "negative"],
            "y": [1.0, 1.0, 2.0, 1.0, 2.0],
            "p": [None, 2.0, 2.0, 2.0, 4.0],
            "w": [1.0, 0.0, 0.0, 2.0, -1.0],
        }
    )
    got = route.report(Query(df, by=["g"], weight="w"))
    metrics = ["sse", "mse", "rmse", "rmse_low", "mae", "bias", "r2", "top_1pct_share"]
    assert got.select(metrics).null_count().row(0) == (3,) * len(metrics)
    by_segment = {row["g"]: row for row in got.iter_rows(named=True)}
    assert by_segment["empty"]["n"] == 0
    assert by_segment["empty"]["max_error"] is None
    assert by_segment["negative"]["n"] == 2
    assert by_segment["negative"]["weight_sum"] == 1.0
    assert by_segment["negative"]["max_error"] == 2.0


def test_a_constant_target_gives_the_documented_r2(route: BoundRoute) -> None:
    df = pl.DataFrame(
        {
            "g": ["perfect"] * 3 + ["off"] * 3,
            "y": [5.0] * 6,
            "p": [5.0, 5.0, 5.0, 4.0, 5.0, 7.0],
        }
    )
    got = route.report(Query(df, by=["g"]))
    assert dict(got.select("g", "r2").iter_rows()) == {"off": 0.0, "perfect": 1.0}
    for g, y, p in [("off", [5.0] * 3, [4.0, 5.0, 7.0])]:
        want = r2_score(y, p)  # scikit-learn's force_finite convention
        assert got.filter(pl.col("g") == g)["r2"].item() == want


def test_perfect_predictions(route: BoundRoute) -> None:
    df = pl.DataFrame({"y": [1.0, 2.0, 3.0], "p": [1.0, 2.0, 3.0]})
    got = route.report(Query(df)).row(0, named=True)
    assert (got["mse"], got["rmse_low"], got["rmse_high"]) == (0.0, 0.0, 0.0)
    assert (got["r2"], got["bias"], got["max_error"]) == (1.0, 0.0, 0.0)
    assert got["top_1pct_share"] == 0.01


def test_one_row_has_no_interval_and_no_r2(route: BoundRoute) -> None:
    got = route.report(Query(pl.DataFrame({"y": [1.0], "p": [3.0]})))
    row = got.row(0, named=True)
    assert row["mse"] == 4.0
    assert row["rmse_low"] is row["rmse_high"] is row["r2"] is None


def test_r2_stays_accurate_for_targets_around_1e9() -> None:
    rng = np.random.default_rng(5)
    y = 1e9 + rng.normal(0, 1e3, 5_000)
    p = y + rng.normal(0, 300.0, 5_000)
    w = rng.uniform(0.5, 2.0, 5_000)
    df = pl.DataFrame({"y": y, "p": p, "w": w})
    for weight in (None, "w"):
        got = polars_l2.report(df, "y", "p", weight=weight)["r2"].item()
        want = r2_score(y, p, sample_weight=None if weight is None else w)
        assert got == pytest.approx(want, rel=1e-9)
    # The hand-written raw-sum form loses three orders of magnitude more.
    raw = df.select(
        1
        - ((pl.col("y") - pl.col("p")) ** 2).sum()
        / ((pl.col("y") ** 2).sum() - pl.col("y").sum() ** 2 / pl.len())
    ).item()
    assert abs(raw - r2_score(y, p)) > 1e-7


def test_integer_and_decimal_inputs_never_wrap(route: BoundRoute) -> None:
    big = 4_000_000_000
    df = pl.DataFrame(
        {
            "y": pl.Series([big, 0, big], dtype=pl.Int64),
            "p": pl.Series([0, big, big], dtype=pl.Int64),
            "d": pl.Series([Decimal("0.05"), Decimal("0.10"), Decimal("0.00")]),
            "u": pl.Series([1, 3, 5], dtype=pl.UInt8),
        }
    )
    got = route.report(Query(df)).row(0, named=True)
    assert got["sse"] == pytest.approx(2 * big**2)
    assert got["bias"] == 0.0
    dec = route.report(Query(df, actual="d", predicted="u")).row(0, named=True)
    assert dec["mse"] == pytest.approx(((0.05 - 1) ** 2 + 2.9**2 + 25) / 3)


def test_nan_propagates_or_is_omitted() -> None:
    df = pl.DataFrame({"y": [1.0, float("nan"), 3.0], "p": [2.0, 2.0, 3.0]})
    propagated = polars_l2.report(df, "y", "p").row(0, named=True)
    assert math.isnan(propagated["mse"])
    assert math.isnan(propagated["max_error"])
    omitted = polars_l2.report(df, "y", "p", nan_policy="omit").row(0, named=True)
    assert omitted["n"] == 2
    assert omitted["mse"] == 0.5


def test_top_share_is_exact_for_up_to_100_rows_and_bounded_beyond() -> None:
    rng = np.random.default_rng(6)
    sizes = {"s50": 50, "s100": 100, "s150": 150, "s5000": 5_000}
    g = np.concatenate([[name] * size for name, size in sizes.items()])
    y = rng.normal(0, 1, len(g))
    p = y + rng.standard_t(3, len(g))
    df = pl.DataFrame({"g": g, "y": y, "p": p})
    got = polars_l2.report(df, "y", "p", by="g")
    want = reference_report(df, "y", ["p"], by=["g"])
    for row, ref in zip(
        got.iter_rows(named=True), want.iter_rows(named=True), strict=True
    ):
        error = abs(row["top_1pct_share"] - ref["top_1pct_share"])
        if row["n"] <= 100:
            assert error < 1e-12
        assert error <= ref["_top_bound"] + 1e-12
    # Equal errors are no concentration: exactly 1%.
    flat = pl.DataFrame({"y": [0.0] * 150, "p": [2.0] * 150})
    assert polars_l2.report(flat, "y", "p")["top_1pct_share"].item() == pytest.approx(
        0.01, rel=1e-12
    )


def test_a_single_outlier_owns_the_top_share() -> None:
    y = np.zeros(1_000)
    p = np.full(1_000, 0.1)
    p[17] = 100.0
    got = polars_l2.report(pl.DataFrame({"y": y, "p": p}), "y", "p")
    sse = 999 * 0.01 + 1e4
    # The top 1% is 10 rows: the outlier and 9 of the small errors.
    assert got["top_1pct_share"].item() == pytest.approx((1e4 + 9 * 0.01) / sse)


def test_the_interval_covers_the_true_rmse_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    samples, size = 2_000, 200
    errors = rng.normal(0.3, 1.0, (samples, size))
    true_rmse = math.sqrt(1.0 + 0.3**2)
    df = pl.DataFrame(
        {
            "sample": np.repeat(np.arange(samples), size),
            "y": np.zeros(samples * size),
            "p": -errors.ravel(),
        }
    )
    got = polars_l2.report(df.lazy(), "y", "p", by="sample").collect(engine="streaming")
    assert got.height == samples
    covered = got.select(
        ((pl.col("rmse_low") <= true_rmse) & (true_rmse <= pl.col("rmse_high"))).mean()
    ).item()
    assert 0.92 <= covered <= 0.98


def test_parquet_files_on_the_streaming_engine_have_no_in_memory_fallback(
    tmp_path: Path,
) -> None:
    df = random_data(8, n=2_000)
    for i, part in enumerate(df.iter_slices(700)):
        part.write_parquet(tmp_path / f"part-{i}.parquet")
    lf = pl.scan_parquet(tmp_path / "*.parquet")
    for weight in (None, "w"):
        query = polars_l2.report(lf, "y", ["good", "bad"], by="region", weight=weight)
        assert "python_udf" not in query.explain()
        graph = query.show_graph(
            engine="streaming", plan_stage="physical", raw_output=True
        )
        assert graph is not None
        assert 'fillcolor="0.0 0.3 1.0"' not in graph
        assert "in-memory-map" not in graph
        # One scan for every model's moments; for the top share, two per
        # model up to PER_MODEL_UP_TO, unweighted (the branches of
        # top_share._only_large, of which at most one reads), else one per
        # model; one for all models beyond that.
        assert graph.count("multi-scan[parquet]") == 1 + (2 if weight else 4)
        # Columns computed in the query would be read once, through a
        # multiplexer: the copies are written to their own file.
        models = [f"m{i}" for i in range(top_share.PER_MODEL_UP_TO + 1)]
        copies = tmp_path / "copies" / "part.parquet"
        copies.parent.mkdir(exist_ok=True)
        df.with_columns(pl.col("good").alias(m) for m in models).write_parquet(copies)
        many = polars_l2.report(pl.scan_parquet(copies), "y", models, by="region")
        graph = many.show_graph(
            engine="streaming", plan_stage="physical", raw_output=True
        )
        assert graph is not None
        assert graph.count("multi-scan[parquet]") == 2
        got = query.collect(engine="streaming")
        want = polars_l2.report(df, "y", ["good", "bad"], by="region", weight=weight)
        assert_frame_equal(got, want, rel_tol=1e-12)


def test_a_missing_column_is_named_with_the_columns_that_exist() -> None:
    lf = pl.LazyFrame({"y": [1.0], "p": [1.0], "g": ["a"]})
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"predicted column 'q' not found; the frame has 'y' \(Float64\), "
        r"'p' \(Float64\), 'g' \(String\)",
    ):
        polars_l2.report(lf, "y", ["p", "q"])
    with pytest.raises(ValueError, match="by column 'region' not found"):
        polars_l2.report(lf, "y", "p", by="region")


def _boom(_: pl.Series) -> pl.Series:
    msg = "the data was read"
    raise AssertionError(msg)


def test_a_bad_dtype_fails_before_any_data_is_read() -> None:
    lf = pl.LazyFrame({"y": [1.0], "p": ["1.0"]}).with_columns(
        pl.col("y").map_batches(_boom, return_dtype=pl.Float64)
    )
    with pytest.raises(
        polars_l2.L2InputError,
        match=r"predicted column 'p' has dtype String; expected a numeric or "
        r"Boolean column .* the frame has 'y' \(Float64\), 'p' \(String\)",
    ):
        polars_l2.report(lf, "y", "p")
    with pytest.raises(TypeError, match="weight column 'p' has dtype String"):
        polars_l2.report(lf, "y", "y", weight="p")


def test_a_nested_key_is_rejected() -> None:
    df = pl.DataFrame({"g": [[1], [2]], "y": [1.0, 2.0], "p": [1.0, 2.0]})
    with pytest.raises(polars_l2.L2InputError, match=r"by column 'g' has dtype List"):
        polars_l2.report(df, "y", "p", by="g")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"predicted": []}, ValueError, "predicted must name at least one column"),
        ({"predicted": ["p", "p"]}, ValueError, "names a column more than once"),
        ({"by": "model"}, ValueError, "by column 'model' has the name of an output"),
        ({"confidence": 1.0}, ValueError, "confidence must be a number strictly betw"),
        ({"actual": pl.col("y")}, TypeError, "actual must be one column name"),
        ({"weight": 3}, TypeError, "weight must be a column name"),
        ({"nan_policy": "drop"}, ValueError, "nan_policy must be 'propagate' or 'o"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type, match: str) -> None:
    df = pl.DataFrame({"y": [1.0, 2.0], "p": [1.0, 3.0], "model": ["a", "b"]})
    arguments: dict[str, object] = {"actual": "y", "predicted": "p", **kwargs}
    with pytest.raises(error, match=match):
        polars_l2.report(df, **arguments)  # type: ignore[call-overload]


def test_top_share_false_skips_the_histograms_and_changes_nothing_else() -> None:
    df = random_data(9, n=500)
    full = polars_l2.report(df.lazy(), "y", ["good", "bad"], by="region", weight="w")
    lean = polars_l2.report(
        df.lazy(), "y", ["good", "bad"], by="region", weight="w", top_share=False
    )
    graphs = [
        frame.show_graph(engine="streaming", plan_stage="physical", raw_output=True)
        for frame in (full, lean)
    ]
    assert graphs[0] is not None
    assert graphs[1] is not None
    # The histograms' group-bys (keyed by the bin: one per model, up to
    # PER_MODEL_UP_TO) and the one that packs them are in the full plan only;
    # the count of group-by nodes differs between Polars versions (2.0 runs
    # the windows of the shares as group-bys too), the difference does not.
    assert "_l2_bin" in graphs[0]
    assert "_l2_bin" not in graphs[1]
    assert graphs[0].count("group-by") - graphs[1].count("group-by") == 2 + 1
    assert graphs[1].count("source") == 1  # and a single scan
    got, want = lean.collect(), full.collect()
    shares = ["top_1pct_share", "top_1pct_share_low", "top_1pct_share_high"]
    for share in shares:
        assert got[share].null_count() == got.height
    assert_frame_equal(got.drop(shares), want.drop(shares))

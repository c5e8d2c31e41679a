"""polars_l2.compare on every input kind, on vector targets, and its cluster rules."""

from __future__ import annotations

import narwhals as nw
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from polars.testing import assert_frame_equal
from scipy import stats
from statsmodels.regression.linear_model import OLS

import polars_l2
from tests.test_compare import diabetes
from tests.test_state_vectors import WIDTH, vectors


def small_frame() -> pl.DataFrame:
    df = diabetes()
    return df.select("sex", "y", "linear", "boosted", "w").head(200)


def test_compare_takes_every_input_kind_report_takes() -> None:
    df = small_frame()
    want = polars_l2.compare(df, "y", "linear", "boosted", by="sex", weight="w")
    table = df.to_arrow()
    kinds = {
        "lazy": df.lazy(),
        "pyarrow table": table,
        "pyarrow dataset": pads.dataset(table),
        "record batch reader": pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches()
        ),
        "pandas": df.to_pandas(),
        "narwhals lazy": nw.from_native(df.lazy()),
    }
    duckdb = pytest.importorskip("duckdb")
    kinds["duckdb"] = duckdb.from_arrow(table)
    for kind, data in kinds.items():
        got = polars_l2.compare(data, "y", "linear", "boosted", by="sex", weight="w")
        assert_frame_equal(got, want, rel_tol=1e-12, abs_tol=1e-15), kind


def test_a_state_as_an_arrow_table_is_compared_as_the_state() -> None:
    df = small_frame()
    state = polars_l2.state(df, "y", ["linear", "boosted"], by="sex", baseline="linear")
    want = polars_l2.compare(state, None, "linear", "boosted")
    got = polars_l2.compare(state.to_arrow(), None, "linear", "boosted")
    assert_frame_equal(got, want)


def test_something_else_than_a_table_is_refused_naming_it() -> None:
    with pytest.raises(polars_l2.L2InputError, match=r"polars_l2.compare: `frame`"):
        polars_l2.compare({"y": [1.0]}, "y", "a", "b")  # type: ignore[arg-type]


def per_output_rows(df: pl.DataFrame, model: str, output: int) -> dict[str, np.ndarray]:
    """Return the paired rows of one output: the actual and both predictions."""
    rows = df.select(
        pl.col("g"),
        *(pl.col(c).arr.get(output, null_on_oob=True) for c in ("y", "a", model)),
    ).drop_nulls(["y", "a", model])
    return {name: rows[name].to_numpy() for name in rows.columns}


@pytest.mark.parametrize("kind", [pl.Array, pl.List])
def test_vector_targets_are_compared_per_output_against_scipy(
    kind: type[pl.DataType],
) -> None:
    df = vectors(600, 4, kind=kind)
    got = polars_l2.compare(df, "y", "a", "b", by="g", min_n=2)
    assert got.columns[:4] == ["model", "baseline", "g", "output"]
    overall = got.filter("overall")
    # One overall row per output, never one pooled over the outputs.
    assert overall["output"].to_list() == list(range(WIDTH))
    assert overall["g"].is_null().all()
    arrays = df.with_columns(
        pl.col(c).cast(pl.Array(pl.Float64, WIDTH)) for c in ("y", "a", "b")
    )
    for output in range(WIDTH):
        rows = per_output_rows(arrays, "b", output)
        for g in [None, *np.unique(rows["g"]).tolist()]:
            keep = np.ones(len(rows["y"]), bool) if g is None else rows["g"] == g
            y = rows["y"][keep]
            cand, base = (rows["b"][keep] - y) ** 2, (rows["a"][keep] - y) ** 2
            ref = stats.ttest_rel(cand, base)
            row = got.filter(
                pl.col("output") == output,
                pl.col("overall") if g is None else pl.col("g") == g,
            ).row(0, named=True)
            assert row["n"] == len(y)
            assert row["loss_diff"] == pytest.approx(np.mean(cand - base), rel=1e-9)
            assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_vector_targets_compare_alike_from_a_frame_and_from_merged_states() -> None:
    df = vectors(500, 5)
    options = {"loss": ["squared", "absolute"], "min_n": 2}
    whole = polars_l2.compare(df, "y", "a", "b", by="g", weight="w", **options)  # type: ignore[arg-type]
    states = [
        polars_l2.state(
            part,
            "y",
            ["a", "b"],
            by="g",
            weight="w",
            baseline="a",
            loss=["squared", "absolute"],
        )
        for part in (df[:170], df[170:333], df[333:])
    ]
    got = polars_l2.compare(polars_l2.merge_states(states), None, "a", "b", **options)  # type: ignore[arg-type]
    assert_frame_equal(got, whole, rel_tol=1e-9, abs_tol=1e-12)
    # Without by, each output's row is its overall row.
    alone = polars_l2.compare(df, "y", "a", "b", min_n=2)
    assert alone["overall"].all()
    assert alone["output"].to_list() == list(range(WIDTH))


def test_vector_targets_with_clusters_have_per_output_overall_rows() -> None:
    df = vectors(300, 6).with_columns(day=pl.int_range(pl.len()) // 10)
    got = polars_l2.compare(df, "y", "a", "b", by="g", cluster="day", min_n=2)
    overall = got.filter("overall")
    assert overall["output"].to_list() == list(range(WIDTH))
    for output in range(WIDTH):
        rows = df.select(
            pl.col("day"),
            *(pl.col(c).arr.get(output) for c in ("y", "a", "b")),
        ).drop_nulls(["y", "a", "b"])
        y = rows["y"].to_numpy()
        d = (rows["b"].to_numpy() - y) ** 2 - (rows["a"].to_numpy() - y) ** 2
        fit = OLS(d, np.ones((len(d), 1))).fit(
            cov_type="cluster", cov_kwds={"groups": rows["day"].to_numpy()}, use_t=True
        )
        row = overall.filter(pl.col("output") == output).row(0, named=True)
        assert row["p_value"] == pytest.approx(float(fit.pvalues[0]), rel=1e-6)


def cluster_fit(d: np.ndarray, groups: np.ndarray) -> float:
    fit = OLS(d, np.ones((len(d), 1))).fit(
        cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
    )
    return float(fit.pvalues[0])


def test_clusters_without_a_paired_row_are_no_clusters() -> None:
    df = diabetes().with_columns(day=pl.int_range(pl.len()) // 20)
    # The candidate predicts nothing on day 0: that day has no paired row.
    masked = df.with_columns(
        pl.when(pl.col("day") == 0)
        .then(None)
        .otherwise(pl.col("boosted"))
        .alias("boosted")
    )
    got = polars_l2.compare(masked, "y", "linear", "boosted", cluster="day")
    paired = masked.drop_nulls("boosted")
    y = paired["y"].to_numpy()
    d = (paired["boosted"].to_numpy() - y) ** 2 - (paired["linear"].to_numpy() - y) ** 2
    row = got.row(0, named=True)
    assert row["clusters"] == paired["day"].n_unique() == df["day"].n_unique() - 1
    assert row["p_value"] == pytest.approx(
        cluster_fit(d, paired["day"].to_numpy()), rel=1e-9
    )


def test_exactly_two_clusters_give_a_test() -> None:
    df = diabetes().with_columns(half=(pl.int_range(pl.len()) >= 221).cast(pl.Int64))
    got = polars_l2.compare(df, "y", "linear", "shuffled", cluster="half")
    y = df["y"].to_numpy()
    d = (df["shuffled"].to_numpy() - y) ** 2 - (df["linear"].to_numpy() - y) ** 2
    row = got.row(0, named=True)
    assert row["clusters"] == 2
    assert row["p_value"] == pytest.approx(
        cluster_fit(d, df["half"].to_numpy()), rel=1e-9
    )
    one = polars_l2.compare(
        df.with_columns(half=0), "y", "linear", "shuffled", cluster="half"
    )
    assert one["clusters"].item() == 1
    assert one["p_value"].item() is None

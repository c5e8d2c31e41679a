"""The Ray Data adapter against single-process ``report``, on a local cluster.

Needs the ``ray`` extra; skipped without it. CI installs it and runs these
(``pytest -m distributed``).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from tests.distributed_data import (
    BY,
    REL_TOL,
    TYPED_BY,
    assert_odd_report_matches,
    assert_reports_match,
    assert_typed_keys_match,
    make_data,
    make_typed_keys,
    odd_arguments,
    split,
    with_odd_names,
)

ray = pytest.importorskip("ray")
ray_data = pytest.importorskip("ray.data")
polars_l2_ray = pytest.importorskip("polars_l2.ray")

pytestmark = [
    pytest.mark.distributed,
    # Ray's DataContext warns about its own deprecated fields when created.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]

MODELS = ["linear", "boosted"]


# The `cluster` fixture (a local Ray cluster for the session) is in conftest.py.


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return make_data()


@pytest.fixture(scope="module")
def dataset(cluster: None, data: pl.DataFrame) -> Any:  # noqa: ARG001
    ds = ray_data.from_arrow(split(data))
    assert ds.num_blocks() >= 8
    return ds


@pytest.fixture(scope="module")
def expected(data: pl.DataFrame) -> pl.DataFrame:
    return polars_l2.report(data, "y", MODELS, by=BY, weight="w")


def with_marker_block(parts: list[pa.Table], index: int) -> list[pa.Table]:
    """Mark one block (tier -1) so a function can act on that block only."""
    marked = list(parts)
    table = marked[index]
    marked[index] = table.set_column(
        table.schema.get_field_index("tier"),
        "tier",
        pa.array([-1] * table.num_rows, pa.int32()),
    )
    return marked


def is_marked(table: pa.Table) -> bool:
    return table.num_rows > 0 and bool(table["tier"][0].as_py() == -1)


@pytest.mark.parametrize("combine", ["driver", "ray"])
def test_report_equals_single_process(
    monkeypatch: pytest.MonkeyPatch, dataset: Any, expected: pl.DataFrame, combine: str
) -> None:
    # "auto" with a tiny threshold takes the cluster path, so both paths and
    # the choice between them are checked.
    if combine == "ray":
        monkeypatch.setattr(polars_l2_ray, "DRIVER_COMBINE_MAX_ROWS", 10)
    calls: list[int] = []
    merge_on_cluster = polars_l2_ray._merge_on_cluster

    def spy(*args: Any) -> Any:
        calls.append(1)
        return merge_on_cluster(*args)

    monkeypatch.setattr(polars_l2_ray, "_merge_on_cluster", spy)
    got = polars_l2_ray.report(dataset, "y", MODELS, by=BY, weight="w")
    assert len(calls) == (combine == "ray")
    assert_reports_match(got, expected)


def test_unweighted_whole_data(dataset: Any, data: pl.DataFrame) -> None:
    got = polars_l2_ray.report(dataset, "y", MODELS)
    assert_reports_match(got, polars_l2.report(data, "y", MODELS))


@pytest.mark.usefixtures("cluster")
def test_state_merges_with_a_local_state(data: pl.DataFrame) -> None:
    # A monitoring job merges today's state from the cluster with history.
    history, today = data.slice(0, 150_000), data.slice(150_000, 50_000)
    remote = polars_l2_ray.state(
        ray_data.from_arrow(split(today, 8)), "y", MODELS, by=BY, weight="w"
    )
    saved = polars_l2.state(history, "y", MODELS, by=BY, weight="w")
    got = polars_l2.finalize(polars_l2.merge_states([saved, remote]))
    both = pl.concat([history, today])
    assert_reports_match(got, polars_l2.report(both, "y", MODELS, by=BY, weight="w"))


@pytest.mark.usefixtures("cluster")
def test_empty_dataset_gives_the_report_of_no_data() -> None:
    empty = pl.DataFrame(schema={"y": pl.Float64, "p": pl.Float64})
    ds = ray_data.from_arrow(empty.to_arrow())
    got = polars_l2_ray.report(ds, "y", "p")
    assert got["n"].to_list() == [0]
    assert_frame_equal(got, polars_l2.report(empty, "y", "p"))


@pytest.mark.usefixtures("cluster")
def test_empty_dataset_checks_its_columns_and_keeps_the_keys_dtypes() -> None:
    # Ray knows no schema of an empty block before running it, and no task
    # sees a row: the adapter asks Ray for the schema.
    empty = pl.DataFrame(schema={"g": pl.Date, "y": pl.Float64, "p": pl.Float64})
    ds = ray_data.from_arrow(empty.to_arrow())
    assert ds.schema(fetch_if_missing=False) is None
    got = polars_l2_ray.report(ds, "y", "p", by="g")
    assert_frame_equal(got, polars_l2.report(empty, "y", "p", by="g"))
    with pytest.raises(polars_l2.L2InputError, match=r"'q'.*not found"):
        polars_l2_ray.report(ds, "y", "q")


@pytest.mark.usefixtures("cluster")
def test_polars_runs_one_thread_in_the_tasks() -> None:
    def threads(table: pa.Table) -> pa.Table:
        return pa.table({"threads": [pl.thread_pool_size()] * table.num_rows})

    options = polars_l2_ray._task_options()
    out = ray_data.range(4, override_num_blocks=2).map_batches(
        threads, batch_format="pyarrow", batch_size=None, **options
    )
    assert {row["threads"] for row in out.take_all()} == {1}


def test_missing_column_fails_before_reading(dataset: Any) -> None:
    with pytest.raises(polars_l2.L2InputError, match=r"'price'.*not found"):
        polars_l2_ray.report(dataset, "price", MODELS)


@pytest.mark.usefixtures("cluster")
def test_wrong_dtype_in_the_schema_fails_naming_the_column() -> None:
    table = pa.table({"y": ["1.0", "2.0"], "p": [1.0, 2.0]})
    with pytest.raises(polars_l2.L2InputError, match=r"'y' has dtype String"):
        polars_l2_ray.report(ray_data.from_arrow([table, table]), "y", "p")


@pytest.mark.usefixtures("cluster")
def test_wrong_dtype_in_one_block_fails_naming_the_column(data: pl.DataFrame) -> None:
    # Ray knows no schema before a block is read, and one block's predictions
    # arrive as strings: the error names the column, and there is no report.
    def spoil_marked_block(table: pa.Table) -> pa.Table:
        if not is_marked(table):
            return table
        index = table.schema.get_field_index("linear")
        return table.set_column(index, "linear", table["linear"].cast(pa.string()))

    parts = with_marker_block(split(data.head(80_000), 8), 5)
    ds = ray_data.from_arrow(parts).map_batches(
        spoil_marked_block, batch_format="pyarrow", batch_size=None
    )
    with pytest.raises(polars_l2.L2InputError, match=r"'linear' has dtype String"):
        polars_l2_ray.report(ds, "y", MODELS, by=BY)


@pytest.mark.usefixtures("cluster")
def test_failing_task_raises_not_a_partial_report(data: pl.DataFrame) -> None:
    def fail_in_marked_block(table: pa.Table) -> pa.Table:
        if is_marked(table):
            msg = "upstream failure in one block"
            raise RuntimeError(msg)
        return table

    parts = with_marker_block(split(data.head(80_000), 8), 3)
    ds = ray_data.from_arrow(parts).map_batches(
        fail_in_marked_block, batch_format="pyarrow", batch_size=None
    )
    with pytest.raises(ray.exceptions.RayError, match="upstream failure in one block"):
        polars_l2_ray.report(ds, "y", MODELS, by=BY)


@pytest.mark.usefixtures("cluster")
def test_refuses_a_context_that_skips_failing_blocks(data: pl.DataFrame) -> None:
    lenient = ray_data.from_arrow(split(data.head(1_000), 2))
    lenient.context.max_errored_blocks = 1
    with pytest.raises(ValueError, match="max_errored_blocks=1"):
        polars_l2_ray.report(lenient, "y", MODELS)


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize("combine", ["driver", "ray"])
def test_keys_keep_their_dtypes_and_sort_by_value(combine: str) -> None:
    data = make_typed_keys()
    got = polars_l2_ray.report(
        ray_data.from_arrow(split(data, 6)),
        "y",
        MODELS,
        by=TYPED_BY,
        combine=combine,
    )
    assert_typed_keys_match(got, polars_l2.report(data, "y", MODELS, by=TYPED_BY))


@pytest.mark.parametrize("combine", ["driver", "ray"])
@pytest.mark.usefixtures("cluster")
def test_column_names_are_literal(combine: str) -> None:
    data = make_data(20_000)
    odd = with_odd_names(data)
    ds = ray_data.from_arrow(split(odd, 4))
    got = polars_l2_ray.report(ds, **odd_arguments(), combine=combine)
    plain = polars_l2.report(data, "y", MODELS, by=BY, weight="w")
    assert_odd_report_matches(got, plain)


#: The options of a paired comparison on the engines: every loss, weighted.
COMPARE_OPTIONS: dict[str, Any] = {
    "by": BY,
    "weight": "w",
    "loss": ["squared", "absolute", "huber"],
    "huber_delta": 150.0,
}


def test_compare_equals_single_process(dataset: Any, data: pl.DataFrame) -> None:
    got = polars_l2_ray.compare(dataset, "y", "linear", "boosted", **COMPARE_OPTIONS)
    want = polars_l2.compare(data, "y", "linear", "boosted", **COMPARE_OPTIONS)
    assert_frame_equal(got, want, rel_tol=REL_TOL, abs_tol=1e-300)


def test_report_options_equal_single_process(dataset: Any, data: pl.DataFrame) -> None:
    options: dict[str, Any] = {
        "by": BY,
        "weight": "w",
        "overall": True,
        "min_n": 150_000,
        "top_share": False,
        "variance": "kish",
    }
    got = polars_l2_ray.report(dataset, "y", MODELS, **options)
    want = polars_l2.report(data, "y", MODELS, **options)
    assert got["overall"].sum() == len(MODELS)
    assert got["small"].any()
    assert got["top_1pct_share"].is_null().all()
    assert_reports_match(got, want)


def test_compare_refuses_bad_options_before_any_work(dataset: Any) -> None:
    with pytest.raises(polars_l2.L2InputError, match="needs huber_delta="):
        polars_l2_ray.compare(dataset, "y", "linear", "boosted", loss="huber")
    with pytest.raises(polars_l2.L2InputError, match="variance must be"):
        polars_l2_ray.compare(dataset, "y", "linear", "boosted", variance="hc3")

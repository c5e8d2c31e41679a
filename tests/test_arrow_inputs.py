"""The public entrances take any table that speaks Arrow, not only Polars frames.

pyarrow Tables, RecordBatches, RecordBatchReaders and Datasets, pandas
DataFrames, DuckDB relations, narwhals frames and any object with
``__arrow_c_stream__`` give the same report, state and finalised state as
the Polars DataFrame of the same data; the rows are checked against an
independent reference (``math.fsum``) once, on the Polars path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from polars.io.pyarrow_dataset import anonymous_scan
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2 import l2

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pd = pytest.importorskip("pandas")
duckdb = pytest.importorskip("duckdb")
nw = pytest.importorskip("narwhals")

MODELS = ["linear", "boosted"]


@pytest.fixture(scope="module")
def df() -> pl.DataFrame:
    """Two models of an integer target with nulls, in three regions, weighted."""
    rng = np.random.default_rng(14)
    n = 3_000
    y = rng.integers(0, 1_000, n)
    return pl.DataFrame(
        {
            "region": rng.choice(["north", "south", "east"], n),
            "y": pl.Series(y, dtype=pl.Int64).scatter(rng.choice(n, 40), None),
            "linear": y + rng.normal(0, 20, n),
            "boosted": pl.Series(y + rng.standard_t(3, n) * 10).scatter(
                rng.choice(n, 30), None
            ),
            "w": rng.uniform(0.5, 2.0, n),
            # A column the report does not read.
            "note": rng.choice(["a", "b"], n),
        }
    )


class ArrowStream:
    """A table known only by its ``__arrow_c_stream__`` (no pyarrow type)."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._table.__arrow_c_stream__(requested_schema)


def _batches(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(
        table.schema, table.to_batches(max_chunksize=700)
    )


def _duckdb(table: pa.Table) -> Any:
    return duckdb.connect().from_arrow(table)


#: Each kind of table, made from the Arrow table of the Polars frame.
CONVERTERS: dict[str, Callable[[pa.Table], Any]] = {
    "pyarrow-table": lambda table: table,
    "pyarrow-record-batch": lambda table: table.combine_chunks().to_batches()[0],
    "pyarrow-record-batch-reader": _batches,
    "pyarrow-dataset": ds.dataset,
    "pandas-numpy": lambda table: table.to_pandas(),
    "pandas-arrow": lambda table: table.to_pandas(types_mapper=pd.ArrowDtype),
    "duckdb-relation": _duckdb,
    "narwhals-pandas": lambda table: nw.from_native(table.to_pandas()),
    "narwhals-pyarrow": nw.from_native,
    "arrow-c-stream": ArrowStream,
}


@pytest.fixture(params=list(CONVERTERS))
def convert(request: pytest.FixtureRequest) -> Callable[[pl.DataFrame], Any]:
    def converted(frame: pl.DataFrame) -> Any:
        return CONVERTERS[request.param](frame.to_arrow())

    return converted


def test_the_polars_report_matches_a_reference(df: pl.DataFrame) -> None:
    report = polars_l2.report(df, "y", MODELS, by="region", weight="w")
    for model, region, rmse in report.select("model", "region", "rmse").iter_rows():
        rows = df.filter(pl.col("region") == region).drop_nulls(["y", model])
        e = rows[model].to_numpy() - rows["y"].to_numpy().astype(np.float64)
        w = rows["w"].to_numpy()
        expected = math.sqrt(math.fsum(w * e * e) / math.fsum(w))
        assert rmse == pytest.approx(expected, rel=1e-12)


def test_report_of_a_table_is_the_polars_report(
    df: pl.DataFrame, convert: Callable[[pl.DataFrame], Any]
) -> None:
    # pandas with NumPy dtypes holds a missing float as NaN: "omit" skips
    # it as pandas does, and as the nulls of the Polars frame are skipped.
    kwargs: dict[str, Any] = {"by": "region", "weight": "w", "nan_policy": "omit"}
    result = polars_l2.report(convert(df), "y", MODELS, **kwargs)
    assert isinstance(result, pl.DataFrame)
    expected = polars_l2.report(df, "y", MODELS, **kwargs)
    # pandas without Arrow types holds integers with nulls as floats.
    assert_frame_equal(result, expected, check_dtypes=False)


def test_state_of_a_table_is_the_polars_state(
    df: pl.DataFrame, convert: Callable[[pl.DataFrame], Any]
) -> None:
    kwargs: dict[str, Any] = {"by": "region", "nan_policy": "omit"}
    result = polars_l2.state(convert(df), "y", MODELS, **kwargs)
    assert isinstance(result, pl.DataFrame)
    assert_frame_equal(result, polars_l2.state(df, "y", MODELS, **kwargs))


def test_the_l2_helper_takes_a_table(
    df: pl.DataFrame, convert: Callable[[pl.DataFrame], Any]
) -> None:
    result = l2(convert(df)).report("y", MODELS, by="region", nan_policy="omit")
    if isinstance(result, pl.LazyFrame):  # a pyarrow Dataset is scanned lazily
        result = result.collect()
    expected = polars_l2.report(df, "y", MODELS, by="region", nan_policy="omit")
    assert_frame_equal(result, expected, check_dtypes=False)


def test_finalize_and_merge_states_take_tables(
    df: pl.DataFrame, convert: Callable[[pl.DataFrame], Any]
) -> None:
    halves = [df.head(1_000), df.slice(1_000)]
    states = [polars_l2.state(half, "y", MODELS, by="region") for half in halves]
    expected = polars_l2.merge_states(states)
    merged = polars_l2.merge_states([convert(state) for state in states])
    assert_frame_equal(merged, expected)
    finalized = polars_l2.finalize(convert(expected))
    assert isinstance(finalized, pl.DataFrame)
    assert_frame_equal(finalized, polars_l2.finalize(expected))


def test_a_lazy_narwhals_frame_stays_lazy(df: pl.DataFrame) -> None:
    wrapped = nw.from_native(df.lazy())
    result = polars_l2.report(wrapped, "y", MODELS, by="region")
    assert isinstance(result, pl.LazyFrame)
    expected = polars_l2.report(df, "y", MODELS, by="region")
    assert_frame_equal(result.collect(), expected)
    assert isinstance(polars_l2.state(wrapped, "y", MODELS), pl.LazyFrame)


@pytest.fixture
def parquet_dataset(df: pl.DataFrame, tmp_path: Path) -> ds.Dataset:
    for i, part in enumerate(df.iter_slices(1_000)):
        pq.write_table(part.to_arrow(), tmp_path / f"part-{i}.parquet")
    return ds.dataset(tmp_path, format="parquet")


def test_a_dataset_is_scanned_for_the_needed_columns_only(
    df: pl.DataFrame, parquet_dataset: ds.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Record what Polars asks the dataset for each time it scans it.
    requested: list[list[str] | None] = []
    scan = anonymous_scan._scan_pyarrow_dataset_impl

    def recording(dataset: Any, with_columns: list[str] | None, *args: Any, **kw: Any):  # type: ignore[no-untyped-def] # noqa: ANN202
        requested.append(with_columns)
        return scan(dataset, with_columns, *args, **kw)

    monkeypatch.setattr(anonymous_scan, "_scan_pyarrow_dataset_impl", recording)
    result = polars_l2.report(parquet_dataset, "y", MODELS, by="region")
    assert isinstance(result, pl.DataFrame)
    assert_frame_equal(result, polars_l2.report(df, "y", MODELS, by="region"))
    # Never the whole dataset: only the key, actual and prediction columns.
    assert requested
    assert all(columns is not None for columns in requested)
    read = {name for columns in requested if columns for name in columns}
    assert read <= {"region", "y", *MODELS}


def test_the_plan_of_a_dataset_is_a_projected_scan(
    parquet_dataset: ds.Dataset,
) -> None:
    plan = l2(parquet_dataset).report("y", "linear", by="region", top_share=False)
    assert isinstance(plan, pl.LazyFrame)
    text = plan.explain()
    assert "PYTHON SCAN" in text
    # The dataset has 6 columns; the report reads 3 of them.
    assert "PROJECT 3/6 COLUMNS" in text


#: Each entrance that takes a table, called with `value` as the table.
ENTRANCES: dict[str, Callable[[Any], object]] = {
    "report": lambda value: polars_l2.report(value, "y", "linear"),
    "state": lambda value: polars_l2.state(value, "y", "linear"),
    "finalize": polars_l2.finalize,
    "merge_states": lambda value: polars_l2.merge_states([value]),
    # l2("name") is the namespace of a column: a string is no table here.
    "l2": lambda value: l2(value).report("y", "linear"),
}

NOT_TABLES = {
    "dict": {"y": [1.0], "linear": [1.0]},
    "Series": pl.Series("y", [1.0]),
    "ChunkedArray": pa.chunked_array([[1.0]]),
    "int": 42,
}


@pytest.mark.parametrize("kind", list(NOT_TABLES))
@pytest.mark.parametrize("entrance", list(ENTRANCES))
def test_what_is_not_a_table_is_refused(kind: str, entrance: str) -> None:
    with pytest.raises(polars_l2.L2InputError, match=rf"has type {kind}\b") as error:
        ENTRANCES[entrance](NOT_TABLES[kind])
    assert "__arrow_c_stream__" in str(error.value)
    assert f"polars_l2.{entrance}:" in str(error.value)


def test_a_path_is_not_a_table() -> None:
    with pytest.raises(polars_l2.L2InputError, match="has type str"):
        polars_l2.report("predictions.parquet", "y", "linear")  # type: ignore[call-overload]


@pytest.mark.parametrize("kind", ["pandas", "Table", "RecordBatchReader"])
@pytest.mark.parametrize("entrance", ["report", "state", "l2"])
def test_two_columns_of_one_name_are_refused_naming_it(
    kind: str, entrance: str
) -> None:
    table = pa.table(
        [[1.0, 2.0], [1.5, 2.0], [9.0, 9.0], [1.0, 1.0]],
        names=["y", "linear", "linear", "boosted"],
    )
    values: dict[str, Callable[[], object]] = {
        "pandas": table.to_pandas,
        "Table": lambda: table,
        "RecordBatchReader": lambda: pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches()
        ),
    }
    pattern = r"`\w+` \(\w+\) has more than one column named 'linear'"
    with pytest.raises(polars_l2.L2InputError, match=pattern) as error:
        ENTRANCES[entrance](values[kind]())
    assert str(error.value).startswith(f"polars_l2.{entrance}: ")


@pytest.mark.parametrize("entrance", ["finalize", "merge_states"])
@pytest.mark.parametrize("kind", ["pandas", "Table", "RecordBatchReader"])
def test_a_state_with_two_columns_of_one_name_is_refused_naming_it(
    kind: str, entrance: str
) -> None:
    state = polars_l2.state(pl.DataFrame({"y": [1.0, 2.0], "p": [1.5, 2.0]}), "y", "p")
    table = state.to_arrow()
    doubled = pa.table(
        [*table.columns, table.column("n")], names=[*table.column_names, "n"]
    )
    values: dict[str, Callable[[], object]] = {
        "pandas": doubled.to_pandas,
        "Table": lambda: doubled,
        "RecordBatchReader": lambda: pa.RecordBatchReader.from_batches(
            doubled.schema, doubled.to_batches()
        ),
    }
    with pytest.raises(polars_l2.L2InputError) as error:
        ENTRANCES[entrance](values[kind]())
    assert str(error.value).startswith(f"polars_l2.{entrance}: `state` (")
    assert "more than one column named 'n'" in str(error.value)


#: Entrances that read a table of rows, called with `value` as the table.
READERS: dict[str, Callable[[Any], object]] = {
    "report": ENTRANCES["report"],
    "state": ENTRANCES["state"],
    "l2": ENTRANCES["l2"],
    "compare": lambda value: polars_l2.compare(value, "y", "linear", "boosted"),
    "worst": lambda value: polars_l2.worst(value, "y", "linear"),
}


@pytest.mark.parametrize("second", list(READERS))
def test_a_reader_read_already_is_refused_not_reported_empty(
    df: pl.DataFrame, second: str
) -> None:
    table = df.to_arrow()
    reader = _batches(table)
    first = polars_l2.report(reader, "y", "linear")
    assert first["n"][0] == df.drop_nulls(["y", "linear"]).height
    # Read to its end, the reader now gives no row, and no error.
    with pytest.raises(polars_l2.L2InputError) as error:
        READERS[second](reader)
    message = str(error.value)
    role = "target" if second == "l2" else "frame"  # l2(target).report(...)
    assert message.startswith(f"polars_l2.{second}: `{role}` is a pyarrow ")
    assert "has read already" in message
    assert "reader.read_all()" in message
    # A new reader over the same rows is read, and gives the same report.
    assert_frame_equal(polars_l2.report(_batches(table), "y", "linear"), first)


def test_named_pandas_index_levels_are_keys_as_in_pandas_groupby() -> None:
    frame = pd.DataFrame(
        {
            "region": ["n", "s", "n", "s", "n"],
            "shop": [1, 1, 2, 2, 2],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0],
            "p": [1.5, 2.0, 2.0, 5.0, 5.5],
        }
    )
    want = polars_l2.report(pl.from_pandas(frame), "y", "p", by=["region", "shop"])
    # One level, both levels of a MultiIndex, and through narwhals.
    one = frame.set_index("region")
    both = frame.set_index(["region", "shop"])
    for given in (one, both, nw.from_native(both, eager_only=True)):
        got = polars_l2.report(given, "y", "p", by=["region", "shop"])
        assert_frame_equal(got, want)
    # pandas' groupby agrees on the MSE of each segment.
    errors = (both["y"] - both["p"]) ** 2
    pandas_mse = errors.groupby(level=["region", "shop"]).mean()
    assert got["mse"].to_list() == pandas_mse.to_list()
    # An unnamed index is dropped, and a column wins over a level of its name.
    filtered = frame[frame["y"] > 1.0]
    with pytest.raises(polars_l2.L2InputError, match="'None' not found"):
        polars_l2.report(filtered, "y", "p", by="None")
    # Levels that cannot be columns are dropped, as an unnamed index is:
    # values Arrow cannot type, a name given twice, an empty name.
    plain = polars_l2.report(pl.from_pandas(frame), "y", "p")
    odd = {
        "mixed values": pd.Index([1, "a", 2, "b", 3], name="idx"),
        "empty name": pd.Index(list("abcde"), name=""),
        "name twice": pd.MultiIndex.from_arrays([[1] * 5, [2] * 5], names=["k", "k"]),
    }
    for index in odd.values():
        assert_frame_equal(polars_l2.report(frame.set_axis(index), "y", "p"), plain)
    # A state's index is not one of its keys.
    state = polars_l2.state(frame, "y", "p", by="region")
    named = state.to_pandas().rename_axis("extra")
    assert_frame_equal(polars_l2.finalize(named), polars_l2.finalize(state))
    renamed = frame.set_index(pd.Index(["x"] * 5, name="region"), drop=False)
    assert_frame_equal(
        polars_l2.report(renamed, "y", "p", by="region"),
        polars_l2.report(pl.from_pandas(frame), "y", "p", by="region"),
    )


@pytest.mark.parametrize(
    ("rows", "by", "top_share"),
    [(40, "region", False), (0, "region", True), (0, None, True), (40, None, True)],
    ids=["no-top-share", "empty-by", "empty", "whole"],
)
def test_a_state_through_pandas_finalises_and_merges_as_itself(
    rows: int, by: str | None, top_share: bool
) -> None:
    # pandas holds a column of nulls (no histogram) as objects, and empty
    # histograms (no rows) as lists of nothing: read back as the state's.
    frame = pl.DataFrame(
        {
            "region": ["a", "b"] * 20,
            "y": np.arange(40.0),
            "p": np.arange(40.0)[::-1],
            "w": np.linspace(0.5, 2.0, 40),
        }
    ).head(rows)
    for weight in (None, "w"):
        state = polars_l2.state(
            frame, "y", "p", by=by, weight=weight, top_share=top_share
        )
        through = state.to_pandas()
        want = polars_l2.finalize(state)
        assert_frame_equal(polars_l2.finalize(through), want)
        merged = polars_l2.merge_states([through, state])
        assert_frame_equal(
            polars_l2.finalize(merged),
            polars_l2.finalize(polars_l2.merge_states([state, state])),
        )

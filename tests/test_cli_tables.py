"""The command line reads Delta Lake and Iceberg tables whole, never file by file.

A table's directory is read by Polars' ``scan_delta`` / ``scan_iceberg``
(deleted rows are not read); a path inside a table is refused in one line.
Reports are compared with :func:`polars_l2.report` on Polars' own scan of
the same table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.feather
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from tests.tables import write_delta, write_iceberg
from tests.test_cli import assert_one_line_error, from_csv, inline, make_data

if TYPE_CHECKING:
    from pathlib import Path
    from subprocess import CompletedProcess

    import polars as pl

COLUMNS = ["n", "weight_sum", "sse", "mse", "rmse", "mae", "bias", "r2", "max_error"]


def evaluate(
    capsys: pytest.CaptureFixture[str], *paths: str | Path, by: str | None = None
) -> CompletedProcess[str]:
    args: list[str | Path] = ["evaluate", *paths, "--actual", "y"]
    args += ["--predicted", "a", "--predicted", "b", "--weight", "w", "-f", "csv"]
    return inline(capsys, *args, *(["--by", by] if by else []))


def assert_report_of(got: str, table: pl.LazyFrame, by: str | None = None) -> None:
    """Check the command's report against polars_l2.report of Polars' scan."""
    want = polars_l2.report(table, "y", ["a", "b"], by=by, weight="w").collect()
    keys = ["model", *([by] if by else [])]
    assert_frame_equal(
        from_csv(got).select(*keys, *COLUMNS).sort(keys),
        want.select(*keys, *COLUMNS).sort(keys),
        check_dtypes=False,
        rel_tol=1e-10,
        abs_tol=1e-10,
    )


@pytest.fixture
def rows() -> pl.DataFrame:
    return make_data(5, 300)


def test_a_delta_table_with_deleted_rows_is_read_as_the_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: pl.DataFrame
) -> None:
    root = tmp_path / "delta"
    table = write_delta(rows, root, partition_by="region", delete="y > 1000")
    kept = table.select("y").collect().height
    assert 0 < kept < rows.height  # rows were deleted; their files remain
    for by in (None, "region"):
        result = evaluate(capsys, root, by=by)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert_report_of(result.stdout, table, by)
    whole = polars_l2.report(rows, "y", ["a", "b"], weight="w")
    assert (from_csv(result.stdout)["n"].sum() < whole["n"].sum()) is True


def test_an_iceberg_table_with_rewritten_files_is_read_as_the_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: pl.DataFrame
) -> None:
    root, table = write_iceberg(rows, tmp_path / "warehouse", delete="y > 1000")
    assert len(list((root / "data").iterdir())) >= 2  # the old file stays
    result = evaluate(capsys, root, by="region")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert_report_of(result.stdout, table, "region")


def test_tables_below_a_directory_are_each_read_as_a_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: pl.DataFrame
) -> None:
    first = write_delta(rows.head(120), tmp_path / "all" / "one", delete="y > 1000")
    write_iceberg(rows.tail(180), tmp_path / "all" / "warehouse")
    result = evaluate(capsys, tmp_path / "all")
    assert result.returncode == 0, result.stderr
    both = first.collect().vstack(rows.tail(180).select(first.collect_schema().names()))
    assert_report_of(result.stdout, both.lazy())


@pytest.mark.parametrize(
    "inside",
    [
        "delta/region=north",  # a partition directory
        "delta/region=north/*.parquet",  # a glob inside
        "delta/*/*",  # a glob whose matches are inside
    ],
)
def test_a_path_inside_a_delta_table_is_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    rows: pl.DataFrame,
    inside: str,
) -> None:
    write_delta(rows, tmp_path / "delta", partition_by="region", delete="y > 1000")
    assert_one_line_error(
        evaluate(capsys, f"{tmp_path}/{inside}"),
        r"inside a Delta Lake table \(.*delta\), whose files include rows the "
        r"table has deleted .* give the table's directory",
    )


def test_a_data_file_of_a_delta_table_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: pl.DataFrame
) -> None:
    write_delta(rows, tmp_path / "delta")
    # Polars writes data files at the top or in subdirectories.
    data = next((tmp_path / "delta").rglob("*.parquet"))
    assert_one_line_error(evaluate(capsys, data), r"inside a Delta Lake table")


def test_a_path_inside_an_iceberg_table_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: pl.DataFrame
) -> None:
    root, _ = write_iceberg(rows, tmp_path / "warehouse")
    for inside in (root / "data", f"{root}/data/*.parquet"):
        assert_one_line_error(
            evaluate(capsys, inside), r"inside an Iceberg table \(.*preds\)"
        )


def test_a_damaged_delta_table_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: pl.DataFrame
) -> None:
    (tmp_path / "table" / "_delta_log").mkdir(parents=True)
    rows.write_parquet(tmp_path / "table" / "part-0.parquet")
    assert_one_line_error(
        evaluate(capsys, tmp_path), r"table: cannot read a Delta Lake table \("
    )


def test_a_decimal256_feather_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table = pa.table(
        {
            "y": pa.array([1, 2], pa.decimal256(40, 2)),
            "a": [1.0, 2.5],
            "b": [1.0, 2.0],
            "w": [1.0, 1.0],
        }
    )
    path = tmp_path / "wide.feather"
    pyarrow.feather.write_feather(table, path)
    assert_one_line_error(
        evaluate(capsys, path),
        r"wide\.feather: column 'y' has dtype Decimal\(precision=40, scale=2\), "
        r"a 256-bit decimal that Polars cannot read",
    )


def test_a_table_read_again_into_a_saved_state_is_skipped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: pl.DataFrame
) -> None:
    root = tmp_path / "delta"
    write_delta(rows, root, delete="y > 1000")
    state = tmp_path / "_state.parquet"
    first = inline(capsys, *_saving(root, state))
    assert first.returncode == 0, first.stderr
    again = inline(capsys, *_saving(root, state), "--state", state)
    assert again.returncode == 0, again.stderr
    assert "skipping" in again.stderr
    assert (
        from_csv(again.stdout)["n"].to_list() == from_csv(first.stdout)["n"].to_list()
    )


def _saving(root: Path, state: Path) -> list[str | Path]:
    return [
        "evaluate", root, "--actual", "y", "--predicted", "a", "-f", "csv",
        "--save-state", state,
    ]  # fmt: skip

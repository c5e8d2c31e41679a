"""The command line's inputs on the local disk.

Hive partitions, files reached twice, streams, and the messages about links,
permissions and vectors.

Reports are compared with :func:`polars_l2.report` on the same rows built in
this process; the Hive key dtypes with Polars' own
``scan_parquet(..., hive_partitioning=True)``.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2.cli import _inputs, _opened
from tests.test_cli import (
    assert_one_line_error,
    from_csv,
    inline,
    make_data,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from subprocess import CompletedProcess


def evaluate(
    capsys: pytest.CaptureFixture[str], *paths: str | Path, by: Sequence[str] = ()
) -> CompletedProcess[str]:
    args: list[str | Path] = ["evaluate", *paths, "--actual", "y"]
    args += ["--predicted", "a", "--predicted", "b", "--weight", "w", "-f", "csv"]
    for key in by:
        args += ["--by", key]
    return inline(capsys, *args)


def read(source: _inputs.Source) -> pl.DataFrame:
    """Read a source as the command reads it: opened once, scanned."""
    with _opened.opened(source, identify=False) as file:
        return file.scan().collect()


def assert_reports(got: str, rows: pl.DataFrame, by: Sequence[str]) -> None:
    """Check the report against polars_l2.report on `rows` (merged columns)."""
    expected = polars_l2.report(rows, "y", ["a", "b"], by=list(by) or None, weight="w")
    assert isinstance(expected, pl.DataFrame)
    columns = ["n", "weight_sum", "sse", "mse", "rmse", "mae", "bias", "r2"]
    keys = ["model", *by]
    assert_frame_equal(
        from_csv(got).select(*keys, *columns).sort(keys),
        expected.select(*keys, *columns).sort(keys),
        check_dtypes=False,
        rel_tol=1e-10,
        abs_tol=1e-10,
    )


# --- Hive partitions ----------------------------------------------------------


@pytest.fixture
def hive(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    """preds/region=R/day=D/part.parquet, without region and day in the files."""
    parts = []
    for i, (region, day) in enumerate(
        [("north", 1), ("north", 2), ("south", 1), ("east west", 3)]
    ):
        frame = make_data(i, 300)
        folder = tmp_path / "preds" / f"region={region.replace(' ', '%20')}"
        (folder / f"day={day}").mkdir(parents=True)
        frame.drop("region").write_parquet(folder / f"day={day}" / "part.parquet")
        parts.append(
            frame.with_columns(region=pl.lit(region), day=pl.lit(day, pl.Int64))
        )
    return tmp_path / "preds", pl.concat(parts)


def test_hive_partitions_are_by_columns(
    capsys: pytest.CaptureFixture[str], hive: tuple[Path, pl.DataFrame]
) -> None:
    root, rows = hive
    for argument in (root, f"{root}/*/*/*.parquet", f"{root}/region=*"):
        result = evaluate(capsys, argument, by=["region", "day"])
        assert result.returncode == 0, result.stderr
        assert_reports(result.stdout, rows, ["region", "day"])


def test_hive_key_dtype_is_polars_own(tmp_path: Path) -> None:
    root = tmp_path / "preds"
    values = {
        "i": ["1", "02", "__HIVE_DEFAULT_PARTITION__"],
        "f": ["1", "2.5", "1e3"],
        "s": ["1", "x", "-0"],
        "d": ["2024-01-01", "2024-02-29", "2024-03-01"],
        "b": ["true", "false", "true"],
        "big": ["1", "9223372036854775808", "3"],
        "e": ["", "1", "2"],
    }
    for j in range(3):
        folder = root.joinpath(*(f"{k}={v[j]}" for k, v in values.items()))
        folder.mkdir(parents=True)
        pl.DataFrame({"y": [float(j)]}).write_parquet(folder / "part.parquet")
    polars = pl.scan_parquet(root, hive_partitioning=True).collect().sort("y")
    ours = pl.concat([read(s) for s in _inputs.discover([str(root)])])
    assert ours.columns == ["y", *values]
    assert_frame_equal(ours.sort("y"), polars)


def test_a_hive_key_also_in_the_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "region=north"
    folder.mkdir()
    make_data(1, 50).write_parquet(folder / "part.parquet")
    assert_one_line_error(
        evaluate(capsys, tmp_path, by=["region"]),
        r"part\.parquet: column 'region' is in the file and in its path",
    )


# --- a file reached twice -----------------------------------------------------


def test_a_file_reached_twice_is_read_once(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = make_data(3, 400)
    rows.write_parquet(tmp_path / "a.parquet")
    os.link(tmp_path / "a.parquet", tmp_path / "hard.parquet")
    (tmp_path / "soft.parquet").symlink_to(tmp_path / "a.parquet")
    monkeypatch.chdir(tmp_path)
    other = make_data(4, 300)
    other.write_parquet(tmp_path / "b.parquet")
    result = evaluate(
        capsys,
        "a.parquet",
        "./a.parquet",
        "hard.parquet",
        "soft.parquet",
        str(tmp_path / "a.parquet"),
        "b.parquet",
    )
    assert result.returncode == 0, result.stderr
    assert_reports(result.stdout, pl.concat([rows, other]), [])
    # One line names the repeats; the same path spelt again ("./a.parquet")
    # needs no word.
    assert len(result.stderr.splitlines()) == 1
    assert "3 input(s) reached twice, read once" in result.stderr
    for name in ("hard.parquet (= a.parquet)", "soft.parquet (= a.parquet)"):
        assert name in result.stderr


def test_a_directory_link_back_up_the_tree_is_walked_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = make_data(5, 200)
    (tmp_path / "d").mkdir()
    rows.write_parquet(tmp_path / "d" / "a.parquet")
    (tmp_path / "d" / "up").symlink_to(tmp_path / "d")
    result = evaluate(capsys, tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert_reports(result.stdout, rows, [])


# --- streams ----------------------------------------------------------------


def _feed(path: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with path.open("wb") as fifo:
            fifo.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_fifo_among_the_inputs_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    rows, other = make_data(6, 500), make_data(7, 300)
    other.write_parquet(tmp_path / "file.parquet")
    fifo = tmp_path / f"stream.{fmt}"
    os.mkfifo(fifo)
    buffer = tmp_path / f"bytes.{fmt}"
    getattr(rows, f"write_{fmt}")(buffer)
    thread = _feed(fifo, buffer.read_bytes())
    result = evaluate(capsys, fifo, tmp_path / "file.parquet")
    thread.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert_reports(result.stdout, pl.concat([rows, other]), [])


def test_an_empty_regular_file_is_still_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (source,) = _inputs.discover([str(tmp_path / "empty.csv")])
    assert source.stream
    with _opened.opened(source, identify=False) as file:
        assert _inputs.is_empty(file.scan())


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs /proc")
def test_a_proc_file_is_read_not_taken_for_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Its size reads 0; its lines ("MemTotal:  16384 kB") are one CSV column.
    assert Path("/proc/meminfo").stat().st_size == 0
    (tmp_path / "meminfo.csv").symlink_to("/proc/meminfo")
    (source,) = _inputs.discover([str(tmp_path / "meminfo.csv")])
    assert source.stream
    with _opened.opened(source, identify=False) as file:
        assert not _inputs.is_empty(file.scan())
    assert_one_line_error(
        evaluate(capsys, tmp_path / "meminfo.csv"), r"meminfo\.csv: .*'y' not found"
    )


def test_a_stream_without_an_extension_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    read, write = os.pipe()  # what <(command) hands over as /dev/fd/N
    try:
        assert_one_line_error(
            evaluate(capsys, f"/dev/fd/{read}"),
            rf"/dev/fd/{read}: a stream .* without an extension",
        )
    finally:
        os.close(read)
        os.close(write)


# --- messages ---------------------------------------------------------------


def test_a_symlink_loop_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.parquet").symlink_to(tmp_path / "b.parquet")
    (tmp_path / "b.parquet").symlink_to(tmp_path / "a.parquet")
    assert_one_line_error(
        evaluate(capsys, tmp_path / "a.parquet"), r"a\.parquet: a symbolic link loop"
    )
    # Inside a directory too.
    assert_one_line_error(evaluate(capsys, tmp_path), r"symbolic link loop")


def test_a_broken_symlink_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.parquet").symlink_to(tmp_path / "gone.parquet")
    assert_one_line_error(
        evaluate(capsys, tmp_path / "a.parquet"),
        r"a\.parquet: a broken symbolic link \(to .*gone\.parquet\)",
    )


@pytest.fixture
def unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make a directory whose listing is denied (root ignores chmod: patched)."""
    make_data(1, 50).write_parquet(tmp_path / "a.parquet")
    (tmp_path / "secret").mkdir()
    make_data(2, 50).write_parquet(tmp_path / "secret" / "b.parquet")
    real = os.scandir

    def scandir(path: str) -> os._ScandirIterator[str]:
        if Path(path).name == "secret":
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return tmp_path


def test_an_unreadable_directory_is_named(
    capsys: pytest.CaptureFixture[str], unreadable: Path
) -> None:
    for argument in (unreadable, unreadable / "secret"):
        assert_one_line_error(evaluate(capsys, argument), r"secret: permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists any directory")
def test_an_unreadable_directory_by_its_mode(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "secret").mkdir(mode=0)
    try:
        assert_one_line_error(evaluate(capsys, tmp_path), r"secret: permission denied")
    finally:
        (tmp_path / "secret").chmod(0o700)
        shutil.rmtree(tmp_path / "secret")


def test_a_list_prediction_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pl.DataFrame({"y": [1.0, 2.0], "p": [[1.0], [2.0]], "w": [1.0, 1.0]}).write_parquet(
        tmp_path / "v.parquet"
    )
    result = inline(
        capsys, "evaluate", tmp_path / "v.parquet", "--actual", "y", "--predicted", "p"
    )
    assert_one_line_error(
        result, r"other columns are vectors \(predicted column 'p' has dtype List"
    )


def test_rows_of_different_widths_are_said_in_our_words_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ragged = {"y": [[1.0, 2.0], [3.0, 4.0]], "p": [[1.0, 2.0], [3.0, 4.0, 5.0]]}
    pl.DataFrame(ragged).write_parquet(tmp_path / "v.parquet")
    result = inline(
        capsys, "evaluate", tmp_path / "v.parquet", "--actual", "y", "--predicted", "p"
    )
    assert_one_line_error(
        result,
        r"^polars-l2: error: .*v\.parquet: vectors of different widths in one row: "
        r"actual column 'y' has width 2, predicted column 'p' has width 3$",
    )

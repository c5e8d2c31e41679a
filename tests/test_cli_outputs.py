"""Where the command line writes, and what it shows.

Outputs that are devices, FIFOs or symlinks; data files and non-states that
are refused; long names; temporary files after signals; plot formats; the
glossary in --help; --columns; the table on a narrow terminal; the progress
bar. Every file is made in a temporary directory, never at a system path.
"""

from __future__ import annotations

import io
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2._core import metrics
from polars_l2.cli import _fit, _inputs, _output, _progress
from polars_l2.cli._errors import CliError
from tests.children import TIMEOUT, WAIT_FOR_A_SIGNAL, child, read_line
from tests.test_cli import assert_one_line_error, inline, program_env

if TYPE_CHECKING:
    from pathlib import Path

#: Leading bytes of each figure format the tests check.
MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "pdf": b"%PDF-",
    "jpg": b"\xff\xd8\xff",
    "svg": b"<?xml",
}


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    n = 60
    return pl.DataFrame(
        {
            "g": [["north", "south", "west"][i % 3] for i in range(n)],
            "y": [float(i % 7) for i in range(n)],
            "p": [float(i % 5) if i % 11 else None for i in range(n)],
            "q": [float(i % 3) for i in range(n)],
            "w": [1.0 + i % 4 for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("data") / "preds.parquet"
    frame.write_parquet(path)
    return path


def evaluate(data: Path, *extra: str | Path) -> list[str | Path]:
    return ["evaluate", data, "--actual", "y", "--predicted", "p", "--by", "g", *extra]


def csv_of(capsys: pytest.CaptureFixture[str], data: Path) -> str:
    result = inline(capsys, *evaluate(data, "-f", "csv"))
    assert result.returncode == 0, result.stderr
    return result.stdout


def assert_same_csv(got: str, want: str) -> None:
    """Assert two CSV reports hold the same rows, to rounding.

    Two runs of one report may sum in another order (the streaming engine's
    threads): the last bits of a float may differ, and its text with them.
    """
    assert got.endswith("\n")
    assert_frame_equal(
        pl.read_csv(io.StringIO(got)),
        pl.read_csv(io.StringIO(want)),
        rel_tol=1e-12,
        abs_tol=1e-15,
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# --- devices, FIFOs and symlinks ---------------------------------------------


def names(directory: Path) -> list[str]:
    """Return the files in `directory`, but a lock --save-state keeps beside a state.

    The lock (``.NAME.lock``) stays by design: removing it would open a race
    between two updates (docs/cli.md).
    """
    return sorted(
        p.name
        for p in directory.iterdir()
        if not (p.name.startswith(".") and p.name.endswith(".lock"))
    )


def null_device(path: Path) -> Path:
    """Make a character device with the null device's numbers at `path`."""
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
@pytest.mark.parametrize("flag", ["--output", "--save-state", "--plot"])
def test_a_device_is_written_to_not_replaced(
    flag: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = null_device(tmp_path / ("device.png" if flag == "--plot" else "device"))
    before = os.stat(device)
    result = inline(capsys, *evaluate(data, flag, device))
    assert result.returncode == 0, result.stderr
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert names(tmp_path) == [device.name]


def read_fifo(path: Path) -> tuple[threading.Thread, list[bytes]]:
    """Start a reader of the FIFO at `path`; its bytes land in the list."""
    got: list[bytes] = []

    def reader() -> None:
        with open(path, "rb") as handle:
            got.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread, got


@pytest.mark.parametrize("flag", ["--output", "--save-state"])
def test_a_fifo_is_written_to_as_a_stream(
    flag: str,
    data: Path,
    frame: pl.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    thread, got = read_fifo(fifo)
    result = inline(capsys, *evaluate(data, "-f", "csv", flag, fifo))
    thread.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert names(tmp_path) == ["out.fifo"]
    if flag == "--output":
        (text,) = got
        assert_same_csv(text.decode(), csv_of(capsys, data))
    else:
        written = pl.read_parquet(io.BytesIO(got[0]))
        expected = polars_l2.state(frame, "y", ["p"], by="g")
        assert_frame_equal(written, expected, check_dtypes=False)


@pytest.mark.parametrize("flag", ["--output", "--save-state"])
def test_a_symlink_is_written_through_to_its_target(
    flag: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    there = tmp_path / "there"
    here = tmp_path / "here"
    there.mkdir()
    here.mkdir()
    target = there / "real.out"
    link = here / "link.out"
    if flag == "--output":
        target.write_text("old report\n")
    else:
        inline(capsys, *evaluate(data, "--save-state", target))
    old_inode = target.stat().st_ino
    link.symlink_to(target)
    # A state is replaced by one that holds it: read through the link too.
    holds: list[str | Path] = ["--state", link] if flag == "--save-state" else []
    result = inline(capsys, *evaluate(data, "-f", "csv", *holds, flag, link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    # Replaced by a rename at the target, not rewritten in place.
    assert target.stat().st_ino != old_inode
    if flag == "--output":
        assert_same_csv(target.read_text(), csv_of(capsys, data))
    else:
        assert _output.is_state_file(target)
    assert names(there) == ["real.out"]
    assert names(here) == ["link.out"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_descriptor_link_is_written_to_the_descriptor(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As --output /dev/stdout, through a link made here: the descriptor's
    # pipe or file receives the report; nothing is renamed over anything.
    link = tmp_path / "out.csv"
    link.symlink_to("/proc/self/fd/1")
    args = [sys.executable, "-m", "polars_l2", *map(str, evaluate(data, "-f", "csv"))]
    expected = csv_of(capsys, data)
    piped = subprocess.run(
        [*args, "-o", str(link)],
        capture_output=True,
        text=True,
        env=program_env(),
        check=False,
        timeout=600,
    )
    assert (piped.returncode, piped.stderr) == (0, "")
    assert_same_csv(piped.stdout, expected)
    captured = tmp_path / "captured.txt"
    captured.write_text("old\n")
    inode = captured.stat().st_ino
    with open(captured, "a") as append:  # as `>> captured.txt`
        status = subprocess.run(
            [*args, "-o", str(link)],
            stdout=append,
            env=program_env(),
            check=False,
            timeout=600,
        ).returncode
    assert status == 0
    assert captured.stat().st_ino == inode
    text = captured.read_text()
    assert text.startswith("old\n")
    assert_same_csv(text.removeprefix("old\n"), expected)
    assert link.is_symlink()
    assert leftovers(tmp_path) == []


def test_a_dangling_symlink_creates_its_target(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "new.csv")
    assert inline(capsys, *evaluate(data, "-f", "csv", "-o", link)).returncode == 0
    assert link.is_symlink()
    assert_same_csv((tmp_path / "new.csv").read_text(), csv_of(capsys, data))


def test_a_symlink_loop_is_one_line(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    result = inline(capsys, *evaluate(data, "-o", tmp_path / "a"))
    assert_one_line_error(result, r"a: Too many levels of symbolic links")


# --- what an output refuses to replace ---------------------------------------


def data_files(tmp_path: Path, frame: pl.DataFrame) -> dict[str, Path]:
    """Write a parquet, an Arrow IPC file and an Arrow IPC stream, named as reports."""
    files = {
        "a parquet file": tmp_path / "report.csv",
        "an Arrow IPC file": tmp_path / "report.json",
        "an Arrow IPC stream": tmp_path / "report.txt",
    }
    frame.write_parquet(files["a parquet file"])
    frame.write_ipc(files["an Arrow IPC file"])
    frame.write_ipc_stream(files["an Arrow IPC stream"])
    return files


@pytest.mark.parametrize("flag", ["--output", "--plot"])
def test_output_refuses_to_replace_a_data_file(
    flag: str,
    data: Path,
    frame: pl.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for kind, path in data_files(tmp_path, frame).items():
        target = path.rename(path.with_suffix(".png")) if flag == "--plot" else path
        before = target.read_bytes()
        result = inline(capsys, *evaluate(data, flag, target))
        assert_one_line_error(result, rf"{flag} .*{target.name} is {kind}")
        assert target.read_bytes() == before
    # Through a symlink too: what counts is the file written.
    link = tmp_path / "link.png"
    link.symlink_to(data)
    assert_one_line_error(
        inline(capsys, *evaluate(data, flag, link)), r"is one of the inputs"
    )
    other = tmp_path / "copy.parquet"
    other.write_bytes(data.read_bytes())
    link.unlink()
    link.symlink_to(other)
    assert_one_line_error(
        inline(capsys, *evaluate(data, flag, link)), r"is a parquet file"
    )


def test_save_state_refuses_to_replace_what_is_not_a_state(
    data: Path,
    frame: pl.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keep = tmp_path / "keep.parquet"
    frame.write_parquet(keep)
    text = tmp_path / "notes.parquet"
    text.write_text("my notes\n")
    for path in (keep, text):
        before = path.read_bytes()
        result = inline(capsys, *evaluate(data, "--save-state", path))
        assert_one_line_error(result, rf"--save-state .*{path.name} exists and is not")
        assert path.read_bytes() == before
    # An empty file holds nothing to lose; a state is replaced by one that
    # reads it.
    empty = tmp_path / "empty.parquet"
    empty.touch()
    assert inline(capsys, *evaluate(data, "--save-state", empty)).returncode == 0
    assert _output.is_state_file(empty)
    grown = evaluate(data, "--state", empty, "--save-state", empty)
    assert inline(capsys, *grown).returncode == 0
    assert not _output.is_state_file(keep)
    assert not _output.is_state_file(text)


# --- temporary names ----------------------------------------------------------


def test_a_250_character_name_works(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / ("r" * 246 + ".csv")
    state = tmp_path / ("s" * 242 + ".parquet")
    assert len(report.name) == len(state.name) == 250
    result = inline(
        capsys, *evaluate(data, "-f", "csv", "-o", report, "--save-state", state)
    )
    assert result.returncode == 0, result.stderr
    assert_same_csv(report.read_text(), csv_of(capsys, data))
    assert _output.is_state_file(state)
    assert leftovers(tmp_path) == []


def test_temporary_names_are_short_hidden_and_skipped(
    tmp_path: Path, frame: pl.DataFrame
) -> None:
    real = tmp_path / "real.parquet"
    frame.write_parquet(real)
    target = tmp_path / ("x" * 242 + ".parquet")
    assert len(target.name) == 250
    with _output.stage(target, _output.text_writer("content")) as staged:
        (name,) = leftovers(tmp_path)
        assert name.startswith(".")
        assert len(name.encode()) < 64
        assert _inputs._is_skipped(name)
        # A directory input does not see it.
        assert [s.path for s in _inputs.discover([str(tmp_path)])] == [real]
        assert not target.exists()
        staged.commit()
    assert target.read_text() == "content"
    assert leftovers(tmp_path) == []


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_text("old\n")

    def failing(handle: object) -> None:
        del handle
        raise OSError(28, "No space left on device")

    with pytest.raises(CliError, match=r"report.csv: No space left"):
        _output.write_all(
            [(tmp_path / "first.csv", _output.text_writer("new\n")), (target, failing)]
        )
    # Nothing is put in place unless everything was written.
    assert names(tmp_path) == ["report.csv"]
    assert target.read_text() == "old\n"


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    _output.write_atomic(target, "new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text() == "new\n"


#: Runs main, and on the N-th fsync (each staged output's), says "ready"
#: and waits for a signal, so the signal arrives there, every time.
SIGNAL_SCRIPT = (
    WAIT_FOR_A_SIGNAL
    + """\
import os, signal, sys
import polars_l2.cli as cli

signal.signal(signal.SIGINT, signal.default_int_handler)
calls = 0
real_fsync = os.fsync

def fsync(fd):
    global calls
    calls += 1
    if calls == int(sys.argv[1]):
        os.write(1, b"ready\\n")
        wait_for_a_signal()
    real_fsync(fd)

os.fsync = fsync
sys.exit(cli.main(sys.argv[2:]))
"""
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_signal_while_writing_leaves_every_output_old(
    signum: int, status: int, nth: int, data: Path, tmp_path: Path
) -> None:
    # Three outputs are staged in turn (report, plot, state): the signal
    # comes while the nth is written, with the ones before it staged.
    report, figure, state = (
        tmp_path / "r.csv",
        tmp_path / "f.png",
        tmp_path / "s.parquet",
    )
    report.write_text("old report\n")
    figure.write_bytes(b"old figure")
    state.write_bytes(b"")
    args = evaluate(data, "-o", report, "--plot", figure, "--save-state", state)
    with child(
        [sys.executable, "-c", SIGNAL_SCRIPT, str(nth), *map(str, args)],
        env=program_env(),
    ) as process:
        assert read_line(process.stdout) == "ready\n"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == status
    assert stderr.count("\n") == 1
    assert report.read_text() == "old report\n"
    assert figure.read_bytes() == b"old figure"
    assert state.read_bytes() == b""
    assert names(tmp_path) == ["f.png", "r.csv", "s.parquet"]


# --- plot formats -------------------------------------------------------------


@pytest.mark.parametrize("extension", sorted(MAGIC))
def test_plot_writes_the_format_its_extension_names(
    extension: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / f"figure.{extension.upper()}"
    result = inline(capsys, "demo", "-f", "csv", "--plot", path)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes().startswith(MAGIC[extension])


@pytest.mark.parametrize("name", ["figure.xyz", "figure", "figure.csv"])
def test_plot_refuses_an_extension_that_names_no_format(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    result = inline(capsys, "demo", "--plot", tmp_path / name)
    what = (
        "no extension to name a figure format"
        if "." not in name
        else rf"extension '\.{name.rsplit('.', maxsplit=1)[-1]}' is no figure format"
    )
    assert_one_line_error(result, rf"{what}; use one of .*png.*svg")
    assert names(tmp_path) == []


def test_plot_formats_are_matplotlibs() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.backend_bases import FigureCanvasBase  # noqa: PLC0415

    from polars_l2 import plot  # noqa: PLC0415

    assert set(plot.supported_formats()) == set(
        FigureCanvasBase.get_supported_filetypes()
    )


# --- the command line's display ------------------------------------------------


def glossary(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    text = inline(capsys, "evaluate", "--help").stdout
    section = text.split("report columns:\n", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^  (\w+)  +(\S.*)$", section, re.MULTILINE))


def test_help_glossary_is_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    entries = glossary(capsys)
    metric_entries = {k: v for k, v in entries.items() if k in metrics.REGISTRY}
    assert metric_entries == {
        name: metric.doc for name, metric in metrics.REGISTRY.items()
    }
    assert list(entries)[:5] == ["model", "overall", "n", "weight_sum", "small"]


def test_help_glossary_names_every_report_column(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = glossary(capsys)
    result = inline(capsys, *evaluate(data, "--weight", "w", "-f", "csv"))
    shown = pl.read_csv(io.StringIO(result.stdout)).columns
    assert [c for c in shown if c != "g"] == list(entries)


def test_save_state_says_what_it_saved(
    data: Path, frame: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.parquet"
    result = inline(
        capsys,
        "evaluate",
        data,
        "--actual",
        "y",
        "--predicted",
        "p",
        "--predicted",
        "q",
        "--by",
        "g",
        "--save-state",
        state,
    )
    assert result.returncode == 0, result.stderr
    # Independently: segments are the distinct keys; rows the most any
    # model counts (q has no nulls, so every row).
    segments = frame.get_column("g").n_unique()
    rows = frame.height
    assert result.stderr == (
        f"polars-l2: saved state {state}: {segments} segments, {rows} rows\n"
    )
    assert pq.read_table(state).num_rows == 2 * segments


def test_columns_chooses_what_is_shown(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(capsys, *evaluate(data, "-f", "csv", "--columns", "rmse, n,mae"))
    assert result.returncode == 0, result.stderr
    shown = pl.read_csv(io.StringIO(result.stdout))
    assert shown.columns == ["model", "g", "overall", "rmse", "n", "mae"]
    full = pl.read_csv(io.StringIO(csv_of(capsys, data)))
    assert_frame_equal(shown, full.select(shown.columns))
    # model may be named; it is shown anyway, once.
    named = inline(capsys, *evaluate(data, "-f", "csv", "--columns", "model,r2"))
    assert pl.read_csv(io.StringIO(named.stdout)).columns == [
        "model",
        "g",
        "overall",
        "r2",
    ]


@pytest.mark.parametrize(
    ("columns", "pattern"),
    [
        (
            "rmse,nope",
            r"unknown report column 'nope'; choose from n, weight_sum, small, sse",
        ),
        ("rmse,,mae", r"expected column names separated by commas"),
        (
            "weight_sum",
            r"this report has no column 'weight_sum'; its columns are n, small, sse,",
        ),
    ],
)
def test_columns_refuses_a_name_it_cannot_show(
    columns: str, pattern: str, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(capsys, *evaluate(data, "--columns", columns))
    assert_one_line_error(result, pattern)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Say yes."""
        return True


def demo_on_terminal(monkeypatch: pytest.MonkeyPatch, columns: int, *extra: str) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    out = Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    from polars_l2 import cli  # noqa: PLC0415

    assert cli.main(["demo", *extra]) == 0
    return out.getvalue()


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "┌│├╞└"]


def header(text: str) -> list[str]:
    return [cell.strip() for cell in table_lines(text)[1].strip("│").split("┆")]


def cell_widths(text: str) -> dict[str, int]:
    """Return each column's width in a drawn table: its widest cell or header."""
    rows = [
        [cell.strip() for cell in line.strip("│").split("┆")]
        for line in table_lines(text)
        if line.startswith("│")
    ]
    return {name: max(len(row[i]) for row in rows) for i, name in enumerate(rows[0])}


def table_width(widths: dict[str, int], columns: list[str]) -> int:
    """Return the width of a table of these columns: "│ a ┆ b │" per line."""
    return 1 + sum(widths[name] + 3 for name in columns)


#: The documented priority (polars_l2/cli/_fit.py, docs/cli.md), as groups.
PRIORITY = [
    ["n"], ["rmse", "rmse_low", "rmse_high"], ["mae"], ["bias"],
    ["top_1pct_share"], ["verdict"],
]  # fmt: skip


@pytest.mark.parametrize("width", [80, 120])
def test_the_demo_shows_the_priority_columns_that_fit_and_names_the_rest(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = demo_on_terminal(monkeypatch, 10_000)
    all_columns = header(everything)
    widths = cell_widths(everything)
    assert table_width(widths, all_columns) == max(map(len, table_lines(everything)))
    text = demo_on_terminal(monkeypatch, width)
    # Nothing is wider than the terminal: no line wraps, so no word breaks.
    assert max(map(len, text.splitlines())) <= width
    shown = header(text)
    assert shown[:2] == ["model", "region"]
    assert shown == [c for c in all_columns if c in shown]  # the table's order
    left_out = [c for c in all_columns if c not in shown]
    assert left_out
    # Each group left out would not have fit beside the columns shown.
    groups = [g for g in PRIORITY if g[0] in all_columns]
    grouped = {c for g in groups for c in g}
    rest = [[c] for c in all_columns[2:] if c not in grouped]
    for group in [*groups, *rest]:
        if group[0] in left_out:
            wider = [c for c in all_columns if c in shown or c in group]
            assert table_width(widths, wider) > width, group
        else:
            assert set(group) <= set(shown), group
    # A lower-priority column never took the room of a higher one: with
    # only the priority columns shown, each group left out still would not fit.
    for i, group in enumerate(groups):
        if group[0] in left_out:
            before = [c for g in groups[:i] for c in g if c in shown]
            assert table_width(widths, ["model", "region", *before, *group]) > width
    # The note names exactly the columns left out, in the table's order.
    note = text.split("└", 1)[1].split("\n", 1)[1].split("\n\n", 1)[0]
    assert " ".join(note.split()) == (
        f"(left out to fit the terminal: {', '.join(left_out)}; see them with "
        "--columns all or --format csv)"
    )
    # --columns all shows every column, however narrow the terminal.
    assert header(demo_on_terminal(monkeypatch, width, "--columns", "all")) == (
        all_columns
    )


def test_at_80_columns_the_demo_keeps_rmse_its_interval_and_mae(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown = header(demo_on_terminal(monkeypatch, 80))
    for column in ("n", "rmse", "rmse_low", "rmse_high", "mae"):
        assert column in shown
    wide = header(demo_on_terminal(monkeypatch, 120))
    for column in ("bias", "top_1pct_share"):
        assert column in wide


def test_the_demo_story_breaks_lines_between_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = demo_on_terminal(monkeypatch, 60)
    story = text.split("└", 1)[1]
    assert max(map(len, story.splitlines())) <= 60
    words = " ".join(story.split())
    # Every word of the paragraph and the command is whole.
    assert "'boosted' has the lower MAE" in words
    command = story.split("command line:", 1)[1]
    # The command's lines end in " \\" where it goes on (the path's length
    # decides where, so the test reads it whole).
    whole = " ".join(command.replace("\\\n", " ").split())
    assert whole.startswith("polars-l2 evaluate ")
    assert whole.endswith("--by region")


def test_a_wide_terminal_a_pipe_and_a_file_get_every_column(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wide = table_lines(demo_on_terminal(monkeypatch, 1000))
    assert "top_1pct_share" in wide[1]
    # --columns is obeyed even where it does not fit.
    chosen = demo_on_terminal(monkeypatch, 40, "--columns", "sse,bias")
    assert "left out" not in chosen
    assert [c.strip() for c in table_lines(chosen)[1].strip("│").split("┆")] == [
        "model", "region", "overall", "sse", "bias"
    ]  # fmt: skip
    out = tmp_path / "table.txt"
    demo_on_terminal(monkeypatch, 40, "-o", str(out))
    assert "top_1pct_share" in out.read_text()
    piped = subprocess.run(
        [sys.executable, "-m", "polars_l2", "demo"],
        capture_output=True,
        text=True,
        check=True,
        env={**program_env(), "COLUMNS": "40"},
        timeout=600,
    )
    assert "top_1pct_share" in piped.stdout


def test_fit_table_keeps_model_and_keys_however_narrow() -> None:
    report = pl.DataFrame(
        {"model": ["m"], "shop": ["x" * 30], "n": [2], "rmse": [1.5], "mae": [1.0]}
    )
    table, note = _fit.fit_table(report, 10)
    header = [c.strip() for c in table.splitlines()[1].strip("│").split("┆")]
    assert header == ["model", "shop"]
    assert note is not None
    assert "n, rmse, mae" in " ".join(note.split())
    # The note breaks between words, never inside a column's name.
    assert all(word.strip("(),;") for word in note.split())
    assert max(map(len, note.splitlines())) <= 20


# --- the progress bar ----------------------------------------------------------


def test_progress_is_drawn_by_tqdm_on_a_terminal() -> None:
    out = Terminal()
    with _progress.Progress(4, stream=out, enabled=True) as bar:
        for _ in range(4):
            bar.advance()
    drawn = out.getvalue()
    assert "0/4 files" in drawn
    assert "4/4 files" in drawn
    assert drawn.endswith("\r")  # the line is cleared for what comes next


def test_progress_is_quiet_when_stderr_is_not_a_terminal(
    tmp_path: Path, frame: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        # Three days of different rows: identical files would be one source.
        frame.slice(i).write_parquet(tmp_path / f"part{i}.parquet")
    assert not _progress.wanted(sys.stderr, 3)
    result = inline(capsys, *evaluate(tmp_path, "-f", "csv"))
    assert result.returncode == 0
    assert result.stderr == ""
    out = io.StringIO()
    with _progress.Progress(3, stream=out, enabled=False) as bar:
        bar.advance(3)
    assert out.getvalue() == ""

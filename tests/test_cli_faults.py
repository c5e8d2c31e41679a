"""Faults and hostile inputs: exit codes that mean what they say, bounded resources.

Each kind of fault is one test (or one parametrised test): a Rust panic,
hostile state metadata, tampered state values, devices and endless streams,
huge parquet row groups, many files, odd names, closed streams, signals in
the first second, and the library's argument edges. Bad input is one line on
stderr and exit status 2; a bug is the "internal error" line, a traceback
and exit status 1.
"""

from __future__ import annotations

import decimal
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import feather

import polars_l2
from polars_l2 import cli
from polars_l2.cli import _evaluate, _inputs, _ledger, _opened, _row_groups
from polars_l2.cli._errors import CliError
from polars_l2.exceptions import L2InputError
from tests.children import child
from tests.test_cli import CONSOLE_SCRIPT, program_env, run, run_shell
from tests.test_cli import inline as inline_main
from tests.test_cli_states import (
    columns,
    expected_n,
    inline,
    make_day,
    n_of,
    notes,
    report_of,
    write_days,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def assert_one_line(result: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(pattern, result.stderr), result.stderr


# --- panics -------------------------------------------------------------------


def test_a_file_that_makes_polars_panic_is_one_line_naming_it(tmp_path: Path) -> None:
    # Polars' IPC reader panics on a decimal256 column. A plain one is
    # refused before any row is read (tests/test_cli_tables.py); one inside
    # a struct, read first, still reaches the reader.
    wide = pa.array([decimal.Decimal("1.5")] * 3, pa.decimal256(40, 2))
    table = pa.table(
        {
            "meta": pa.StructArray.from_arrays([wide], names=["d"]),
            "y": [1.0, 2.0, 3.0],
            "p": [1.0, 2.0, 3.0],
        }
    )
    feather.write_feather(table, tmp_path / "wide.arrow")
    result = run(
        "evaluate", tmp_path / "wide.arrow", "--actual", "y", "--predicted", "p"
    )
    # Rust's own panic lines are kept off stderr: the one line is all there is.
    assert_one_line(
        result, r"^polars-l2: error: .*wide\.arrow: the reader failed on this file"
    )


def test_a_panic_outside_the_reading_of_a_file_is_an_internal_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def panic(*_: object, **__: object) -> str:
        raise pl.exceptions.PanicException("a bug in a Rust library")

    monkeypatch.setattr(cli, "render", panic)
    result = inline(capsys, "demo", "-f", "csv")
    assert result.returncode == 1
    assert result.stderr.startswith("polars-l2: internal error, a bug in polars-l2")
    assert "Traceback" in result.stderr
    assert "PanicException: a bug in a Rust library" in result.stderr


# --- hostile state metadata -------------------------------------------------------


def _saved_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    ((day, _),) = write_days(tmp_path, 1)
    state = tmp_path / "s.parquet"
    assert (
        inline(capsys, "evaluate", day, *columns(), "--save-state", state).returncode
        == 0
    )
    return state


def _with_metadata(state: Path, key: str, value: str) -> None:
    table = pq.read_table(state)
    metadata = {**(table.schema.metadata or {}), key.encode(): value.encode()}
    pq.write_table(table.replace_schema_metadata(metadata), state)


def _ledger_of(size: str, kind: str = "file") -> str:
    """Return a ledger of one entry whose size is the JSON text `size`."""
    entry = {"kind": kind, "sha256": "0" * 64, "size": "SIZE", "name": "day0"}
    return json.dumps([entry]).replace('"SIZE"', size)


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        (
            "polars_l2.state_version",
            "\u00b2",
            r"polars_l2\.state_version='²' is not a version",
        ),
        (
            "polars_l2.state_version",
            "9" * 5000,
            r"polars_l2\.state_version='9+' is not a version",
        ),
        (_ledger.LEDGER_KEY, _ledger_of("Infinity"), r"Infinity is not a number"),
        (_ledger.LEDGER_KEY, _ledger_of("1e400"), r"field 'size' is inf"),
        (_ledger.LEDGER_KEY, _ledger_of("-1"), r"field 'size' is -1"),
        (_ledger.LEDGER_KEY, _ledger_of("1.5"), r"field 'size' is 1\.5"),
        (_ledger.LEDGER_KEY, _ledger_of("3", kind="x"), r"field 'kind' is 'x'"),
        (_ledger.LEDGER_KEY, "[" * 100_000 + "]" * 100_000, r"nested too deep"),
        (_ledger.LEDGER_KEY, '{"kind": "file"}', r"it is dict, not a list"),
    ],
    ids=[
        "superscript",
        "5000 digits",
        "Infinity",
        "1e400",
        "negative",
        "float",
        "kind",
        "deep",
        "object",
    ],
)
def test_hostile_state_metadata_is_bad_input_naming_the_state_and_field(
    key: str,
    value: str,
    pattern: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = _saved_state(tmp_path, capsys)
    _with_metadata(state, key, value)
    result = inline(capsys, "evaluate", "--state", state, "-f", "csv")
    assert_one_line(result, rf"s\.parquet: .*{pattern}")


# --- tampered state values --------------------------------------------------------


def _compare_state() -> pl.DataFrame:
    day = make_day(1)
    return polars_l2.state(day, "y", ["p", "q"], by="g", baseline="p")


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("paired_negative_weight_count", -1, "is negative"),
        ("paired_weight_sum", 5.0, "differs from paired_n, unweighted"),
        ("paired_weight_sq_ratio", 5.0, "differs from 1, unweighted"),
        ("sq_error_mean", -5.0, "is negative with no negative weight"),
        ("paired_sq_error_mean", -1.0, "is negative with no negative weight"),
    ],
)
def test_a_tampered_state_value_is_refused_naming_the_column(
    column: str, value: float, problem: str
) -> None:
    state = _compare_state()
    tampered = state.with_columns(
        pl.when(pl.col("model") == "q")
        .then(pl.lit(value))
        .otherwise(pl.col(column))
        .cast(state.schema[column])
        .alias(column)
    )
    with pytest.raises(L2InputError, match=rf"column '{column}' {problem}"):
        polars_l2.merge_states([tampered])


def test_counts_that_would_wrap_in_a_merge_are_refused() -> None:
    state = polars_l2.state(make_day(2), "y", "p")
    # Unweighted, the weight sum is n (and the ratio sum w^2 / W stays 1).
    huge = state.with_columns(
        n=pl.lit(2**63 - 1, pl.Int64), weight_sum=pl.lit(float(2**63 - 1))
    )
    with pytest.raises(
        L2InputError, match=r"would count 27670116110564327421 in column 'n'"
    ):
        polars_l2.merge_states([huge, huge, huge])
    # Two of them fit nowhere either; one is fine.
    with pytest.raises(L2InputError, match="more than a state holds"):
        polars_l2.merge_states([huge, huge])
    assert polars_l2.merge_states([huge]).get_column("n").to_list() == [2**63 - 1]


def test_a_data_file_with_a_state_version_column_is_not_taken_for_a_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day, _),) = write_days(tmp_path, 1)
    data = tmp_path / "looks_like_a_state.parquet"
    make_day(3).with_columns(state_version=pl.lit(4)).write_parquet(data)
    before = data.read_bytes()
    result = inline(capsys, "evaluate", day, *columns(), "--save-state", data)
    assert_one_line(result, r"exists and is not a polars-l2 state; refusing to replace")
    assert data.read_bytes() == before


@pytest.mark.parametrize("key", ["sq_error_histogram_l2_bins", "_l2_bins", "_l2_order"])
def test_a_key_named_like_an_internal_column_works_and_round_trips(
    key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = [make_day(k).rename({"g": key}) for k in range(2)]
    paths = []
    for k, frame in enumerate(days):
        paths.append(tmp_path / f"day{k}.parquet")
        frame.write_parquet(paths[-1])
    state = tmp_path / "s.parquet"
    options = ["--actual", "y", "--predicted", "p", "--by", key, "-f", "csv"]
    first = inline(capsys, "evaluate", paths[0], *options, "--save-state", state)
    assert first.returncode == 0, first.stderr
    both = inline(
        capsys, "evaluate", paths[1], *options, "--state", state, "--save-state", state
    )
    got = report_of(both).sort(key)
    expected = polars_l2.report(pl.concat(days), "y", "p", by=key).sort(key)
    assert got.get_column("n").to_list() == expected.get_column("n").to_list()
    assert got.get_column("mse").to_list() == pytest.approx(
        expected.get_column("mse").to_list(), rel=1e-12
    )


# --- devices, endless streams, huge row groups, many files ------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_character_device_is_refused_without_reading(
    device: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "zero.csv").symlink_to(device)
    result = inline(capsys, "evaluate", tmp_path / "zero.csv", *columns(), "-f", "csv")
    assert_one_line(result, r"zero\.csv: a character device, not a data file")


def test_a_stream_longer_than_the_bound_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_opened.STREAM_LIMIT_VARIABLE, "4096")
    fifo = tmp_path / "endless.csv"
    os.mkfifo(fifo)
    stop = threading.Event()

    def endless() -> None:
        try:
            with fifo.open("wb") as stream:
                while not stop.is_set():
                    stream.write(b"y,p,q,g\n" * 1024)
        except BrokenPipeError:
            pass  # the reader stopped, as it should

    writer = threading.Thread(target=endless, daemon=True)
    writer.start()
    try:
        result = inline(capsys, "evaluate", fifo, *columns(), "-f", "csv")
    finally:
        stop.set()
        writer.join(timeout=30)
    assert_one_line(result, r"endless\.csv: a stream longer than 4096 bytes")
    assert not writer.is_alive()


@pytest.mark.parametrize("dtype", [pl.Float64, pl.Int128], ids=["float", "int128"])
def test_huge_row_groups_are_read_in_bounded_slices(
    dtype: pl.DataType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pyarrow cannot read the footer of Polars' Int128 parquet: the file's
    # row count, from Polars, then stands for its largest group.
    day = make_day(4, rows=5_000).with_columns(pl.col("y", "p", "q").cast(dtype))
    path = tmp_path / "one_group.parquet"
    day.write_parquet(path, row_group_size=5_000)
    assert _row_groups.claimed_rows(str(path)) == (5_000, 5_000)
    monkeypatch.setattr(_row_groups, "ROWS", 1_000)
    taken: list[int] = []
    slices = _row_groups.slices

    def counted(frame: pl.LazyFrame, total: int) -> object:
        for part in slices(frame, total):
            taken.append(total)
            yield part

    monkeypatch.setattr(_row_groups, "slices", counted)
    got = report_of(inline(capsys, "evaluate", path, *columns(), "-f", "csv"))
    assert len(taken) == 5  # five slices of a thousand rows, one at a time
    expected = polars_l2.report(day, "y", ["p", "q"], by="g")
    assert n_of(got) == expected_n([day])
    assert got.sort("model", "g").get_column("mse").to_list() == pytest.approx(
        expected.sort("model", "g").get_column("mse").to_list(), rel=1e-12
    )


def test_many_files_are_merged_as_they_come(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    days = write_days(tmp_path, 9)
    monkeypatch.setattr(_evaluate.Merger, "FAN_IN", 2)
    most = 0
    add = _evaluate.Merger.add

    def watched(self: _evaluate.Merger, label: str, state: pl.DataFrame) -> None:
        nonlocal most
        add(self, label, state)
        most = max(most, self.waiting)

    monkeypatch.setattr(_evaluate.Merger, "add", watched)
    got = report_of(inline(capsys, "evaluate", tmp_path, *columns(), "-f", "csv"))
    assert most <= 3  # never more than FAN_IN + 1 states held
    frames = [frame for _, frame in days]
    assert n_of(got) == expected_n(frames)
    expected = polars_l2.report(pl.concat(frames), "y", ["p", "q"], by="g")
    assert got.sort("model", "g").get_column("mse").to_list() == pytest.approx(
        expected.sort("model", "g").get_column("mse").to_list(), rel=1e-12
    )


# --- names, streams and outputs ------------------------------------------------------


def test_control_characters_in_names_are_escaped_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    title = "\x1b]0;owned\x07"
    missing = tmp_path / f"a\nb{title}.csv"
    result = inline(capsys, "evaluate", missing, *columns())
    assert_one_line(result, r"a\\nb\\x1b\]0;owned\\x07\.csv: no such file")
    assert "\x1b" not in result.stderr
    # A name read back from a state's ledger is escaped too.
    day = tmp_path / f"day{title}.parquet"
    make_day(1).write_parquet(day)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    again = inline(capsys, "evaluate", day, "--state", state, "-f", "csv")
    (note,) = notes(again)
    assert "\x1b" not in again.stderr
    assert r"day\x1b]0;owned\x07.parquet: already counted" in note


def test_closed_stdout_is_an_error_unless_the_report_goes_to_a_file(
    tmp_path: Path,
) -> None:
    day = tmp_path / "day.parquet"
    make_day(1).write_parquet(day)
    args: list[str | Path] = ["evaluate", day, *columns()]
    closed = run_shell('exec "$@" >&-', *args)
    assert_one_line(closed, r"standard output is closed")
    to_file = run_shell('exec "$@" >&-', *args, "--output", tmp_path / "r.txt")
    assert (to_file.returncode, to_file.stderr) == (0, "")
    assert (tmp_path / "r.txt").read_text().startswith("┌")


@pytest.mark.parametrize("flag", ["--output", "--save-state", "--plot"])
def test_an_output_named_like_a_directory_is_refused(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = tmp_path / "day.parquet"
    make_day(1).write_parquet(day)
    result = inline_main(
        capsys, "evaluate", day, *columns(), flag, f"{tmp_path}/newdir/"
    )
    assert_one_line(result, rf"{flag}: .*newdir/' ends with '/'")
    assert not (tmp_path / "newdir").exists()
    # An empty name is no file either (it is not the current directory).
    result = inline_main(capsys, "evaluate", day, *columns(), flag, "")
    assert_one_line(result, rf"{flag}: the file name is empty")


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "", "--actual", "y", "--predicted", "p"],
        ["compare", "", "--actual", "y", "--baseline", "p", "--candidate", "q"],
        ["worst", "", "--actual", "y", "--predicted", "p"],
        ["evaluate", "--state", ""],
    ],
)
def test_an_empty_input_path_is_refused_not_read_as_this_directory(
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The current directory holds a data file the user did not name.
    monkeypatch.chdir(tmp_path)
    make_day(1).write_parquet(tmp_path / "day.parquet")
    result = inline_main(capsys, *args)
    flag = "--state" if "--state" in args else "PATH"
    assert_one_line(result, rf"argument {flag}: the path is empty")
    assert result.stdout == ""


def _catches_sigterm(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize("script", [False, True], ids=["python -m", "console script"])
@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [
        (signal.SIGINT, 130, "polars-l2: interrupted\n"),
        (signal.SIGTERM, 143, "polars-l2: terminated\n"),
    ],
)
def test_a_signal_while_polars_is_imported_is_one_line(
    script: bool, signum: int, status: int, line: str
) -> None:
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "polars_l2"]
    with child([*command, "demo"], env=program_env()) as process:
        # The handlers come first thing, before Polars: send the signal as
        # soon as the process catches SIGTERM (the second one installed).
        deadline = time.monotonic() + 60
        while not _catches_sigterm(process.pid):
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.001)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    assert (process.returncode, stderr, stdout) == (status, line, "")


def test_importing_the_library_sets_no_signal_handler() -> None:
    code = (
        "import signal, polars_l2; "
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "
        "signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=program_env(),
    )
    assert result.stdout == "True True\n", result.stderr


# --- the library's argument edges -----------------------------------------------------


def _plot(name: str) -> Callable[..., object]:
    pytest.importorskip("matplotlib")
    from polars_l2 import plot  # noqa: PLC0415  (needs the extra)

    function: Callable[..., object] = getattr(plot, name)
    return function


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (
            lambda: polars_l2.merge_states(
                [polars_l2.state(make_day(1), "y", "p")],
                allow_new_models="no",  # type: ignore[arg-type]
            ),
            r"merge_states: allow_new_models must be True or False, got 'no'",
        ),
        (
            lambda: polars_l2.report(
                make_day(1).with_columns(
                    pl.Series("k", [object()] * 40, dtype=pl.Object)
                ),
                "y",
                "p",
                by="k",
            ),
            r"report: by column 'k' has dtype Object",
        ),
        (
            lambda: _plot("plot_report")(make_day(1).lazy()),
            r"plot_report: report must be the output of polars_l2\.report, a "
            r"polars DataFrame; got LazyFrame",
        ),
        (
            lambda: _plot("plot_concentration")(pl.DataFrame({"x": [1]})),
            r"plot_concentration: curve must be the output of .*lacks 'model'",
        ),
        (
            lambda: _plot("plot_comparison")({"model": ["a"]}),
            r"plot_comparison: comparison must be .*got dict",
        ),
        (
            lambda: _plot("plot_report")(
                polars_l2.report(make_day(1), "y", "p", by="g"), max_segments=-1
            ),
            r"plot_report: max_segments must be a positive integer, got -1",
        ),
    ],
    ids=[
        "allow_new_models",
        "Object key",
        "LazyFrame",
        "missing columns",
        "dict",
        "max_segments",
    ],
)
def test_an_argument_edge_is_one_line_naming_the_argument(
    call: Callable[[], object], pattern: str
) -> None:
    with pytest.raises(L2InputError, match=pattern) as raised:
        call()
    assert "\n" not in str(raised.value)


def test_an_object_that_cannot_be_read_once_is_refused() -> None:
    # hf:// objects are listed by Polars but not readable by the object
    # store that downloads each object once: refused, not read unhashed.
    source = _inputs.Source("hf://datasets/user/data/day.parquet", "parquet")
    with (
        pytest.raises(CliError, match=r"hf:// objects cannot be read once"),
        _opened.opened(source, identify=False),
    ):
        pass

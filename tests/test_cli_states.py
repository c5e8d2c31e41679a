"""Saved states on the command line: no double counting, no lost update.

Every figure is checked against the data itself: ``n`` is the number of rows
written to the day files, and the MSE is :func:`math.fsum` of the squared
differences of those rows. Files are made in temporary directories.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq
import pytest

import polars_l2
from polars_l2 import cli
from polars_l2.cli import _ledger, _signals
from tests.children import TIMEOUT, child, read_line

if TYPE_CHECKING:
    from pathlib import Path

MODELS = ("p", "q")


def make_day(seed: int, rows: int = 40) -> pl.DataFrame:
    """Return a day of data: integers, so that every squared error is exact."""
    values = [(seed * 7 + i * 3) % 11 for i in range(rows)]
    return pl.DataFrame(
        {
            "g": [["a", "b", "c"][i % 3] for i in range(rows)],
            "y": [float(v) for v in values],
            "p": [float(v + (i % 4) - 1) for i, v in enumerate(values)],
            "q": [float(v - (i % 3)) for i, v in enumerate(values)],
            "w": [float(1 + i % 2) for i in range(rows)],
        }
    )


def write_days(folder: Path, count: int) -> list[tuple[Path, pl.DataFrame]]:
    days = []
    for k in range(count):
        frame = make_day(k, rows=30 + k)
        path = folder / f"day{k}.parquet"
        frame.write_parquet(path)
        days.append((path, frame))
    return days


def inline(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> subprocess.CompletedProcess[str]:
    """Run the command's ``main`` in this process, as the program would."""
    status = cli.main([str(a) for a in args])
    stdout, stderr = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), status, stdout, stderr)


def columns(*models: str, by: bool = True) -> list[str]:
    args = ["--actual", "y"]
    for model in models or MODELS:
        args += ["--predicted", model]
    return [*args, "--by", "g"] if by else args


def report_of(result: subprocess.CompletedProcess[str]) -> pl.DataFrame:
    assert result.returncode == 0, result.stderr
    return pl.read_csv(io.StringIO(result.stdout))


def expected_n(
    frames: list[pl.DataFrame], models: tuple[str, ...] = MODELS
) -> dict[tuple[str, str], int]:
    rows = pl.concat(frames)
    return {
        (model, group): count
        for model in models
        for group, count in rows.group_by("g").len().rows()
    }


def n_of(report: pl.DataFrame) -> dict[tuple[str, str], int]:
    return {(m, g): n for m, g, n in report.select("model", "g", "n").rows()}


def assert_mse(report: pl.DataFrame, frames: list[pl.DataFrame]) -> None:
    rows = pl.concat(frames)
    for model, group, mse in report.select("model", "g", "mse").rows():
        part = rows.filter(pl.col("g") == group)
        squares = [(b - a) ** 2 for a, b in zip(part["y"], part[model], strict=True)]
        assert mse == pytest.approx(math.fsum(squares) / len(squares), rel=1e-12)


def notes(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if "note:" in line]


def ledger_files(state: Path) -> list[str]:
    metadata = pl.read_parquet_metadata(state)
    entries = json.loads(metadata[_ledger.LEDGER_KEY])
    return [entry["name"] for entry in entries if entry["kind"] == "file"]


# --- no double counting -----------------------------------------------------


def test_the_same_state_twice_is_counted_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ((day, frame),) = write_days(tmp_path, 1)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day, *columns(), "--save-state", state)
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "copy.parquet"
    shutil.copyfile(state, copy)
    for other in ("./s.parquet", state, copy):
        result = inline(
            capsys, "evaluate", "--state", "s.parquet", "--state", other, "-f", "csv"
        )
        assert n_of(report_of(result)) == expected_n([frame])
        assert len(notes(result)) == 1
        assert re.search(
            r"skipping --state .*: the same state as --state", notes(result)[0]
        )


def test_a_day_absorbed_again_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (day0, f0), (day1, f1) = write_days(tmp_path, 2)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--save-state", state)
    inline(capsys, "evaluate", day1, "--state", state, "--save-state", state)
    # Rerunning the job, and an old day with it: each row is counted once.
    link = tmp_path / "link.parquet"
    os.link(day1, link)
    copied = tmp_path / "copied.parquet"
    shutil.copyfile(day0, copied)
    for again in ([day1], [day0, day1], [link], [copied]):
        result = inline(
            capsys,
            "evaluate",
            *again,
            "--state",
            state,
            "--save-state",
            state,
            "-f",
            "csv",
        )
        report = report_of(result)
        assert n_of(report) == expected_n([f0, f1])
        assert_mse(report, [f0, f1])
        assert len(notes(result)) == len(again)
        assert all("already counted in --state" in line for line in notes(result))
    # The ledger lists each day once, whatever path it was reached by.
    assert sorted(ledger_files(state)) == sorted([str(day0), str(day1)])


def first_day_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, pl.DataFrame, Path, bytes]:
    """Save the state of a first day of two.

    Return the second day's file, the first day's rows, the state and its bytes.
    """
    (day0, f0), (day1, _) = write_days(tmp_path, 2)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--save-state", state)
    return day1, f0, state, state.read_bytes()


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_a_state_the_run_does_not_read_is_not_replaced(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day1, f0, state, before = first_day_saved(tmp_path, capsys)
    # The daily job with --state forgotten would keep only the new day.
    model = ["--predicted", "p"] if command == "evaluate" else [
        "--baseline", "p", "--candidate", "q"
    ]  # fmt: skip
    result = inline(
        capsys, command, day1, "--actual", "y", *model, "--by", "g",
        "--save-state", state,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert f"--save-state {state} holds a state that this run does not read" in line
    assert f"add --state {state}" in line
    assert state.read_bytes() == before
    # Read with --state, it grows; through another spelling of it too.
    spelled = tmp_path / "." / "s.parquet"
    grown = inline(
        capsys, "evaluate", day1, "--state", spelled, "--save-state", state,
        "-f", "csv",
    )  # fmt: skip
    assert grown.returncode == 0, grown.stderr
    assert sum(n_of(report_of(grown)).values()) > sum(expected_n([f0]).values())


def test_a_hard_link_in_one_run_is_read_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day0, f0),) = write_days(tmp_path, 1)
    os.link(day0, tmp_path / "again.parquet")
    state = tmp_path / "out" / "s.parquet"
    state.parent.mkdir()
    result = inline(
        capsys,
        "evaluate",
        day0,
        tmp_path / "again.parquet",
        *columns(),
        "--save-state",
        state,
        "-f",
        "csv",
    )
    assert n_of(report_of(result)) == expected_n([f0])


def test_states_sharing_a_day_are_refused_or_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (day0, f0), (day1, f1), (day2, _) = write_days(tmp_path, 3)
    first = tmp_path / "first.parquet"
    both = tmp_path / "both.parquet"
    other = tmp_path / "other.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--save-state", first)
    inline(capsys, "evaluate", day0, day1, *columns(), "--save-state", both)
    inline(capsys, "evaluate", day0, day2, *columns(), "--save-state", other)
    # first's only day is in both: first is part of both, and skipped.
    result = inline(capsys, "evaluate", "--state", first, "--state", both, "-f", "csv")
    assert n_of(report_of(result)) == expected_n([f0, f1])
    assert "already counted in --state" in notes(result)[0]
    # both and other share day0 and differ otherwise: no merge can be right.
    result = inline(capsys, "evaluate", "--state", both, "--state", other)
    assert result.returncode == 2
    assert re.search(r"both count .*day0\.parquet.*twice", result.stderr)
    assert len(result.stderr.splitlines()) == 1


# --- interrupts ---------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_update_rerun_counts_each_day_once(
    signum: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (day0, f0), (day1, f1) = write_days(tmp_path, 2)
    state, report = tmp_path / "s.parquet", tmp_path / "report.csv"
    inline(
        capsys,
        "evaluate",
        day0,
        *columns(),
        "--save-state",
        state,
        "-o",
        report,
        "-f",
        "csv",
    )
    old_report = report.read_bytes()
    update: list[str | Path] = [
        "evaluate",
        day1,
        "--state",
        state,
        "--save-state",
        state,
        "-o",
        report,
        "-f",
        "csv",
    ]

    old_state = state.read_bytes()

    # The signal arrives while the outputs are prepared: every output stays
    # fully old (they are put in place together, the state last).
    def stop(*_: object) -> str:
        raise _signals.Stopped(signum)

    monkeypatch.setattr(cli, "render", stop)
    result = inline(capsys, *update)
    assert result.returncode == 128 + signum
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert report.read_bytes() == old_report  # fully old
    assert state.read_bytes() == old_state
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    monkeypatch.undo()

    result = inline(capsys, *update)
    assert result.returncode == 0, result.stderr
    written = pl.read_csv(report)
    assert n_of(written) == expected_n([f0, f1])
    assert_mse(written, [f0, f1])


def test_a_rerun_after_the_state_was_saved_counts_each_day_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The state already holds a day whose report was never written (a job
    # that saved its state and died before its report): the rerun skips
    # the day, by the state's ledger, and reports each day once.
    (day0, f0), (day1, f1) = write_days(tmp_path, 2)
    state, report = tmp_path / "s.parquet", tmp_path / "report.csv"
    inline(capsys, "evaluate", day0, *columns(), "--save-state", state)
    update: list[str | Path] = ["evaluate", day1, "--state", state]
    inline(capsys, *update, "--save-state", state)
    result = inline(capsys, *update, "--save-state", state, "-o", report, "-f", "csv")
    assert result.returncode == 0, result.stderr
    assert "skipping" in notes(result)[0]
    written = pl.read_csv(report)
    assert n_of(written) == expected_n([f0, f1])
    assert_mse(written, [f0, f1])


# --- concurrent updates -------------------------------------------------------


@pytest.mark.slow
def test_four_pairs_of_concurrent_updates_keep_every_update(tmp_path: Path) -> None:
    days = write_days(tmp_path, 9)
    state = tmp_path / "s.parquet"
    command = [sys.executable, "-m", "polars_l2", "evaluate"]
    first = subprocess.run(
        [*command, str(days[0][0]), *columns(), "--save-state", str(state)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    for pair in range(4):
        update = ["--save-state", str(state), "--lock-timeout", "300"]
        with contextlib.ExitStack() as stack:
            processes = [
                stack.enter_context(
                    child([*command, str(days[k][0]), "--state", str(state), *update])
                )
                for k in (2 * pair + 1, 2 * pair + 2)
            ]
            for process in processes:
                _, stderr = process.communicate(timeout=300)
                assert process.returncode == 0, stderr
    merged = polars_l2.finalize(polars_l2.merge_states([state]))
    assert n_of(merged) == expected_n([frame for _, frame in days])
    assert_mse(merged, [frame for _, frame in days])


def test_a_held_lock_times_out_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day0, _),) = write_days(tmp_path, 1)
    state = tmp_path / "s.parquet"
    with open(_ledger.lock_path(state), "w") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        result = inline(
            capsys,
            "evaluate",
            day0,
            *columns(),
            "--save-state",
            state,
            "--lock-timeout",
            "0.2",
        )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert re.search(r"waiting for another polars-l2 updating", lines[0])
    assert re.search(r"another polars-l2 is updating this state .* 0\.2 s", lines[1])
    assert not state.exists()


def test_the_lock_timeout_option_and_variable_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ((day0, _),) = write_days(tmp_path, 1)
    state = tmp_path / "s.parquet"
    result = inline(
        capsys,
        "evaluate",
        day0,
        *columns(),
        "--save-state",
        state,
        "--lock-timeout",
        "soon",
    )
    assert result.returncode == 2
    assert "--lock-timeout must be a number of seconds" in result.stderr
    monkeypatch.setenv(_ledger.LOCK_TIMEOUT_VARIABLE, "-1")
    result = inline(capsys, "evaluate", day0, *columns(), "--save-state", state)
    assert _ledger.LOCK_TIMEOUT_VARIABLE in result.stderr
    monkeypatch.setenv(_ledger.LOCK_TIMEOUT_VARIABLE, "7.5")
    assert _ledger.lock_timeout() == 7.5


def test_a_long_state_name_gets_a_short_lock_name(tmp_path: Path) -> None:
    long = tmp_path / ("s" * 248 + ".parquet")
    assert len(_ledger.lock_path(long).name) < 64
    assert _ledger.lock_path(tmp_path / "s.parquet").name == ".s.parquet.lock"


# --- column options and --state ----------------------------------------------


def test_column_options_matching_a_state_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (day0, f0), (day1, f1) = write_days(tmp_path, 2)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--weight", "w", "--save-state", state)
    same = [*columns(), "--weight", "w"]
    alone = report_of(inline(capsys, "evaluate", "--state", state, *same, "-f", "csv"))
    assert n_of(alone) == expected_n([f0])
    # Without the options, they are taken from the state (weight included).
    taken = report_of(inline(capsys, "evaluate", day1, "--state", state, "-f", "csv"))
    given = report_of(
        inline(capsys, "evaluate", day1, "--state", state, *same, "-f", "csv")
    )
    assert taken.equals(given)
    assert n_of(taken) == expected_n([f0, f1])
    both = pl.concat([f0, f1])
    assert taken["weight_sum"].sum() == len(MODELS) * both["w"].sum()


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        (["--actual", "p"], r"actual column 'y' and 'p'"),
        (["--weight", "y"], r"weight columns 'w' and 'y'"),
        (["--by", "y"], r"by columns \['g'\] and \['y'\]"),
        (["--predicted", "p"], r"models \['p', 'q'\] and \['p'\].*--allow-new-models"),
    ],
)
def test_column_options_differing_from_a_state_are_refused(
    options: list[str], pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (day0, _), (day1, _) = write_days(tmp_path, 2)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--weight", "w", "--save-state", state)
    for data in ([], [day1]):
        result = inline(capsys, "evaluate", *data, "--state", state, *options)
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1
        assert re.search(pattern, result.stderr), result.stderr


@pytest.mark.parametrize(
    ("first", "second", "pattern"),
    [
        (columns(), [*columns()[:2], "--predicted", "q", "--by", "g"], "models"),
        (columns(), ["--actual", "p", *columns()[2:]], "actual column 'y' and 'p'"),
        (columns(), [*columns(), "--weight", "w"], "weighted and unweighted"),
    ],
)
def test_states_built_for_different_columns_are_refused(
    first: list[str],
    second: list[str],
    pattern: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (day0, _), (day1, _) = write_days(tmp_path, 2)
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    inline(capsys, "evaluate", day0, *first, "--save-state", a)
    inline(capsys, "evaluate", day1, *second, "--save-state", b)
    result = inline(capsys, "evaluate", "--state", a, "--state", b)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert re.search(pattern, result.stderr), result.stderr


def test_a_new_model_joins_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (day0, f0), (day1, f1) = write_days(tmp_path, 2)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns("p"), "--save-state", state)
    update: list[str | Path] = [
        "evaluate",
        day1,
        "--state",
        state,
        *columns("p", "q"),
        "-f",
        "csv",
    ]
    refused = inline(capsys, *update)
    assert refused.returncode == 2
    assert "--allow-new-models" in refused.stderr
    result = inline(capsys, *update, "--allow-new-models")
    assert re.search(r"note: model\(s\) 'q' join the state here", result.stderr)
    n = n_of(report_of(result))
    assert {k: v for k, v in n.items() if k[0] == "p"} == expected_n([f0, f1], ("p",))
    assert {k: v for k, v in n.items() if k[0] == "q"} == expected_n([f1], ("q",))


# --- tampered states on the command line --------------------------------------


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            lambda f: f.with_columns(pl.col("n").cast(pl.String)),
            r"column 'n' has dtype String",
        ),
        (lambda f: f.with_columns(n=-pl.col("n")), r"column 'n' is negative"),
        (lambda f: f.with_columns(n=pl.lit(None, pl.Int64)), r"column 'n' is null"),
        (
            lambda f: f.with_columns(sq_error_m2=pl.lit(-1.0)),
            r"column 'sq_error_m2' is negative",
        ),
    ],
)
def test_a_tampered_state_file_is_one_line(
    change: object, pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day0, _),) = write_days(tmp_path, 1)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--save-state", state)
    table = pq.read_table(state)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    bad = change(frame).to_arrow().replace_schema_metadata(table.schema.metadata)  # type: ignore[operator]
    pq.write_table(bad, state)
    result = inline(capsys, "evaluate", "--state", state)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert re.search(
        rf"s\.parquet: not a valid polars-l2 state: {pattern}", result.stderr
    )


def test_version_999_in_the_metadata_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ((day0, _),) = write_days(tmp_path, 1)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--save-state", state)
    table = pq.read_table(state)
    metadata = {**table.schema.metadata, b"polars_l2.state_version": b"999"}
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    old = frame.with_columns(state_version=pl.lit(1, pl.Int64)).to_arrow()
    pq.write_table(old.replace_schema_metadata(metadata), state)
    result = inline(capsys, "evaluate", "--state", state)
    assert result.returncode == 2
    assert "newer polars-l2 (state version 999)" in result.stderr


def test_an_older_state_file_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (day0, _), (day1, _) = write_days(tmp_path, 2)
    state = tmp_path / "s.parquet"
    inline(capsys, "evaluate", day0, *columns(), "--weight", "w", "--save-state", state)
    table = pq.read_table(state).drop_columns(["actual", "weight", "nan_policy"])
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    old = frame.with_columns(state_version=pl.lit(2, pl.Int64)).to_arrow()
    pq.write_table(
        old.replace_schema_metadata({b"polars_l2.state_version": b"2"}), state
    )
    before = state.read_bytes()
    runs: list[list[str | Path]] = [
        [],
        [day1, *columns(), "--weight", "w", "--save-state", state],
    ]
    for extra in runs:
        result = inline(capsys, "evaluate", "--state", state, *extra)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert "state version 2, which lacks 'actual', 'weight'" in result.stderr
        assert "rebuild it from the data" in result.stderr
    assert state.read_bytes() == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_waiting_for_the_lock_leaves_the_state_alone(
    signum: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day1, f0, state, before = first_day_saved(tmp_path, capsys)
    with open(_ledger.lock_path(state), "w") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        program = [sys.executable, "-m", "polars_l2", "evaluate", str(day1)]
        update = ["--state", str(state), "--save-state", str(state)]
        with child([*program, *update, "--lock-timeout", "120"]) as process:
            waiting = read_line(process.stderr)
            assert "waiting for another polars-l2" in waiting
            process.send_signal(signum)
            _, rest = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 128 + signum
    assert rest.count("\n") == 1
    assert "Traceback" not in rest
    assert state.read_bytes() == before
    after = report_of(inline(capsys, "evaluate", "--state", state, "-f", "csv"))
    assert n_of(after) == expected_n([f0])

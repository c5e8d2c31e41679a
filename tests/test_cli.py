"""The ``polars-l2`` command.

Results are checked against :func:`polars_l2.report` computed in this process
on the same data; errors must be one line on stderr with exit status 2 and no
traceback. The installed program runs in subprocesses (``python -m polars_l2``
and the ``polars-l2`` console script) for every output format, the demo,
states, the progress bar and a sample of every kind of error. Each start costs
about a second (importing Polars), so the many variations of inputs and errors
also run through :func:`polars_l2.cli.main` in this process, which is what the
program calls.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2 import cli, plot
from polars_l2.cli import _progress as _cli_progress
from polars_l2.data import make_houses

if TYPE_CHECKING:
    from collections.abc import Sequence

MODELS = ["a", "b"]
BY = ["region", "channel"]
#: Report columns that merge exactly across files and states.
MERGEABLE = ["n", "weight_sum", "sse", "mse", "rmse", "mae", "bias", "r2", "max_error"]
#: Report columns computed from the whole data at once.
WHOLE_DATA = ["rmse_low", "rmse_high", "top_1pct_share"]
CONSOLE_SCRIPT = Path(sys.executable).with_name("polars-l2")


def run(
    *args: str | Path, cwd: Path | None = None, script: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the command, as ``python -m polars_l2`` or as the console script."""
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "polars_l2"]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def run_many(
    *commands: Sequence[str | Path], cwd: Path | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run several commands at once (each start pays for importing Polars)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "polars_l2", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        for args in commands
    ]
    results = []
    for process, args in zip(processes, commands, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        results.append(
            subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
        )
    return results


def inline(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> subprocess.CompletedProcess[str]:
    """Run the command's ``main`` in this process, as the program would."""
    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as exit_:  # argparse: --help, --version, bad options
        status = int(exit_.code or 0)
    stdout, stderr = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), status, stdout, stderr)


def ok(*args: str | Path, cwd: Path | None = None) -> str:
    result = run(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], pattern: str
) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stderr.endswith("\n")
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""


# --- data -------------------------------------------------------------------


def make_data(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(1_000.0, 50.0, n)
    frame = pl.DataFrame(
        {
            "region": rng.choice(["north", "south", "east"], n),
            "channel": rng.choice(["web", "shop"], n),
            "y": y,
            "a": y + rng.normal(0.0, 10.0, n),
            "b": y + rng.standard_t(2, n) * 5.0,
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    # Missing values on either side, so rows drop out pairwise.
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 17 == 3)
        .then(None)
        .otherwise(pl.col("a"))
        .alias("a"),
        pl.when(pl.int_range(pl.len()) % 23 == 5)
        .then(None)
        .otherwise(pl.col("y"))
        .alias("y"),
    )


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return make_data(7, 3_000)


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory, data: pl.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("single") / "data.parquet"
    data.write_parquet(path)
    return path


def expected_report(
    frame: pl.DataFrame,
    *,
    by: Sequence[str] | None = BY,
    weight: str | None = "w",
    predicted: Sequence[str] = MODELS,
) -> pl.DataFrame:
    result = polars_l2.report(frame, "y", list(predicted), by=by, weight=weight)
    assert isinstance(result, pl.DataFrame)
    return result


def normalised(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Keys as strings, rows in key order: how files and states compare."""
    return frame.with_columns(pl.col(keys).cast(pl.String)).sort(keys)


def assert_report_equal(
    got: pl.DataFrame,
    expected: pl.DataFrame,
    *,
    by: Sequence[str] = BY,
    columns: Sequence[str] | None = None,
) -> None:
    keys = ["model", *by]
    names = [c for c in (columns or expected.columns) if c in expected.columns]
    wanted = list(dict.fromkeys([*keys, *names]))
    assert set(got.columns) == set(expected.columns)
    assert_frame_equal(
        normalised(got.select(wanted), keys),
        normalised(expected.select(wanted), keys),
        check_dtypes=False,
        rel_tol=1e-10,
        abs_tol=1e-10,
    )


def evaluate_args(*paths: str | Path, weight: bool = True) -> list[str | Path]:
    args: list[str | Path] = ["evaluate", *paths, "--actual", "y"]
    for model in MODELS:
        args += ["--predicted", model]
    for column in BY:
        args += ["--by", column]
    if weight:
        args += ["--weight", "w"]
    return args


def from_csv(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), infer_schema_length=None)


def from_json(text: str) -> pl.DataFrame:
    records = json.loads(text)
    assert isinstance(records, list)
    assert all(isinstance(r, dict) for r in records)
    return pl.DataFrame(records, infer_schema_length=None)


def parse_table(text: str) -> pl.DataFrame:
    """Read the table or Markdown output back into a frame of strings."""
    rows = [
        [cell.strip() for cell in re.split(r"[│┆|]", line)[1:-1]]
        for line in text.splitlines()
        if line.startswith(("│", "|")) and not set(line) <= set("|-: ")
    ]
    header, *body = rows
    return pl.DataFrame(body, schema=header, orient="row")


# --- entry points and help --------------------------------------------------


@pytest.mark.parametrize("script", [False, True], ids=["python-m", "console-script"])
def test_version(script: bool) -> None:
    result = run("--version", script=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"polars-l2 {polars_l2.__version__} (polars {pl.__version__})"
    )


@pytest.mark.parametrize("command", [[], ["evaluate"], ["demo"]], ids=str)
def test_help_has_examples(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(capsys, *command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: polars-l2 {' '.join(command)}".rstrip())
    examples = result.stdout.split("examples:\n", 1)[1]
    assert f"  polars-l2 {command[0] if command else 'demo'}" in examples


# --- formats ----------------------------------------------------------------


def test_every_output_format(parquet: Path, data: pl.DataFrame) -> None:
    formats = ["csv", "json", "table", "markdown"]
    results = run_many(*([*evaluate_args(parquet), "-f", fmt] for fmt in formats))
    for result in results:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    csv, json_, table, markdown = (r.stdout for r in results)
    expected = expected_report(data)
    # One file: every column is the report's, top_1pct_share included.
    assert_report_equal(from_csv(csv), expected)
    assert_report_equal(from_json(json_), expected)
    assert_table_shows(table, expected)
    assert re.search(r"^\| model +\| region +\|", markdown, re.MULTILINE)
    assert_table_shows(markdown, expected)


def assert_table_shows(text: str, expected: pl.DataFrame) -> None:
    """Every row and column, floats to 6 significant digits."""
    keys = ["model", *BY]
    got = parse_table(text)
    assert got.columns == expected.columns
    assert got.height == expected.height
    got, expected = normalised(got, keys), normalised(expected, keys)
    for name in expected.columns:
        if expected.schema[name].is_float():
            shown = got[name].replace("null", None).cast(pl.Float64).to_numpy()
            np.testing.assert_allclose(shown, expected[name].to_numpy(), rtol=1e-5)


def test_table_is_the_default(
    parquet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = inline(capsys, *evaluate_args(parquet))
    table = inline(capsys, *evaluate_args(parquet), "--format", "table")
    assert default.returncode == table.returncode == 0
    assert default.stdout == table.stdout


@pytest.mark.parametrize(
    ("suffix", "write"),
    [
        (".csv", pl.DataFrame.write_csv),
        (".arrow", pl.DataFrame.write_ipc),
        (".feather", pl.DataFrame.write_ipc),
        (".ipc", pl.DataFrame.write_ipc),
        (".ndjson", pl.DataFrame.write_ndjson),
        (".jsonl", pl.DataFrame.write_ndjson),
        (".PQ", pl.DataFrame.write_parquet),
    ],
)
def test_every_input_format(
    suffix: str,
    write: object,
    tmp_path: Path,
    data: pl.DataFrame,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / f"data{suffix}"
    write(data, path)  # type: ignore[operator]
    result = inline(capsys, *evaluate_args(path), "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert_report_equal(from_csv(result.stdout), expected_report(data))


def test_unweighted_single_model_without_segments(
    parquet: Path, data: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    args: list[str | Path] = ["evaluate", parquet, "--actual", "y"]
    args += ["--predicted", "b", "-f", "csv"]
    got = from_csv(inline(capsys, *args).stdout)
    assert "weight_sum" not in got.columns
    expected = expected_report(data, by=None, weight=None, predicted=["b"])
    assert_report_equal(got, expected, by=[])


# --- several files: globs, directories, states ------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """Four files in nested directories, in four formats, plus noise."""
    root = tmp_path_factory.mktemp("tree")
    parts = [make_data(seed, 700) for seed in (1, 2, 3, 4)]
    (root / "2024" / "01").mkdir(parents=True)
    (root / "2024" / "02").mkdir(parents=True)
    (root / "_tmp").mkdir()
    parts[0].write_parquet(root / "2024" / "01" / "part.parquet")
    parts[1].write_csv(root / "2024" / "02" / "part.csv")
    parts[2].write_ipc(root / "2024" / "part.arrow")
    parts[3].write_ndjson(root / "late.jsonl")
    # Ignored inside a directory: other extensions, hidden and '_' names.
    (root / "README.txt").write_text("not data")
    (root / "_SUCCESS").write_text("")
    parts[0].write_parquet(root / "2024" / ".hidden.parquet")
    parts[0].write_parquet(root / "_tmp" / "part.parquet")
    return root, pl.concat(parts)


def assert_merged_report(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Several files are merged states: all but top_1pct_share, which is null."""
    assert_report_equal(got, expected, columns=[*MERGEABLE, "rmse_low", "rmse_high"])
    assert got["top_1pct_share"].is_null().all()


def test_directory_and_glob_inputs(tree: tuple[Path, pl.DataFrame]) -> None:
    root, everything = tree
    # '**' reaches every depth; a file named again is read once.
    directory, globbed = run_many(
        [*evaluate_args(root), "-f", "csv"],
        [
            *evaluate_args(
                "2024/**/*.parquet",
                "2024/**/*.csv",
                "2024/part.arrow",
                "2024/01/part.parquet",
                "*.jsonl",
            ),
            "-f",
            "csv",
        ],
        cwd=root,
    )
    for result in (directory, globbed):
        assert result.returncode == 0, result.stderr
        assert_merged_report(from_csv(result.stdout), expected_report(everything))


def test_state_then_new_file_equals_all_files(
    tree: tuple[Path, pl.DataFrame], tmp_path: Path
) -> None:
    root, everything = tree
    files = [root / "2024" / "01" / "part.parquet", root / "2024" / "02" / "part.csv"]
    new = [root / "2024" / "part.arrow", root / "late.jsonl"]
    state = tmp_path / "state.parquet"
    ok(*evaluate_args(*files), "--save-state", state)
    assert (
        pq.read_schema(state).remove_metadata()
        == polars_l2.state_schema(dict.fromkeys(BY, pl.String)).remove_metadata()
    )
    # Monitoring: add the new files to the saved state, updating it in place.
    incremental, at_once = run_many(
        [*evaluate_args(*new), "--state", state, "--save-state", state, "-f", "csv"],
        [*evaluate_args(*files, *new), "-f", "csv"],
    )
    assert incremental.returncode == at_once.returncode == 0, incremental.stderr
    assert_merged_report(from_csv(incremental.stdout), from_csv(at_once.stdout))
    assert_merged_report(from_csv(incremental.stdout), expected_report(everything))
    # The updated state alone gives the same report again.
    from_state = from_csv(ok("evaluate", "--state", state, "-f", "csv"))
    assert_merged_report(from_state, from_csv(at_once.stdout))


def test_save_state_of_one_file_keeps_the_exact_report(
    parquet: Path,
    data: pl.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "state.parquet"
    result = inline(capsys, *evaluate_args(parquet), "--save-state", state, "-f", "csv")
    assert result.returncode == 0, result.stderr
    assert_report_equal(from_csv(result.stdout), expected_report(data))
    expected_state = polars_l2.state(data, "y", MODELS, by=BY, weight="w")
    assert_frame_equal(pl.read_parquet(state), expected_state, check_dtypes=False)


def test_results_do_not_depend_on_a_terminal(tree: tuple[Path, pl.DataFrame]) -> None:
    root, _ = tree
    args = [
        sys.executable,
        "-m",
        "polars_l2",
        *map(str, evaluate_args(root)),
        "-f",
        "csv",
    ]
    leader, follower = pty.openpty()
    try:
        env = {**os.environ, "TERM": "xterm"}
        with subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=follower, text=True, env=env
        ) as on_terminal:
            os.close(follower)
            # Meanwhile, the same command with stderr to a pipe.
            piped = subprocess.run(
                args, capture_output=True, text=True, check=True, timeout=120
            )
            stdout, _ = on_terminal.communicate(timeout=120)
            drawn = b""
            while select.select([leader], [], [], 0.5)[0]:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the other side closed
                    break
                if not chunk:
                    break
                drawn += chunk
    finally:
        os.close(leader)
    assert on_terminal.returncode == 0
    assert b"4/4 files" in drawn
    assert piped.stderr == ""  # no bar when stderr is a pipe
    assert stdout == piped.stdout


@pytest.mark.parametrize(
    ("isatty", "total", "expected"),
    [(True, 3, True), (True, 1, False), (False, 3, False)],
)
def test_progress_is_drawn_only_on_a_terminal(
    isatty: bool, total: int, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return isatty

    monkeypatch.setenv("TERM", "xterm")
    assert _cli_progress.wanted(Stream(), total) is expected
    monkeypatch.setenv("TERM", "dumb")
    assert _cli_progress.wanted(Stream(), total) is False


# --- output -----------------------------------------------------------------


def test_output_file_is_written_atomically(parquet: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old content")
    to_file, to_stdout = run_many(
        [*evaluate_args(parquet), "-f", "json", "--output", target],
        [*evaluate_args(parquet), "-f", "json"],
    )
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == to_file.stderr == ""
    assert target.read_text() == to_stdout.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temp file
    assert target.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink"])
def test_refuses_to_overwrite_an_input(
    spelling: str,
    tmp_path: Path,
    data: pl.DataFrame,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "data.csv"
    data.write_csv(source)
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    target = {
        "same": source,
        "dotdot": tmp_path / "sub" / ".." / "data.csv",
        "symlink": tmp_path / "link.csv",
    }[spelling]
    if spelling == "symlink":
        target.symlink_to(source)
    args = [*evaluate_args(source), "--format", "csv", "--output", target]
    result = run(*args) if spelling == "same" else inline(capsys, *args)
    assert_one_line_error(result, rf"--output .*{target.name} is one of the inputs")
    assert source.read_bytes() == before


def test_refuses_to_write_a_report_over_a_state(
    parquet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.parquet"
    assert (
        inline(capsys, *evaluate_args(parquet), "--save-state", state).returncode == 0
    )
    before = state.read_bytes()
    result = inline(
        capsys, *evaluate_args(parquet), "--state", state, "--output", state
    )
    assert_one_line_error(result, r"--output .*state\.parquet is one of the inputs")
    assert state.read_bytes() == before


# --- errors -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, data: pl.DataFrame) -> Path:
    root = tmp_path_factory.mktemp("bad")
    (root / "data.txt").write_text("y,a\n1,2\n")
    data.with_columns(pl.col("a").cast(pl.String)).write_parquet(root / "text.parquet")
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("y,a\n")
    data.head(0).write_parquet(root / "empty.parquet")
    data.with_columns(pl.lit(None, pl.Float64).alias("y")).write_parquet(
        root / "nulls.parquet"
    )
    (root / "empty_dir").mkdir()
    (root / "corrupt.parquet").write_text("not a parquet file")
    data.write_parquet(root / "good.parquet")
    return root


COLUMNS = "'region' \\(String\\), 'channel' \\(String\\), 'y' \\(Float64\\)"


def ev(*args: str, predicted: str = "a") -> list[str]:
    """Evaluate files with --actual y --predicted a (or another)."""
    return ["evaluate", *args, "--actual", "y", "--predicted", predicted]


BAD_INPUTS: dict[str, tuple[list[str], str]] = {
    "missing file": (
        ev("nope.parquet"),
        r"nope\.parquet: no such file or directory$",
    ),
    "no glob match": (
        ev("*.feather"),
        r"\*\.feather: no files match",
    ),
    "unknown extension": (
        ev("data.txt"),
        r"data\.txt: unsupported file type \(extension '\.txt'\); supported: \.parquet",
    ),
    "directory without data": (
        ev("empty_dir"),
        r"empty_dir: no supported files",
    ),
    "missing column": (
        ev("good.parquet", predicted="zz"),
        rf"^polars-l2: error: good\.parquet: predicted column 'zz' not found; "
        rf"the frame has {COLUMNS}",
    ),
    "non-numeric column": (
        ev("text.parquet"),
        r"text\.parquet: predicted column 'a' has dtype String; expected a numeric",
    ),
    "missing by column": (
        ev("good.parquet", "--by", "zone", predicted="b"),
        r"by column 'zone' not found",
    ),
    "missing weight column": (
        ev("good.parquet", "--weight", "ww", predicted="b"),
        r"weight column 'ww' not found",
    ),
    "non-numeric in one of several files": (
        ev("good.parquet", "text.parquet"),
        r"text\.parquet: predicted column 'a' has dtype String",
    ),
    "empty csv": (
        ev("empty.csv"),
        r"empty input: no data rows in empty\.csv$",
    ),
    "header-only csv": (
        ev("header.csv"),
        r"empty input: no data rows in header\.csv$",
    ),
    "zero rows": (
        ev("empty.parquet", "empty.csv"),
        r"empty input: no data rows in empty\.parquet, empty\.csv$",
    ),
    "no complete row": (
        ev("nulls.parquet"),
        r"empty input: no row has both",
    ),
    "corrupt file": (
        ev("corrupt.parquet"),
        r"corrupt\.parquet: .*(parquet|Parquet)",
    ),
    "unknown option": (
        ev("good.parquet", "--bogus"),
        r"unrecognized arguments: --bogus",
    ),
    "bad format": (
        ["demo", "--format", "xml"],
        r"invalid choice: 'xml'",
    ),
    "bad confidence": (
        ev("good.parquet", "--confidence", "1.5", predicted="b"),
        r"between 0 and 1",
    ),
    "no --actual": (
        ["evaluate", "good.parquet", "--predicted", "a"],
        r"--actual and at least one --predicted",
    ),
    "columns without files": (
        ["evaluate", "--state", "good.parquet", "--actual", "y"],
        r"apply to data files",
    ),
    "nothing to evaluate": (
        ["evaluate"],
        r"nothing to evaluate",
    ),
    "no command": (
        [],
        r"choose a command",
    ),
    "unknown command": (
        ["frobnicate"],
        r"invalid choice: 'frobnicate'",
    ),
    "output directory missing": (
        ["demo", "--output", "no/such/dir/out.csv"],
        r"directory 'no/such/dir' does not exist",
    ),
    "output is a directory": (
        ["demo", "--output", "empty_dir"],
        r"empty_dir: cannot write, it is a directory",
    ),
    "missing state": (
        ["evaluate", "--state", "nope.parquet"],
        r"nope\.parquet: no such state file",
    ),
    "not a state": (
        ["evaluate", "--state", "good.parquet"],
        r"not a polars-l2 state",
    ),
    "plot with a state": (
        ["evaluate", "--state", "good.parquet", "--plot", "p.png"],
        r"--plot needs the data files and no --state",
    ),
    "plot over an input": (
        ev("good.parquet", "--plot", "good.parquet"),
        r"--plot good\.parquet is one of the inputs",
    ),
    "output equals save-state": (
        ev("good.parquet", "--output", "s.parquet", "--save-state", "s.parquet"),
        r"--output and --save-state both name",
    ),
}


@pytest.mark.parametrize(("args", "pattern"), BAD_INPUTS.values(), ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(
    args: list[str],
    pattern: str,
    bad_files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(bad_files)
    assert_one_line_error(inline(capsys, *args), pattern)


def test_bad_inputs_in_the_installed_program(bad_files: Path) -> None:
    # One error of each origin: the argument parser, the file system, Polars
    # reading a file, and polars-l2's column checks.
    cases = ["unknown option", "missing file", "corrupt file", "non-numeric column"]
    results = run_many(*(BAD_INPUTS[case][0] for case in cases), cwd=bad_files)
    for case, result in zip(cases, results, strict=True):
        assert_one_line_error(result, BAD_INPUTS[case][1])


# --- plot -------------------------------------------------------------------


def test_plot_is_a_png_beside_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "houses.png"
    result = inline(capsys, "demo", "--plot", png, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert from_csv(result.stdout).height == 8  # the report is printed as well
    assert sorted(p.name for p in tmp_path.iterdir()) == ["houses.png"]


def test_plot_without_matplotlib_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(module: str) -> None:
        raise ImportError(f"{module}: {plot._INSTALL_HINT}")

    monkeypatch.setattr(plot, "_import", missing)
    result = inline(capsys, "demo", "--plot", tmp_path / "houses.png")
    assert_one_line_error(result, r"install the plot extra: pip install")
    assert list(tmp_path.iterdir()) == []


# --- demo -------------------------------------------------------------------


def shipped_houses() -> pl.DataFrame:
    sample = resources.files("polars_l2") / "data" / "houses.parquet"
    with resources.as_file(sample) as path:
        return pl.read_parquet(path)


def test_demo_matches_report_on_shipped_data() -> None:
    houses = shipped_houses()
    expected = polars_l2.report(houses, "price", ["linear", "boosted"], by="region")
    assert isinstance(expected, pl.DataFrame)
    python_m = run("demo", "--format", "csv")
    script = run("demo", "--format", "csv", script=True)
    for result in (python_m, script):
        assert result.returncode == 0, result.stderr
        assert_report_equal(from_csv(result.stdout), expected, by=["region"])


def test_demo_tells_the_outlier_story() -> None:
    houses = shipped_houses()
    overall = polars_l2.report(houses, "price", ["linear", "boosted"])
    assert isinstance(overall, pl.DataFrame)
    row = {r["model"]: r for r in overall.iter_rows(named=True)}
    hurt, fine = row["boosted"], row["linear"]
    # The hurt model: lower MAE, higher RMSE, squared error concentrated in
    # a few houses.
    assert hurt["mae"] < fine["mae"]
    assert hurt["rmse"] > 2 * fine["rmse"]
    assert hurt["top_1pct_share"] > 5 * fine["top_1pct_share"]
    assert hurt["rmse"] / hurt["mae"] > 3
    assert fine["rmse"] / fine["mae"] < 1.5

    text = ok("demo")
    assert f"lower MAE ({hurt['mae']:,.0f} against {fine['mae']:,.0f})" in text
    assert f"make {hurt['top_1pct_share']:.0%} of its squared error" in text
    table = parse_table(text)
    coast = table.filter(pl.col("region") == "Coast")
    share = dict(
        zip(coast["model"], coast["top_1pct_share"].cast(pl.Float64), strict=True)
    )
    assert share["boosted"] > 5 * share["linear"]


def test_shipped_sample_is_what_the_script_makes() -> None:
    assert_frame_equal(shipped_houses(), make_houses.make_houses())
    sample = resources.files("polars_l2") / "data" / "houses.parquet"
    with resources.as_file(sample) as path:
        assert path.stat().st_size < 1_000_000

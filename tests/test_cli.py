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

import csv
import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2 import _report, _state, cli, plot
from polars_l2._extras import install_hint
from polars_l2.cli import _errors as _cli_errors
from polars_l2.cli import _progress as _cli_progress
from polars_l2.data import make_houses
from tests.children import TIMEOUT, WAIT_FOR_A_SIGNAL, child, read_line

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NoReturn

    from polars_l2.typing import Variance

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


@pytest.mark.parametrize("several", [False, True])
def test_a_negative_weight_is_said_where_it_nulls_the_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *, several: bool
) -> None:
    df = pl.DataFrame(
        {
            "g": ["a", "a", "b", "b", "c", "c"],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "p": [1.5, 2.0, 3.0, 5.0, 5.0, 6.5],
            "w": [2.0, -1.0, 1.0, 2.0, 0.0, 0.0],
        }
    )
    paths = [tmp_path / "one.parquet", tmp_path / "two.parquet"]
    df.head(3).write_parquet(paths[0])
    df.slice(3).write_parquet(paths[1])
    files = paths if several else [tmp_path / "all.parquet"]
    df.write_parquet(tmp_path / "all.parquet")
    args: list[str | Path] = ["evaluate", *files, "--actual", "y", "--predicted", "p"]
    result = inline(capsys, *args, "--weight", "w", "--by", "g", "-f", "csv")
    assert result.returncode == 0, result.stderr
    table = from_csv(result.stdout)
    want = polars_l2.report(df, "y", "p", by="g", weight="w")
    assert table["mse"].is_null().to_list() == want["mse"].is_null().to_list()
    # Segment a has a negative weight; c's weights are all 0 (no rows
    # count): only a is said.
    assert result.stderr.splitlines() == [
        "polars-l2: note: a negative weight is counted in 1 row of the report, "
        "whose metrics are therefore null (model=p, g=a): a weighted mean with "
        "negative weights has no meaning"
    ]


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
    """Several files are merged states: every column equals the report's."""
    assert_report_equal(
        got, expected, columns=[*MERGEABLE, "rmse_low", "rmse_high", "top_1pct_share"]
    )


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
    saved = run(*evaluate_args(*files), "--save-state", state)
    assert saved.returncode == 0, saved.stderr
    assert saved.stderr.startswith(f"polars-l2: saved state {state}: ")
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


@pytest.mark.parametrize("variance", ["hc0", "kish"])
def test_variance_on_one_file_and_on_merged_files_is_the_reports(
    tree: tuple[Path, pl.DataFrame],
    variance: Variance,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, everything = tree
    one = root / "2024" / "01" / "part.parquet"
    cases = [([one], pl.read_parquet(one)), ([root], everything)]
    for paths, frame in cases:
        args = [*evaluate_args(*paths), "--variance", variance, "-f", "csv"]
        result = inline(capsys, *args)
        assert result.returncode == 0, result.stderr
        got = from_csv(result.stdout)
        want = polars_l2.report(
            frame, "y", MODELS, by=BY, weight="w", variance=variance
        )
        assert_merged_report(got, want)
        # The data tell the variances apart: the default's intervals differ.
        default = polars_l2.report(frame, "y", MODELS, by=BY, weight="w")
        assert not np.allclose(default["rmse_low"], want["rmse_low"], rtol=1e-6)


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
    # The same report to rounding: the streaming engine adds partial sums in
    # the order its threads finish, so a histogram's sums (top_1pct_share
    # after a merge) may differ in the last bit from one run to the next.
    assert_frame_equal(from_csv(stdout), from_csv(piped.stdout), rel_tol=1e-12)


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
    # Two runs of a parallel query may differ in the last bit of a sum.
    assert_frame_equal(
        pl.read_json(io.StringIO(target.read_text())),
        pl.read_json(io.StringIO(to_stdout.stdout)),
        rel_tol=1e-12,
    )
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
    # Each of Polars' data errors, provoked by a file (see _errors.DATA_ERRORS).
    (root / "ragged.csv").write_text("y,a\n1,2\n3,4,5\n")
    # The dtype is inferred from the first 10,000 rows; row 10,001 breaks it.
    (root / "late_text.csv").write_text("y,a\n" + "1,2\n" * 10_000 + "x,3\n")
    (root / "bad.ndjson").write_text('{"y": 1, "a": 2}\n{not json\n')
    (root / "corrupt.arrow").write_bytes(b"ARROW1\x00\x00garbage")
    pq.write_table(
        pa.table([pa.array([1.0]), pa.array([2.0]), pa.array([3.0])], ["y", "a", "a"]),
        root / "duplicate.parquet",
    )
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
    # Column options with only a --state are checked against the state.
    "columns with a data file as state": (
        ["evaluate", "--state", "good.parquet", "--actual", "y"],
        r"good\.parquet: not a polars-l2 state",
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
    # Polars' errors on a bad file: each names the file.
    "ragged csv (ComputeError)": (
        ev("ragged.csv"),
        r"^polars-l2: error: ragged\.csv: found more fields",
    ),
    "unparsable value after the inferred rows (ComputeError)": (
        ev("late_text.csv"),
        r"^polars-l2: error: late_text\.csv: could not parse `x`",
    ),
    "malformed ndjson (ComputeError)": (
        ev("bad.ndjson"),
        r"^polars-l2: error: bad\.ndjson: ",
    ),
    "corrupt arrow (ComputeError)": (
        ev("corrupt.arrow"),
        r"^polars-l2: error: corrupt\.arrow: ",
    ),
    "duplicated column (DuplicateError)": (
        ev("duplicate.parquet"),
        r"^polars-l2: error: duplicate\.parquet: .*'a'.*more than one",
    ),
    "several files, one corrupt": (
        ev("good.parquet", "corrupt.parquet"),
        r"^polars-l2: error: corrupt\.parquet: .*(parquet|Parquet)",
    ),
    "corrupt state": (
        ["evaluate", "--state", "corrupt.parquet"],
        r"^polars-l2: error: corrupt\.parquet: .*(parquet|Parquet)",
    ),
    # The file system's errors on the user's paths.
    "input name too long (OSError)": (
        ev("x" * 300 + ".csv"),
        r"^polars-l2: error: x{300}\.csv: File name too long$",
    ),
    "output name too long (OSError)": (
        ["demo", "--output", "x" * 300 + ".csv"],
        r"^polars-l2: error: x{300}\.csv: File name too long$",
    ),
    "output below a file (OSError)": (
        ["demo", "--output", "good.parquet/out.csv"],
        r"^polars-l2: error: good\.parquet/out\.csv: ",
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
        hint = install_hint("polars_l2.plot", "matplotlib", "plot")
        raise ImportError(f"{module}: {hint}")

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


# --- the error boundary: bad input is one line, a bug is a traceback ---------

BUG_LINE = (
    rf"^polars-l2: internal error, a bug in polars-l2 "
    rf"{re.escape(polars_l2.__version__)} \(polars {re.escape(pl.__version__)}\): "
    r"please report it with the traceback below$"
)


def assert_bug_report(result: subprocess.CompletedProcess[str], error: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert re.match(BUG_LINE, lines[0]), lines[0]
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == error
    assert result.stdout == ""


def raiser(error: BaseException) -> Callable[..., NoReturn]:
    def raise_(*_args: object, **_kwargs: object) -> NoReturn:
        raise error

    return raise_


@pytest.fixture(scope="module")
def two_files(tmp_path_factory: pytest.TempPathFactory, data: pl.DataFrame) -> Path:
    root = tmp_path_factory.mktemp("two")
    data.head(1_500).write_parquet(root / "one.parquet")
    data.tail(1_500).write_parquet(root / "two.parquet")
    return root


@pytest.mark.parametrize(
    "case",
    [
        # Raised inside the library while a user's file is read: of a type
        # the old boundary took for bad input (ValueError).
        (_state, "state_query", ValueError("boom"), "ValueError: boom"),
        # A file-system or Polars data error away from the user's paths.
        (polars_l2, "finalize", OSError("disk"), "OSError: disk"),
        (
            cli,
            "render",
            pl.exceptions.ComputeError("bad"),
            "polars.exceptions.ComputeError: bad",
        ),
        (cli, "render", KeyError("k"), "KeyError: 'k'"),
    ],
)
def test_a_bug_is_a_traceback_and_exit_1(
    case: tuple[object, str, Exception, str],
    two_files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module, name, error, shown = case
    monkeypatch.setattr(module, name, raiser(error))
    result = inline(capsys, *evaluate_args(two_files))
    assert_bug_report(result, shown)


def test_a_bug_in_the_report_of_one_file(
    parquet: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_report, "report_query", raiser(ValueError("boom")))
    assert_bug_report(inline(capsys, *evaluate_args(parquet)), "ValueError: boom")


def test_a_bug_in_the_installed_program() -> None:
    # The same boundary when the program runs on its own: status 1, the line
    # asking for a report, then the traceback.
    script = (
        "import sys\n"
        "from polars_l2 import _report, cli\n"
        "def bug(*args, **kwargs):\n"
        "    raise ValueError('boom')\n"
        "_report.report_query = bug\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=program_env(),
    )
    assert_bug_report(result, "ValueError: boom")


def program_env() -> dict[str, str]:
    """Return the environment of a subprocess, with this tree first on the path."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else f"{root}:{path}"}


def test_user_error_types_are_exactly_these() -> None:
    # The classes treated as the user's: a change here must be deliberate.
    assert set(_cli_errors.USER_ERRORS) == {
        _cli_errors.CliError,
        polars_l2.L2InputError,
    }
    assert set(_cli_errors.DATA_ERRORS) == {
        pl.exceptions.ColumnNotFoundError,
        pl.exceptions.ComputeError,
        pl.exceptions.DuplicateError,
        pl.exceptions.InvalidOperationError,
        pl.exceptions.NoDataError,
        pl.exceptions.SchemaError,
        pl.exceptions.SchemaFieldNotFoundError,
        pl.exceptions.ShapeError,
    }


# --- text that could break a table ------------------------------------------

#: Keys that look like table structure, line breaks, escapes or terminal
#: control sequences, or that CSV and JSON must quote.
AWKWARD_KEYS = [
    "a|b",
    "|",
    "x\ny",
    "e\r\nf",
    "cr\r",
    "c\\|d",
    "ends\\",
    "\\n",
    "tab\there",
    "\x1b[31mred",
    "u\u2028v",
    "nel\x85",
    '"quoted", and comma',
    "plain",
    "",
]


def split_markdown_row(line: str) -> list[str]:
    r"""Split a GFM table row into cells as GitHub does (`\` escapes a character)."""
    assert line.startswith("|")
    assert line.endswith("|")
    cells, cell, i = [], "", 1
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            cell += line[i : i + 2]
            i += 2
            continue
        if char == "|":
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
        i += 1
    return cells


def unescape(text: str) -> str:
    r"""Undo the output's escapes: \\, \|, \n, \r, \t, \xNN, \uNNNN."""
    named = {"\\": "\\", "|": "|", "n": "\n", "r": "\r", "t": "\t"}
    out, i = [], 0
    while i < len(text):
        if text[i] != "\\":
            out.append(text[i])
            i += 1
        elif text[i + 1] in named:
            out.append(named[text[i + 1]])
            i += 2
        else:
            width = {"x": 2, "u": 4}[text[i + 1]]
            out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
            i += 2 + width
    return "".join(out)


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """Write a file whose segment keys, segment column and model are awkward."""
    n = len(AWKWARD_KEYS)
    frame = pl.DataFrame(
        {
            "seg|ment\n": AWKWARD_KEYS * 2,
            "y": [float(i) for i in range(2 * n)],
            "m|1\\": [float(i) + 0.5 * (i % 3) for i in range(2 * n)],
        }
    )
    path = tmp_path_factory.mktemp("awkward") / "awkward.parquet"
    frame.write_parquet(path)
    expected = polars_l2.report(frame, "y", "m|1\\", by="seg|ment\n")
    return path, expected


def awkward_args(path: Path, fmt: str) -> list[str | Path]:
    return [
        "evaluate", path, "--actual", "y", "--predicted", "m|1\\",
        "--by", "seg|ment\n", "--format", fmt,
    ]  # fmt: skip


@pytest.mark.parametrize("fmt", ["markdown", "table"])
def test_awkward_keys_are_one_row_each_in_text_tables(
    fmt: str,
    awkward: tuple[Path, pl.DataFrame],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, expected = awkward
    result = inline(capsys, *awkward_args(path, fmt))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    if fmt == "markdown":
        # A header, the delimiter row, and one row per report row.
        assert len(lines) == 2 + expected.height
        rows = [split_markdown_row(line) for line in lines]
        assert all(len(row) == expected.width for row in rows), rows
        assert set(rows[1]) <= {"-" * len(c) for c in rows[1]}
        header, body = rows[0], rows[2:]
    else:
        # Borders above, below and under the header; one line per row.
        assert len(lines) == 4 + expected.height
        rows = [
            [cell.strip() for cell in re.split("[│┆]", line)[1:-1]]
            for line in lines
            if line.startswith("│")
        ]
        assert all(len(row) == expected.width for row in rows), rows
        header, body = rows[0], rows[1:]
    # No raw control character reaches the terminal or the document.
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", result.stdout)
    assert [unescape(name) for name in header] == expected.columns
    got = {(unescape(row[0]), unescape(row[1])) for row in body}
    assert got == set(expected.select("model", "seg|ment\n").iter_rows())
    assert len(got) == len(AWKWARD_KEYS)


def test_awkward_keys_round_trip_in_csv_and_json(
    awkward: tuple[Path, pl.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    path, expected = awkward
    keys = set(expected.select("model", "seg|ment\n").iter_rows())
    as_csv = inline(capsys, *awkward_args(path, "csv"))
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout, newline="")))
    assert rows[0] == expected.columns
    assert {(row[0], row[1]) for row in rows[1:]} == keys
    assert len(rows) == 1 + expected.height
    as_json = inline(capsys, *awkward_args(path, "json"))
    assert as_json.returncode == 0, as_json.stderr
    records = json.loads(as_json.stdout)
    assert {(r["model"], r["seg|ment\n"]) for r in records} == keys
    assert all(list(r) == expected.columns for r in records)


# --- --no-top-share ----------------------------------------------------------


def test_no_top_share_skips_it_as_the_library_does(
    parquet: Path, data: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(capsys, *evaluate_args(parquet), "--no-top-share", "-f", "csv")
    assert result.returncode == 0, result.stderr
    got = from_csv(result.stdout)
    expected = polars_l2.report(data, "y", MODELS, by=BY, weight="w", top_share=False)
    assert got.get_column("top_1pct_share").null_count() == got.height
    assert_report_equal(got, expected)
    # Without the switch the share is computed.
    default = from_csv(ok(*evaluate_args(parquet), "-f", "csv"))
    assert default.get_column("top_1pct_share").null_count() == 0


# --- streams, signals and exit codes -----------------------------------------


def run_shell(command: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the program under `sh -c command` ("$@" is the program and `args`)."""
    return subprocess.run(
        ["sh", "-c", command, "sh", sys.executable, "-m", "polars_l2", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=program_env(),
    )


def test_exit_codes_are_the_same_with_stdout_or_stderr_closed(
    bad_files: Path,
) -> None:
    good = ev(str(bad_files / "good.parquet"))
    bad = ev(str(bad_files / "nope.parquet"))
    # With stdout closed the report has nowhere to go: an error, in one line.
    closed_stdout = run_shell('exec "$@" >&-', *good)
    assert closed_stdout.returncode == 2
    assert closed_stdout.stderr.endswith(
        ": standard output is closed: nowhere to write the report (give --output)\n"
    )
    # Said before anything is read: the missing file would change nothing.
    closed_stdout_bad = run_shell('exec "$@" >&-', *bad)
    assert closed_stdout_bad.returncode == 2
    assert closed_stdout_bad.stderr.count("\n") == 1
    assert "standard output is closed" in closed_stdout_bad.stderr
    assert run_shell('exec "$@" 2>&-', *bad).returncode == 2
    closed_stderr = run_shell('exec "$@" 2>&-', *good)
    assert closed_stderr.returncode == 0
    assert closed_stderr.stdout.startswith("┌")
    assert run_shell('exec "$@" >&- 2>&-', *bad).returncode == 2


@pytest.mark.parametrize("lines_read", [0, 1])
def test_a_reader_that_stops_early_ends_it_quietly(
    lines_read: int, tmp_path: Path
) -> None:
    # As `polars-l2 evaluate ... | head -1`, with far more output than a pipe
    # holds. A reader that reads nothing closes the pipe before the program
    # (which takes a second to import Polars) writes: the write must fail.
    n = 30_000
    pl.DataFrame(
        {"g": [f"segment {i:06d}" for i in range(n)], "y": [1.0] * n, "p": [2.0] * n}
    ).write_parquet(tmp_path / "many.parquet")
    args = [tmp_path / "many.parquet", "--actual", "y", "--predicted", "p", "--by", "g"]
    with subprocess.Popen(
        [sys.executable, "-m", "polars_l2", "evaluate", *map(str, args), "-f", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=program_env(),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        for _ in range(lines_read):
            assert process.stdout.readline().startswith(b"model,g,overall,n,")
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=120) == 0
    assert stderr == b""


#: Runs main with one step replaced by a stand-in that says "ready" on stdout
#: and then waits for a signal, so the signal arrives there, every time.
SIGNAL_SCRIPT = (
    WAIT_FOR_A_SIGNAL
    + """\
import os, signal, sys
import polars_l2.cli as cli
from polars_l2.cli import _output

# An interactive start: SIGINT raises KeyboardInterrupt (a test runner in the
# background may have started this process with SIGINT ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)

def wait(*args, **kwargs):
    os.write(1, b"ready\\n")
    wait_for_a_signal()

if sys.argv[1] == "render":
    cli.render = wait
else:
    os.fsync = wait  # in the atomic write of --output, before the rename
sys.exit(cli.main(sys.argv[2:]))
"""
)


@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [
        (signal.SIGINT, 130, "polars-l2: interrupted\n"),
        (signal.SIGTERM, 143, "polars-l2: terminated\n"),
    ],
)
@pytest.mark.parametrize("step", ["render", "write"])
def test_a_signal_is_one_line_and_its_exit_status(
    signum: int, status: int, line: str, step: str, tmp_path: Path
) -> None:
    output = tmp_path / "report.csv"
    output.write_text("the old report\n")
    args = ["demo", "-f", "csv"]
    if step == "write":
        args += ["--output", str(output)]
    with child(
        [sys.executable, "-c", SIGNAL_SCRIPT, step, *args], env=program_env()
    ) as process:
        assert read_line(process.stdout) == "ready\n"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert (process.returncode, stderr, stdout) == (status, line, "")
    # The output is the old one, and no temporary file is left behind.
    assert output.read_text() == "the old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    text = inline(capsys, "--help").stdout
    codes = re.findall(r"^  (\d+) +(\S.*)$", text.split("exit status:", 1)[1], re.M)
    assert [code for code, _ in codes] == ["0", "1", "2", "3", "130", "143"]
    meanings = dict(codes)
    assert "bug" in meanings["1"]
    assert "bad input" in meanings["2"]
    assert "release gate" in meanings["3"]
    assert "--fail-if" in meanings["3"]
    assert "SIGINT" in meanings["130"]
    assert "SIGTERM" in meanings["143"]


def test_errors_give_no_python_to_a_command_line_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The library's messages advise a method call on the frame; the command
    # line says what is wrong with the file instead.
    path = tmp_path / "data.parquet"
    pl.DataFrame({"y": [1.0, 2.0], "p": ["a", "b"], "mse": [1, 2]}).write_parquet(path)
    cases = {
        "wrong dtype": (["--predicted", "p"], "has dtype String; expected a numeric"),
        "output name": (["--predicted", "y", "--by", "mse"], "rename it in the file"),
    }
    for extra, message in cases.values():
        result = inline(capsys, "evaluate", path, "--actual", "y", *extra)
        assert_one_line_error(result, re.escape(message))
        for python in (".cast(", ".rename(", "pl."):
            assert python not in result.stderr
    with pytest.raises(polars_l2.L2InputError, match=r"\.cast\(pl\.Float64\)"):
        polars_l2.report(pl.read_parquet(path), "y", "p")

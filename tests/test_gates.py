"""Release gates: polars_l2.gate_failures and --fail-if / --fail-if-worse.

The failing rows are checked against plain Python comparisons over the
report's rows; conditions that are not comparisons of columns and values are
refused in one line, and Python's eval and exec are never reached.
"""

from __future__ import annotations

import builtins
import datetime as dt
import functools
import itertools
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import polars_l2
from tests.test_cli import assert_one_line_error, from_csv, inline

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def make_data(seed: int, n: int = 600) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(100.0, 20.0, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    scale = np.select([region == "north", region == "south"], [1.0, 4.0], 9.0)
    return pl.DataFrame(
        {
            "region": region,
            "y": y,
            "old": y + rng.normal(0.0, 5.0, n),
            "new": y + rng.normal(0.0, 1.0, n) * scale,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_data(0)


@pytest.fixture(scope="module")
def report(frame: pl.DataFrame) -> pl.DataFrame:
    return polars_l2.report(frame, "y", ["old", "new"], by="region", overall=True)


def reference(
    report: pl.DataFrame, keep: Callable[[dict[str, Any]], bool]
) -> list[tuple[Any, ...]]:
    """Return (model, region) of the rows `keep` holds for, in row order."""
    return [(r["model"], r["region"]) for r in report.iter_rows(named=True) if keep(r)]


def failing(report: pl.DataFrame, condition: str) -> list[tuple[Any, ...]]:
    result = polars_l2.gate_failures(report, condition)
    assert set(result["fail_if"]) <= {condition}
    return result.select("model", "region").rows()


def test_failures_are_the_rows_python_finds(report: pl.DataFrame) -> None:
    cut = float(report["rmse"].median())  # type: ignore[arg-type]
    cases: dict[str, Callable[[dict[str, Any]], bool]] = {
        f"rmse > {cut!r}": lambda r: r["rmse"] > cut,
        f"rmse <= {cut!r} and region = 'north'": lambda r: (
            r["rmse"] <= cut and r["region"] == "north"
        ),
        "not (model = 'old') or top_1pct_share >= 0.05": lambda r: (
            r["model"] != "old" or r["top_1pct_share"] >= 0.05
        ),
        "mae > rmse": lambda r: r["mae"] > r["rmse"],
        "bias < -0.5 OR bias > 0.5": lambda r: abs(r["bias"]) > 0.5,
        '"overall" = true AND "n" >= 600': lambda r: r["overall"] and r["n"] >= 600,
        "region is null": lambda r: r["region"] is None,
        "region is not null and small = false": lambda r: (
            r["region"] is not None and not r["small"]
        ),
    }
    for condition, keep in cases.items():
        assert failing(report, condition) == reference(report, keep), condition


@settings(max_examples=40, deadline=None)
@given(threshold=st.floats(min_value=0.0, max_value=40.0, allow_nan=False))
def test_a_threshold_fails_exactly_the_rows_above_it(
    report: pl.DataFrame, threshold: float
) -> None:
    condition = f"rmse > {threshold!r}"
    want = reference(report, lambda r: r["rmse"] > threshold)
    assert failing(report, condition) == want


def test_several_conditions_give_one_row_per_failure_in_order(
    report: pl.DataFrame,
) -> None:
    conditions = ["rmse > 5", "small = false and model = 'old'"]
    result = polars_l2.gate_failures(report, conditions)
    assert result.columns == ["fail_if", *report.columns]
    assert result.schema["n"] == report.schema["n"]
    expected = [
        (condition, model, region)
        for condition, keep in zip(
            conditions,
            [lambda r: r["rmse"] > 5, lambda r: not r["small"] and r["model"] == "old"],
            strict=True,
        )
        for model, region in reference(report, keep)
    ]
    assert result.select("fail_if", "model", "region").rows() == expected
    # A passing release is an empty frame of the same schema.
    passing = polars_l2.gate_failures(report.lazy(), "rmse < 0")
    assert passing.height == 0
    assert passing.schema == result.schema


def test_null_never_fails_and_nan_is_above_every_number() -> None:
    table = pl.DataFrame({"model": ["a", "b", "c"], "rmse": [1.0, None, float("nan")]})
    assert polars_l2.gate_failures(table, "rmse > 2")["model"].to_list() == ["c"]
    assert polars_l2.gate_failures(table, "rmse < 2")["model"].to_list() == ["a"]
    either = polars_l2.gate_failures(table, "rmse > 2 or rmse is null")
    assert either["model"].to_list() == ["b", "c"]


def test_a_verdict_gate_reads_text_and_skips_small_segments(
    frame: pl.DataFrame,
) -> None:
    comparison = polars_l2.compare(frame, "y", "old", "new", by="region", min_n=200)
    got = polars_l2.gate_failures(comparison, "verdict = 'worse'")
    want = [
        r["region"] for r in comparison.iter_rows(named=True) if r["verdict"] == "worse"
    ]
    assert got["region"].to_list() == want
    assert want  # the noisy regions are worse
    skill = polars_l2.gate_failures(comparison, "skill < -0.02")
    assert skill["region"].to_list() == [
        r["region"] for r in comparison.iter_rows(named=True) if r["skill"] < -0.02
    ]


#: Conditions that are not comparisons of columns and values, and what the
#: one-line refusal says.
REFUSED = {
    "__import__('os')": r"function calls are not allowed \(__import__\(\.\.\.\)\)",
    "__import__('os').system('id')": r"function calls are not allowed",
    "exec('import os')": r"function calls are not allowed",
    "abs(bias) > 1": r"function calls are not allowed \(abs",
    "rmse > (select max(rmse) from self)": r"a subquery or group is not allowed",
    "rmse > 1; rm -rf /": r"unexpected ';' at character 9",
    "$(rm -rf /)": r"unexpected '\$' at character 1",
    "`id`": r"unexpected '`' at character 1",
    "rmse > 1 && touch x": r"unexpected '&' at character 10",
    "rmse > 1 | cat": r"unexpected '\|' at character 10",
    "rmse > 1 > /tmp/x": r"unexpected '>' at character 10",
    "rmse * 2 > 1": r"unexpected '\*' at character 6",
    "rmse > 1 -- comment": r"unexpected '-' at character 10",
    "rmse": r"the condition ends where a comparison",
    "": r"it is empty",
    "rmse in (1, 2)": r"unexpected 'in' at character 6",
    "rmse between 1 and 2": r"unexpected 'between'",
}


def test_anything_but_comparisons_is_refused_without_eval(
    report: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*_: object, **__: object) -> None:
        pytest.fail("Python's eval or exec was called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    for condition, pattern in REFUSED.items():
        with pytest.raises(polars_l2.L2InputError) as info:
            polars_l2.gate_failures(report, condition)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(
            f"polars_l2.gate_failures: condition {condition!r}: "
        ), message
        assert re.search(pattern, message), (condition, message)


def test_unknown_columns_and_mismatched_types_are_input_errors(
    report: pl.DataFrame,
) -> None:
    with pytest.raises(polars_l2.L2InputError, match=r"no column 'rmsee'; the table"):
        polars_l2.gate_failures(report, "rmsee > 1")
    with pytest.raises(polars_l2.L2InputError, match=r"cannot compare string"):
        polars_l2.gate_failures(report, "region > 3")
    with pytest.raises(polars_l2.L2InputError, match=r"a condition must be a string"):
        polars_l2.gate_failures(report, [3])  # type: ignore[list-item]
    with pytest.raises(polars_l2.L2InputError, match=r"has a column 'fail_if'"):
        polars_l2.gate_failures(report.with_columns(fail_if=1), "rmse > 1")


@pytest.mark.parametrize("condition", ["'n' = 1", "1 = 1", "'north' = 'north'"])
def test_a_condition_on_no_column_is_refused(
    report: pl.DataFrame, condition: str
) -> None:
    # The same on every row: a mistake for a column ('n' is text, not n).
    with pytest.raises(polars_l2.L2InputError, match="reads no column"):
        polars_l2.gate_failures(report, condition)


def test_a_column_in_double_quotes_where_text_was_meant_is_explained(
    report: pl.DataFrame,
) -> None:
    with pytest.raises(polars_l2.L2InputError) as raised:
        polars_l2.gate_failures(report, 'region = "n"')
    message = str(raised.value)
    assert "cannot compare" in message
    assert message.endswith(
        "(\"n\" names the column 'n'; text goes in single quotes: 'n')"
    )
    # Double quotes around a column meant as one work as before.
    assert polars_l2.gate_failures(report, '"n" < 0').height == 0


# --- the command line ----------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("gates") / "data.parquet"
    frame.write_parquet(path)
    return path


def evaluate(data: Path, *extra: str | Path) -> list[str | Path]:
    return [
        "evaluate", data, "--actual", "y", "--predicted", "old", "--predicted",
        "new", "--by", "region", "--overall", *extra,
    ]  # fmt: skip


def gate_lines(stderr: str, condition: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith(f"polars-l2: --fail-if {condition!r}: ")
    ]


def above(row: dict[str, Any], *, threshold: float) -> bool:
    return bool(row["rmse"] > threshold)


def test_fail_if_exits_3_exactly_when_a_row_breaks_it(
    data: Path, report: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    values = sorted(report["rmse"].to_list())
    # Below the smallest, between each pair, and just above the largest RMSE.
    # Never within rounding of a value: the command's streaming run may sum
    # in another order than the report here and differ in the last bits.
    margin = 1e-9
    pairs = [(a, b) for a, b in itertools.pairwise(values) if b - a > margin * b]
    thresholds = [values[0] / 2, *((a + b) / 2 for a, b in pairs)]
    thresholds.append(values[-1] * (1 + margin))
    for threshold in thresholds:
        condition = f"rmse > {threshold!r}"
        result = inline(capsys, *evaluate(data, "--fail-if", condition, "-f", "csv"))
        want = reference(report, functools.partial(above, threshold=threshold))
        assert result.returncode == (3 if want else 0), result.stderr
        lines = gate_lines(result.stderr, condition)
        assert len(lines) == len(want)
        assert len(result.stderr.splitlines()) == len(want)  # nothing else said
        for line, (model, region) in zip(lines, want, strict=True):
            where = "all rows" if region is None else f"region={region}"
            assert f": model={model}, {where} (rmse=" in line, line
        # The report is written whatever the gate says.
        assert from_csv(result.stdout).height == report.height


@pytest.mark.parametrize("condition", list(REFUSED))
def test_malicious_conditions_are_refused_in_one_line_before_reading(
    condition: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data file does not exist: the condition is refused first.
    missing = tmp_path / "missing.parquet"
    result = inline(capsys, *evaluate(missing, "--fail-if", condition))
    assert_one_line_error(result, r"argument --fail-if: condition ")
    assert re.search(REFUSED[condition], result.stderr), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_condition_on_an_unknown_column_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(
        capsys, *evaluate(tmp_path / "missing.parquet", "--fail-if", "rmsee > 1")
    )
    assert_one_line_error(result, r"--fail-if 'rmsee > 1': no column 'rmsee'")


def test_a_condition_on_a_column_only_weights_give_is_refused_before_writing(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, out = tmp_path / "s.parquet", tmp_path / "r.csv"
    args: list[str | Path] = [
        "--fail-if",
        "weight_sum > 0",
        "--save-state",
        state,
        "-o",
        out,
    ]
    result = inline(capsys, *evaluate(data, *args))
    assert_one_line_error(result, r"--fail-if 'weight_sum > 0': no column 'weight_sum'")
    assert "weight_sum" not in result.stderr.split("the columns are")[1]
    assert not state.exists()
    assert not out.exists()


@pytest.mark.parametrize(
    "condition", ["model = 1", "rmse > 'a'", "n = 'many'", "mae < 'low'"]
)
def test_a_condition_that_cannot_compare_its_columns_is_refused_before_reading(
    condition: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing is read, so no state is saved before the gate is refused.
    missing, state = tmp_path / "missing.parquet", tmp_path / "s.parquet"
    args = evaluate(missing, "--fail-if", condition, "--save-state", state)
    result = inline(capsys, *args)
    assert_one_line_error(result, rf"--fail-if {re.escape(repr(condition))}: ")
    assert "cannot compare" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_condition_on_a_key_waits_for_the_keys_dtype(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The keys' dtype is the data's, unknown before reading: integer keys
    # compare with a number.
    frame = pl.read_parquet(data).with_columns(pl.col("region").rank("dense"))
    numbered = tmp_path / "numbered.parquet"
    frame.write_parquet(numbered)
    result = inline(capsys, *evaluate(numbered, "--fail-if", "region = 1", "-f", "csv"))
    assert result.returncode == 3, result.stderr
    assert gate_lines(result.stderr, "region = 1")
    # Text keys cannot compare with a number: refused once the file's columns
    # are read, before the report is printed or a state saved, for one file
    # and for several.
    state = tmp_path / "s.parquet"
    for files in ([data], [data, numbered.with_name("copy.parquet")]):
        pl.read_parquet(data).write_parquet(files[-1])
        args = evaluate(files[0], "--fail-if", "region = 1")
        args[2:2] = files[1:]
        result = inline(capsys, *args, "--save-state", state, "-f", "csv")
        assert_one_line_error(result, r"--fail-if 'region = 1': cannot compare")
        assert result.stdout == ""
        assert not state.exists()


def boolean_and_duration_keys() -> pl.DataFrame:
    """Four rows, keyed by a Boolean ``b`` and a Duration ``d``, two values each."""
    return pl.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0],
            "p": [1.5, 2.0, 3.0, 5.0],
            "b": [True, True, False, False],
            "d": [dt.timedelta(days=1)] * 2 + [dt.timedelta(seconds=3)] * 2,
        }
    )


def test_a_gate_line_writes_keys_as_conditions_and_csv_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # true, not Python's True; a duration in ISO 8601 as in the csv output,
    # not "1 day, 0:00:00", whose comma would read as a separator of keys.
    df = boolean_and_duration_keys()
    path = tmp_path / "keys.parquet"
    df.write_parquet(path)
    args: list[str | Path] = [
        "evaluate",
        path,
        "--actual",
        "y",
        "--predicted",
        "p",
        "--by",
        "b",
    ]
    result = inline(capsys, *args, "--by", "d", "--fail-if", "n > 0", "-f", "csv")
    assert result.returncode == 3
    lines = gate_lines(result.stderr, "n > 0")
    assert [line.split(": ", 2)[2].split(" (")[0] for line in lines] == [
        "model=p, b=false, d=PT3S",
        "model=p, b=true, d=P1D",
    ]
    # The csv output writes the keys so.
    assert from_csv(result.stdout).select("b", "d").rows() == [
        (False, "PT3S"),
        (True, "P1D"),
    ]


def test_the_output_column_of_vector_targets_is_gated_as_the_file_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=(60, 3))
    vectors = pl.DataFrame(
        {"y": y, "p": y + rng.normal(size=(60, 3)), "q": y + rng.normal(size=(60, 3))}
    )
    scalars = pl.DataFrame({"y": y[:, 0], "p": y[:, 1], "q": y[:, 2]})
    paths = {"vector": tmp_path / "v.parquet", "scalar": tmp_path / "s.parquet"}
    vectors.write_parquet(paths["vector"])
    scalars.write_parquet(paths["scalar"])
    saved = tmp_path / "saved.parquet"

    def run(kind: str, command: str, condition: str) -> Any:
        models = (
            ["--predicted", "p"]
            if command == "evaluate"
            else ["--baseline", "p", "--candidate", "q"]
        )
        args: list[str | Path] = [
            command,
            paths[kind],
            "--actual",
            "y",
            *models,
            "-f",
            "csv",
        ]
        return inline(capsys, *args, "--save-state", saved, "--fail-if", condition)

    # Vector targets: the output number is a column of both tables, an integer.
    for command in ("evaluate", "compare"):
        assert run("vector", command, "output = 1").returncode == 3
        saved.unlink()
        refused = run("vector", command, "output = 'x'")
        assert_one_line_error(refused, r"--fail-if \"output = 'x'\": cannot compare")
        assert (refused.stdout, saved.exists()) == ("", False)
        # Scalar targets: no such column, refused before anything is written.
        refused = run("scalar", command, "output is null")
        assert_one_line_error(refused, r"no column 'output'")
        assert (refused.stdout, saved.exists()) == ("", False)


def test_a_duration_key_compared_with_text_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Polars refuses the comparison only on a value, not on an empty table.
    df = boolean_and_duration_keys()
    path, saved = tmp_path / "d.parquet", tmp_path / "saved.parquet"
    df.write_parquet(path)
    args: list[str | Path] = [
        "evaluate",
        path,
        "--actual",
        "y",
        "--predicted",
        "p",
        "--by",
        "d",
    ]
    result = inline(capsys, *args, "--save-state", saved, "--fail-if", "d > 'x'")
    assert_one_line_error(result, r"--fail-if \"d > 'x'\": ")
    assert (result.stdout, saved.exists()) == ("", False)


def test_a_text_value_in_double_quotes_is_explained_on_the_command_line(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(capsys, *evaluate(data, "--fail-if", 'region = "north"'))
    assert_one_line_error(
        result,
        r"no column 'north' \(\"north\" names the column 'north'; text goes in "
        r"single quotes: 'north'\)",
    )


def test_a_gate_names_rows_the_condition_cannot_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = pl.DataFrame(
        {
            "g": ["a", "a", "b", "b"],
            "y": [1.0, 2.0, 3.0, 4.0],
            "p": [1.5, 2.5, None, None],
        }
    )
    path = tmp_path / "d.parquet"
    df.write_parquet(path)
    args: list[str | Path] = [
        "evaluate", path, "--actual", "y", "--predicted", "p", "--by", "g"
    ]  # fmt: skip
    result = inline(capsys, *args, "--fail-if", "rmse > 0.1", "-f", "csv")
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "polars-l2: --fail-if 'rmse > 0.1': model=p, g=a (rmse=0.5 [0.5, 0.5])",
        "polars-l2: note: --fail-if 'rmse > 0.1': 1 row reads a null and could "
        "not be checked (model=p, g=b)",
    ]


def test_fail_if_worse_names_each_worse_segment(
    data: Path, frame: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    comparison = polars_l2.compare(frame, "y", "old", "new", by="region")
    worse = comparison.filter(pl.col("verdict") == "worse")
    assert worse.height >= 2
    args: list[str | Path] = [
        "compare", data, "--actual", "y", "--baseline", "old", "--candidate",
        "new", "--by", "region", "-f", "csv",
    ]  # fmt: skip
    result = inline(capsys, *args, "--fail-if-worse")
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == worse.height
    for line, row in zip(lines, worse.iter_rows(named=True), strict=True):
        where = "all rows" if row["overall"] else f"region={row['region']}"
        identity = (
            "loss=squared, all rows" if row["overall"] else f"{where}, loss=squared"
        )
        assert line.startswith(f"polars-l2: worse: model=new, {identity} (loss_diff=")
        assert "skill=" in line
        assert "p_value_adjusted=" in line
    # --fail-if on a comparison's columns.
    result = inline(capsys, *args, "--fail-if", "skill < -0.02")
    expected = comparison.filter(pl.col("skill") < -0.02)
    assert result.returncode == (3 if expected.height else 0)
    assert len(result.stderr.splitlines()) == expected.height
    # Nothing worse: status 0 and nothing said.
    result = inline(capsys, *args, "--fail-if", "skill < -1000", "--min-n", "30")
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize(
    ("condition", "reason"),
    [("rmsee > 1", "no column 'rmsee'"), ("region = 1", "cannot compare")],
)
def test_evaluate_on_states_refuses_a_bad_gate_before_writing(
    frame: pl.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    condition: str,
    reason: str,
) -> None:
    # The keys and their dtypes are the states': the gate is checked once
    # they are read, before the report is printed or a state saved.
    state, saved = tmp_path / "s.parquet", tmp_path / "saved.parquet"
    polars_l2.state(frame, "y", ["old", "new"], by="region").write_parquet(state)
    args: list[str | Path] = ["evaluate", "--state", state, "--save-state", saved]
    result = inline(capsys, *args, "--fail-if", condition, "-f", "csv")
    assert_one_line_error(result, rf"--fail-if {re.escape(repr(condition))}: ")
    assert reason in result.stderr
    assert result.stdout == ""
    assert not saved.exists()
    # The states' key, in its dtype, is there to gate on.
    result = inline(capsys, *args, "--fail-if", "region = 'north'", "-f", "csv")
    assert result.returncode == 3, result.stderr
    assert gate_lines(result.stderr, "region = 'north'")
    assert saved.exists()


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("regoin = 'north'", "no column 'regoin'"),
        ("region = 1", "cannot compare"),
        ("verdict = 1", "cannot compare"),
    ],
)
@pytest.mark.parametrize("on_states", [False, True])
def test_compare_refuses_a_bad_gate_before_writing_anything(
    frame: pl.DataFrame,
    data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    condition: str,
    reason: str,
    on_states: bool,
) -> None:
    # With --state the keys and their dtypes are the states': the gate is
    # checked once they are read, before anything is computed or written.
    state, saved = tmp_path / "s.parquet", tmp_path / "saved.parquet"
    built = polars_l2.state(frame, "y", ["old", "new"], by="region", baseline="old")
    built.write_parquet(state)
    out = tmp_path / "compare.csv"
    source: list[str | Path] = (
        ["--state", state]
        if on_states
        else [data, "--actual", "y", "--baseline", "old", "--candidate", "new",
              "--by", "region"]
    )  # fmt: skip
    base: list[str | Path] = ["compare", *source, "--save-state", saved, "-f", "csv"]
    result = inline(capsys, *base, "--fail-if", condition, "-o", out)
    assert_one_line_error(result, rf"--fail-if {re.escape(repr(condition))}: ")
    assert reason in result.stderr
    assert result.stdout == ""
    assert not out.exists()
    assert not saved.exists()
    # The key, in its dtype, is a column the gate may name.
    result = inline(capsys, *base, "--fail-if", "region = 'nowhere'")
    assert result.returncode == 0, result.stderr
    assert from_csv(result.stdout)["region"].drop_nulls().n_unique() == 4
    assert saved.exists()


def test_gates_write_every_output_first(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.csv"
    result = inline(
        capsys, *evaluate(data, "--fail-if", "n > 0", "-f", "csv", "-o", out)
    )
    assert result.returncode == 3
    assert from_csv(out.read_text()).height == 10


# --- --overall and --min-n -----------------------------------------------------------


def test_overall_and_min_n_match_the_python_report(
    data: Path, frame: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    want = polars_l2.report(
        frame, "y", ["old", "new"], by="region", overall=True, min_n=160
    )
    result = inline(capsys, *evaluate(data, "--min-n", "160", "-f", "csv"))
    assert result.returncode == 0, result.stderr
    got = from_csv(result.stdout)
    assert_frame_equal(got, want, check_dtypes=False, rel_tol=1e-12)
    assert got["small"].any()
    assert not got["small"].all()
    # The same from two files, through merged states (top_1pct_share needs
    # the whole data and is then null).
    frame[:300].write_parquet(tmp_path / "a.parquet")
    frame[300:].write_parquet(tmp_path / "b.parquet")
    result = inline(capsys, *evaluate(tmp_path, "--min-n", "160", "-f", "csv"))
    assert result.returncode == 0, result.stderr
    merged = from_csv(result.stdout)
    assert_frame_equal(
        merged.drop("top_1pct_share"),
        want.drop("top_1pct_share"),
        check_dtypes=False,
        rel_tol=1e-9,
    )


def test_min_n_refuses_a_negative_count(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(capsys, *evaluate(data, "--min-n", "-1"))
    assert_one_line_error(result, r"argument --min-n: must be a non-negative integer")


def test_gate_values_show_intervals_and_special_values() -> None:
    from polars_l2.cli import _gates  # noqa: PLC0415

    lines: list[str] = []
    table = pl.DataFrame(
        {
            "model": ["m\n1"],
            "overall": [False],
            "n": [3],
            "rmse": [math.inf],
            "rmse_low": [1.0],
            "rmse_high": [2.0],
        }
    )
    status = _gates.status(
        table,
        [_gates.condition("rmse > 1")],
        say=lines.append,
        notice=lines.append,
    )
    assert status == _gates.EXIT_GATE
    # The model's line break is escaped: one line per failing row.
    assert lines == ["--fail-if 'rmse > 1': model=m\\n1 (rmse=inf [1, 2])"]


def test_fail_if_worse_names_the_rows_without_a_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Both models give NaN in segment b: no verdict there, which the gate
    # cannot call worse or not, and says so. (A NaN candidate against a
    # baseline with a number is worse: see test_compare.)
    df = pl.DataFrame(
        {
            "g": ["a"] * 40 + ["b"] * 40,
            "y": [float(i % 9) for i in range(80)],
            "old": [float(i % 9) + 1.0 for i in range(40)] + [float("nan")] * 40,
            "new": [float(i % 9) + 0.5 for i in range(40)] + [float("nan")] * 40,
        }
    )
    path = tmp_path / "d.parquet"
    df.write_parquet(path)
    args: list[str | Path] = [
        "compare", path, "--actual", "y", "--baseline", "old", "--candidate",
        "new", "--by", "g", "-f", "csv", "--fail-if-worse",
    ]  # fmt: skip
    result = inline(capsys, *args)
    table = polars_l2.compare(df, "y", "old", "new", by="g")
    undecided = table.filter(pl.col("verdict").is_null()).height
    assert undecided == 2  # segment b and the overall row
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "polars-l2: note: --fail-if-worse: 2 rows read a null and could not be "
        "checked (model=new, g=b, loss=squared; model=new, loss=squared, all rows)"
    ]


@pytest.mark.parametrize(
    ("command", "table"), [("evaluate", "report"), ("compare", "comparison")]
)
def test_the_help_s_example_conditions_name_the_command_s_own_columns(
    command: str, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from polars_l2.cli import _gates  # noqa: PLC0415

    frame = pl.DataFrame({"g": ["a"] * 40, "y": [float(i) for i in range(40)]})
    frame = frame.with_columns(
        (pl.col("y") + 1).alias("old"), (pl.col("y") + 0.5).alias("new")
    )
    columns = (
        polars_l2.report(frame, "y", "old").columns
        if table == "report"
        else polars_l2.compare(frame, "y", "old", "new").columns
    )
    result = inline(capsys, command, "--help")
    assert result.returncode == 0
    shown = result.stdout
    examples = re.findall(r'"([^"]+)"', _gates._EXAMPLES[table])
    assert len(examples) == 2
    for text in examples:
        assert f'"{text}"' in " ".join(shown.split())  # the help shows it
        _gates.check_columns([_gates.condition(text)], columns)

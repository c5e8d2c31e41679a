"""``murphy``, ``decompose``, ``worst``, ``bias`` and ``evaluate --worst``."""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2.cli import main
from tests import real_data
from tests.test_cli import inline

if TYPE_CHECKING:
    from pathlib import Path


def _files(tmp_path: Path) -> list[Path]:
    """Write the diabetes data and its models into two parquet files."""
    frame = real_data.diabetes()
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    frame.head(200).write_parquet(paths[0])
    frame.slice(200).write_parquet(paths[1])
    return paths


def _json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> pl.DataFrame:
    status = main([*map(str, args), "--format", "json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return pl.DataFrame(json.loads(captured.out), infer_schema_length=None)


def _same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.columns == want.columns
    # JSON holds infinite floats as strings ("-inf").
    got = got.with_columns(
        pl.col(name).cast(pl.Float64)
        for name, dtype in want.schema.items()
        if dtype.is_float() and got.schema[name] == pl.String
    )
    assert_frame_equal(got, want, check_dtypes=False, rel_tol=1e-9, abs_tol=1e-12)


COLUMNS = ("--actual", "y", "--predicted", "mean", "--predicted", "median")


def test_each_subcommand_gives_the_library_s_table_of_all_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _files(tmp_path)
    frame = real_data.diabetes()
    models = ["mean", "median"]
    cases = [
        (
            ["murphy", *COLUMNS, "--thetas", "100,150,200", "--baseline", "mean"],
            polars_l2.murphy(
                frame, "y", models, thetas=[100.0, 150.0, 200.0], baseline="mean"
            ),
        ),
        (
            ["decompose", *COLUMNS, "--loss", "absolute", "--by", "sex"],
            polars_l2.decompose(frame, "y", models, loss="absolute", by="sex"),
        ),
        (
            ["worst", *COLUMNS, "-k", "4"],
            polars_l2.worst(frame, "y", models, k=4),
        ),
        (
            ["bias", *COLUMNS, "--feature", "bmi", "--bins", "3"],
            polars_l2.bias_by(frame, "y", models, "bmi", bins=3),
        ),
    ]
    for args, want in cases:
        _same(_json(capsys, args[0], *paths, *args[1:]), want)


def test_murphy_and_decompose_draw_their_diagrams(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _files(tmp_path)
    for command in ("murphy", "decompose"):
        figure = tmp_path / f"{command}.png"
        assert main([command, *map(str, paths), *COLUMNS, "--plot", str(figure)]) == 0
        assert figure.read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()


@pytest.mark.parametrize("command", ["murphy", "decompose"])
def test_a_huge_prediction_draws_without_a_warning_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    # Matplotlib's tick spacing overflows on an axis up to 1e308; the figure
    # is written and stderr stays empty (warnings are errors in the tests).
    path = tmp_path / "huge.parquet"
    pl.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0],
            "p": [1.0, 2.0, 3.0, 4.0],
            "q": [2.0, 2.0, 3.0, 1e308],
        }
    ).write_parquet(path)
    figure = tmp_path / "figure.png"
    args = [command, str(path), "--actual", "y", "--predicted", "p"]
    status = main([*args, "--predicted", "q", "--plot", str(figure), "-o", os.devnull])
    assert (status, capsys.readouterr().err) == (0, "")
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_evaluate_prints_the_worst_rows_after_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _files(tmp_path)
    status = main(
        ["evaluate", *map(str, paths), *COLUMNS, "--worst", "2", "-f", "markdown"]
    )
    out = capsys.readouterr().out
    assert status == 0
    report, worst = out.split("**The 2 largest squared errors per model:**")
    assert "| mean " in report
    rows = [line for line in worst.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 4  # the header and two rows per model
    want = polars_l2.worst(real_data.diabetes(), "y", ["mean", "median"], k=2)
    assert [line.split("|")[-4].strip() for line in rows[1:]] == want["model"].to_list()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--worst", "2", "-f", "csv"], "--worst prints a second table"),
        (["evaluate", "--worst", "0"], "--worst must be a positive number"),
        (["worst", "--plot", "x.png"], "--plot: worst draws no figure"),
        (["murphy", "--thetas", "3,1"], "thetas must be strictly increasing"),
        (["bias", "--feature", "nope"], "column 'nope' not found"),
        # One value without a comma is a count, never silently one threshold.
        (["murphy", "--thetas", "2.5"], "must be a whole number (a count)"),
        (["bias", "--feature", "bmi", "--bins", "-1"], "(one value: -1,)"),
        (["decompose", "--bins", "2.5"], "or values separated by commas"),
        # An empty value is a mistake, not a value left out.
        (["murphy", "--thetas", "1,,2"], "must be numbers separated by commas"),
        (["bias", "--feature", "bmi", "--bins", ",1"], "numbers separated by commas"),
        (["worst", "-f", "html"], "invalid choice: 'html'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    paths = _files(tmp_path)
    result = inline(capsys, args[0], *paths, *COLUMNS, *args[1:])
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


#: Each command that reads rows across files, and the column it reads.
_READS = {
    "murphy": (["--actual", "y", "--predicted", "p", "--predicted", "q"], "q"),
    "decompose": (["--actual", "y", "--predicted", "p", "--by", "g"], "g"),
    "worst": (["--actual", "y", "--predicted", "p", "--by", "g"], "g"),
    "bias": (["--actual", "y", "--predicted", "p", "--feature", "q"], "q"),
    "compare": (
        ["--actual", "y", "--baseline", "p", "--candidate", "q", "--cluster", "g"],
        "q",
    ),
}


@pytest.mark.parametrize("command", list(_READS))
def test_a_file_without_a_column_read_is_refused_not_filled_with_nulls(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, dropped = _READS[command]
    rows = pl.DataFrame(
        {
            "g": ["a", "b"] * 20,
            "y": [float(i % 7) for i in range(40)],
            "p": [float(i % 5) for i in range(40)],
            "q": [float(i % 3) for i in range(40)],
        }
    )
    whole, lacking = tmp_path / "whole.parquet", tmp_path / "lacking.parquet"
    rows.write_parquet(whole)
    rows.drop(dropped).write_parquet(lacking)
    assert main([command, str(whole), *args, "--format", "csv"]) == 0
    capsys.readouterr()
    status = main([command, str(whole), str(lacking), *args, "--format", "csv"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "lacking.parquet: " in line
    assert f"column {dropped!r} not found" in line


@pytest.mark.parametrize(
    ("command", "args", "wanted", "names"),
    [
        ("worst", ["-k", "3"], "sq_error", []),
        ("decompose", [], "score", []),
        ("murphy", ["--thetas", "4"], "score", ["theta"]),
        (
            "murphy",
            ["--thetas", "4", "--predicted", "median", "--baseline", "mean"],
            "score",
            ["baseline", "theta"],
        ),
        ("bias", ["--feature", "bmi"], "bias", ["bin_low", "bin_high"]),
    ],
)
def test_columns_picks_the_subcommand_s_own_columns(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    command: str,
    args: list[str],
    wanted: str,
    names: list[str],
) -> None:
    paths = _files(tmp_path)
    base = [command, *map(str, paths), "--actual", "y", "--predicted", "mean", *args]
    whole = _json(capsys, *base)
    picked = _json(capsys, *base, "--columns", wanted)
    # What tells the rows apart stays: the model, and a Murphy diagram's θ
    # (and baseline) or a bias test's bin (the worst rows are rows).
    assert picked.columns == ["model", *names, wanted]
    if command != "worst":
        assert picked.select("model", *names).is_unique().all()
    # Naming a column always shown too changes nothing.
    named = _json(capsys, *base, "--columns", ",".join(["model", *names, wanted]))
    assert named.columns == picked.columns
    # The streaming engine may sum in another order from one run to the next.
    assert picked[wanted].to_list() == pytest.approx(whole[wanted].to_list(), rel=1e-12)
    # A column the table lacks is refused in one line, listing the columns.
    assert main([*base, "--columns", "nonesuch"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "no column 'nonesuch'" in line
    assert wanted in line


@pytest.mark.parametrize("command", ["murphy", "decompose", "worst", "bias"])
def test_html_is_offered_only_where_it_is_written(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "html" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["murphy", "--thetas", "3,1"], "--thetas"),
        (["murphy", "--thetas", "1"], "--thetas"),
        (["decompose", "--bins", "3,2"], "--bins"),
        (["worst", "-k", "0"], "-k"),
        (["bias", "--feature", "bmi", "--min-n", "-1"], "--min-n"),
        (["bias", "--feature", "bmi", "--bins", "2,1"], "--bins"),
    ],
)
def test_a_refused_option_is_named_by_its_flag_not_said_of_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    paths = _files(tmp_path)
    result = inline(capsys, args[0], paths[0], *COLUMNS, *args[1:])
    assert result.returncode == 2
    assert result.stdout == ""
    # Said by argparse (the option's type) or after it (the library's rule).
    said = rf"^polars-l2( {args[0]})?: error: (argument )?{flag}:? must be "
    assert re.match(said, result.stderr), result.stderr
    assert result.stderr.count("\n") == 1
    # Not the library's keyword, the file, or Python's None.
    for word in ("a.parquet", "min_n", "None"):
        assert word not in result.stderr

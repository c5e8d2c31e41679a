"""``polars-l2 compare``: the command gives polars_l2.compare's table."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2
from polars_l2.cli import main
from tests.test_cli import inline

if TYPE_CHECKING:
    from pathlib import Path

    from polars_l2.typing import Loss


def make_data(seed: int, n: int = 900) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    return pl.DataFrame(
        {
            "region": rng.choice(["north", "south", "east"], n),
            "day": rng.integers(0, 30, n),
            "y": y,
            "old": y + rng.normal(0, 1.0, n),
            "new": y + rng.normal(0, 0.8, n),
            # Worse everywhere: its errors are twice the old model's.
            "bad": y + rng.normal(0, 2.0, n),
        }
    )


_ERRORS: list[str] = []


def run_json(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, pl.DataFrame | None]:
    """Run the command; its stderr is kept in ``_ERRORS[-1]``."""
    status = main(["compare", *map(str, args), "--format", "json"])
    captured = capsys.readouterr()
    _ERRORS.append(captured.err)
    if not captured.out:
        return status, None
    return status, pl.DataFrame(json.loads(captured.out), infer_schema_length=None)


def same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """JSON has no dtypes: compare values, key columns as read."""
    assert got.columns == want.columns
    assert_frame_equal(got, want, check_dtypes=False, rel_tol=1e-9, abs_tol=1e-12)


def test_one_file_json_equals_the_python_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = make_data(0)
    df.write_parquet(tmp_path / "data.parquet")
    status, got = run_json(
        capsys,
        tmp_path / "data.parquet",
        "--actual", "y", "--baseline", "old",
        "--candidate", "new", "--candidate", "bad",
        "--by", "region",
    )  # fmt: skip
    assert status == 0
    assert got is not None
    want = polars_l2.compare(df, "y", "old", ["new", "bad"], by="region")
    same(got, want)


def test_several_files_and_states_equal_the_python_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = [make_data(seed, 400) for seed in (1, 2, 3)]
    for i, part in enumerate(parts):
        part.write_csv(tmp_path / f"part{i}.csv")
    state = tmp_path / "_state.parquet"
    common = ["--actual", "y", "--baseline", "old", "--candidate", "new"]
    status, first = run_json(
        capsys, tmp_path / "part0.csv", tmp_path / "part1.csv", *common,
        "--by", "region", "--save-state", state,
    )  # fmt: skip
    assert status == 0
    assert first is not None
    want = polars_l2.compare(pl.concat(parts[:2]), "y", "old", "new", by="region")
    same(first, want)
    status, got = run_json(
        capsys, tmp_path / "part2.csv", *common, "--by", "region", "--state", state
    )
    assert status == 0
    assert got is not None
    same(got, polars_l2.compare(pl.concat(parts), "y", "old", "new", by="region"))


def test_fail_if_worse_exits_3_on_a_worse_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_data(4).write_parquet(tmp_path / "data.parquet")
    args: list[str | Path] = [tmp_path / "data.parquet", "--actual", "y"]
    args += ["--baseline", "old"]
    status, worse = run_json(capsys, *args, "--candidate", "bad", "--fail-if-worse")
    assert worse is not None
    assert "worse" in worse["verdict"].to_list()
    assert status == 3
    status, better = run_json(capsys, *args, "--candidate", "new", "--fail-if-worse")
    assert better is not None
    assert "worse" not in better["verdict"].to_list()
    assert status == 0
    # Without the flag, a worse model is a result, not a failure.
    assert run_json(capsys, *args, "--candidate", "bad")[0] == 0


def test_cluster_and_adjust_reach_the_function(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = make_data(5)
    df.write_parquet(tmp_path / "data.parquet")
    status, got = run_json(
        capsys,
        tmp_path / "data.parquet",
        "--actual", "y", "--baseline", "old", "--candidate", "new",
        "--by", "region", "--cluster", "day", "--adjust", "bh",
        "--confidence", "0.9", "--min-n", "10",
    )  # fmt: skip
    assert status == 0
    assert got is not None
    want = polars_l2.compare(
        df,
        "y",
        "old",
        "new",
        by="region",
        cluster="day",
        adjust="bh",
        confidence=0.9,
        min_n=10,
    )
    same(got, want)
    status, _ = run_json(
        capsys, tmp_path / "data.parquet", "--actual", "y", "--baseline", "old",
        "--candidate", "new", "--cluster", "day", "--save-state",
        tmp_path / "_s.parquet",
    )  # fmt: skip
    assert status == 2
    assert "--cluster needs the data rows" in _ERRORS[-1]


def test_plot_is_a_forest_plot_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    make_data(6).write_parquet(tmp_path / "data.parquet")
    plot = tmp_path / "forest.png"
    status, _ = run_json(
        capsys, tmp_path / "data.parquet", "--actual", "y", "--baseline", "old",
        "--candidate", "new", "--by", "region", "--plot", plot,
    )  # fmt: skip
    assert status == 0
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_bad_input_is_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_data(7).write_parquet(tmp_path / "data.parquet")
    status, _ = run_json(
        capsys, tmp_path / "data.parquet", "--actual", "y", "--baseline", "old",
        "--candidate", "missing",
    )  # fmt: skip
    assert status == 2
    err = _ERRORS[-1]
    assert "'missing' not found" in err
    assert len(err.strip().splitlines()) == 1


def test_a_saved_comparison_counts_each_file_once_and_refuses_other_states(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = [make_data(seed, 400) for seed in (4, 5)]
    for i, part in enumerate(parts):
        part.write_parquet(tmp_path / f"part{i}.parquet")
    state = tmp_path / "_state.parquet"
    common = ["--actual", "y", "--baseline", "old", "--candidate", "new"]
    files = [tmp_path / "part0.parquet", tmp_path / "part1.parquet"]
    runs: list[list[str | Path]] = [[], ["--state", state]]
    for extra in runs:
        # The second run finds both files in the state's ledger.
        status, got = run_json(capsys, *files, *common, *extra, "--save-state", state)
        assert status == 0, _ERRORS[-1]
        assert got is not None
        same(got, polars_l2.compare(pl.concat(parts), "y", "old", "new"))
    assert _ERRORS[-1].count("already counted in --state") == 2
    # A state evaluated without the baseline has no paired moments.
    plain = tmp_path / "_plain.parquet"
    main(["evaluate", str(files[0]), "--actual", "y", "--predicted", "old",
          "--predicted", "new", "--save-state", str(plain)])  # fmt: skip
    capsys.readouterr()
    status, got = run_json(capsys, files[1], *common, "--state", plain)
    assert status == 2
    assert got is None
    assert _ERRORS[-1].count("\n") == 1
    assert "different baselines" in _ERRORS[-1]


def test_repeated_losses_equal_the_python_result_on_both_routes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = [make_data(seed, 300) for seed in (4, 5)]
    for i, part in enumerate(parts):
        part.write_parquet(tmp_path / f"part{i}.parquet")
    args = [
        "--actual", "y", "--baseline", "old", "--candidate", "new", "--by", "region",
        "--loss", "absolute", "--loss", "huber", "--huber-delta", "1.5",
    ]  # fmt: skip
    whole = pl.concat(parts)
    want = polars_l2.compare(
        whole, "y", "old", "new", by="region", loss=["absolute", "huber"],
        huber_delta=1.5,
    )  # fmt: skip
    status, got = run_json(capsys, tmp_path / "part0.parquet", *args)
    assert status == 0
    assert got is not None
    same(
        got,
        polars_l2.compare(
            parts[0], "y", "old", "new", by="region", loss=["absolute", "huber"],
            huber_delta=1.5,
        ),
    )  # fmt: skip
    # Several files: merged states built with both losses.
    status, got = run_json(
        capsys, tmp_path / "part0.parquet", tmp_path / "part1.parquet", *args
    )
    assert status == 0
    assert got is not None
    same(got, want)


def test_huber_without_its_delta_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_data(6, 50).write_parquet(tmp_path / "data.parquet")
    status, _ = run_json(
        capsys, tmp_path / "data.parquet",
        "--actual", "y", "--baseline", "old", "--candidate", "new", "--loss", "huber",
    )  # fmt: skip
    assert status == 2
    assert "needs --huber-delta" in _ERRORS[-1]
    assert _ERRORS[-1].count("\n") == 1


@pytest.mark.parametrize(
    ("candidates", "said"),
    [
        (["old"], "--candidate 'old' is the --baseline"),
        (["new", "old"], "--candidate 'old' is the --baseline"),
        (["new", "new"], "--candidate names 'new' more than once"),
    ],
)
def test_a_candidate_that_is_the_baseline_or_named_twice_is_one_line(
    candidates: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_data(6, 50).write_parquet(tmp_path / "data.parquet")
    named = [arg for c in candidates for arg in ("--candidate", c)]
    status, _ = run_json(
        capsys, tmp_path / "data.parquet", "--actual", "y", "--baseline", "old", *named
    )
    assert status == 2
    assert said in _ERRORS[-1]
    assert "evaluate" not in _ERRORS[-1]
    assert _ERRORS[-1].count("\n") == 1


def test_a_saved_comparison_is_compared_again_from_its_state_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = make_data(11)
    df.write_parquet(tmp_path / "data.parquet")
    state = tmp_path / "_state.parquet"
    status, first = run_json(
        capsys, tmp_path / "data.parquet", "--actual", "y", "--baseline", "old",
        "--candidate", "new", "--candidate", "bad", "--by", "region",
        "--save-state", state,
    )  # fmt: skip
    assert status == 0
    assert first is not None
    want = polars_l2.compare(df, "y", "old", ["new", "bad"], by="region")
    # The baseline and the candidates come from the state, in its order, or
    # the baseline alone (the candidates given).
    for given in ([], ["--candidate", "new", "--candidate", "bad"]):
        status, got = run_json(capsys, "--state", state, *given)
        assert status == 0, _ERRORS[-1]
        assert got is not None
        same(got, want)
    # Refused in one line: another baseline; a state without one; no state.
    plain = tmp_path / "plain.parquet"
    assert main(["evaluate", str(tmp_path / "data.parquet"), "--actual", "y",
                 "--predicted", "old", "--save-state", str(plain)]) == 0  # fmt: skip
    capsys.readouterr()
    refusals: list[tuple[list[str | Path], str]] = [
        (["--state", state, "--baseline", "new"], "differs from the --state"),
        (["--state", plain], "built without a baseline"),
        ([tmp_path / "data.parquet", "--actual", "y", "--baseline", "old"],
         "required without --state"),
    ]  # fmt: skip
    for args, message in refusals:
        status, got = run_json(capsys, *args)
        assert status == 2
        assert got is None
        assert message in _ERRORS[-1]
        assert _ERRORS[-1].count("\n") == 1


def test_states_that_measured_differently_are_refused_even_when_one_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every state here counted the same file: all but the first would be
    # skipped as counted already, whatever each measured.
    make_data(12).write_parquet(tmp_path / "data.parquet")
    columns = ["--actual", "y", "--by", "region"]
    pair = ["--baseline", "old", "--candidate", "new"]
    saved = {
        "plain": ["compare", *columns, *pair],
        "weighted": ["compare", *columns, *pair, "--weight", "day"],
        "losses": [
            "compare",
            *columns,
            *pair,
            "--loss",
            "squared",
            "--loss",
            "absolute",
        ],
        "no baseline": [
            "evaluate",
            *columns,
            "--predicted",
            "old",
            "--predicted",
            "new",
        ],
    }
    for name, args in saved.items():
        path = tmp_path / f"{name}.parquet"
        data = str(tmp_path / "data.parquet")
        assert main([args[0], data, *args[1:], "--save-state", str(path)]) == 0
    capsys.readouterr()
    refusals = {
        "weighted": "measured something else than",
        "losses": "save every state with the same --loss and --huber-delta",
        "no baseline": "save every state with the same --baseline",
    }
    for name, message in refusals.items():
        for first, second in (("plain", name), (name, "plain")):
            status, got = run_json(
                capsys, "--state", tmp_path / f"{first}.parquet",
                "--state", tmp_path / f"{second}.parquet",
            )  # fmt: skip
            assert status == 2, (first, second, _ERRORS[-1])
            assert got is None
            assert message in _ERRORS[-1]
            assert _ERRORS[-1].count("\n") == 1
            assert "=" not in _ERRORS[-1]  # no Python keyword


def test_a_saved_comparison_keeps_its_losses_and_huber_delta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = make_data(13)
    df.write_parquet(tmp_path / "data.parquet")
    state = tmp_path / "_state.parquet"
    losses = ["--loss", "squared", "--loss", "huber", "--huber-delta", "2"]
    status, _ = run_json(
        capsys, tmp_path / "data.parquet", "--actual", "y", "--baseline", "old",
        "--candidate", "new", "--by", "region", *losses, "--save-state", state,
    )  # fmt: skip
    assert status == 0, _ERRORS[-1]

    def want(loss: list[Loss]) -> pl.DataFrame:
        return polars_l2.compare(
            df, "y", "old", "new", by="region", loss=loss, huber_delta=2.0
        )

    # Every loss the state keeps, or one of them, with the state's delta.
    cases: list[tuple[list[str], list[Loss]]] = [
        ([], ["squared", "huber"]),
        (["--loss", "huber"], ["huber"]),
    ]
    for given, loss in cases:
        status, got = run_json(capsys, "--state", state, *given)
        assert status == 0, _ERRORS[-1]
        assert got is not None
        same(got, want(loss))
    status, got = run_json(capsys, "--state", state, "--loss", "absolute")
    assert status == 2
    assert "save it with a --loss for every loss" in _ERRORS[-1]


def test_min_n_is_read_as_evaluate_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_data(14).write_parquet(tmp_path / "data.parquet")
    pair = ["--actual", "y", "--baseline", "old", "--candidate", "new"]
    for value in ("-3", "x"):
        data = tmp_path / "data.parquet"
        result = inline(capsys, "compare", data, *pair, "--min-n", value)
        assert result.returncode == 2
        assert result.stdout == ""
        assert "argument --min-n: must be a non-negative integer" in result.stderr
        assert "min_n" not in result.stderr

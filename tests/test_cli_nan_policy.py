"""``--nan-policy`` on the command line: ``nan_policy=`` of every function.

Every subcommand that reads data rows takes it, gives what the Python
function gives with the same ``nan_policy``, and a state keeps it: a state
built with one policy is continued with it, and another is refused.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest

import polars_l2
from polars_l2.cli import _html, build_parser
from tests.test_cli import assert_one_line_error, from_csv, inline, run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from polars_l2.typing import NanPolicy

NAN = float("nan")


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    """Two models, NaN in the actual and in one model, two segments."""
    rng = np.random.default_rng(3)
    n = 400
    y = rng.normal(50.0, 5.0, n)
    frame = pl.DataFrame(
        {
            "g": rng.choice(["a", "b"], n),
            "y": y,
            "p": y + rng.normal(0.0, 2.0, n),
            "q": y + rng.normal(1.0, 3.0, n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    row = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(row % 19 == 4).then(NAN).otherwise(pl.col("y")).alias("y"),
        pl.when(row % 13 == 2).then(NAN).otherwise(pl.col("p")).alias("p"),
    )


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory, data: pl.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("nan") / "data.parquet"
    data.write_parquet(path)
    return path


#: Each subcommand's arguments, its Python function on the same data, and
#: the columns compared.
CASES: dict[str, tuple[list[str], Callable[..., Any], list[str]]] = {
    "evaluate": (
        ["--actual", "y", "--predicted", "p", "--predicted", "q", "--by", "g"],
        lambda df, **kw: polars_l2.report(df, "y", ["p", "q"], by="g", **kw),
        ["n", "mse", "rmse_low", "r2", "top_1pct_share"],
    ),
    "compare": (
        ["--actual", "y", "--baseline", "q", "--candidate", "p", "--by", "g"],
        lambda df, **kw: polars_l2.compare(df, "y", "q", "p", by="g", **kw),
        ["n", "loss_diff", "p_value"],
    ),
    "worst": (
        ["--actual", "y", "--predicted", "p", "-k", "5"],
        lambda df, **kw: polars_l2.worst(df, "y", "p", k=5, **kw),
        ["sq_error", "sse_share"],
    ),
    "decompose": (
        ["--actual", "y", "--predicted", "q", "--weight", "w", "--bins", "5"],
        lambda df, **kw: polars_l2.decompose(df, "y", "q", weight="w", bins=5, **kw),
        ["n", "miscalibration", "score"],
    ),
    "murphy": (
        ["--actual", "y", "--predicted", "p", "--thetas", "40,50,60"],
        lambda df, **kw: polars_l2.murphy(
            df, "y", "p", thetas=[40.0, 50.0, 60.0], **kw
        ),
        ["score"],
    ),
    "bias": (
        ["--actual", "y", "--predicted", "p", "--feature", "q", "--bins", "3"],
        lambda df, **kw: polars_l2.bias_by(df, "y", "p", "q", bins=3, **kw),
        ["n", "bias"],
    ),
}


@pytest.mark.parametrize("policy", ["omit", "propagate", None])
@pytest.mark.parametrize("command", list(CASES))
def test_the_command_gives_what_the_function_gives_with_the_same_policy(
    command: str,
    policy: NanPolicy | None,
    parquet: Path,
    data: pl.DataFrame,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args, function, columns = CASES[command]
    chosen = [] if policy is None else ["--nan-policy", policy]
    result = inline(capsys, command, parquet, *args, *chosen, "-f", "csv")
    assert result.returncode == 0, result.stderr
    got = from_csv(result.stdout)
    want = function(data, nan_policy=policy or "propagate")
    want = want.collect() if isinstance(want, pl.LazyFrame) else want
    assert got.height == want.height
    for name in columns:
        np.testing.assert_allclose(
            got[name].cast(pl.Float64).to_numpy(),
            want[name].cast(pl.Float64).to_numpy(),
            rtol=1e-12,
            err_msg=f"{command} {policy} {name}",
        )


def test_the_policies_differ_on_these_data(data: pl.DataFrame) -> None:
    # Otherwise the test above could not tell them apart.
    omit, propagate = (
        polars_l2.report(data, "y", "p", nan_policy=policy)["mse"][0]
        for policy in ("omit", "propagate")
    )
    assert np.isnan(propagate)
    assert not np.isnan(omit)


def test_a_state_keeps_its_policy_and_refuses_another(
    parquet: Path, data: pl.DataFrame, tmp_path: Path
) -> None:
    state = tmp_path / "state.parquet"
    columns = ["--actual", "y", "--predicted", "p", "--by", "g"]
    saved = run(
        "evaluate", parquet, *columns, "--nan-policy", "omit", "--save-state", state
    )
    assert saved.returncode == 0, saved.stderr
    # Continued without the option, the state's policy holds.
    again = run("evaluate", "--state", state, "-f", "csv", "--columns", "n,mse")
    assert again.returncode == 0, again.stderr
    want = polars_l2.report(data, "y", "p", by="g", nan_policy="omit")
    np.testing.assert_allclose(from_csv(again.stdout)["mse"], want["mse"], rtol=1e-12)
    refused = run(
        "evaluate", "--state", state, parquet, *columns, "--nan-policy", "propagate"
    )
    assert_one_line_error(refused, r"nan_policy 'omit' and 'propagate'")


def test_a_policy_outside_the_choices_is_refused(
    parquet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = inline(
        capsys,
        "evaluate",
        parquet,
        "--actual",
        "y",
        "--predicted",
        "p",
        "--nan-policy",
        "raise",
    )
    assert result.returncode == 2
    assert "--nan-policy: invalid choice: 'raise'" in result.stderr


def test_the_html_page_lists_every_option_that_changes_it() -> None:
    parser = build_parser()
    commands = next(
        action
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    shown = {attribute for attribute, _ in _html.OPTIONS}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.dest in shown | _html.NOT_SHOWN, (name, action.dest)


def test_the_html_page_names_the_policy(
    parquet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("great_tables")
    pytest.importorskip("matplotlib")
    args = ["--actual", "y", "--predicted", "p", "--nan-policy", "omit"]
    result = inline(
        capsys, "evaluate", parquet, *args, "--variance", "kish", "-f", "html"
    )
    assert result.returncode == 0, result.stderr
    options = result.stdout.split('<section id="options">')[1].split("</section>")[0]
    assert "--nan-policy" in options
    assert "omit" in options
    assert "--variance" in options
    assert "kish" in options
    assert "--overall" not in options  # a flag not given says nothing

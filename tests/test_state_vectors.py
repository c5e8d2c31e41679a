"""Vector targets in states: each output a segment, as in the report (class 9)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import polars_l2
from polars_l2 import cli
from tests.test_state import assert_close, chunks, comparable

if TYPE_CHECKING:
    from pathlib import Path


WIDTH = 3


def vectors(n: int, seed: int, *, kind: type[pl.DataType] = pl.Array) -> pl.DataFrame:
    """Vector actual and two models, a key, weights; null vectors and elements."""
    rng = np.random.default_rng(seed)

    def column(values: np.ndarray) -> list[list[float | None] | None]:
        rows: list[list[float | None] | None] = []
        for row in values.tolist():
            if rng.random() < 0.1:
                rows.append(None)  # a missing vector: the row counts nowhere
            else:
                rows.append([None if rng.random() < 0.1 else v for v in row])
        return rows

    y = rng.normal(100.0, 10.0, (n, WIDTH))
    dtype = pl.Array(pl.Float64, WIDTH) if kind is pl.Array else pl.List(pl.Float64)
    return pl.DataFrame(
        {
            "g": rng.choice([2, 10, 1], n).tolist(),
            "y": column(y),
            "a": column(y + rng.normal(1.0, 3.0, (n, WIDTH))),
            "b": column(y + rng.standard_t(3, (n, WIDTH))),
            "w": rng.uniform(0.5, 2.0, n).tolist(),
        },
        schema={"g": pl.Int64, "y": dtype, "a": dtype, "b": dtype, "w": pl.Float64},
    )


def test_the_state_of_vector_columns_has_an_output_key() -> None:
    v = pl.DataFrame(
        {"y": [[1.0, 2.0], [3.0, 4.0]], "p": [[1.5, 2.0], [3.0, 3.0]]},
        schema={"y": pl.Array(pl.Float64, 2), "p": pl.Array(pl.Float64, 2)},
    )
    state = polars_l2.state(v, "y", "p")
    assert state.select("model", "output", "n").rows() == [("p", 0, 2), ("p", 1, 2)]
    got = polars_l2.finalize(state)
    # Output 0: errors 0.5 and 0; output 1: errors 0 and 1 (exact fractions).
    assert got["mse"].to_list() == [0.125, 0.5]
    assert_close(comparable(got), comparable(polars_l2.report(v, "y", "p")))


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(0, 80), max_size=4),
    weighted=st.booleans(),
    kind=st.sampled_from([pl.Array, pl.List]),
)
def test_merged_vector_states_finalise_to_the_report_per_output(
    n: int, seed: int, cuts: list[int], *, weighted: bool, kind: type[pl.DataType]
) -> None:
    df = vectors(n, seed, kind=kind)
    weight = "w" if weighted else None
    states = [
        polars_l2.state(part, "y", ["a", "b"], by="g", weight=weight)
        for part in chunks(df, cuts)
    ]
    merged = polars_l2.finalize(polars_l2.merge_states(states), weighted=weighted)
    whole = polars_l2.report(df, "y", ["a", "b"], by="g", weight=weight)
    assert merged.columns == whole.columns
    assert merged.schema == whole.schema
    assert_close(comparable(merged), comparable(whole))


def test_a_lazy_vector_state_stays_lazy() -> None:
    df = vectors(20, 1)
    lazy = polars_l2.state(df.lazy(), "y", "a", by="g")
    assert isinstance(lazy, pl.LazyFrame)
    # Up to rounding: Polars' parallel sums may add in another order.
    assert_close(lazy.collect(), polars_l2.state(df, "y", "a", by="g"), rel=1e-12)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def test_the_command_line_merges_vector_files_and_saves_their_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = vectors(60, 1), vectors(50, 2)
    first.write_parquet(tmp_path / "first.parquet")
    second.write_parquet(tmp_path / "second.parquet")
    state = tmp_path / "state.parquet"
    columns = ["--actual", "y", "--predicted", "a", "--predicted", "b", "--by", "g"]
    both = run_cli(
        capsys,
        "evaluate",
        tmp_path / "first.parquet",
        tmp_path / "second.parquet",
        *columns,
        "--weight",
        "w",
        "--save-state",
        state,
        "-f",
        "csv",
    )
    whole = polars_l2.report(
        pl.concat([first, second]), "y", ["a", "b"], by="g", weight="w"
    )
    got = pl.read_csv(io.StringIO(both))
    assert (
        got.select("model", "g", "output", "n").rows()
        == whole.select("model", "g", "output", "n").rows()
    )
    assert_close(
        comparable(got).select(pl.col(pl.Float64)),
        comparable(whole).select(pl.col(pl.Float64)),
    )
    # The saved state alone gives the same report, with typed keys.
    saved = pl.read_parquet(state)
    assert saved.schema["output"] == pl.Int64
    assert saved.schema["g"] == pl.Int64
    again = run_cli(capsys, "evaluate", "--state", state, "-f", "csv")
    assert again == both
    # One vector file with --save-state: the state of that file.
    run_cli(
        capsys,
        "evaluate",
        tmp_path / "first.parquet",
        *columns,
        "--save-state",
        tmp_path / "one.parquet",
        "-f",
        "csv",
    )
    one = polars_l2.finalize(pl.read_parquet(tmp_path / "one.parquet"))
    assert_close(
        comparable(one), comparable(polars_l2.report(first, "y", ["a", "b"], by="g"))
    )

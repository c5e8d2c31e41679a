"""A state says what it measured, is checked when read, and merges only its like.

References are independent of the code under test: row counts are counted
from the data, the MSE is :func:`math.fsum` of the squared differences, and
each tampered state is a valid state with one value or marker changed.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import polars_l2
from polars_l2 import _state

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from polars_l2.typing import NanPolicy

DAY = pl.DataFrame(
    {
        "g": ["a", "b", "a", "b"],
        "y": [1.0, 2.0, 3.0, 4.0],
        "yi": [1.0, 1.0, 2.0, 2.0],
        "p": [1.5, 2.0, 2.0, 5.0],
        "q": [1.0, 2.5, 3.0, 3.0],
        "w": [1.0, 2.0, 0.5, 1.0],
        "w2": [2.0, 2.0, 1.0, 1.0],
    }
)


def day_state(**options: Any) -> pl.DataFrame:
    arguments: dict[str, Any] = {"predicted": "p", "by": "g", **options}
    actual = str(arguments.pop("actual", "y"))
    state: pl.DataFrame = polars_l2.state(DAY, actual, **arguments)
    return state


# --- what a state records ---------------------------------------------------


def test_a_state_records_what_it_measured() -> None:
    plain = day_state(predicted=["p", "q"])
    assert plain["state_version"].unique().to_list() == [polars_l2.STATE_VERSION]
    assert plain["actual"].unique().to_list() == ["y"]
    assert plain["weight"].null_count() == plain.height
    assert plain["weighted"].unique().to_list() == [False]
    assert plain["nan_policy"].unique().to_list() == ["propagate"]
    assert plain["model"].unique(maintain_order=True).to_list() == ["p", "q"]
    weighted = day_state(weight="w", nan_policy="omit")
    assert weighted["weight"].unique().to_list() == ["w"]
    assert weighted["weighted"].unique().to_list() == [True]
    assert weighted["nan_policy"].unique().to_list() == ["omit"]
    # The merged state records the same.
    merged = polars_l2.merge_states([weighted, weighted])
    assert merged.select("actual", "weight", "nan_policy").unique().rows() == [
        ("y", "w", "omit")
    ]


def test_the_schema_names_the_recorded_columns() -> None:
    schema = polars_l2.state_schema({"g": pl.String})
    assert schema.names[:6] == [
        "state_version",
        "actual",
        "model",
        "g",
        "weight",
        "weighted",
    ]
    assert schema.field("nan_policy").type == pa.string()
    assert schema.metadata == {
        b"polars_l2.state_version": str(polars_l2.STATE_VERSION).encode()
    }
    state = day_state()
    assert state.to_arrow().cast(schema).schema.names == schema.names


@pytest.mark.parametrize("name", ["actual", "weight", "nan_policy"])
def test_recorded_names_are_reserved_for_keys(name: str) -> None:
    frame = DAY.with_columns(pl.col("g").alias(name))
    with pytest.raises(polars_l2.L2InputError, match=f"by column '{name}'"):
        polars_l2.state(frame, "y", "p", by=name)


# --- merges of states that measured different things ------------------------

DIFFERENT: dict[str, tuple[dict[str, object], dict[str, object], str]] = {
    "actual": ({}, {"actual": "yi"}, r"actual column 'y' and 'yi'"),
    "models": (
        {},
        {"predicted": ["p", "q"]},
        r"models \['p'\] and \['p', 'q'\].*allow_new_models=True",
    ),
    "nan_policy": (
        {},
        {"nan_policy": "omit"},
        r"nan_policy 'propagate' and 'omit'",
    ),
    "weighted": (
        {},
        {"weight": "w"},
        r"weighted and unweighted \(weight none and 'w'\)",
    ),
    "weight column": (
        {"weight": "w"},
        {"weight": "w2"},
        r"weight columns 'w' and 'w2'",
    ),
    "by columns": ({}, {"by": None}, r"different by columns"),
}


@pytest.mark.parametrize(
    ("first", "second", "pattern"), DIFFERENT.values(), ids=list(DIFFERENT)
)
def test_states_that_measured_something_else_are_refused(
    first: dict[str, object], second: dict[str, object], pattern: str
) -> None:
    one, other = day_state(**first), day_state(**second)
    with pytest.raises(polars_l2.L2InputError, match=pattern):
        polars_l2.merge_states([one, other])
    # Refused in any order and position, naming the state that differs.
    named = "state 3" if "by columns" in pattern else "state 3 measured something"
    for states in ([other, one], [one, one, other]):
        with pytest.raises(polars_l2.L2InputError) as caught:
            polars_l2.merge_states(states)
        assert "\n" not in str(caught.value)
    assert named in str(caught.value)


def test_a_new_model_joins_only_when_asked() -> None:
    old = day_state()  # model p only, on the first day
    new = day_state(predicted=["p", "q"])
    merged = polars_l2.merge_states([old, new], allow_new_models=True)
    n = {(m, g): count for m, g, count in merged.select("model", "g", "n").rows()}
    per_group = DAY.group_by("g").len().rows()
    for group, rows in per_group:
        assert n["p", group] == 2 * rows  # both days
        assert n["q", group] == rows  # only the day it joined
    q = merged.filter(model="q", g="a")
    rows = DAY.filter(g="a")
    expected = math.fsum(
        (b - a) ** 2 for a, b in zip(rows["y"], rows["q"], strict=True)
    )
    assert polars_l2.finalize(q)["mse"].item() == pytest.approx(expected / rows.height)


def test_an_empty_state_merges_with_any() -> None:
    empty = polars_l2.state(DAY.head(0), "y", "q", by="g", weight="w")
    full = day_state(weight="w")
    merged = polars_l2.merge_states([empty, full])
    assert (
        merged.select("model", "g", "n").rows() == full.select("model", "g", "n").rows()
    )


# --- reading checks the schema, the versions and the values -----------------


def tampered(change: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    return change(day_state(predicted=["p", "q"]))


def first_row(name: str, value: Any) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def change(frame: pl.DataFrame) -> pl.DataFrame:
        dtype = frame.schema[name]
        column = frame[name].scatter(0, value) if value is not None else None
        if column is None:
            column = frame[name].cast(dtype).scatter(0, None)
        return frame.with_columns(column)

    return change


TAMPERED: dict[str, tuple[Callable[[pl.DataFrame], pl.DataFrame], str]] = {
    "string n": (
        lambda f: f.with_columns(pl.col("n").cast(pl.String)),
        r"column 'n' has dtype String, not an integer dtype",
    ),
    "float version": (
        lambda f: f.with_columns(pl.col("state_version").cast(pl.Float64)),
        r"column 'state_version' has dtype Float64",
    ),
    "integer moment": (
        lambda f: f.with_columns(pl.col("error_mean").cast(pl.Int64)),
        r"column 'error_mean' has dtype Int64, not a float dtype",
    ),
    "string weighted": (
        lambda f: f.with_columns(pl.col("weighted").cast(pl.String)),
        r"column 'weighted' has dtype String, not a Boolean dtype",
    ),
    "negative n": (first_row("n", -5), r"column 'n' is negative \(1 row\)"),
    "null n": (first_row("n", None), r"column 'n' is null \(1 row\)"),
    "negative m2": (
        first_row("sq_error_m2", -1.0),
        r"column 'sq_error_m2' is negative",
    ),
    "negative actual m2": (
        first_row("actual_m2", -1e-3),
        r"column 'actual_m2' is negative",
    ),
    "weight sum not n": (
        first_row("weight_sum", 99.0),
        r"column 'weight_sum' differs from n, unweighted",
    ),
    "negative weight count": (
        first_row("negative_weight_count", 1),
        r"column 'negative_weight_count' is not 0, unweighted",
    ),
    "min above max": (
        first_row("actual_min", 1e9),
        r"column 'actual_min' exceeds actual_max",
    ),
    "negative max error": (
        first_row("abs_error_max", -1.0),
        r"column 'abs_error_max' is negative",
    ),
    "null model": (first_row("model", None), r"column 'model' is null"),
    "unknown nan policy": (
        lambda f: f.with_columns(nan_policy=pl.lit("ignore")),
        r"column 'nan_policy' is not 'propagate' or 'omit'",
    ),
    "version 0": (
        lambda f: f.with_columns(state_version=pl.lit(0, pl.Int64)),
        r"column 'state_version' holds 0, below 1",
    ),
    "without actual": (
        lambda f: f.drop("actual"),
        r"not a polars-l2 state: column\(s\) 'actual' missing",
    ),
}


@pytest.mark.parametrize(("change", "pattern"), TAMPERED.values(), ids=list(TAMPERED))
def test_a_tampered_state_is_refused_in_one_line(
    change: Callable[[pl.DataFrame], pl.DataFrame], pattern: str, tmp_path: Path
) -> None:
    bad = tampered(change)
    with pytest.raises(polars_l2.L2InputError, match=pattern) as caught:
        polars_l2.merge_states([day_state(predicted=["p", "q"]), bad])
    assert "\n" not in str(caught.value)
    with pytest.raises(polars_l2.L2InputError, match=pattern):
        polars_l2.finalize(bad)
    path = tmp_path / "bad.parquet"
    bad.write_parquet(path)
    with pytest.raises(polars_l2.L2InputError, match=r"'.*bad\.parquet': not a"):
        polars_l2.merge_states([path])


def test_a_weighted_state_with_negative_weights_is_possible() -> None:
    # Negative weights make weight sums and spreads of any sign: still a state.
    frame = DAY.with_columns(w=pl.Series([1.0, -3.0, 0.5, -1.0]))
    state = polars_l2.state(frame, "y", ["p", "q"], by="g", weight="w")
    merged = polars_l2.merge_states([state, state])
    assert (merged["weight_sum"] < 0).any()
    assert polars_l2.finalize(merged).height == 4


@pytest.mark.slow
# Each example builds every kind of state and checks each.
@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.floats(allow_infinity=False, width=32) | st.none(),
            st.floats(allow_infinity=False, width=32),
            st.floats(0, 10, width=32),
        ),
        max_size=12,
    ),
    st.sampled_from(["propagate", "omit"]),
    st.booleans(),
)
def test_every_state_polars_l2_builds_passes_its_checks(
    rows: list[tuple[str, float | None, float, float]],
    nan_policy: NanPolicy,
    weighted: bool,
) -> None:
    frame = pl.DataFrame(
        rows,
        schema={"g": pl.String, "y": pl.Float64, "p": pl.Float64, "w": pl.Float64},
        orient="row",
    )
    state = polars_l2.state(
        frame,
        "y",
        "p",
        by="g",
        weight="w" if weighted else None,
        nan_policy=nan_policy,
    )
    merged = polars_l2.merge_states([state, state.head(1), state])
    # The rows counted: actual and prediction present (not NaN when omitted),
    # and a weight that is not zero.
    used = ["y", "p", "w"] if weighted else ["y", "p"]
    counted = frame.drop_nulls(used)
    if nan_policy == "omit":
        counted = counted.filter(*(~pl.col(name).is_nan() for name in used))
    if weighted:
        counted = counted.filter(pl.col("w") != 0)
    first = sum(state.head(1)["n"])
    assert sum(merged["n"]) == 2 * counted.height + first


# --- version markers ---------------------------------------------------------


def write_with_version(frame: pl.DataFrame, path: Path, version: str) -> None:
    table = frame.to_arrow()
    table = table.replace_schema_metadata(
        {b"polars_l2.state_version": version.encode()}
    )
    pq.write_table(table, path)


@pytest.mark.parametrize(
    ("column", "metadata", "pattern"),
    [
        (1, "999", r"newer polars-l2 \(state version 999\)"),
        (3, "999", r"newer polars-l2 \(state version 999\)"),
        (3, "2", r"metadata says version 2 but column 'state_version' holds 3"),
        (3, "three", r"metadata polars_l2\.state_version='three' is not a version"),
    ],
)
def test_both_version_markers_are_checked(
    column: int, metadata: str, pattern: str, tmp_path: Path
) -> None:
    state = day_state().with_columns(state_version=pl.lit(column, pl.Int64))
    path = tmp_path / "state.parquet"
    write_with_version(state, path, metadata)
    with pytest.raises(polars_l2.L2InputError, match=pattern):
        polars_l2.merge_states([path])
    table = pq.read_table(path)
    with pytest.raises(polars_l2.L2InputError, match=pattern):
        polars_l2.merge_states([table])


def test_a_version_2_file_is_refused_naming_what_it_lacks(tmp_path: Path) -> None:
    old = day_state().drop("actual", "weight", "nan_policy", "abs_error_m2")
    old = old.with_columns(state_version=pl.lit(2, pl.Int64))
    path = tmp_path / "old.parquet"
    write_with_version(old, path, "2")
    with pytest.raises(polars_l2.L2InputError) as caught:
        polars_l2.merge_states([path, day_state()])
    message = str(caught.value)
    assert message.startswith(f"polars_l2.merge_states: {str(path)!r}: ")
    assert "state version 2, which lacks 'actual', 'weight', 'nan_policy'" in message


# --- the same state file twice ------------------------------------------------


def test_the_same_state_file_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    day_state().write_parquet(path)
    os.link(path, tmp_path / "hard.parquet")
    (tmp_path / "soft.parquet").symlink_to(path)
    for other in (
        str(path),
        tmp_path / "." / "s.parquet",
        tmp_path / "hard.parquet",
        tmp_path / "soft.parquet",
    ):
        with pytest.raises(polars_l2.L2InputError, match="given twice"):
            polars_l2.merge_states([path, other])


def test_measured_reads_what_a_state_recorded() -> None:
    record = _state.measured(day_state(predicted=["p", "q"], weight="w"))
    assert record == _state.Measured(
        actual="y",
        models=("p", "q"),
        keys=("g",),
        weight="w",
        weighted=True,
        nan_policy="propagate",
        per_output=False,
    )


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (pl.col("sq_error_w2m2") * -1 - 1.0, "sq_error_w2m2"),
        (pl.col("abs_error_diff_w2m2") * -1 - 1.0, "abs_error_diff_w2m2"),
        (pl.col("abs_error_diff_m2") * -1 - 1.0, "abs_error_diff_m2"),
        (pl.col("paired_abs_error_mean") * -1 - 1.0, "paired_abs_error_mean"),
        (pl.lit("squared,cubic"), "paired_losses"),
        (pl.lit("squared,squared"), "paired_losses"),
        (pl.lit(None, pl.String), "paired_losses"),
    ],
)
def test_impossible_paired_loss_values_are_refused_naming_the_column(
    change: pl.Expr, column: str
) -> None:
    df = pl.DataFrame(
        {
            "y": [1.0, 2.0, 4.0, 3.0],
            "a": [1.5, 2.0, 3.0, 3.5],
            "b": [1.0, 2.5, 4.5, 2.0],
        }
    )
    state = polars_l2.state(
        df, "y", ["a", "b"], baseline="a", loss=["squared", "absolute"]
    )
    broken = state.with_columns(
        pl.when(pl.col("model") == "b")
        .then(change)
        .otherwise(pl.col(column))
        .cast(state.schema[column])
        .alias(column)
    )
    with pytest.raises(polars_l2.L2InputError, match=f"column '{column}'"):
        polars_l2.merge_states([broken])


def test_a_huber_delta_without_huber_or_huber_without_one_is_refused() -> None:
    df = pl.DataFrame(
        {"y": [1.0, 2.0, 4.0], "a": [1.5, 2.0, 3.0], "b": [1.0, 2.5, 4.5]}
    )
    plain = polars_l2.state(df, "y", ["a", "b"], baseline="a")
    with pytest.raises(polars_l2.L2InputError, match="'huber_delta' is set without"):
        polars_l2.merge_states([plain.with_columns(huber_delta=pl.lit(1.0))])
    huber = polars_l2.state(
        df, "y", ["a", "b"], baseline="a", loss="huber", huber_delta=1.0
    )
    with pytest.raises(polars_l2.L2InputError, match="'huber_delta' is not a finite"):
        polars_l2.merge_states([huber.with_columns(huber_delta=pl.lit(-1.0))])

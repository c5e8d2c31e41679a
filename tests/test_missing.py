"""Which rows count: nulls, NaN, empty data, zero and negative weights."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl
import pytest

import polars_l2

if TYPE_CHECKING:
    from tests.conftest import Runner

NAN = float("nan")


def _metrics(**kwargs: object) -> list[pl.Expr]:
    return [
        polars_l2.sse("y", "p", **kwargs).alias("sse"),  # type: ignore[arg-type]
        polars_l2.mse("y", "p", **kwargs).alias("mse"),  # type: ignore[arg-type]
        polars_l2.rmse("y", "p", **kwargs).alias("rmse"),  # type: ignore[arg-type]
    ]


def test_a_row_counts_only_where_both_sides_are_present(run: Runner) -> None:
    df = pl.DataFrame({"y": [1.0, None, 3.0, 4.0], "p": [2.0, 2.0, None, 6.0]})
    out = run(df, lambda f: f.select(_metrics()))
    # Complete pairs: (1, 2) and (4, 6): errors 1 and 2.
    assert out.row(0) == (5.0, 2.5, math.sqrt(2.5))


def test_loss_is_null_where_either_side_is_null(run: Runner) -> None:
    df = pl.DataFrame({"y": [1.0, None, 3.0], "p": [2.0, 2.0, None]})
    out = run(df, lambda f: f.select(polars_l2.loss("y", "p")))
    assert out["y"].to_list() == [1.0, None, None]


def test_weights_count_on_the_same_rows_as_errors(run: Runner) -> None:
    df = pl.DataFrame(
        {
            "y": [1.0, None, 3.0, 4.0, 5.0],
            "p": [2.0, 2.0, 3.0, 6.0, 1.0],
            "w": [1.0, 100.0, 2.0, 3.0, None],
        }
    )
    out = run(df, lambda f: f.select(_metrics(weight="w")))
    # Counted rows: 0, 2, 3 (row 1 has no actual, row 4 no weight).
    sse = 1.0 * 1 + 2.0 * 0 + 3.0 * 4
    assert out.row(0) == (sse, sse / 6.0, math.sqrt(sse / 6.0))


@pytest.mark.parametrize(
    "df",
    [
        pl.DataFrame({"y": [], "p": []}, schema={"y": pl.Float64, "p": pl.Float64}),
        pl.DataFrame({"y": [None, 1.0], "p": [1.0, None]}),
    ],
    ids=["empty", "no-complete-pair"],
)
def test_no_counted_rows_gives_null(run: Runner, df: pl.DataFrame) -> None:
    out = run(df, lambda f: f.select(_metrics()))
    assert out.row(0) == (None, None, None)
    weighted = run(
        df.with_columns(w=pl.lit(1.0)), lambda f: f.select(_metrics(weight="w"))
    )
    assert weighted.row(0) == (None, None, None)


def test_zero_total_weight_gives_null(run: Runner) -> None:
    df = pl.DataFrame({"y": [1.0, 2.0], "p": [3.0, 5.0], "w": [0.0, 0.0]})
    out = run(df, lambda f: f.select(_metrics(weight="w")))
    assert out.row(0) == (None, None, None)


def test_zero_weights_keep_rows_with_other_weights(run: Runner) -> None:
    df = pl.DataFrame({"y": [1.0, 2.0], "p": [3.0, 5.0], "w": [0.0, 2.0]})
    out = run(df, lambda f: f.select(_metrics(weight="w")))
    assert out.row(0) == (18.0, 9.0, 3.0)


def test_a_negative_weight_gives_null_not_a_wrong_number(run: Runner) -> None:
    # Σw·e² / Σw here would be (4 - 2·9) / (1 - 2) = 14: a plausible-looking
    # but meaningless MSE. The package refuses to give a number.
    df = pl.DataFrame({"y": [1.0, 2.0], "p": [3.0, 5.0], "w": [1.0, -2.0]})
    out = run(df, lambda f: f.select(_metrics(weight="w")))
    assert out.row(0) == (None, None, None)


def test_a_negative_weight_on_an_uncounted_row_is_ignored(run: Runner) -> None:
    df = pl.DataFrame({"y": [1.0, None], "p": [3.0, 5.0], "w": [1.0, -2.0]})
    out = run(df, lambda f: f.select(_metrics(weight="w")))
    assert out.row(0) == (4.0, 4.0, 2.0)


def test_a_negative_weight_only_nulls_its_own_group() -> None:
    df = pl.DataFrame(
        {
            "g": ["a", "a", "b", "b"],
            "y": [1.0, 2.0, 1.0, 2.0],
            "p": [3.0, 5.0, 3.0, 5.0],
            "w": [1.0, -1.0, 1.0, 1.0],
        }
    )
    out = df.group_by("g").agg(polars_l2.mse("y", "p", weight="w")).sort("g")
    assert out["y"].to_list() == [None, 6.5]


@pytest.mark.parametrize(
    ("column", "value"), [("y", NAN), ("p", NAN), ("w", NAN), ("p", math.inf)]
)
def test_nan_propagates_by_default(run: Runner, column: str, value: float) -> None:
    df = pl.DataFrame(
        {"y": [1.0, 2.0, math.inf], "p": [3.0, 5.0, math.inf], "w": [1.0] * 3}
    )
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(value)
        .otherwise(pl.col(column))
        .alias(column)
    )
    out = run(df, lambda f: f.select(_metrics(weight="w"), u=polars_l2.mse("y", "p")))
    for name in ("sse", "mse", "rmse"):
        assert math.isnan(out[name].item()), name
    if column != "w":
        assert math.isnan(out["u"].item())


def test_nan_policy_omit_treats_nan_as_missing(run: Runner) -> None:
    df = pl.DataFrame(
        {
            "y": [1.0, NAN, 3.0, 4.0, math.inf],
            "p": [2.0, 2.0, NAN, 6.0, math.inf],
            "w": [1.0, 1.0, 1.0, NAN, 1.0],
        }
    )
    # inf - inf is NaN, so the last row is omitted too.
    out = run(
        df,
        lambda f: f.select(
            _metrics(nan_policy="omit"),
            w=polars_l2.mse("y", "p", weight="w", nan_policy="omit"),
            loss=polars_l2.loss("y", "p", nan_policy="omit").implode(),
        ),
    )
    assert out.select("sse", "mse", "rmse").row(0) == (5.0, 2.5, math.sqrt(2.5))
    assert out["w"].item() == 1.0
    assert out["loss"].item().to_list() == [1.0, None, None, 4.0, None]

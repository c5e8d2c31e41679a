"""Which rows count: nulls, NaN, empty data, zero and negative weights."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2

if TYPE_CHECKING:
    from polars_l2.typing import NanPolicy
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


def _frame(
    *, p2: list[float | None], w: list[float | None] | None = None
) -> pl.DataFrame:
    data: dict[str, list[float | None]] = {
        "y": [1.0, 2.0, None, 4.0, 8.0, 3.0],
        "p": [2.0, 2.0, 3.0, 1.0, 8.5, 0.0],
        "p2": p2,
        "g": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
    }
    if w is not None:
        data["w"] = w
    return pl.DataFrame(data)


_COMPLETE: list[float | None] = [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("p2", "policy", "shared"),
    [
        (_COMPLETE, "propagate", True),
        (_COMPLETE, "omit", False),  # a float prediction could be NaN
        ([1.5, None, 3.5, 4.5, 5.5, 6.5], "propagate", False),
        ([1.5, NAN, 3.5, 4.5, NAN, 6.5], "omit", False),
        ([1.5, NAN, 3.5, 4.5, NAN, 6.5], "propagate", True),
    ],
    ids=["complete", "complete-omit", "a-null", "nan-omit", "nan-propagate"],
)
def test_models_share_the_row_moments_only_where_they_count_the_same_rows(
    p2: list[float | None], policy: NanPolicy, shared: bool, weighted: bool
) -> None:
    from polars_l2._core import arguments  # noqa: PLC0415

    w = [1.0, 2.0, 1.0, 0.0, 3.0, None] if weighted else None
    df = _frame(p2=p2, w=w)
    weight = "w" if weighted else None
    spec = arguments.parse(
        "y", ["p", "p2"], by="g", weight=weight, nan_policy=policy, function="t"
    )
    assert arguments.resolve(df, spec, function="t").spec.same_rows is shared
    assert arguments.resolve(df.lazy(), spec, function="t").spec.same_rows is False

    # Each model's target moments, count and R² are its own rows' either way:
    # computed once (the DataFrame) or per model (the LazyFrame).
    def report(frame: pl.DataFrame | pl.LazyFrame, models: list[str]) -> pl.DataFrame:
        out = polars_l2.report(
            frame, "y", models, by="g", weight=weight, nan_policy=policy
        )
        return out.collect() if isinstance(out, pl.LazyFrame) else out

    eager = report(df, ["p", "p2"])
    assert_frame_equal(
        eager, report(df.lazy(), ["p", "p2"]), check_exact=False, rel_tol=1e-12
    )
    # And they are each model's alone: p2's rows by the rule, model by model.
    alone = report(df, ["p2"])
    assert_frame_equal(
        eager.filter(pl.col("model") == "p2"), alone, check_exact=False, rel_tol=1e-12
    )


def test_shared_row_moments_leave_the_second_model_no_target_aggregation() -> None:
    from polars_l2._core import arguments, moments  # noqa: PLC0415

    df = _frame(p2=_COMPLETE)
    spec = arguments.parse("y", ["p", "p2"], by="g", function="t")
    plans = {}
    for kind, frame in (("eager", df), ("lazy", df.lazy())):
        resolved = arguments.resolve(frame, spec, function="t")
        plans[kind] = moments.long_moments(resolved.frame, resolved.spec).explain()
    second = f"{moments._MODEL}1_"  # the second model's aggregations
    for name in ("n", "y_mean", "y_var", "y_min", "y_max"):
        assert f'alias("{second}{name}")' in plans["lazy"]
        assert f'alias("{second}{name}")' not in plans["eager"]
    assert f'alias("{second}x_mean")' in plans["eager"]

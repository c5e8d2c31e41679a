"""The shape of the public API: names, signatures, namespaces, argument checks."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import polars_l2

if TYPE_CHECKING:
    from collections.abc import Callable

AGGREGATES = ["sse", "mse", "rmse"]
METRICS = ["loss", *AGGREGATES]

DF = pl.DataFrame(
    {
        "y": [1.0, 2.0, None, 4.0, 5.0],
        "p": [1.5, None, 3.0, 3.0, 5.5],
        "w": [1.0, 2.0, 3.0, None, 0.5],
    }
)


@pytest.mark.parametrize("name", METRICS)
def test_options_are_keyword_only(name: str) -> None:
    params = inspect.signature(getattr(polars_l2, name)).parameters
    kinds = {p.name: p.kind for p in params.values()}
    assert (
        kinds["actual"] == kinds["predicted"] == inspect.Parameter.POSITIONAL_OR_KEYWORD
    )
    options = [n for n in kinds if n not in ("actual", "predicted")]
    assert options
    assert all(kinds[n] == inspect.Parameter.KEYWORD_ONLY for n in options)


@pytest.mark.parametrize("name", AGGREGATES)
def test_weight_cannot_be_passed_positionally(name: str) -> None:
    func: Callable[..., pl.Expr] = getattr(polars_l2, name)
    with pytest.raises(TypeError):
        func("y", "p", "w")


@pytest.mark.parametrize("name", AGGREGATES)
def test_namespace_matches_function(name: str) -> None:
    func: Callable[..., pl.Expr] = getattr(polars_l2, name)
    via_function = DF.select(func("y", "p", weight="w"), func("y", "p").alias("u"))
    method = getattr(pl.col("y").l2, name)  # type: ignore[attr-defined]
    via_namespace = DF.select(method("p", weight="w"), method("p").alias("u"))
    assert_frame_equal(via_function, via_namespace)
    assert via_function.null_count().sum_horizontal().item() == 0


def test_loss_namespace_matches_function() -> None:
    assert_frame_equal(
        DF.select(polars_l2.loss("y", "p")),
        DF.select(pl.col("y").l2.loss("p")),  # type: ignore[attr-defined]
    )


def test_expressions_and_names_are_both_accepted() -> None:
    by_name = DF.select(polars_l2.mse("y", "p", weight="w"))
    by_expr = DF.select(polars_l2.mse(pl.col("y"), pl.col("p"), weight=pl.col("w")))
    assert_frame_equal(by_name, by_expr)
    doubled = DF.select(polars_l2.mse(pl.col("y") * 2, pl.col("p") * 2))
    assert doubled.item() == pytest.approx(
        4 * DF.select(polars_l2.mse("y", "p")).item()
    )


@pytest.mark.parametrize("name", METRICS)
def test_result_takes_the_name_of_actual(name: str) -> None:
    out = DF.select(getattr(polars_l2, name)("y", "p"))
    assert out.columns == ["y"]


@pytest.mark.parametrize("name", AGGREGATES)
def test_weighted_result_takes_the_name_of_actual(name: str) -> None:
    out = DF.lazy().select(getattr(polars_l2, name)("y", "p", weight="w"))
    assert out.collect_schema().names() == ["y"]


def test_rejects_non_expression_inputs() -> None:
    with pytest.raises(TypeError, match="predicted must be a column name or a Polars"):
        polars_l2.mse("y", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weight must be a column name"):
        DF.select(polars_l2.mse("y", "p", weight=[1, 2]))  # type: ignore[arg-type]


def test_rejects_unknown_nan_policy() -> None:
    with pytest.raises(ValueError, match="nan_policy must be 'propagate' or 'omit'"):
        polars_l2.mse("y", "p", nan_policy="drop")  # type: ignore[arg-type]


def test_public_names() -> None:
    assert {"loss", "sse", "mse", "rmse", "L2InputError"} <= set(polars_l2.__all__)
    assert issubclass(polars_l2.L2InputError, TypeError)
    assert issubclass(polars_l2.L2InputError, ValueError)

"""The ``l2`` namespaces that ``import polars_l2`` registers on Polars.

Each method delegates to the function of the same name in
:mod:`polars_l2.functions`, with the expression it is called on as `actual`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from polars_l2 import functions

if TYPE_CHECKING:
    from polars_l2._typing import IntoExpr, NanPolicy
    from polars_l2._vector import MultiOutput


@pl.api.register_expr_namespace("l2")
class L2ExprNamespace:
    """L2 metrics with this expression as the actual values.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
    >>> df.select(pl.col("y").l2.mse("yhat"))
    shape: (1, 1)
    ┌──────┐
    │ y    │
    │ ---  │
    │ f64  │
    ╞══════╡
    │ 2.25 │
    └──────┘
    """

    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def loss(
        self,
        predicted: IntoExpr,
        *,
        width: int | None = None,
        nan_policy: NanPolicy = "propagate",
    ) -> pl.Expr:
        """Per-row squared error; see :func:`polars_l2.loss`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
        >>> df.with_columns(loss=pl.col("y").l2.loss("yhat"))
        shape: (4, 3)
        ┌─────┬──────┬──────┐
        │ y   ┆ yhat ┆ loss │
        │ --- ┆ ---  ┆ ---  │
        │ i64 ┆ i64  ┆ f64  │
        ╞═════╪══════╪══════╡
        │ 10  ┆ 10   ┆ 0.0  │
        │ 11  ┆ 12   ┆ 1.0  │
        │ 12  ┆ 14   ┆ 4.0  │
        │ 13  ┆ 11   ┆ 4.0  │
        └─────┴──────┴──────┘
        """
        return functions.loss(self._expr, predicted, width=width, nan_policy=nan_policy)

    def sse(
        self,
        predicted: IntoExpr,
        *,
        weight: IntoExpr | None = None,
        multioutput: MultiOutput = "uniform_average",
        width: int | None = None,
        nan_policy: NanPolicy = "propagate",
    ) -> pl.Expr:
        """Sum of (weighted) squared errors; see :func:`polars_l2.sse`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
        >>> df.select(pl.col("y").l2.sse("yhat"))
        shape: (1, 1)
        ┌─────┐
        │ y   │
        │ --- │
        │ f64 │
        ╞═════╡
        │ 9.0 │
        └─────┘
        """
        return functions.sse(
            self._expr,
            predicted,
            weight=weight,
            multioutput=multioutput,
            width=width,
            nan_policy=nan_policy,
        )

    def mse(
        self,
        predicted: IntoExpr,
        *,
        weight: IntoExpr | None = None,
        multioutput: MultiOutput = "uniform_average",
        width: int | None = None,
        nan_policy: NanPolicy = "propagate",
    ) -> pl.Expr:
        """Mean squared error; see :func:`polars_l2.mse`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame(
        ...     {"g": ["a", "a", "b"], "y": [1.0, 2.0, 3.0], "yhat": [1.0, 4.0, 2.0]}
        ... )
        >>> df.with_columns(mse=pl.col("y").l2.mse("yhat").over("g"))
        shape: (3, 4)
        ┌─────┬─────┬──────┬─────┐
        │ g   ┆ y   ┆ yhat ┆ mse │
        │ --- ┆ --- ┆ ---  ┆ --- │
        │ str ┆ f64 ┆ f64  ┆ f64 │
        ╞═════╪═════╪══════╪═════╡
        │ a   ┆ 1.0 ┆ 1.0  ┆ 2.0 │
        │ a   ┆ 2.0 ┆ 4.0  ┆ 2.0 │
        │ b   ┆ 3.0 ┆ 2.0  ┆ 1.0 │
        └─────┴─────┴──────┴─────┘
        """
        return functions.mse(
            self._expr,
            predicted,
            weight=weight,
            multioutput=multioutput,
            width=width,
            nan_policy=nan_policy,
        )

    def rmse(
        self,
        predicted: IntoExpr,
        *,
        weight: IntoExpr | None = None,
        multioutput: MultiOutput = "uniform_average",
        width: int | None = None,
        nan_policy: NanPolicy = "propagate",
    ) -> pl.Expr:
        """Root mean squared error; see :func:`polars_l2.rmse`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
        >>> df.select(pl.col("y").l2.rmse("yhat"))
        shape: (1, 1)
        ┌─────┐
        │ y   │
        │ --- │
        │ f64 │
        ╞═════╡
        │ 1.5 │
        └─────┘
        """
        return functions.rmse(
            self._expr,
            predicted,
            weight=weight,
            multioutput=multioutput,
            width=width,
            nan_policy=nan_policy,
        )

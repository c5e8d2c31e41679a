"""The ``l2`` namespaces that ``import polars_l2`` registers on Polars.

Each method delegates to the function of the same name in
:mod:`polars_l2.functions`, with the expression it is called on as `actual`.
The DataFrame and LazyFrame namespaces delegate to :func:`polars_l2.report`
and :func:`polars_l2.state`, with the frame they are called on as `frame`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, Unpack

import polars as pl

from polars_l2 import functions
from polars_l2._compare import compare as frame_compare
from polars_l2._report import report as frame_report
from polars_l2._state import state as frame_state

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2._keywords import (
        AggregateOptions,
        CompareOptions,
        FrameReportOptions,
        FrameStateOptions,
    )
    from polars_l2.typing import IntoExpr, NanPolicy


@pl.api.register_expr_namespace("l2")
class L2ExprNamespace:
    """L2 metrics with this expression as the actual values.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [1.0, 2.0, 3.0], "yhat": [1.0, 4.0, 2.0]})
    >>> df.select(cost=pl.col("y").l2.mse("yhat"))
    shape: (1, 1)
    ┌──────────┐
    │ cost     │
    │ ---      │
    │ f64      │
    ╞══════════╡
    │ 1.666667 │
    └──────────┘
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

    def sse(self, predicted: IntoExpr, **options: Unpack[AggregateOptions]) -> pl.Expr:
        """Sum of (weighted) squared errors; see :func:`polars_l2.sse`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame(
        ...     {"y": [1.0, 2.0, 3.0], "yhat": [1.5, 2.0, 2.0], "w": [2.0, 1.0, 1.0]}
        ... )
        >>> df.select(
        ...     sse=pl.col("y").l2.sse("yhat"),
        ...     weighted=pl.col("y").l2.sse("yhat", weight="w"),
        ... )
        shape: (1, 2)
        ┌──────┬──────────┐
        │ sse  ┆ weighted │
        │ ---  ┆ ---      │
        │ f64  ┆ f64      │
        ╞══════╪══════════╡
        │ 1.25 ┆ 1.5      │
        └──────┴──────────┘
        """
        return functions.sse(self._expr, predicted, **options)

    def mse(self, predicted: IntoExpr, **options: Unpack[AggregateOptions]) -> pl.Expr:
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
        return functions.mse(self._expr, predicted, **options)

    def rmse(self, predicted: IntoExpr, **options: Unpack[AggregateOptions]) -> pl.Expr:
        """Root mean squared error; see :func:`polars_l2.rmse`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame(
        ...     {
        ...         "g": ["a", "a", "b", "b"],
        ...         "y": [10, 11, 12, 13],
        ...         "yhat": [10, 12, 14, 11],
        ...     }
        ... )
        >>> df.group_by("g", maintain_order=True).agg(rmse=pl.col("y").l2.rmse("yhat"))
        shape: (2, 2)
        ┌─────┬──────────┐
        │ g   ┆ rmse     │
        │ --- ┆ ---      │
        │ str ┆ f64      │
        ╞═════╪══════════╡
        │ a   ┆ 0.707107 │
        │ b   ┆ 2.0      │
        └─────┴──────────┘
        """
        return functions.rmse(self._expr, predicted, **options)


FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


class L2FrameNamespace(Generic[FrameT]):
    """The evaluation report and metric state of a frame, as the same kind of frame.

    The methods of ``df.l2`` and ``lf.l2``: a DataFrame gives DataFrames, a
    LazyFrame gives LazyFrames (nothing is read until they are collected).
    """

    def __init__(self, frame: FrameT) -> None:
        self._frame: FrameT = frame

    def report(
        self,
        actual: str,
        predicted: str | Sequence[str],
        **options: Unpack[FrameReportOptions],
    ) -> FrameT:
        """Evaluate models per segment; see :func:`polars_l2.report`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame(
        ...     {"g": ["a", "a", "b"], "y": [1.0, 2.0, 3.0], "yhat": [1.0, 4.0, 2.0]}
        ... )
        >>> df.l2.report("y", "yhat", by="g").select("model", "g", "n", "mse")
        shape: (2, 4)
        ┌───────┬─────┬─────┬─────┐
        │ model ┆ g   ┆ n   ┆ mse │
        │ ---   ┆ --- ┆ --- ┆ --- │
        │ str   ┆ str ┆ i64 ┆ f64 │
        ╞═══════╪═════╪═════╪═════╡
        │ yhat  ┆ a   ┆ 2   ┆ 2.0 │
        │ yhat  ┆ b   ┆ 1   ┆ 1.0 │
        └───────┴─────┴─────┴─────┘

        On a LazyFrame, lazily:

        >>> lf = pl.LazyFrame({"y": [1.0, 2.0, 3.0], "a": [1.0, 4.0, 2.0], "b": 2.0})
        >>> lf.l2.report("y", ["a", "b"]).select("model", "mse", "bias").collect()
        shape: (2, 3)
        ┌───────┬──────────┬──────────┐
        │ model ┆ mse      ┆ bias     │
        │ ---   ┆ ---      ┆ ---      │
        │ str   ┆ f64      ┆ f64      │
        ╞═══════╪══════════╪══════════╡
        │ a     ┆ 1.666667 ┆ 0.333333 │
        │ b     ┆ 0.666667 ┆ 0.0      │
        └───────┴──────────┴──────────┘
        """
        return frame_report(self._frame, actual, predicted, **options)

    def state(
        self,
        actual: str,
        predicted: str | Sequence[str],
        **options: Unpack[FrameStateOptions],
    ) -> FrameT:
        """Reduce to a mergeable metric state; see :func:`polars_l2.state`.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> df = pl.DataFrame({"y": [1.0, 2.0, 3.0], "yhat": [1.0, 4.0, 2.0]})
        >>> df.l2.state("y", "yhat").select("model", "n", "sq_error_mean")
        shape: (1, 3)
        ┌───────┬─────┬───────────────┐
        │ model ┆ n   ┆ sq_error_mean │
        │ ---   ┆ --- ┆ ---           │
        │ str   ┆ i64 ┆ f64           │
        ╞═══════╪═════╪═══════════════╡
        │ yhat  ┆ 3   ┆ 1.666667      │
        └───────┴─────┴───────────────┘
        """
        return frame_state(self._frame, actual, predicted, **options)

    def compare(
        self,
        actual: str | None,
        baseline: str,
        candidates: str | Sequence[str],
        **options: Unpack[CompareOptions],
    ) -> pl.DataFrame:
        """Is a candidate model better than the baseline? See :func:`polars_l2.compare`.

        A DataFrame on either kind of frame: the comparison runs the query.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> lf = pl.LazyFrame(
        ...     {"y": [1.0, 2.0, 3.0, 4.0], "a": [1.5, 2.5, 2.5, 4.5], "b": 2.5}
        ... )
        >>> lf.l2.compare("y", "a", "b", min_n=2).select("model", "mse_diff", "skill")
        shape: (1, 3)
        ┌───────┬──────────┬───────┐
        │ model ┆ mse_diff ┆ skill │
        │ ---   ┆ ---      ┆ ---   │
        │ str   ┆ f64      ┆ f64   │
        ╞═══════╪══════════╪═══════╡
        │ b     ┆ 1.0      ┆ -4.0  │
        └───────┴──────────┴───────┘
        """
        return frame_compare(self._frame, actual, baseline, candidates, **options)


@pl.api.register_dataframe_namespace("l2")
class L2DataFrameNamespace(L2FrameNamespace[pl.DataFrame]):
    """The evaluation report and metric state of this DataFrame.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
    >>> df.l2.report("y", "yhat").select("model", "n", "mse", "rmse")
    shape: (1, 4)
    ┌───────┬─────┬──────┬──────┐
    │ model ┆ n   ┆ mse  ┆ rmse │
    │ ---   ┆ --- ┆ ---  ┆ ---  │
    │ str   ┆ i64 ┆ f64  ┆ f64  │
    ╞═══════╪═════╪══════╪══════╡
    │ yhat  ┆ 4   ┆ 2.25 ┆ 1.5  │
    └───────┴─────┴──────┴──────┘
    """


@pl.api.register_lazyframe_namespace("l2")
class L2LazyFrameNamespace(L2FrameNamespace[pl.LazyFrame]):
    """The evaluation report and metric state of this LazyFrame, lazily.

    Examples
    --------
    >>> import polars as pl
    >>> import polars_l2
    >>> lf = pl.LazyFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
    >>> lf.l2.state("y", "yhat").select("n", "sq_error_mean").collect()
    shape: (1, 2)
    ┌─────┬───────────────┐
    │ n   ┆ sq_error_mean │
    │ --- ┆ ---           │
    │ i64 ┆ f64           │
    ╞═════╪═══════════════╡
    │ 4   ┆ 2.25          │
    └─────┴───────────────┘
    """

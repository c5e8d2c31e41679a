"""The ``l2`` namespaces that ``import polars_l2`` registers on Polars.

Each method is the public function of the same name, with the expression or
frame it is called on as the first argument: the expression methods call
:mod:`polars_l2.functions` with it as `actual`; the DataFrame and LazyFrame
methods call :func:`polars_l2.report`, :func:`polars_l2.state` and
:func:`polars_l2.compare` with it as `frame`. The methods are made from the
functions (:mod:`polars_l2._dispatch`), so their options are the functions'
own, for type checkers too.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

from polars_l2 import functions
from polars_l2._compare import compare as frame_compare
from polars_l2._dispatch import Delegate, Namespace, SameKind
from polars_l2._report import report as frame_report
from polars_l2._state import state as frame_state

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


@pl.api.register_expr_namespace("l2")
class L2ExprNamespace(Namespace[pl.Expr]):
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

    loss = Delegate(
        functions.loss,
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
        """,
    )
    sse = Delegate(
        functions.sse,
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
        """,
    )
    mse = Delegate(
        functions.mse,
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
        """,
    )
    rmse = Delegate(
        functions.rmse,
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
        """,
    )


class L2FrameNamespace(Namespace[FrameT]):
    """The evaluation report and metric state of a frame, as the same kind of frame.

    The methods of ``df.l2`` and ``lf.l2``: a DataFrame gives DataFrames, a
    LazyFrame gives LazyFrames (nothing is read until they are collected).
    """

    report = SameKind(
        frame_report,
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
        """,
    )
    state = SameKind(
        frame_state,
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
        """,
    )
    compare = Delegate(
        frame_compare,
        """Is a candidate model better than the baseline? See :func:`polars_l2.compare`.

        A DataFrame on either kind of frame: the comparison runs the query.

        Examples
        --------
        >>> import polars as pl
        >>> import polars_l2
        >>> lf = pl.LazyFrame(
        ...     {"y": [1.0, 2.0, 3.0, 4.0], "a": [1.5, 2.5, 2.5, 4.5], "b": 2.5}
        ... )
        >>> lf.l2.compare("y", "a", "b", min_n=2).select("model", "loss_diff", "skill")
        shape: (1, 3)
        ┌───────┬───────────┬───────┐
        │ model ┆ loss_diff ┆ skill │
        │ ---   ┆ ---       ┆ ---   │
        │ str   ┆ f64       ┆ f64   │
        ╞═══════╪═══════════╪═══════╡
        │ b     ┆ 1.0       ┆ -4.0  │
        └───────┴───────────┴───────┘
        """,
    )


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


#: The methods' docstrings hold their examples: doctest runs them from here,
#: since a method made by a descriptor is not a function of the module.
__test__ = {
    f"{cls.__name__}.{name}": member.__doc__
    for cls in (L2ExprNamespace, L2FrameNamespace)
    for name, member in vars(cls).items()
    if isinstance(member, Delegate)
}

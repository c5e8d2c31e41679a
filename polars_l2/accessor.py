"""A typed way to reach the ``l2`` namespaces that type checkers and IDEs can see.

``pl.col("y").l2`` and ``df.l2`` are registered when ``polars_l2`` is imported,
so static type checkers cannot know they exist (pola-rs/polars#25602, #27795).
:func:`l2` returns the very same namespace objects with their full, typed
signatures, so ``l2(pl.col("y")).mse("yhat")`` and ``l2(df).report(...)`` are
checked by mypy and pyright and completed by editors, with no plugin, stub or
configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

import polars as pl

from polars_l2._core import arguments, frames
from polars_l2.namespace import (
    L2DataFrameNamespace,
    L2ExprNamespace,
    L2LazyFrameNamespace,
)

if TYPE_CHECKING:
    from polars_l2.typing import ArrowStreamExportable, IntoExpr

__all__ = ["l2"]


@overload
def l2(target: pl.DataFrame | ArrowStreamExportable) -> L2DataFrameNamespace: ...


@overload
def l2(target: pl.LazyFrame) -> L2LazyFrameNamespace: ...


@overload
def l2(target: IntoExpr) -> L2ExprNamespace: ...


def l2(
    target: pl.DataFrame | pl.LazyFrame | ArrowStreamExportable | IntoExpr,
) -> L2DataFrameNamespace | L2LazyFrameNamespace | L2ExprNamespace:
    """Return the ``l2`` namespace of an expression or frame, typed for checkers.

    ``l2(expr)`` is the same object as ``expr.l2``, and ``l2(df)`` as
    ``df.l2``; use it where a type checker or an editor should see the
    namespace's methods and their signatures.

    Parameters
    ----------
    target
        An expression or a column name (the actual values of the metrics),
        a DataFrame or a LazyFrame, or any other table
        :func:`polars_l2.report` takes (a pyarrow Table, a pandas DataFrame,
        a DuckDB relation...).

    Returns
    -------
    L2ExprNamespace, L2DataFrameNamespace or L2LazyFrameNamespace
        The namespace of `target`; a column name gives the namespace of
        ``pl.col(name)``, another table that of its Polars DataFrame (of
        the LazyFrame that scans it, for a pyarrow Dataset).

    Raises
    ------
    L2InputError
        If `target` is neither an expression, a column name nor a table.

    References
    ----------
    .. [1] Polars, "Extending the API: custom namespaces",
           https://docs.pola.rs/api/python/stable/reference/api.html

    Examples
    --------
    >>> import polars as pl
    >>> from polars_l2 import l2
    >>> df = pl.DataFrame({"y": [10, 11, 12, 13], "yhat": [10, 12, 14, 11]})
    >>> df.select(l2("y").mse("yhat"), rmse=l2(pl.col("y")).rmse("yhat"))
    shape: (1, 2)
    ┌──────┬──────┐
    │ y    ┆ rmse │
    │ ---  ┆ ---  │
    │ f64  ┆ f64  │
    ╞══════╪══════╡
    │ 2.25 ┆ 1.5  │
    └──────┴──────┘
    >>> l2(df).report("y", "yhat").select("model", "n", "rmse")
    shape: (1, 3)
    ┌───────┬─────┬──────┐
    │ model ┆ n   ┆ rmse │
    │ ---   ┆ --- ┆ ---  │
    │ str   ┆ i64 ┆ f64  │
    ╞═══════╪═════╪══════╡
    │ yhat  ┆ 4   ┆ 1.5  │
    └───────┴─────┴──────┘
    """
    if isinstance(target, str | pl.Expr):
        return L2ExprNamespace(arguments.parse_into_expr(target, role="actual"))
    accepted = f"a column name or an expression, or {frames.ACCEPTED}"
    frame = frames.coerce(
        target, function="polars_l2.l2", role="target", accepted=accepted
    ).frame
    if isinstance(frame, pl.LazyFrame):
        return L2LazyFrameNamespace(frame)
    return L2DataFrameNamespace(frame)

"""A typed way to reach the ``l2`` namespace that type checkers and IDEs can see.

``pl.col("y").l2`` is registered when ``polars_l2`` is imported, so static type
checkers cannot know it exists (pola-rs/polars#25602, #27795). :func:`l2`
returns the very same namespace object with its full, typed signatures, so
``l2(pl.col("y")).mse("yhat")`` is checked by mypy and pyright and completed by
editors, with no plugin, stub or configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polars_l2 import _inputs
from polars_l2.namespace import L2ExprNamespace

if TYPE_CHECKING:
    from polars_l2._typing import IntoExpr

__all__ = ["l2"]


def l2(actual: IntoExpr) -> L2ExprNamespace:
    """Return the ``l2`` namespace of an expression, typed for static checkers.

    ``l2(expr)`` is the same object as ``expr.l2``; use it where a type checker
    or an editor should see the namespace's methods and their signatures.

    Parameters
    ----------
    actual
        The observed values: a column name or an expression.

    Returns
    -------
    L2ExprNamespace
        The namespace, with `actual` as the actual values.

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
    """
    return L2ExprNamespace(_inputs.parse_into_expr(actual, role="actual"))

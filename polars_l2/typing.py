"""Type aliases shared by the public API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeAlias

import polars as pl

#: A column name or a Polars expression.
IntoExpr: TypeAlias = str | pl.Expr

#: What to do with NaN: ``"propagate"`` it into the result (like numpy and
#: Polars) or ``"omit"`` the row, as if the value were missing.
NanPolicy: TypeAlias = Literal["propagate", "omit"]

#: How the aggregates of several outputs are combined: ``"uniform_average"``
#: (the mean over outputs), ``"raw_values"`` (one value per output, as an
#: Array), ``"sum"`` (the sum over outputs of the squared quantity), or a
#: sequence (a list, tuple or numpy array) of non-negative output weights
#: (their weighted average).
MultiOutput: TypeAlias = (
    Literal["uniform_average", "raw_values", "sum"] | Iterable[float]
)

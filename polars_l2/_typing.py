"""Type aliases shared by the public API."""

from __future__ import annotations

from typing import Literal, TypeAlias

import polars as pl

#: A column name or a Polars expression.
IntoExpr: TypeAlias = str | pl.Expr

#: What to do with NaN: ``"propagate"`` it into the result (like numpy and
#: Polars) or ``"omit"`` the row, as if the value were missing.
NanPolicy: TypeAlias = Literal["propagate", "omit"]

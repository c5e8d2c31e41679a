"""Type aliases shared by the public API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol, TypeAlias

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

#: A loss of the paired test of :func:`polars_l2.compare`: the squared error
#: (default), the absolute error, or Huber's loss (with ``huber_delta``).
Loss: TypeAlias = Literal["squared", "absolute", "huber"]

#: The variance of a (weighted) mean in intervals and paired tests:
#: ``"hc1"`` (default) and ``"hc0"`` are the heteroscedasticity-robust
#: (sandwich) variances of an intercept-only weighted regression, ``"kish"``
#: uses Kish's effective sample size.
Variance: TypeAlias = Literal["hc1", "hc0", "kish"]


class ArrowStreamExportable(Protocol):
    """A table that exports the Arrow PyCapsule stream interface.

    pyarrow ``Table`` and ``RecordBatchReader``, pandas DataFrames (pandas
    2.2 and newer), DuckDB relations, narwhals DataFrames and many others
    have the method ``__arrow_c_stream__``; :func:`polars_l2.report`,
    :func:`polars_l2.state`, :func:`polars_l2.finalize`,
    :func:`polars_l2.merge_states` and :func:`polars_l2.l2` accept them and
    return Polars DataFrames. See the `Arrow PyCapsule interface
    <https://arrow.apache.org/docs/format/CDataInterface/PyCapsuleInterface.html>`_.
    """

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Export the table as an Arrow C stream, in a PyCapsule."""
        ...  # pragma: no cover - a protocol's method has no body

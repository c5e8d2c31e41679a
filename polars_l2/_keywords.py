"""The keyword options that the ``l2`` namespaces forward, written once.

A namespace method passes its options on to the function it delegates to, as
``**options: Unpack[...]`` (PEP 692): a type checker sees each option's name
and type, keyword-only, and the function's own signature keeps the defaults
(mypy checks that the function accepts every key). The API docs expand these
options into the method's signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from polars_l2.typing import IntoExpr, MultiOutput, NanPolicy


class AggregateOptions(TypedDict, total=False):
    """The keyword options of :func:`polars_l2.sse`, ``mse`` and ``rmse``."""

    weight: IntoExpr | None
    multioutput: MultiOutput
    width: int | None
    nan_policy: NanPolicy


class FrameReportOptions(TypedDict, total=False):
    """The keyword options of ``df.l2.report`` (see :func:`polars_l2.report`)."""

    by: str | Sequence[str] | None
    weight: str | None
    confidence: float
    nan_policy: NanPolicy
    top_share: bool


class FrameStateOptions(TypedDict, total=False):
    """The keyword options of ``df.l2.state`` (see :func:`polars_l2.state`)."""

    by: str | Sequence[str] | None
    weight: str | None
    nan_policy: NanPolicy


class CompareOptions(TypedDict, total=False):
    """The keyword options of :func:`polars_l2.compare`."""

    by: str | Sequence[str] | None
    weight: str | None
    cluster: str | None
    confidence: float
    adjust: str | None
    nan_policy: NanPolicy
    min_n: int

"""The typing rule of the frame functions: a LazyFrame in, a LazyFrame out.

:func:`polars_l2.report`, :func:`polars_l2.state` and
:func:`polars_l2.finalize` return a LazyFrame for a LazyFrame and a DataFrame
for anything else. The rule is written here once, as the overloads of one
callable protocol, instead of as a pair of overloads per function that repeat
its whole keyword list. At run time the decorator returns the function itself:
its signature, defaults and docstring are untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, overload

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from polars_l2.typing import ArrowStreamExportable

P = ParamSpec("P")


class FrameFunction(Protocol[P]):
    """A function whose first argument's kind of frame is the result's."""

    @overload
    def __call__(
        self,
        frame: pl.DataFrame | ArrowStreamExportable,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> pl.DataFrame: ...

    @overload
    def __call__(
        self, frame: pl.LazyFrame, /, *args: P.args, **kwargs: P.kwargs
    ) -> pl.LazyFrame: ...


def same_kind(
    function: Callable[Concatenate[Any, P], pl.DataFrame | pl.LazyFrame],
) -> FrameFunction[P]:
    """Type `function` as giving the kind of frame it is given; see the module."""
    return function  # type: ignore[return-value]  # the protocol's overloads

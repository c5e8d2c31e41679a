"""Namespace methods made from the functions they call, signatures written once.

A method of the ``l2`` namespaces is the public function of the same name
with the namespace's expression or frame as its first argument. As in
Polars' ``expr_dispatch``, the method is not written out again: each is a
descriptor made from the function (:class:`Delegate`, or
:class:`SameKind` for the frame functions that return the caller's kind of
frame), so its parameters, defaults and types are the function's own.

- Type checkers see the function's signature without its first parameter,
  through the descriptors' typed ``__get__`` (a ``ParamSpec``); an option
  added to a function is an option of its method, with nothing to update.
- At run time the method is a plain function with that signature
  (``__signature__``) and its own docstring, so ``help()``, editors and the
  API docs (mkdocstrings, by inspection) show it as written.
"""

from __future__ import annotations

import inspect
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    TypeVar,
    overload,
)

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable

    from polars_l2._frame_kind import FrameFunction

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


class Namespace(Generic[T]):
    """An ``l2`` namespace: what it was reached from, for its methods to call."""

    def __init__(self, target: T) -> None:
        self._target: T = target


class Delegate(Generic[P, R]):
    """A namespace method calling `function` with the namespace's target first."""

    def __init__(self, function: Callable[Concatenate[Any, P], R], doc: str) -> None:
        self._function = function
        self.__doc__ = inspect.cleandoc(doc)
        parameters = list(inspect.signature(function).parameters.values())
        self._signature = inspect.Signature(parameters[1:])
        self._name = function.__name__
        self._owner = ""

    def __set_name__(self, owner: type[object], name: str) -> None:
        self._name, self._owner = name, owner.__qualname__
        self._unbound = self._make_unbound()

    def _make_unbound(self) -> Callable[Concatenate[Any, P], R]:
        """Return the method as the class gives it (one function, made once)."""
        function = self._function

        def unbound(
            namespace: Namespace[Any], /, *args: P.args, **kwargs: P.kwargs
        ) -> R:
            return function(namespace._target, *args, **kwargs)

        this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        parameters = [this, *self._signature.parameters.values()]
        self._described(unbound, self._signature.replace(parameters=parameters))
        return unbound

    def _described(
        self, method: Callable[..., Any], signature: inspect.Signature
    ) -> None:
        method.__name__ = self._name
        method.__qualname__ = f"{self._owner}.{self._name}"
        method.__module__ = "polars_l2.namespace"
        method.__doc__ = self.__doc__
        method.__signature__ = signature  # type: ignore[attr-defined]

    @overload
    def __get__(
        self, instance: None, owner: type[object] | None = None
    ) -> Callable[Concatenate[Any, P], R]: ...

    @overload
    def __get__(
        self, instance: Namespace[Any], owner: type[object] | None = None
    ) -> Callable[P, R]: ...

    def __get__(
        self, instance: Namespace[Any] | None, owner: type[object] | None = None
    ) -> Callable[..., R]:
        """Return the method bound to `instance` (from the class: unbound)."""
        function = self._function
        if instance is None:
            return self._unbound
        target = instance._target

        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return function(target, *args, **kwargs)

        self._described(method, self._signature)
        return method


class SameKind(Delegate[P, Any]):
    """A frame method giving the kind of frame it is called on (see ``same_kind``)."""

    def __init__(self, function: FrameFunction[P], doc: str) -> None:
        super().__init__(function, doc)

    @overload
    def __get__(
        self, instance: None, owner: type[object] | None = None
    ) -> Callable[Concatenate[Any, P], Any]: ...

    @overload
    def __get__(
        self, instance: Namespace[FrameT], owner: type[object] | None = None
    ) -> Callable[P, FrameT]: ...

    def __get__(
        self, instance: Namespace[Any] | None, owner: type[object] | None = None
    ) -> Callable[..., Any]:
        """Return the method bound to `instance` (from the class: unbound)."""
        return super().__get__(instance, owner)

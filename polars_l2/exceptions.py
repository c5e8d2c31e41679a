"""Exceptions raised by polars-l2."""

from __future__ import annotations


class L2InputError(TypeError, ValueError):
    """An input column is missing or has a dtype a metric cannot use.

    Raised when the query plan is resolved (``collect_schema()``,
    ``collect()``, ``explain()``), before any data is read. It is both a
    ``TypeError`` (the usual exception for a wrong dtype) and a ``ValueError``
    (the usual exception for a bad argument, such as a missing column), so
    callers can catch either.
    """

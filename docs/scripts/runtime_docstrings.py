"""Griffe extension: the API docs show the docstrings polars-l2 fills on import.

A few docstrings name shared paragraphs as ``%(name)s`` placeholders, which
``polars_l2._docs.fill`` replaces when the module is imported. Griffe reads
the source, so for those functions it takes the docstring of the imported
object instead.
"""

from __future__ import annotations

import inspect

import griffe

from polars_l2._docs import PLACEHOLDER


class RuntimeDocstrings(griffe.Extension):
    """Use the imported function's docstring where the source has placeholders."""

    def on_function(self, *, func: griffe.Function, **kwargs: object) -> None:  # noqa: ARG002
        """Replace a docstring with placeholders by the filled one."""
        docstring = func.docstring
        if docstring is None or not PLACEHOLDER.search(docstring.value):
            return
        filled = inspect.getdoc(griffe.dynamic_import(func.path))
        if filled is None or PLACEHOLDER.search(filled):
            msg = f"{func.path}: the imported docstring has unfilled placeholders"
            raise ValueError(msg)
        docstring.value = filled

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


class DispatchedMethods(griffe.Extension):
    """Show the ``l2`` namespaces' methods as the functions they are at run time.

    A namespace method is a descriptor made from the function it calls
    (``polars_l2._dispatch``), so reading the source finds a class attribute.
    Imported, the class gives a function with the function's signature and
    the method's docstring: that is what the API docs show.
    """

    def on_class_members(  # noqa: D102
        self,
        *,
        cls: griffe.Class,
        **kwargs: object,  # noqa: ARG002
    ) -> None:
        from polars_l2._dispatch import Delegate  # noqa: PLC0415

        runtime = griffe.dynamic_import(cls.path)
        made = [
            name for name, value in vars(runtime).items() if isinstance(value, Delegate)
        ]
        if not made:
            return
        inspected = griffe.inspect(cls.module.path)[cls.name]
        parser = cls.docstring.parser if cls.docstring else None
        options = cls.docstring.parser_options if cls.docstring else {}
        for name in made:
            method = inspected[name]
            if method.docstring is not None:
                method.docstring.parser = parser
                method.docstring.parser_options = options
            cls.set_member(name, method)

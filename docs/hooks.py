"""MkDocs hook: render the Sphinx roles of numpydoc docstrings.

The docstrings follow numpydoc, whose cross-references (``:func:`mse```) and
inline maths (``:math:`x^2```) are Sphinx roles. mkdocstrings renders them as
the role name followed by code; this turns a cross-reference into a link
(resolved by mkdocs-autorefs, silently left as code when the target is not
documented) and inline maths into code.
"""

from __future__ import annotations

import re

_ROLE = re.compile(
    r":(func|meth|class|mod|attr|data|obj|math):<code>(.*?)</code>", re.DOTALL
)


def _link(kind: str, target: str) -> str:
    if kind == "math":
        return f"<code>{target}</code>"
    shown = target.removeprefix("~")
    identifier = shown
    if "." not in identifier:
        identifier = f"polars_l2.{identifier}"
    if target.startswith("~"):
        shown = shown.rsplit(".", 1)[-1]
    return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'


def on_page_content(html: str, **_: object) -> str:
    """Replace the Sphinx roles left in rendered docstrings."""
    return _ROLE.sub(lambda m: _link(m.group(1), m.group(2)), html)

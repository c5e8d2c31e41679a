"""MkDocs hook: maths as MathML, and the Sphinx roles of numpydoc docstrings.

Maths is rendered while the site is built, into MathML, which browsers draw
themselves: the pages need no script, no font and no network to show a
formula. The pages' ``$...$`` and ``$$...$$`` are found by
``pymdownx.arithmatex`` (generic mode, which leaves code blocks alone) and
converted here by latex2mathml.

The docstrings follow numpydoc, whose cross-references (``:func:`mse```) and
inline maths (``:math:`x^2```) are Sphinx roles. mkdocstrings renders them as
the role name followed by code; this turns a cross-reference into a link
(resolved by mkdocs-autorefs, silently left as code when the target is not
documented) and inline maths into MathML.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_ROLE = re.compile(
    r":(func|meth|class|mod|attr|data|obj|math):<code>(.*?)</code>", re.DOTALL
)


#: What pymdownx.arithmatex (generic) leaves: \\( ... \\) inline, \\[ ... \\] shown.
_ARITHMATEX = re.compile(
    r'<(span|div) class="arithmatex">\s*\\([(\[])(.*?)\\[)\]]\s*</\1>', re.DOTALL
)


def mathml(latex: str, *, block: bool = False) -> str:
    """Return LaTeX (HTML-escaped, as in a page) as a MathML element."""
    return convert(html.unescape(latex).strip(), display="block" if block else "inline")


def _link(kind: str, target: str) -> str:
    if kind == "math":
        return mathml(target)
    shown = target.removeprefix("~")
    identifier = shown
    if "." not in identifier:
        identifier = f"polars_l2.{identifier}"
    if target.startswith("~"):
        shown = shown.rsplit(".", 1)[-1]
    return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'


def on_page_content(html: str, **_: object) -> str:
    """Render the maths as MathML, and the Sphinx roles left in docstrings."""
    html = _ARITHMATEX.sub(lambda m: mathml(m.group(3), block=m.group(2) == "["), html)
    return _ROLE.sub(lambda m: _link(m.group(1), m.group(2)), html)

"""The figure every plot of polars-l2 returns: shown inline by notebooks.

A matplotlib :class:`~matplotlib.figure.Figure` made without pyplot has no
inline representation of its own: Jupyter, VS Code and IPython show it as
``<Figure size 700x600 with 1 Axes>`` unless pyplot was imported first, which
registers a printer for figures. This subclass carries its own PNG
representation (``_repr_png_``, read by IPython's display machinery), so it
is shown whatever was imported before. With pyplot's inline backend loaded,
its printer is used instead (IPython asks a registered printer first): one
image either way. Everything else, saving included, is matplotlib's own.

Imported only when a figure is drawn: it needs matplotlib.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class InlineFigure(Figure):
    """A matplotlib figure on an Agg canvas that notebooks display as a PNG."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def new_figure(width: float, height: float) -> InlineFigure:
    r"""Return an empty figure of `width` by `height` inches, at 100 dots per inch.

    An explicit Agg canvas: no pyplot, no interactive backend, no global state,
    so drawing is safe in scripts, servers and threads.

    Examples
    --------
    >>> figure = new_figure(2.0, 1.0)
    >>> figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    True
    """
    figure = InlineFigure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure

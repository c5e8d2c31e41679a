"""A progress bar on stderr, drawn only when stderr is a terminal.

Only the standard library is used. The bar is a display: the computation is
the same whether it is drawn or not.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self, TextIO

#: Redraw at most this often (seconds), except for the last step.
_MIN_INTERVAL = 0.1


def wanted(stream: TextIO, total: int) -> bool:
    """Whether to draw a bar for `total` files on `stream`.

    Only when there are several files and `stream` is an interactive terminal
    (not a pipe, a file, or a terminal of type ``dumb``).

    Examples
    --------
    >>> import io
    >>> wanted(io.StringIO(), 10)
    False
    """
    if total < 2 or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Count files done out of a total, drawing a bar if `enabled`.

    Use as a context manager; the bar's line is erased on exit so that
    whatever is printed next starts on a clean line.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Progress(3, stream=out, enabled=True) as bar:
    ...     for _ in range(3):
    ...         bar.advance()
    >>> "0/3 files" in out.getvalue() and "3/3 files" in out.getvalue()
    True
    >>> out = io.StringIO()
    >>> with Progress(3, stream=out, enabled=False) as bar:
    ...     bar.advance()
    >>> out.getvalue()
    ''
    """

    def __init__(
        self, total: int, *, stream: TextIO, enabled: bool, label: str = "files"
    ) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._enabled = enabled
        self._label = label
        self._last_draw = -float("inf")

    def __enter__(self) -> Self:
        self._draw(force=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._enabled:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def advance(self, steps: int = 1) -> None:
        """Mark `steps` more files as done and redraw."""
        self.done += steps
        self._draw(force=self.done >= self.total)

    def line(self) -> str:
        """Return the bar as text, fitted to the terminal's width.

        Examples
        --------
        >>> import io
        >>> bar = Progress(4, stream=io.StringIO(), enabled=True)
        >>> bar.advance(); bar.advance()
        >>> "2/4 files" in bar.line() and "50%" in bar.line()
        True
        """
        counts = f" {self.done}/{self.total} {self._label}"
        share = self.done / self.total if self.total else 1.0
        percent = f" {share:4.0%}"
        width = shutil.get_terminal_size(fallback=(80, 24)).columns
        room = max(10, min(40, width - len(counts) - len(percent) - 3))
        filled = round(room * share)
        return f"[{'#' * filled}{'.' * (room - filled)}]{percent}{counts}"

    def _draw(self, *, force: bool) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < _MIN_INTERVAL:
            return
        self._last_draw = now
        self._stream.write(f"\r{self.line()}")
        self._stream.flush()

"""A progress bar on stderr, drawn by tqdm only when stderr is a terminal.

The bar is a display: the computation is the same whether it is drawn or not.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tqdm import tqdm

if TYPE_CHECKING:
    from typing import Self, TextIO

#: Files done of total, the share, elapsed and remaining time.
_FORMAT = "{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}]"


class _Bar(tqdm):  # type: ignore[type-arg]
    # No monitor thread: the command's signal handling stays in one thread.
    monitor_interval = 0


def _size(stream: TextIO) -> tuple[int, int]:
    """Return the columns and lines of the terminal `stream` shows on.

    A terminal that reports no size (a new pseudo-terminal says 0 by 0)
    counts as 80 by 24: given 0, tqdm would draw nothing at all.
    """
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 80, 24
    columns = min(size.columns, 100) if size.columns > 0 else 80
    return columns, size.lines if size.lines > 0 else 24


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
    whatever is printed next starts on a clean line. Disabled, nothing is
    written at all.

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
        self._bar: _Bar | None = None

    def __enter__(self) -> Self:
        if self._enabled:
            columns, lines = _size(self._stream)
            self._bar = _Bar(
                total=self.total,
                file=self._stream,
                unit=self._label,
                bar_format=_FORMAT,
                leave=False,
                ncols=columns,
                nrows=lines,
                # The last step is always drawn (tqdm redraws on close).
                mininterval=0.1,
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def advance(self, steps: int = 1) -> None:
        """Mark `steps` more files as done and redraw."""
        self.done += steps
        if self._bar is not None:
            self._bar.update(steps)
            if self.done >= self.total:
                self._bar.refresh()

"""SIGINT and SIGTERM: one line, the conventional exit status, no traceback.

The handlers are installed by :func:`handled`, which the command's ``main``
enters, and removed when it returns: importing polars-l2 changes no signal
handler. A signal raises :class:`Stopped` where the program is, so every
``finally`` and ``except BaseException`` on the way out runs (a temporary
output file is removed, the old output is left as it was). A second signal
while the first is being handled ends the process at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polars_l2._command_start import early_handler

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

#: What each signal says, and its exit status (128 + the signal's number).
_MESSAGES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Stopped(BaseException):
    """A signal stopped the command (a BaseException, as KeyboardInterrupt is)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class Received:
    """The first signal received while the handlers were installed, if any."""

    signum: int | None = None
    #: Set once the command is ending (saying why): a signal then is only
    #: recorded, so that the one line being written is not cut by a second.
    ending: bool = False


def stopped(signum: int) -> int:
    r"""Say on stderr which signal stopped the command; return the exit status.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     status = stopped(signal.SIGTERM)
    >>> status, err.getvalue()
    (143, 'polars-l2: terminated\n')
    """
    message = _MESSAGES.get(signal.Signals(signum), f"stopped by signal {signum}")
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.write(f"polars-l2: {message}\n")
        sys.stderr.flush()
    return 128 + signum


@contextmanager
def handled() -> Iterator[Received]:
    """Install the handlers of SIGINT and SIGTERM for the duration of the block.

    A signal whose handler is not the default (ignored under ``nohup``, or
    set by a program that calls ``main``) is left alone, and so is every
    signal outside the main thread, where handlers cannot be installed.

    Yields
    ------
    Received
        Records the first signal received.
    """
    received = Received()
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        if received.signum is not None:
            # The user insists: stop now, without unwinding again.
            os._exit(128 + received.signum)
        received.signum = signum
        if not received.ending:
            raise Stopped(signum)

    defaults = {
        signal.SIGINT: signal.default_int_handler,
        signal.SIGTERM: signal.SIG_DFL,
    }
    # The command's early handlers (polars_l2._command_start) stand for the
    # defaults: they are replaced here and put back after.
    previous = {
        signum: signal.getsignal(signum)
        for signum, default in defaults.items()
        if signal.getsignal(signum) in (default, early_handler)
    }
    for signum in previous:
        signal.signal(signum, handler)
    try:
        yield received
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)

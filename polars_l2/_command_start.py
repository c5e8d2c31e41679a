"""SIGINT and SIGTERM for the command, from before Polars is imported.

Importing Polars takes most of the command's first second. A signal then,
before :func:`polars_l2.cli.main` installs its handlers, would print a
traceback (SIGINT) or end the process without a word (SIGTERM). So the
package imports this module first, and when the process is the command
(``polars-l2 ...`` or ``python -m polars_l2 ...``), it installs handlers
that say the one line and exit with 130 or 143 at once: nothing has been
written yet, so there is nothing to clean up. ``main`` replaces them with
its own and puts them back when it returns.

Anywhere else (a program or a test that imports polars-l2) nothing changes:
importing the library sets no signal handler. A signal whose handler is not
the default (ignored under ``nohup``) is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

#: Each signal's line and the defaults the handlers replace.
_LINES = {
    signal.SIGINT: b"polars-l2: interrupted\n",
    signal.SIGTERM: b"polars-l2: terminated\n",
}
_DEFAULTS = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGTERM: signal.SIG_DFL,
}
#: Python's options that take the next argument as their value.
_WITH_VALUE = frozenset({"-W", "-X", "--check-hash-based-pycs"})


def runs_the_command(argv0: str, orig_argv: Sequence[str]) -> bool:
    """Whether the process was started as the command.

    Examples
    --------
    >>> runs_the_command("/venv/bin/polars-l2", [])
    True
    >>> runs_the_command("-m", ["python3", "-X", "dev", "-m", "polars_l2", "demo"])
    True
    >>> runs_the_command("-c", ["python3", "-c", "import polars_l2"])
    False
    >>> runs_the_command("pytest", ["python3", "-m", "pytest"])
    False
    """
    if os.path.basename(argv0) in ("polars-l2", "polars-l2.exe"):
        return True
    arguments = iter(orig_argv[1:])
    for argument in arguments:
        if argument == "-m":
            return next(arguments, None) == "polars_l2"
        if argument.startswith("-m"):
            return argument[2:] == "polars_l2"
        if argument in _WITH_VALUE:
            next(arguments, None)
        elif argument == "-c" or not argument.startswith("-"):
            return False  # a command string, or a script
    return False


def early_handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    """Say which signal stopped the command, and exit with its status at once."""
    with contextlib.suppress(OSError):
        os.write(2, _LINES.get(signal.Signals(signum), b"polars-l2: stopped\n"))
    os._exit(128 + signum)


def install() -> None:
    """Install :func:`early_handler` where the default handler is in place."""
    for signum, default in _DEFAULTS.items():
        if signal.getsignal(signum) is default:
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(signum, early_handler)


if runs_the_command(sys.argv[0] if sys.argv else "", getattr(sys, "orig_argv", ())):
    install()

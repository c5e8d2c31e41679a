"""What Rust libraries write to the standard error, kept aside during a run.

A Rust panic prints its message (and, with ``RUST_BACKTRACE``, a backtrace)
straight to file descriptor 2, before Python sees the exception. Where the
panic is the user's file's doing (a corrupt file), the command says so in
one line; the panic's own lines would bury it. So, while the command runs,
descriptor 2 is a temporary file, and Python's ``sys.stderr`` writes to the
real standard error through a descriptor of its own: the command's lines
go out as they come, Rust's are kept. At the end they are written out after
all, unless a panic became the command's one-line error; after an internal
error they follow the traceback.

Nothing changes when ``sys.stderr`` is not descriptor 2 (a program or a test
that captures it calls :func:`polars_l2.cli.main`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO


class Kept:
    """Rust's output of this run, and whether it is wanted at the end."""

    def __init__(self, file: IO[bytes] | None) -> None:
        self._file = file
        #: Set when the output is not wanted (a panic said in one line).
        self.drop = False

    def text(self) -> str:
        """Return what was written to descriptor 2 so far."""
        if self._file is None:
            return ""
        self._file.seek(0)
        return self._file.read().decode(errors="backslashreplace")


def _is_descriptor_2() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def kept() -> Iterator[Kept]:
    """Keep what is written to descriptor 2 aside while the block runs."""
    if not _is_descriptor_2():
        yield Kept(None)
        return
    original = sys.stderr
    real = os.dup(2)
    with tempfile.TemporaryFile() as file:
        os.dup2(file.fileno(), 2)
        stream = os.fdopen(real, "w", buffering=1, errors="backslashreplace")
        sys.stderr = stream
        output = Kept(file)
        try:
            yield output
        finally:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
            os.dup2(real, 2)
            sys.stderr = original
            stream.close()
            if not output.drop:
                with contextlib.suppress(OSError, ValueError):
                    original.write(output.text())
                    original.flush()

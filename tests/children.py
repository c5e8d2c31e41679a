"""Child processes in tests: every wait is bounded, and no child outlives its test.

``with child([...]) as process`` starts a process whose pipes are text;
:func:`read_line` reads one line of its stdout within a timeout; on leaving
the block a process still running is killed and reaped, so a test that fails
(or a child that hangs) never leaves a process behind or waits forever.

Child scripts that wait for a signal use :data:`WAIT_FOR_A_SIGNAL`: it sleeps
in short steps, so a signal that the kernel delivers to another thread of the
process (Polars starts several) is still handled within a step, and it gives
up after a bounded time instead of sleeping for an hour.
"""

from __future__ import annotations

import contextlib
import selectors
import subprocess
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

#: How long any single wait on a child may take, in seconds.
TIMEOUT = 120

#: Python source of a function ``wait_for_a_signal()`` for child scripts.
WAIT_FOR_A_SIGNAL = f"""\
def wait_for_a_signal():
    import time
    deadline = time.monotonic() + {TIMEOUT}
    while time.monotonic() < deadline:
        time.sleep(0.05)
    raise SystemExit(99)  # no signal came
"""


@contextlib.contextmanager
def child(args: Sequence[str], **options: Any) -> Iterator[subprocess.Popen[str]]:
    """Start `args` with text pipes; kill and reap it if it still runs at the end."""
    process = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=TIMEOUT)


def read_line(stream: IO[str] | None, timeout: float = TIMEOUT) -> str:
    """Return the next line of a child's `stream`, or fail after `timeout`."""
    assert stream is not None
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            msg = f"no line from the child within {timeout} s"
            raise TimeoutError(msg)
    return stream.readline()

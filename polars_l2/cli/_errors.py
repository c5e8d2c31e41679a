"""The command line's errors: which are the user's, and how they are shown."""

from __future__ import annotations

import re

import polars as pl

import polars_l2


class CliError(Exception):
    """A problem with the command line's inputs or options, shown as one line."""


#: Errors of Polars, of polars-l2 and of the file system that the command
#: line reports as one line.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    pl.exceptions.PolarsError,
    polars_l2.L2InputError,
    ValueError,
    OSError,
)

# "polars_l2.report: " names a Python function; on the command line the file
# name is the useful context.
_FUNCTION_PREFIX = re.compile(r"^polars_l2\.\w+: ")


def first_line(error: BaseException) -> str:
    """Return the first non-empty line of an error's message (Polars adds hints)."""
    for line in str(error).splitlines():
        if line.strip():
            return _FUNCTION_PREFIX.sub("", line.strip())
    return type(error).__name__

"""The command line's errors: which are the user's, and how they are shown.

An error is the user's (one line on stderr, exit status 2) only when it says
something about what the user gave:

- :class:`CliError`, raised by the command line itself;
- :class:`polars_l2.L2InputError`, raised by the library on a bad column or
  option;
- Polars' errors about the data or schema of a file (:data:`DATA_ERRORS`)
  and the file system's errors (any :class:`OSError`), but only where a
  user's file is read or written: :func:`about` turns them into a
  :class:`CliError` naming the path there.

Anything else, including a Polars or file-system error raised elsewhere, is
a bug in polars-l2: the command asks for a report, prints the traceback and
exits with status 1.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

import polars_l2
from polars_l2._core import row_checks

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class CliError(Exception):
    """A problem with the command line's inputs or options, shown as one line."""


#: Polars' errors that a user's file can cause when it is read and evaluated:
#: a corrupt or malformed file, a value that does not parse as the column's
#: dtype (ComputeError), no data (NoDataError), a duplicated, missing or
#: mistyped column (DuplicateError, ColumnNotFoundError, SchemaError,
#: SchemaFieldNotFoundError, InvalidOperationError), files of different
#: shapes (ShapeError). Found by provoking each (tests/test_cli.py).
DATA_ERRORS: tuple[type[Exception], ...] = (
    pl.exceptions.ColumnNotFoundError,
    pl.exceptions.ComputeError,
    pl.exceptions.DuplicateError,
    pl.exceptions.InvalidOperationError,
    pl.exceptions.NoDataError,
    pl.exceptions.SchemaError,
    pl.exceptions.SchemaFieldNotFoundError,
    pl.exceptions.ShapeError,
)

#: The errors that are the user's wherever they are raised.
USER_ERRORS: tuple[type[Exception], ...] = (CliError, polars_l2.L2InputError)

#: What a Rust library raises when it panics: a BaseException, which no
#: ``except Exception`` catches. Where a user's file is read, a panic is
#: the file's doing (a corrupt page, a footer that claims 2**62 rows);
#: anywhere else it is a bug.
PANIC: type[BaseException] = pl.exceptions.PanicException

#: The errors that are the user's where a user's path is read or written
#: (pyarrow reads parquet footers and the states' schemas).
_PATH_ERRORS: tuple[type[BaseException], ...] = (
    polars_l2.L2InputError,
    *DATA_ERRORS,
    pa.ArrowException,
    OSError,
    PANIC,
)

# "polars_l2.report: " names a Python function; on the command line the file
# name is the useful context.
_FUNCTION_PREFIX = re.compile(r"^polars_l2\.\w+: ")
# Python's "[Errno 2] No such file or directory: 'x.csv'": the path is named
# by the caller already.
_ERRNO_PREFIX = re.compile(r"^\[Errno \d+\] ")
# The library's advice in Python (a method to call on the frame), which a
# user of the command line cannot follow: said of the file instead.
_PYTHON_ADVICE = (
    (re.compile(r" \(cast it first, for example with \.cast\([^)]*\)\)"), ""),
    (
        re.compile(r"; rename it first, for example with \.rename\(\{.*\}\)$"),
        "; rename it in the file",
    ),
    (
        re.compile(r"build every state with the same loss= and huber_delta="),
        "save every state with the same --loss and --huber-delta",
    ),
    (
        re.compile(r"build every state with the same baseline="),
        "save every state with the same --baseline",
    ),
    (
        re.compile(r"built with baseline None, not ('[^']*')"),
        r"built without a baseline, not with \1",
    ),
    (
        re.compile(r"build it with state\(\.\.\., baseline=('[^']*')\)"),
        r"save it with --baseline \1",
    ),
    (
        re.compile(r"build it with state\(\.\.\., loss=\[\.\.\.\]\) naming every loss"),
        "save it with a --loss for every loss",
    ),
)


def _without_python(text: str) -> str:
    for pattern, replacement in _PYTHON_ADVICE:
        text = pattern.sub(replacement, text)
    return text


# Polars' object-store errors carry the HTTP exchange; the S3-style XML body
# says what went wrong in its <Code> and <Message>.
_STORE_PREFIX = "object-store error: "
_STORE_CODE = re.compile(r"<Code>([^<]+)</Code>")
_STORE_MESSAGE = re.compile(r"<Message>([^<]+)</Message>")
_STORE_DETAIL = re.compile(r"(: Error performing| \(path: ).*$")


def _object_store_line(text: str) -> str:
    """Say in one line what an object-store error says in an HTTP exchange."""
    code, message = _STORE_CODE.search(text), _STORE_MESSAGE.search(text)
    if code is not None and message is not None:
        return f"{message.group(1).rstrip('.')} ({code.group(1)})"
    # Polars may say what it was doing first ("listing glob ... failed: ").
    line = text.split(_STORE_PREFIX, 1)[-1].splitlines()[0]
    return _STORE_DETAIL.sub("", line)


#: Characters a terminal acts on or that break a line: C0 and C1 controls
#: (ESC, newline, carriage return...), DEL, Unicode's line and paragraph
#: separators and its bidirectional overrides and isolates (a character
#: class body, for the patterns here and in the tables' cells).
CONTROLS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_UNPRINTABLE = re.compile(f"[{CONTROLS}]")
_NAMED = {"\\": "\\\\", "|": "\\|", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_character(match: re.Match[str]) -> str:
    r"""Return the escape of one matched character: ``\n``, ``\x1b``, ``\u202e``.

    Examples
    --------
    >>> print(re.sub("[\x1b|]", escape_character, "a|\x1b"))
    a\|\x1b
    """
    character = match.group()
    named = _NAMED.get(character)
    if named is not None:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    r"""Return `text` with every control character escaped, on one line.

    A file name or a name read from a state can hold anything: a newline
    would cut a message in two, an escape sequence would act on the
    terminal (``\x1b]0;...\x07`` sets its title).

    Examples
    --------
    >>> print(printable("day\n1.csv"), printable("\x1b]0;owned\x07"))
    day\n1.csv \x1b]0;owned\x07
    """
    return _UNPRINTABLE.sub(escape_character, text)


def user_message(error: BaseException) -> str:
    r"""Return the one line that says what is wrong in a user's error.

    The command line's own errors and the library's are one line by
    construction, except for the names they quote: the whole message is
    kept (a newline in a name cannot cut it), without the library's
    ``polars_l2.<function>: `` prefix.

    Examples
    --------
    >>> print(user_message(CliError("a\nb.csv: no such file or directory")))
    a\nb.csv: no such file or directory
    >>> print(user_message(polars_l2.L2InputError("polars_l2.report: bad")))
    bad
    """
    if isinstance(error, (CliError, polars_l2.L2InputError)):
        text = _without_python(_FUNCTION_PREFIX.sub("", str(error)).strip())
        return printable(text)
    return printable(first_line(error))


def extension_words(suffix: str) -> str:
    """Name a path's extension in a message about its unknown format.

    Examples
    --------
    >>> extension_words(".txt"), extension_words("")
    ("extension '.txt'", 'no extension')
    """
    return f"extension {suffix!r}" if suffix else "no extension"


def first_line(error: BaseException) -> str:
    r"""Return the first non-empty line of an error's message (Polars adds hints).

    Examples
    --------
    >>> first_line(ValueError("polars_l2.report: column 'x' not found\n\nhint"))
    "column 'x' not found"
    >>> first_line(FileNotFoundError(2, "No such file or directory"))
    'No such file or directory'
    >>> first_line(OSError("object-store error: Generic S3 error: ... 404: "
    ...     "<Code>NoSuchBucket</Code><Message>No bucket.</Message>"))
    'No bucket (NoSuchBucket)'
    >>> first_line(OSError("listing glob s3://b/p/**/* failed: object-store "
    ...     "error: Generic S3 error: ... 404: <?xml version='1.0'?>\n"
    ...     "<Error><Code>NoSuchBucket</Code><Message>No bucket.</Message>"))
    'No bucket (NoSuchBucket)'
    """
    refused = row_checks.refusal(error)
    if refused is not None:  # a row check's own message, inside Polars'
        return _FUNCTION_PREFIX.sub("", refused)
    text = str(error)
    if _STORE_PREFIX in text.split("\n", 1)[0]:
        return _object_store_line(text)
    if isinstance(error, OSError) and error.strerror:
        return str(error.strerror)
    for line in str(error).splitlines():
        if line.strip():
            return _ERRNO_PREFIX.sub("", _FUNCTION_PREFIX.sub("", line.strip()))
    return type(error).__name__


@contextmanager
def about(path: Path | str | None) -> Iterator[None]:
    """Turn an error on the user's file `path` into a :class:`CliError`.

    Use it only around code that reads or writes the user's own files: there,
    a Polars data error, an :class:`OSError` or an
    :class:`~polars_l2.L2InputError` is about that file, and the message
    names it (or names nothing when `path` is None, for several files).

    Raises
    ------
    CliError
        With the first line of the original message, prefixed by `path`.

    Examples
    --------
    >>> try:
    ...     with about("day1.csv"):
    ...         raise PermissionError(13, "Permission denied")
    ... except CliError as error:
    ...     print(error)
    day1.csv: Permission denied
    """
    try:
        yield
    except CliError:
        raise
    except _PATH_ERRORS as error:
        prefix = "" if path is None else f"{path}: "
        what = first_line(error)
        if isinstance(error, PANIC):
            what = f"the reader failed on this file ({what})"
        raise CliError(f"{prefix}{what}") from error

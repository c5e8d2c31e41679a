r"""Format the command line's results and write them safely.

Formats:

- ``table``: an aligned table for people; floats are shown to 6 significant
  digits, every row and column is printed.
- ``markdown``: the same table as GitHub-flavoured Markdown.
- ``csv``: full precision, a header line, empty fields for null.
- ``json``: a list of records (one object per row), full precision; NaN and
  infinities become ``null``, as JSON has no such values.

Text in the table and Markdown formats (segment keys, model names, column
names) is shown on one line whatever it holds: a backslash is doubled, line
breaks, tabs and other control characters are written as escapes (``\n``,
``\t``, ``\x1b``), and in Markdown ``|`` becomes ``\|``. So every row of
the report is one row of the table, and a key's text is never taken for the
table's structure (or for a terminal's control sequence). CSV and JSON quote
and escape by their own rules: they read back to the same values.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import TYPE_CHECKING, Literal, TypeAlias

import polars as pl
import pyarrow.parquet as pq

import polars_l2
from polars_l2 import plot
from polars_l2.cli._errors import CliError, about

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from typing import TextIO

    from polars_l2.cli._evaluate import Spec

Format: TypeAlias = Literal["table", "csv", "json", "markdown"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json", "markdown")

#: Significant digits of floats in the table and Markdown formats.
DISPLAY_DIGITS = 6
#: The widest table Polars draws (its limit is a 16-bit width).
_MAX_WIDTH = 32_767


def _significant(value: float | None) -> str | None:
    """Format a float to DISPLAY_DIGITS significant digits: 481714, 1.82158e14."""
    if value is None:
        return None
    text = f"{value:.{DISPLAY_DIGITS}g}"
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    return f"{mantissa}e{int(exponent)}"


#: Characters that would break a row of a text table, or that a terminal
#: would act on: the backslash (the escape character itself), C0 and C1
#: control characters (line breaks, tab, ESC) and Unicode's line and
#: paragraph separators.
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UNSAFE_MARKDOWN = re.compile(r"[|\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\\": "\\\\", "|": "\\|", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_character(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_text(text: str, *, markdown: bool) -> str:
    r"""Return `text` on one line, safe in a table cell.

    Examples
    --------
    >>> print(escape_text("north|south\nwest", markdown=True))
    north\|south\nwest
    >>> print(escape_text("a\\b\x1b[0m", markdown=False))
    a\\b\x1b[0m
    """
    unsafe = _UNSAFE_MARKDOWN if markdown else _UNSAFE
    return unsafe.sub(_escape_character, text)


def _escaped(frame: pl.DataFrame, *, markdown: bool) -> pl.DataFrame:
    """Escape every text value and column name (see the module's docstring)."""
    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    ]
    frame = frame.with_columns(
        pl.Series(
            name,
            [
                None if v is None else escape_text(v, markdown=markdown)
                for v in frame.get_column(name).cast(pl.String)
            ],
            pl.String,
        )
        for name in text
    )
    return frame.rename(
        {name: escape_text(name, markdown=markdown) for name in frame.columns}
    )


def _rounded(frame: pl.DataFrame) -> pl.DataFrame:
    # Polars shows at most 6 decimals (0.0000123 as 0.000012), so floats are
    # formatted here; the report is a few rows, and this is display only.
    return frame.with_columns(
        pl.Series(name, [_significant(v) for v in frame.get_column(name)], pl.String)
        for name, dtype in frame.schema.items()
        if dtype.is_float()
    )


def _as_table(frame: pl.DataFrame, *, markdown: bool) -> str:
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=_MAX_WIDTH,
        fmt_str_lengths=_MAX_WIDTH,
        fmt_table_cell_list_len=-1,
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_formatting="MARKDOWN" if markdown else "UTF8_FULL_CONDENSED",
    ):
        return f"{_escaped(_rounded(frame), markdown=markdown)}\n"


def render(frame: pl.DataFrame, fmt: Format) -> str:
    """Return `frame` as text in the given format, ending with a newline.

    Parameters
    ----------
    frame
        The result to show.
    fmt
        ``"table"``, ``"csv"``, ``"json"`` or ``"markdown"``.

    Returns
    -------
    str
        The text to print or write.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"model": ["a", "b"], "rmse": [1.0 / 3.0, None]})
    >>> print(render(frame, "csv"), end="")
    model,rmse
    a,0.3333333333333333
    b,
    >>> print(render(frame, "json"), end="")
    [{"model":"a","rmse":0.3333333333333333},{"model":"b","rmse":null}]
    >>> print(render(frame, "markdown"), end="")
    | model | rmse     |
    |-------|----------|
    | a     | 0.333333 |
    | b     | null     |
    """
    if fmt == "csv":
        return frame.write_csv()
    if fmt == "json":
        return f"{frame.write_json()}\n"
    if fmt in ("table", "markdown"):
        return _as_table(frame, markdown=fmt == "markdown")
    msg = f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}"
    raise CliError(msg)


def check_writable(path: Path) -> None:
    """Raise :class:`CliError` early if `path` cannot be written as a file."""
    parent = path.parent
    with about(path):
        if not parent.is_dir():
            msg = f"{path}: cannot write, directory {str(parent)!r} does not exist"
            raise CliError(msg)
        if path.is_dir():
            msg = f"{path}: cannot write, it is a directory"
            raise CliError(msg)


def _permissions() -> int:
    # mkstemp creates files readable by the owner only; give the finished file
    # the permissions an ordinary open() would (0o666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def replace_atomically(path: Path, write: Callable[[str], object]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`.

    The temporary file is in the same directory, so :func:`os.replace` is a
    rename within one file system: readers see the old file or the new one,
    never a partial file. On failure the temporary file is removed. Its name
    starts with a dot, so a directory input never picks it up.
    """
    check_writable(path)
    with about(path):  # no permission, a read-only or full file system
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        os.close(fd)
        try:
            write(tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, _permissions())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def write_stdout(text: str) -> None:
    """Write `text` to standard output, which the reader may have closed.

    With stdout closed when the command started (``>&-``), the text has
    nowhere to go and is dropped: the exit status is the same as with stdout
    open. When the reader stops early (``polars-l2 demo | head -1``), the
    rest is not wanted: the command ends quietly, with status 0. Any other
    write error (a full disk behind ``> file``) is the user's, in one line.
    """
    stream = sys.stdout
    if stream is None:
        return
    try:
        with about("standard output"):
            try:
                stream.write(text)
                stream.flush()
            except BrokenPipeError:
                _discard_stdout(stream)
    except CliError:
        _discard_stdout(stream)  # what is left in the buffer cannot be written
        raise


def _discard_stdout(stream: TextIO) -> None:
    # Point stdout at /dev/null, so that Python's flush at exit neither fails
    # nor prints "Exception ignored ... BrokenPipeError".
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def reopen_closed_streams() -> None:
    """Open ``/dev/null`` on standard input, output or error if closed.

    A process started with ``>&-`` has no file descriptor 1; the next file
    it opens would take that number, and anything written to "stdout" would
    land in it. Holding the number with ``/dev/null`` keeps every file where
    it belongs.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a temporary file, then a rename)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    replace_atomically(path, write)


def write_state_atomic(
    path: Path, state: pl.DataFrame, *, metadata: Mapping[str, str] | None = None
) -> None:
    """Write a state to parquet atomically, with the fixed state schema.

    The file has :func:`polars_l2.state_schema`'s Arrow types (keys in
    their own types, ``int64`` counts) and version metadata, so other engines (Spark)
    and later versions of polars-l2 read it as a state. `metadata` is added
    to the file's key-value metadata (the ledger of what it absorbed).
    """
    fixed = polars_l2.state_schema().names
    keys = [name for name in state.columns if name not in fixed]
    schema = polars_l2.state_schema(state.select(keys).schema)
    if metadata:
        extra = {k.encode(): v.encode() for k, v in metadata.items()}
        schema = schema.with_metadata({**(schema.metadata or {}), **extra})
    table = state.to_arrow().cast(schema)
    replace_atomically(path, lambda tmp: pq.write_table(table, tmp))


def write_plot(
    path: Path, report: pl.DataFrame, rows: pl.LazyFrame, spec: Spec
) -> None:
    """Draw the report and the concentration curve of `rows` to a PNG, atomically.

    Raises
    ------
    CliError
        If matplotlib is not installed (the message says what to install).
    """
    curve = plot.concentration_curve(
        rows, spec.actual, list(spec.predicted), weight=spec.weight
    ).collect(engine="streaming")
    try:
        replace_atomically(
            path, lambda tmp: plot.plot_evaluation(report, curve, path=tmp)
        )
    except ImportError as error:
        raise CliError(str(error)) from error

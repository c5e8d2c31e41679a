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

Every output file (``--output``, ``--save-state``, ``--plot``) is written by
:func:`stage` and :meth:`Staged.commit`, under the rules of "writing files"
below: atomically beside a regular file (or a symlink's target), in place
into a device or FIFO, never over a data file or, for a state, over a file
that is not a state. :func:`write_all` puts several outputs in place only
once all are written.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import stat
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, TypeAlias

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import polars_l2
from polars_l2 import plot
from polars_l2._core import metrics
from polars_l2._state.checks import is_state_file_schema
from polars_l2.cli._errors import (
    CONTROLS,
    CliError,
    about,
    escape_character,
    extension_words,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Self, TextIO

    from matplotlib.figure import Figure

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
#: would act on: the backslash (the escape character itself) and the
#: controls every message escapes too (:data:`CONTROLS`).
_UNSAFE = re.compile(f"[\\\\{CONTROLS}]")
_UNSAFE_MARKDOWN = re.compile(f"[|\\\\{CONTROLS}]")


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
    return unsafe.sub(escape_character, text)


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
        return durations_as_text(frame).write_csv()
    if fmt == "json":
        return f"{_json(durations_as_text(frame))}\n"
    if fmt in ("table", "markdown"):
        return _as_table(frame, markdown=fmt == "markdown")
    msg = f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}"
    raise CliError(msg)


#: How JSON, which has no infinity or NaN, writes a non-finite value: as the
#: string Python and Polars parse back to it (null would read as "no data").
_NON_FINITE = {math.inf: "inf", -math.inf: "-inf"}


def durations_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Write Duration columns (segment keys) as ISO 8601 text, e.g. ``P1DT2H``.

    CSV has no Duration type (Polars refuses to write one), and JSON's own
    form would differ from CSV's: one text for both, and for the keys the
    gates' lines name.
    """
    durations = [
        name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Duration)
    ]
    if not durations:
        return frame
    return frame.with_columns(pl.col(durations).dt.to_string("iso"))


def _json(frame: pl.DataFrame) -> str:
    """Return `frame` as a JSON list of records, non-finite floats as strings."""
    text = frame.write_json()
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    flagged = {
        name: frame.get_column(name)
        .is_finite()
        .not_()
        .fill_null(value=False)
        .arg_true()
        for name in floats
    }
    if not any(len(rows) for rows in flagged.values()):
        return text  # the common case: Polars' own output, untouched
    records = json.loads(text)
    for name, rows in flagged.items():
        column = frame.get_column(name)
        for row in rows:
            value = column[row]
            records[row][name] = _NON_FINITE.get(value, "nan")
    return json.dumps(records, separators=(",", ":"), ensure_ascii=False)


# --- which columns to show ----------------------------------------------------

#: The report's value columns --columns may name (model and the keys are
#: always shown): the counts, the small flag, then every metric of the registry.
VALUE_COLUMNS: tuple[str, ...] = ("n", "weight_sum", "small", *metrics.METRICS)

#: ``--columns all``: every column, on a terminal too.
ALL = ("all",)


def columns_parser(
    allowed: Sequence[str] | None, *, table: str = "report"
) -> Callable[[str], tuple[str, ...]]:
    """Return the parser of ``--columns a,b,c`` for a table of these columns.

    With `allowed` None, the table's columns are known once it is computed,
    and checked there (:func:`choose_columns`).
    """

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
        if names == ALL:
            return ALL
        known = (*allowed, "model") if allowed is not None else names
        unknown = [name for name in names if name not in known]
        if "" in names or not names:
            msg = f"expected column names separated by commas, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        if unknown:
            assert allowed is not None  # no name is unknown without a list
            msg = (
                f"unknown {table} column {unknown[0]!r}; choose from "
                f"{', '.join(allowed)} (model and the segment keys are "
                "always shown), or all"
            )
            raise argparse.ArgumentTypeError(msg)
        return tuple(name for name in names if name != "model")

    return parse


def parse_columns(text: str) -> tuple[str, ...]:
    """Parse ``--columns a,b,c`` into names, each once, refusing unknown ones.

    ``model`` and segment keys may be listed; they are shown anyway.
    ``all`` asks for every column (:data:`ALL`).

    Raises
    ------
    argparse.ArgumentTypeError
        If a name is empty or names no report column.

    Examples
    --------
    >>> parse_columns("rmse, mae,rmse")
    ('rmse', 'mae')
    >>> parse_columns("all")
    ('all',)
    """
    return columns_parser(VALUE_COLUMNS)(text)


def split_columns(report: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Return the report's leading columns (model, keys) and its value columns.

    The report puts ``model`` and the segment keys (and ``output``), then
    ``overall``, before ``n``; every column from ``n`` on is a value.
    """
    names = report.columns
    start = names.index("n") if "n" in names else len(names)
    return names[:start], names[start:]


def choose_columns(
    report: pl.DataFrame,
    wanted: Sequence[str] | None,
    leading: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Keep the model, the keys and the `wanted` value columns, in that order.

    `leading` names the columns always kept, for a table not laid out as
    the report is (:func:`split_columns`).

    Raises
    ------
    CliError
        If a wanted column is not in this report (``weight_sum`` without
        weights), listing the ones that are.
    """
    if wanted is None or wanted == ALL:
        return report
    if leading is None:
        leading, values = split_columns(report)
    else:
        leading = [name for name in report.columns if name in leading]
        values = [name for name in report.columns if name not in leading]
    # A column always shown may be named too (--columns region,rmse).
    wanted = [name for name in wanted if name not in leading]
    missing = [name for name in wanted if name not in values]
    if missing:
        msg = (
            f"--columns: this report has no column {missing[0]!r}; its columns "
            f"are {', '.join(values)}"
        )
        raise CliError(msg)
    return report.select(*leading, *wanted)


def write_stdout(text: str) -> None:
    """Write `text` to standard output, which the reader may have closed.

    With stdout closed when the command started (``>&-``), the text has
    nowhere to go: that is an error, as it is for GNU tools. When the reader
    stops early (``polars-l2 demo | head -1``), the rest is not wanted: the
    command ends quietly, with status 0. Any other
    write error (a full disk behind ``> file``) is the user's, in one line.
    """
    stream = sys.stdout
    if stream is None:  # closed when the command started (>&-)
        msg = "standard output is closed: nowhere to write the report"
        raise CliError(msg)
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


# --- writing files -----------------------------------------------------------
#
# Every output (--output, --save-state, --plot) goes through stage() and
# Staged.commit(), so the rules below hold for each, in one place:
#
# - a symlink is followed: the file written is its target, and the link
#   stays a link;
# - a path that exists and is not a regular file (a device such as
#   /dev/null or /dev/stdout, a FIFO) is written to as a stream, in place:
#   renaming a file onto it would replace the device itself;
# - anything else is written to a temporary file beside the target and
#   renamed onto it: readers see the old file or the new one, never a part.
#
# Temporary names start with '.' (a directory input skips them) and are
# short whatever the output's name (NAME_MAX is 255 bytes).

#: The longest part of the output's name kept in a temporary name.
_TEMP_NAME_PART = 40

#: Leading bytes of the data files --output and --plot refuse to replace:
#: parquet, Arrow IPC file (Feather 2), Feather 1, and an Arrow IPC stream
#: (which starts with a continuation marker).
_DATA_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "a parquet file"),
    (b"ARROW1", "an Arrow IPC file"),
    (b"FEA1", "a Feather file"),
    (b"\xff\xff\xff\xff", "an Arrow IPC stream"),
)


@dataclass(frozen=True)
class Target:
    """Where an output goes."""

    #: The path as the user gave it (for messages).
    given: Path
    #: The file written: `given` with every symlink followed.
    path: Path
    #: True if `path` exists and is not a regular file: written in place.
    stream: bool
    #: True if `path` is an existing regular file that the write replaces.
    replaces: bool


def target(path: Path) -> Target:
    """Return where `path` leads, or raise :class:`CliError` if it cannot be written.

    Raises
    ------
    CliError
        If `path` is a directory, its directory does not exist, or it cannot
        be examined (a symlink loop, no permission).
    """
    with about(path):
        if _through_proc(path):
            # /dev/stdout, /dev/fd/N: the descriptor's file is written as is.
            return Target(path, path, stream=True, replaces=False)
        real = Path(os.path.realpath(path))
        try:
            mode: int | None = os.stat(real).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            msg = f"{path}: cannot write, it is a directory"
            raise CliError(msg)
        if mode is None and not real.parent.is_dir():
            # Name the directory as the user wrote it, unless a link led there.
            parent = real.parent if path.is_symlink() else path.parent
            msg = f"{path}: cannot write, directory {str(parent)!r} does not exist"
            raise CliError(msg)
    regular = mode is not None and stat.S_ISREG(mode)
    return Target(path, real, mode is not None and not regular, regular)


#: The most symlinks followed, as the kernel's own limit (ELOOP after 40).
_MAX_LINKS = 40


def _through_proc(path: Path) -> bool:
    """Whether `path` is, or leads through a symlink to, a file under ``/proc``.

    ``/dev/stdout`` is a link to ``/proc/self/fd/1``, itself a link to
    whatever the descriptor holds: a pipe (``pipe:[123]``, no path at all),
    a terminal, or a file the shell opened (``> out.txt``, ``>> log``).
    Such an output is written by opening it, as the shell would, never
    replaced by a rename, which would bypass the descriptor.
    """
    current = Path(os.path.abspath(path))
    for _ in range(_MAX_LINKS):
        if os.path.realpath(current.parent).startswith("/proc/"):
            return True
        if not current.is_symlink():
            return False
        current = Path(os.path.abspath(current.parent / os.readlink(current)))
    return False


def check_writable(path: Path) -> None:
    """Raise :class:`CliError` early if `path` cannot be written as an output."""
    target(path)


def _leading_bytes(path: Path, size: int) -> bytes:
    with about(path), open(path, "rb") as handle:
        return handle.read(size)


def check_not_data(path: Path, flag: str) -> None:
    """Refuse an output that would replace a parquet or Arrow data file.

    The kind is read from the file's first bytes, not from its extension.

    Raises
    ------
    CliError
        If `path` leads to a regular file holding parquet or Arrow IPC data.
    """
    where = target(path)
    if not where.replaces:
        return
    head = _leading_bytes(where.path, 8)
    for magic, kind in _DATA_MAGIC:
        if head.startswith(magic):
            msg = (
                f"{flag} {path} is {kind}, not a report; refusing to replace "
                "data (remove it first, or choose another name)"
            )
            raise CliError(msg)


def is_state_file(path: Path) -> bool:
    """Whether `path` is a parquet file written as a polars-l2 state.

    Only the parquet footer is read: a state has both version markers and
    the columns of its version (:func:`polars_l2._state.is_state_file_schema`).
    """
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError, pa.ArrowException):
        return False
    metadata = {
        key.decode(errors="replace"): value.decode(errors="replace")
        for key, value in (schema.metadata or {}).items()
    }
    return is_state_file_schema(schema.names, metadata)


def check_state_target(
    path: Path, flag: str = "--save-state", *, merged: bool = False
) -> None:
    """Refuse a state output that would replace what it does not hold.

    A state is replaced by one that holds it: `merged` says the run reads
    `path` as a ``--state``. An empty file holds nothing to lose and may be
    replaced.

    Raises
    ------
    CliError
        If `path` leads to a non-empty regular file that is not a state, or
        to a state the run does not read (its counts would be lost).
    """
    where = target(path)
    if not where.replaces:
        return
    with about(path):
        empty = where.path.stat().st_size == 0
    if empty:
        return
    if not is_state_file(where.path):
        msg = (
            f"{flag} {path} exists and is not a polars-l2 state; refusing to "
            "replace it (remove it first, or choose another name)"
        )
        raise CliError(msg)
    if not merged:
        msg = (
            f"{flag} {path} holds a state that this run does not read: "
            "replacing it would lose what it counted; add --state "
            f"{path} to add to it, or remove it first to start again"
        )
        raise CliError(msg)


def _mode_for(where: Target) -> int:
    """Return the permissions of the finished file.

    A replaced file keeps its own; a new one gets what an ordinary open()
    gives (0o666 less the umask): mkstemp creates files for the owner only.
    """
    if where.replaces:
        with contextlib.suppress(OSError):
            return stat.S_IMODE(os.stat(where.path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    # The rename itself reaches the disk only when its directory is synced.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


Writer: TypeAlias = "Callable[[BinaryIO], object]"


class Staged:
    """An output written in full, waiting for :meth:`commit` to put it in place.

    For a regular file (or a new one), the content is in a temporary file
    beside the target; for a stream (a device, a FIFO), it is held in memory
    and written on commit. Use it as a context manager: leaving the block
    without a commit (an error, SIGINT, SIGTERM) removes the temporary file.
    """

    def __init__(self, where: Target, temporary: str | None, data: bytes) -> None:
        self.target = where
        self._temporary = temporary
        self._data = data
        self.committed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def commit(self) -> None:
        """Put the output in place: rename onto the target, or write the stream."""
        if self.committed:
            return
        where = self.target
        with about(where.given):
            if self._temporary is None:
                # Appending: a descriptor's file (/dev/stdout under `>>`)
                # keeps what it holds, as the shell's redirection says.
                with open(where.path, "ab") as stream:
                    stream.write(self._data)
            else:
                os.replace(self._temporary, where.path)
                self._temporary = None
                _fsync_directory(where.path.parent)
        self.committed = True

    def discard(self) -> None:
        """Remove the temporary file, if it was not committed."""
        if self._temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary)
            self._temporary = None


def stage(path: Path, write: Writer) -> Staged:
    """Write an output with `write` (given a binary file), ready to commit.

    Nothing at `path` changes until :meth:`Staged.commit`. This is the one
    way the command line writes a file; to put several outputs in place
    together, stage them all first, then commit each (:func:`write_all`).

    Raises
    ------
    CliError
        If the output cannot be written (a read-only or full file system, no
        permission), naming `path`.
    """
    where = target(path)
    if where.stream:
        buffer = io.BytesIO()
        write(buffer)
        return Staged(where, None, buffer.getvalue())
    with about(path):
        fd, temporary = tempfile.mkstemp(
            dir=where.path.parent,
            prefix=f".{where.path.name[:_TEMP_NAME_PART]}.",
            suffix=".tmp",
        )
    try:
        with about(path), os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
            os.chmod(temporary, _mode_for(where))
    except BaseException:  # an error, SIGINT or SIGTERM: leave nothing behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return Staged(where, temporary, b"")


def write_all(outputs: Sequence[tuple[Path, Writer]]) -> None:
    """Write several outputs, committing them only once all are written.

    They are committed in the order given: put the one whose replacement
    matters most (a state that is read back) last. If any fails to be
    written, none is put in place.
    """
    with contextlib.ExitStack() as stack:
        staged = [stack.enter_context(stage(path, write)) for path, write in outputs]
        for each in staged:
            each.commit()


def text_writer(text: str) -> Writer:
    """Return a writer of `text` as UTF-8."""
    data = text.encode("utf-8")
    return lambda handle: handle.write(data)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` by the rules above (atomically for a file)."""
    write_all([(path, text_writer(text))])


def state_writer(
    state: pl.DataFrame, *, metadata: Mapping[str, str] | None = None
) -> Writer:
    """Return a writer of a state as parquet, with the fixed state schema.

    The file has :func:`polars_l2.state_schema`'s Arrow types (keys in their
    own types, ``int64`` counts) and version metadata, so other engines
    (Spark) and later versions of polars-l2 read it as a state. `metadata` is
    added to the file's key-value metadata (the ledger of what it absorbed).
    """
    fixed = polars_l2.state_schema().names
    keys = [name for name in state.columns if name not in fixed]
    schema = polars_l2.state_schema(state.select(keys).schema)
    if metadata:
        extra = {k.encode(): v.encode() for k, v in metadata.items()}
        schema = schema.with_metadata({**(schema.metadata or {}), **extra})
    table = state.to_arrow().cast(schema)
    return lambda handle: pq.write_table(table, handle)


def write_state_atomic(
    path: Path, state: pl.DataFrame, *, metadata: Mapping[str, str] | None = None
) -> None:
    """Write a state to parquet by the rules above (atomically for a file)."""
    write_all([(path, state_writer(state, metadata=metadata))])


def state_summary(path: Path, state: pl.DataFrame) -> str:
    """Return the line confirming a saved state: its path, segments and rows.

    Segments are the distinct key combinations; rows are those counted for
    the model that counted the most (models may count different rows where
    their predictions are null).

    Examples
    --------
    >>> from pathlib import Path
    >>> import polars_l2
    >>> df = pl.DataFrame({"g": ["a", "a", "b"], "y": [1.0, 2, 3], "p": [1.0, 2, 2]})
    >>> state = polars_l2.state(df, "y", ["p"], by="g")
    >>> state_summary(Path("s.parquet"), state)
    'saved state s.parquet: 2 segments, 3 rows'
    """
    fixed = {"model", *polars_l2.state_schema().names}
    keys = [name for name in state.columns if name not in fixed]
    segments = state.select(keys).unique().height if keys else min(state.height, 1)
    per_model = state.group_by("model").agg(pl.col("n").sum())
    rows: int = max(per_model.get_column("n").fill_null(0).to_list(), default=0)
    noun = "segment" if segments == 1 else "segments"
    return f"saved state {path}: {segments:,} {noun}, {rows:,} rows"


def plot_format(path: Path) -> str:
    """Return the figure format `path`'s extension names, or refuse it.

    The formats are those of matplotlib's canvas (png, svg, pdf, jpg, ...).

    Raises
    ------
    CliError
        If the extension names no format matplotlib writes, or matplotlib
        is not installed.
    """
    try:
        supported = plot.supported_formats()
    except ImportError as error:
        raise CliError(str(error)) from error
    extension = path.suffix.lower().removeprefix(".")
    if extension not in supported:
        what = (
            f"{extension_words(path.suffix)} is no figure format"
            if path.suffix
            else "no extension to name a figure format"
        )
        msg = f"--plot {path}: {what}; use one of {', '.join(sorted(supported))}"
        raise CliError(msg)
    return extension


def plot_writer(figure: Figure, fmt: str) -> Writer:
    """Return a writer of `figure` in the format `fmt`.

    Matplotlib's numeric warnings while it lays out an axis of huge values
    (an overflow in its tick spacing) are not the user's to read: the figure
    is written, and stderr keeps its one line per note.
    """

    def write(handle: BinaryIO) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            figure.savefig(handle, format=fmt)

    return write


def evaluation_figure(
    report: pl.DataFrame,
    rows: pl.LazyFrame,
    spec: Spec,
    *,
    confidence: float,
    by_segment: bool = False,
) -> Figure:
    """Draw the report and the concentration curves of `rows`.

    With `by_segment`, one concentration panel per segment of `spec.by`.

    Raises
    ------
    CliError
        If matplotlib is not installed (the message says what to install).
    """
    curve = plot.concentration_curve(
        rows,
        spec.actual,
        list(spec.predicted),
        weight=spec.weight,
        by=list(spec.by) if by_segment else None,
        nan_policy=spec.nan_policy,
    ).collect(engine="streaming")
    try:
        return plot.plot_evaluation(
            report, curve, confidence=confidence, weighted=spec.weight is not None
        )
    except ImportError as error:
        raise CliError(str(error)) from error

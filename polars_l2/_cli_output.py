"""Format the command line's results and write them safely.

Formats:

- ``table``: an aligned table for people; floats are shown to 6 significant
  digits, every row and column is printed.
- ``markdown``: the same table as GitHub-flavoured Markdown.
- ``csv``: full precision, a header line, empty fields for null.
- ``json``: a list of records (one object per row), full precision; NaN and
  infinities become ``null``, as JSON has no such values.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import TYPE_CHECKING, Literal, TypeAlias

import polars as pl

from polars_l2._cli_inputs import CliError

if TYPE_CHECKING:
    from pathlib import Path

Format: TypeAlias = Literal["table", "csv", "json", "markdown"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json", "markdown")

#: Significant digits of floats in the table and Markdown formats.
DISPLAY_DIGITS = 6
#: The widest table Polars draws (its limit is a 16-bit width).
_MAX_WIDTH = 32_767


def _rounded(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    return frame.with_columns(pl.col(floats).round_sig_figs(DISPLAY_DIGITS))


def _as_table(frame: pl.DataFrame, *, markdown: bool) -> str:
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=_MAX_WIDTH,
        fmt_str_lengths=1_000,
        fmt_table_cell_list_len=-1,
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_formatting="MARKDOWN" if markdown else "UTF8_FULL_CONDENSED",
    ):
        return f"{_rounded(frame)}\n"


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


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` atomically: a temporary file, then a rename.

    The temporary file is in the same directory, so :func:`os.replace` is a
    rename within one file system: readers see the old file or the new one,
    never a partial file. On failure the temporary file is removed.
    """
    check_writable(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _permissions())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_parquet_atomic(path: Path, frame: pl.DataFrame) -> None:
    """Write `frame` as parquet to `path` atomically; see :func:`write_atomic`."""
    check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.write_parquet(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _permissions())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

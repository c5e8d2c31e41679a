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
import pyarrow.parquet as pq

import polars_l2
from polars_l2 import plot
from polars_l2.cli._errors import CliError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

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


def replace_atomically(path: Path, write: Callable[[str], object]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`.

    The temporary file is in the same directory, so :func:`os.replace` is a
    rename within one file system: readers see the old file or the new one,
    never a partial file. On failure the temporary file is removed. Its name
    starts with a dot, so a directory input never picks it up.
    """
    check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a temporary file, then a rename)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    replace_atomically(path, write)


def write_state_atomic(path: Path, state: pl.DataFrame) -> None:
    """Write a state to parquet atomically, with the fixed state schema.

    The file has :func:`polars_l2.state_schema`'s Arrow types (keys in
    their own types, ``int64`` counts) and version metadata, so other engines (Spark)
    and later versions of polars-l2 read it as a state.
    """
    fixed = polars_l2.state_schema().names
    keys = [name for name in state.columns if name not in fixed]
    table = state.to_arrow().cast(polars_l2.state_schema(state.select(keys).schema))
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

"""Find the command line's input files and scan each one lazily.

The format of a file is chosen by its extension (case-insensitive):

============================================  ==============
extension                                     read with
============================================  ==============
``.parquet``, ``.pq``                         ``pl.scan_parquet``
``.csv``                                      ``pl.scan_csv``
``.arrow``, ``.ipc``, ``.feather``            ``pl.scan_ipc``
``.ndjson``, ``.jsonl``                       ``pl.scan_ndjson``
============================================  ==============

A path argument is a file, a directory or a glob pattern. A directory stands
for every supported file below it, at any depth, in sorted order; files and
directories whose names start with ``.`` or ``_`` (hidden files, Spark's
``_SUCCESS``, temporary files) are skipped there, as are files with other
extensions. A file named explicitly, or matched by a glob, must have a
supported extension. A file reached twice is read once.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from polars_l2.cli._errors import CliError, about

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

#: How many rows of a CSV or NDJSON file Polars reads to infer the dtypes.
INFER_SCHEMA_LENGTH = 10_000


def _scan_parquet(path: Path) -> pl.LazyFrame:
    return pl.scan_parquet(path, glob=False)


def _scan_csv(path: Path) -> pl.LazyFrame:
    return pl.scan_csv(path, glob=False, infer_schema_length=INFER_SCHEMA_LENGTH)


def _scan_ipc(path: Path) -> pl.LazyFrame:
    return pl.scan_ipc(path, glob=False)


def _scan_ndjson(path: Path) -> pl.LazyFrame:
    return pl.scan_ndjson(path, infer_schema_length=INFER_SCHEMA_LENGTH)


#: File extension -> (format name, scanner).
FORMATS: dict[str, tuple[str, Callable[[Path], pl.LazyFrame]]] = {
    ".parquet": ("parquet", _scan_parquet),
    ".pq": ("parquet", _scan_parquet),
    ".csv": ("csv", _scan_csv),
    ".arrow": ("ipc", _scan_ipc),
    ".ipc": ("ipc", _scan_ipc),
    ".feather": ("ipc", _scan_ipc),
    ".ndjson": ("ndjson", _scan_ndjson),
    ".jsonl": ("ndjson", _scan_ndjson),
}

_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class Source:
    """One input file and how to read it."""

    path: Path
    format: str

    def scan(self) -> pl.LazyFrame:
        """Return a lazy scan of the file; nothing is read yet."""
        return FORMATS[self.path.suffix.lower()][1](self.path)

    def is_empty(self) -> bool:
        """Whether the file holds no data rows (reads at most its first rows)."""
        if self.path.stat().st_size == 0:
            return True
        try:
            first_column = self.scan().collect_schema().names()[:1]
            head = self.scan().select(first_column).head(1).collect()
        except pl.exceptions.NoDataError:
            return True
        return head.height == 0


def supported_extensions() -> str:
    """List the supported extensions, for messages."""
    return ", ".join(FORMATS)


def _source(path: Path) -> Source:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = f"extension {suffix!r}" if suffix else "no extension"
        msg = (
            f"{path}: unsupported file type ({shown}); "
            f"supported: {supported_extensions()}"
        )
        raise CliError(msg)
    return Source(path, FORMATS[suffix][0])


def _is_skipped(name: str) -> bool:
    return name.startswith((".", "_"))


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory, followlinks=True):
        # Sorting in place fixes the order os.walk descends in.
        dirs[:] = sorted(d for d in dirs if not _is_skipped(d))
        for name in sorted(files):
            if not _is_skipped(name) and Path(name).suffix.lower() in FORMATS:
                yield Path(root, name)


def _expand_one(argument: str) -> list[Path]:
    path = Path(argument)
    if path.is_dir():
        found = list(_walk(path))
        if not found:
            msg = (
                f"{argument}: no supported files in this directory "
                f"(looked for {supported_extensions()})"
            )
            raise CliError(msg)
        return found
    if path.exists():
        return [path]
    if _GLOB_CHARACTERS & set(argument):
        matches = sorted(glob.glob(argument, recursive=True))
        if not matches:
            msg = f"{argument}: no files match this pattern"
            raise CliError(msg)
        return [p for m in matches for p in _expand_one_match(Path(m))]
    msg = f"{argument}: no such file or directory"
    raise CliError(msg)


def _expand(argument: str) -> list[Path]:
    with about(argument):  # a directory without permission, a symlink loop
        return _expand_one(argument)
    raise AssertionError  # pragma: no cover - for type checkers


def _expand_one_match(path: Path) -> list[Path]:
    return list(_walk(path)) if path.is_dir() else [path]


def discover(arguments: Sequence[str]) -> list[Source]:
    """Expand file, directory and glob arguments into the files to read.

    Parameters
    ----------
    arguments
        Paths as given on the command line.

    Returns
    -------
    list of Source
        In the order given (each directory and glob in sorted order), each
        file once.

    Raises
    ------
    CliError
        If an argument matches nothing, or names a file of an unsupported type.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for name in ["b.csv", "a.parquet", "notes.txt", "_SUCCESS"]:
    ...         _ = Path(tmp, name).write_text("")
    ...     [(s.path.name, s.format) for s in discover([tmp])]
    [('a.parquet', 'parquet'), ('b.csv', 'csv')]
    """
    seen: set[str] = set()
    sources: list[Source] = []
    for path in _flatten(_expand(a) for a in arguments):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            sources.append(_source(path))
    return sources


def _flatten(lists: Iterable[list[Path]]) -> Iterator[Path]:
    for paths in lists:
        yield from paths


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (through links, or by path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)

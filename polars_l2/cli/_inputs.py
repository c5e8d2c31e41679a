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

A path argument is a file, a directory or a glob pattern, on the local disk
or in object storage (``s3://``, ``gs://``, ``az://``, ``hf://`` and the
other schemes of :data:`REMOTE`).

- A directory (or an object-storage prefix) stands for every supported file
  below it, at any depth, in sorted order; files and directories whose names
  start with ``.`` or ``_`` (hidden files, Spark's ``_SUCCESS``, temporary
  files) are skipped there, as are files with other extensions.
- **Tables.** A directory holding a ``_delta_log`` (a Delta Lake table) is
  read whole, as one input, by ``pl.scan_delta`` (its current version:
  deleted and removed rows are not read); a directory holding
  ``metadata/*.metadata.json`` (an Iceberg table) by ``pl.scan_iceberg`` of
  its newest metadata file (the one ``metadata/version-hint.text`` names,
  else the highest version number). A table below a directory given is read
  so too. A path inside a table (a partition directory, a data file, a glob
  that matches inside one) is refused in one line: its files include rows
  the table has deleted or replaced, so they are never read one by one.
  Reading a Delta table needs the ``deltalake`` package, an Iceberg table
  ``pyiceberg``.
- A file named explicitly, or matched by a glob, must have a supported
  extension.
- **Hive partitions.** A directory named ``key=value`` below the argument's
  root (the directory or prefix given, or a glob's fixed part) gives every
  file below it a column ``key`` holding ``value``, usable as ``--by``. The
  dtype is the one Polars gives Hive keys, decided over all the run's files
  (:func:`partition_values`): Int64 (Int128 beyond its range) when every
  value of the key reads as an integer, else Float64 when every value reads
  as a number, Boolean for true/false, Date or Datetime for dates, else
  String; an empty value and ``__HIVE_DEFAULT_PARTITION__`` are null, and
  ``%XX`` escapes are decoded. A file that also holds a column of that name
  is refused (Polars would silently replace the file's values).
- **A file reached twice is read once**: two spellings, a hard link, a
  symbolic link or an overlapping directory and glob name the same file
  (same device and inode) and it is read the first time only; a one-line
  notice names the repeats.
- **Non-regular files** (a FIFO, ``/dev/fd/N`` from process substitution, a
  ``/proc`` file whose size reads 0) are copied once, bounded, when they
  are opened (:mod:`polars_l2.cli._opened`) and then scanned by their
  extension; without an extension they are refused, since nothing names
  their format. Devices and sockets are refused.

Object storage is listed by Polars itself, with the credentials and endpoint
it takes from the environment (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_ACCOUNT_NAME``...): a
prefix or glob is listed with Polars' own path expansion, so the files
counted by the progress bar are the files Polars lists. Each object is then
downloaded once, by the same object-store library configured by the same
environment (see :mod:`polars_l2.cli._opened`); ``hf://`` objects, which it
cannot read, are refused.
"""

from __future__ import annotations

import errno
import glob
import io
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeAlias
from urllib.parse import unquote

import polars as pl

from polars_l2._core.dtypes import unreadable_column
from polars_l2.cli._errors import CliError, about, extension_words

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from polars_l2.cli._ledger import Entry

#: How many rows of a CSV or NDJSON file Polars reads to infer the dtypes.
INFER_SCHEMA_LENGTH = 10_000

#: Where a file is: a local path, or an object-storage URI (a string).
Location: TypeAlias = "Path | str"


#: The URI schemes read from object storage (those Polars' readers take).
REMOTE = re.compile(r"^(s3|s3a|gs|gcs|gcp|az|azure|abfs|abfss|adl|hf)://", re.I)

#: The value Hive writers use for a null key.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _scan_parquet(target: str) -> pl.LazyFrame:
    return pl.scan_parquet(target, glob=False)


def _scan_csv(target: str) -> pl.LazyFrame:
    return pl.scan_csv(target, glob=False, infer_schema_length=INFER_SCHEMA_LENGTH)


def _scan_ipc(target: str) -> pl.LazyFrame:
    return pl.scan_ipc(target, glob=False)


def _scan_ndjson(target: str) -> pl.LazyFrame:
    # scan_ndjson has no glob=False: the target, an open file's descriptor
    # path, holds no pattern characters.
    return pl.scan_ndjson(target, infer_schema_length=INFER_SCHEMA_LENGTH)


def _scan_delta(root: str) -> pl.LazyFrame:
    return pl.scan_delta(root)


def _scan_iceberg(root: str) -> pl.LazyFrame:
    return pl.scan_iceberg(iceberg_metadata(root))


#: Table format -> (the package that reads it, scanner of the table's root).
TABLES: dict[str, tuple[str, Callable[[str], pl.LazyFrame]]] = {
    "delta": ("deltalake", _scan_delta),
    "iceberg": ("pyiceberg", _scan_iceberg),
}

_TABLE_WORDS = {"delta": "a Delta Lake table", "iceberg": "an Iceberg table"}


def _table_errors() -> tuple[type[Exception], ...]:
    """Return the errors the table libraries raise about a table (if imported)."""
    errors: list[type[Exception]] = []
    delta = sys.modules.get("deltalake.exceptions")
    if delta is not None:
        errors.append(delta.DeltaError)
    iceberg = sys.modules.get("pyiceberg.exceptions")
    if iceberg is not None:
        errors.append(iceberg.ValidationError)
    return tuple(errors)


def iceberg_metadata(root: str) -> str:
    """Return the newest metadata file of the Iceberg table at `root`.

    The one ``metadata/version-hint.text`` names (a Hadoop table), else the
    ``*.metadata.json`` of the highest version number (the number before
    the first ``-``, or after a leading ``v``).
    """
    directory = Path(root, "metadata")
    hint = directory / "version-hint.text"
    if hint.is_file():
        hinted = directory / f"v{hint.read_text().strip()}.metadata.json"
        if hinted.is_file():
            return str(hinted)
    files = sorted(directory.glob("*.metadata.json"), key=_metadata_version)
    if not files:
        msg = f"{root}: an Iceberg table without a metadata file"
        raise CliError(msg)
    return str(files[-1])


def version_file(root: str, kind: str) -> Path:
    """Return the file that names the table's current version (its identity).

    For a Delta table its newest commit (``_delta_log/<version>.json``), for
    an Iceberg table its newest metadata file (:func:`iceberg_metadata`): a
    new version of the table is a new file, so the same table read again is
    the same source, and a changed table a new one.
    """
    if kind == "iceberg":
        return Path(iceberg_metadata(root))
    commits = [p for p in Path(root, "_delta_log").glob("*.json") if p.stem.isdigit()]
    if not commits:
        msg = f"{root}: cannot read a Delta Lake table (no commit in _delta_log)"
        raise CliError(msg)
    return max(commits, key=lambda p: int(p.stem))


def _metadata_version(path: Path) -> tuple[int, str]:
    head = path.name.split("-", 1)[0].split(".", 1)[0].removeprefix("v")
    return (int(head) if head.isdigit() else -1, path.name)


def table_kind(directory: Path) -> str | None:
    """Return ``"delta"`` or ``"iceberg"`` if `directory` is such a table's root."""
    if (directory / "_delta_log").is_dir():
        return "delta"
    metadata = directory / "metadata"
    if metadata.is_dir() and any(metadata.glob("*.metadata.json")):
        return "iceberg"
    return None


def _enclosing_table(path: Path) -> tuple[str, Path] | None:
    """Return the table that `path` lies strictly inside, and its root, or None."""
    for parent in path.absolute().parents:
        kind = table_kind(parent)
        if kind is not None:
            return kind, parent
    return None


def _inside_table(argument: str, kind: str, root: object) -> CliError:
    return CliError(
        f"{argument}: inside {_TABLE_WORDS[kind]} ({root}), whose files include "
        "rows the table has deleted or replaced, so they are not read one by "
        f"one: give the table's directory, {root}, to read its current version"
    )


#: File extension -> (format name, scanner).
FORMATS: dict[str, tuple[str, Callable[[str], pl.LazyFrame]]] = {
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


def is_remote(location: Location) -> bool:
    """Whether `location` is in object storage (``s3://...`` and the like).

    Examples
    --------
    >>> is_remote("s3://bucket/preds/"), is_remote("preds/"), is_remote(Path("x"))
    (True, False, False)
    """
    return isinstance(location, str) and REMOTE.match(location) is not None


def _suffix(location: Location) -> str:
    name = location.rsplit("/", 1)[-1] if isinstance(location, str) else location.name
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


@dataclass(frozen=True)
class Partition:
    """A Hive partition of a file: the column ``name`` holding ``value``."""

    name: str
    #: The value read from the path (decoded and typed), or None.
    value: object
    #: Polars' dtype for the key, decided over every file of the run.
    dtype: pl.DataType = field(default_factory=pl.String)
    #: The value as the path spells it (decoded), whatever the dtype: what
    #: identifies the file's rows from one run to the next (the dtype
    #: depends on the other files of a run).
    text: str | None = None

    def expr(self) -> pl.Expr:
        """Return the column's expression: the value, of dtype `dtype`."""
        return pl.lit(self.value, self.dtype).alias(self.name)


@dataclass(frozen=True)
class Source:
    """One input file and how to read it (open it with :mod:`._opened`)."""

    #: A local path, or an object-storage URI.
    path: Location
    format: str
    #: The Hive partitions of its path, in order from the root down.
    partitions: tuple[Partition, ...] = ()
    #: Whether it is a stream (not a regular file, or a size of 0 that may
    #: not be its real size, as in /proc): copied once, when first opened.
    stream: bool = False
    #: The copy of a stream and its entry, once made (a FIFO is read once).
    copies: list[tuple[IO[bytes], Entry]] = field(
        default_factory=list, compare=False, repr=False
    )

    @property
    def table(self) -> bool:
        """Whether this is a table (Delta, Iceberg), read by its own scanner."""
        return self.format in TABLES

    @property
    def name(self) -> str:
        """The path as the user wrote it, for messages."""
        return str(self.path)

    @property
    def remote(self) -> bool:
        """Whether the file is in object storage."""
        return is_remote(self.path)

    def _scanned(self, target: str) -> pl.LazyFrame:
        """Return the scan of the file or table, as its format reads it."""
        if not self.table:
            return FORMATS[_suffix(self.path)][1](target)
        package, scanner = TABLES[self.format]
        try:
            frame = scanner(str(self.path))
            # The table's log is read here: a damaged table fails now.
            frame.collect_schema()
        except ModuleNotFoundError as error:
            msg = (
                f"{self.name}: reading {_TABLE_WORDS[self.format]} needs the "
                f"{package} package (pip install {package})"
            )
            raise CliError(msg) from error
        except _table_errors() as error:
            # The table library's own word on a damaged or missing table.
            line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            msg = f"{self.name}: cannot read {_TABLE_WORDS[self.format]} ({line})"
            raise CliError(msg) from error
        return frame

    def scan(self, target: str) -> pl.LazyFrame:
        """Return a lazy scan of `target`, the open file of this source.

        `target` names the file opened once (``/proc/self/fd/N``), read
        literally, whatever its name holds; a table (Delta, Iceberg) is
        scanned from its directory by its own scanner (`target` is the file
        that names its current version, opened for its identity). The Hive
        partitions are added as columns after the file's own.
        """
        frame = self._scanned(target)
        try:
            schema = frame.collect_schema()
        except pl.exceptions.NoDataError:
            return frame  # an empty file: is_empty says so
        # Checked before any row is read: Polars panics reading such a column.
        unreadable = unreadable_column(schema)
        if unreadable is not None:
            raise CliError(f"{self.name}: {unreadable}")
        if not self.partitions:
            return frame
        names = schema.names()
        for partition in self.partitions:
            if partition.name in names:
                msg = (
                    f"{self.name}: column {partition.name!r} is in the file and "
                    f"in its path ({partition.name}={partition.value}); rename "
                    "the column or the directory"
                )
                raise CliError(msg)
        return frame.with_columns(p.expr() for p in self.partitions)


def is_empty(frame: pl.LazyFrame) -> bool:
    """Whether a scanned file holds no data rows (reads at most its first rows)."""
    try:
        first_column = frame.collect_schema().names()[:1]
        head = frame.select(first_column).head(1).collect()
    except pl.exceptions.NoDataError:
        return True
    return head.height == 0


def supported_extensions() -> str:
    """List the supported extensions, for messages."""
    return ", ".join(FORMATS)


@dataclass(frozen=True)
class _Found:
    """A file found for an argument, with its raw Hive pairs."""

    location: Location
    pairs: tuple[tuple[str, str | None], ...] = ()
    #: The table format of a table's root (:data:`TABLES`), or None.
    table: str | None = None


def _check_supported(found: _Found) -> None:
    if found.table is not None:
        return
    location = found.location
    suffix = _suffix(location)
    if not suffix and not is_remote(location) and _is_stream(Path(location)):
        msg = (
            f"{location}: a stream (a FIFO or process substitution) without an "
            "extension, so its format is unknown; write it to a file, or name "
            f"the FIFO, with one of {supported_extensions()}"
        )
        raise CliError(msg)
    if suffix not in FORMATS:
        msg = (
            f"{location}: unsupported file type ({extension_words(suffix)}); "
            f"supported: {supported_extensions()}"
        )
        raise CliError(msg)


def _is_skipped(name: str) -> bool:
    return name.startswith((".", "_"))


def _hive_pairs(directories: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    """Return the ``key=value`` directories among `directories`, decoded.

    Examples
    --------
    >>> _hive_pairs(["2024", "region=north%20east", "day=__HIVE_DEFAULT_PARTITION__"])
    (('region', 'north east'), ('day', None))
    """
    pairs = []
    for directory in directories:
        key, equals, value = directory.partition("=")
        if equals and key:
            decoded = unquote(value)
            pairs.append((unquote(key), None if decoded == HIVE_NULL else decoded))
    return tuple(pairs)


def _found(location: Location, root: str) -> _Found:
    """Return a file below `root`, with the Hive pairs of the directories between."""
    if isinstance(location, Path):
        # Path drops "./" and doubled slashes: compare parts, not text.
        top = Path(root).parts if root else ()
        parts = location.parts
        below = parts[len(top) : -1] if parts[: len(top)] == top else ()
    else:
        text = location[len(root) :] if location.startswith(root) else ""
        below = tuple(text.strip("/").split("/")[:-1])
    return _Found(location, _hive_pairs(below))


def _unreadable(error: OSError) -> CliError:
    where = error.filename if error.filename is not None else "a directory"
    return CliError(f"{where}: {(error.strerror or str(error)).lower()}")


def _raise(error: OSError) -> None:
    # os.walk passes the errors of listing a directory here; ignoring them
    # would evaluate part of the data without a word.
    raise _unreadable(error)


def _walk(directory: Path) -> Iterator[tuple[Path, str | None]]:
    """Yield the supported files below `directory`, and the tables' roots.

    A table's root comes with its format, and is not descended into.
    """
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(directory, followlinks=True, onerror=_raise):
        here = os.stat(root)
        if (here.st_dev, here.st_ino) in seen:
            # A symbolic link back up the tree: its files are listed already.
            dirs[:] = []
            continue
        seen.add((here.st_dev, here.st_ino))
        kind = table_kind(Path(root))
        if kind is not None:
            dirs[:] = []
            yield Path(root), kind
            continue
        # Sorting in place fixes the order os.walk descends in.
        dirs[:] = sorted(d for d in dirs if not _is_skipped(d))
        for name in sorted(files):
            if not _is_skipped(name) and _suffix(Path(name)) in FORMATS:
                yield Path(root, name), None


def _glob_root(argument: str) -> str:
    """Return the directories of a glob pattern before its first wildcard."""
    parts = argument.split("/")
    fixed = []
    for part in parts[:-1]:
        if _GLOB_CHARACTERS & set(part):
            break
        fixed.append(part)
    return "/".join(fixed) + "/" if fixed else ""


def _symlink_problem(argument: str) -> str | None:
    """Why a path that exists as a symbolic link cannot be followed."""
    if not os.path.islink(argument):
        return None
    try:
        os.stat(argument)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
        if error.errno == errno.ENOENT:
            return f"a broken symbolic link (to {os.readlink(argument)})"
        raise
    return None


def _local_found(path: Path, root: str, kind: str | None) -> _Found:
    """Return a file below `root` with its Hive pairs, or a table's root."""
    return _Found(path, table=kind) if kind is not None else _found(path, root)


def _expand_local(argument: str) -> list[_Found]:
    path = Path(argument)
    enclosing = _enclosing_table(path) if path.exists() else None
    if enclosing is not None:
        raise _inside_table(argument, *enclosing)
    if path.is_dir():
        found = [_local_found(p, argument, kind) for p, kind in _walk(path)]
        if not found:
            msg = (
                f"{argument}: no supported files in this directory "
                f"(looked for {supported_extensions()})"
            )
            raise CliError(msg)
        return found
    if path.exists():
        return [_Found(path)]
    problem = _symlink_problem(argument)
    if problem is not None:
        raise CliError(f"{argument}: {problem}")
    if _GLOB_CHARACTERS & set(argument):
        matches = sorted(glob.glob(argument, recursive=True))
        if not matches:
            msg = f"{argument}: no files match this pattern"
            raise CliError(msg)
        for match in matches:
            enclosing = _enclosing_table(Path(match))
            if enclosing is not None:
                raise _inside_table(f"{argument} (matches {match})", *enclosing)
        root = _glob_root(argument)
        return [
            _local_found(p, root, kind)
            for m in matches
            for p, kind in _expand_match(Path(m))
        ]
    msg = f"{argument}: no such file or directory"
    raise CliError(msg)


def _expand_match(path: Path) -> list[tuple[Path, str | None]]:
    return list(_walk(path)) if path.is_dir() else [(path, None)]


def _list_remote(pattern: str) -> list[str]:
    """List the objects matching a glob `pattern`, as Polars' readers would."""
    # Polars lists object storage with the same code, credentials and
    # endpoint that its readers use; it has no public listing function yet,
    # and tests/test_object_storage.py fails if this one goes away.
    from polars.io._expand_paths import _expand_paths  # noqa: PLC0415

    paths: list[str] = _expand_paths(pattern).collect().get_column("path").to_list()
    return paths


def _expand_remote(argument: str) -> list[_Found]:
    if _GLOB_CHARACTERS & set(argument.split("://", 1)[1]):
        matches = _list_remote(argument)
        if not matches:
            msg = f"{argument}: no objects match this pattern"
            raise CliError(msg)
        root = _glob_root(argument)
        return [_found(m, root) for m in matches]
    root = argument.rstrip("/") + "/"
    listed = _list_remote(f"{root}**/*")
    below = [
        m
        for m in listed
        if not any(_is_skipped(part) for part in m[len(root) :].split("/"))
    ]
    if not below:
        if argument.endswith("/"):
            msg = f"{argument}: nothing under this prefix"
            raise CliError(msg)
        return [_Found(argument)]  # an object; reading it says if it is missing
    if any(m.startswith(f"{root}_delta_log/") for m in listed):
        return [_Found(argument.rstrip("/"), table="delta")]
    if any(
        m.startswith(f"{root}metadata/") and m.endswith(".metadata.json")
        for m in listed
    ):
        msg = (
            f"{argument}: an Iceberg table in object storage, whose files include "
            "rows the table has deleted or replaced: read it with "
            "polars.scan_iceberg (through its catalog) and polars_l2.report"
        )
        raise CliError(msg)
    found = [_found(m, root) for m in below if _suffix(m) in FORMATS]
    if not found:
        msg = (
            f"{argument}: no supported files under this prefix "
            f"(looked for {supported_extensions()})"
        )
        raise CliError(msg)
    return found


def _expand(argument: str) -> list[_Found]:
    with about(argument):  # a directory without permission, a missing bucket
        if is_remote(argument):
            return _expand_remote(argument)
        return _expand_local(argument)
    raise AssertionError  # pragma: no cover - for type checkers


#: URI schemes that Polars accepts under another name.
_SCHEME_ALIASES = {"gcs": "gs", "gcp": "gs"}


def split_uri(uri: str) -> tuple[str, str]:
    """Return an object's store (``scheme://bucket``) and key.

    Leading slashes of the key are dropped, as object stores drop them.

    Examples
    --------
    >>> split_uri("s3://bkt//days/d0.parquet")
    ('s3://bkt', 'days/d0.parquet')
    >>> split_uri("GCS://bkt/a.csv")
    ('gs://bkt', 'a.csv')
    """
    scheme, rest = uri.split("://", 1)
    scheme = scheme.lower()
    bucket, _, key = rest.partition("/")
    return f"{_SCHEME_ALIASES.get(scheme, scheme)}://{bucket}", key.lstrip("/")


def _identity(location: Location) -> tuple[object, ...]:
    """Return what makes two locations one file: device and inode, locally.

    An object is known by its store and key: ``s3://b//k`` is ``s3://b/k``.
    """
    if isinstance(location, str):
        return ("uri", *split_uri(location))
    try:
        info = os.stat(location)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CliError(f"{location}: a symbolic link loop") from error
        raise _unreadable(error) from error
    return ("file", info.st_dev, info.st_ino)


def _is_stream(location: Location) -> bool:
    """Whether a file must be read as a stream: not regular, or of size 0."""
    if is_remote(location):
        return False
    try:
        info = os.stat(location)
    except OSError:
        return False  # reading it says what is wrong
    return not stat.S_ISREG(info.st_mode) or info.st_size == 0


def partition_values(values: Sequence[str | None]) -> pl.Series:
    """Return a key's values typed as Polars types Hive keys (over all files).

    Polars reads Hive keys as it reads a CSV column of the values, dates
    included: the dtype is Int64 (Int128 beyond), Float64, Boolean, Date or
    Datetime when every value reads as one, else String. An empty value is
    null, as ``__HIVE_DEFAULT_PARTITION__`` is (checked against
    ``pl.scan_parquet(..., hive_partitioning=True)`` in the tests).

    Examples
    --------
    >>> partition_values(["1", "02", None]).to_list()
    [1, 2, None]
    >>> partition_values(["1", "2.5"]).dtype, partition_values(["2024-01-01"]).dtype
    (Float64, Date)
    >>> partition_values(["1", "north"]).dtype
    String
    """
    text = pl.DataFrame(
        {"key": [v if v else None for v in values]}, schema={"key": pl.String}
    ).write_csv()
    typed = pl.read_csv(
        io.StringIO(text), infer_schema_length=None, try_parse_dates=True
    )
    return typed.get_column("key")


def discover(
    arguments: Sequence[str], *, notice: Callable[[str], None] | None = None
) -> list[Source]:
    """Expand file, directory and glob arguments into the files to read.

    Parameters
    ----------
    arguments
        Paths as given on the command line (local or object storage).
    notice
        Called once, with one line, when a file is reached more than once
        (it is read once).

    Returns
    -------
    list of Source
        In the order given (each directory and glob in sorted order), each
        file once, with its Hive partitions typed over all the files.

    Raises
    ------
    CliError
        If an argument matches nothing, names a file of an unsupported type,
        a symbolic link loop or a Delta Lake table, or cannot be listed.

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
    seen: dict[tuple[object, ...], Location] = {}
    kept: list[_Found] = []
    repeats: list[str] = []
    for argument in arguments:
        for found in _expand(argument):
            _check_supported(found)
            with about(found.location):
                key = _identity(found.location)
            if key in seen:
                if str(seen[key]) != str(found.location):
                    repeats.append(f"{found.location} (= {seen[key]})")
                continue
            seen[key] = found.location
            kept.append(found)
    if repeats and notice is not None:
        shown = ", ".join(repeats[:3]) + (", ..." if len(repeats) > 3 else "")
        notice(f"{len(repeats)} input(s) reached twice, read once: {shown}")
    return _typed(kept)


def _typed(found: list[_Found]) -> list[Source]:
    """Build the sources, each key's dtype decided over every file."""
    raw: dict[str, list[str | None]] = {}
    for f in found:
        for key, value in f.pairs:
            raw.setdefault(key, []).append(value)
    series = {key: partition_values(v) for key, v in raw.items()}
    typed = {key: iter(s.to_list()) for key, s in series.items()}
    sources = []
    for f in found:
        # Each key's values come back in the order they were gathered.
        partitions = tuple(
            Partition(key, next(typed[key]), series[key].dtype, text)
            for key, text in f.pairs
        )
        if f.table is not None:
            sources.append(Source(f.location, f.table))
            continue
        suffix = _suffix(f.location)
        stream = _is_stream(f.location)
        sources.append(Source(f.location, FORMATS[suffix][0], partitions, stream))
    return sources


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (through links, or by path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)

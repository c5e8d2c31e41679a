"""Each input opened once: what is scanned is what is identified.

A source is known by the SHA-256 of its bytes (see :mod:`polars_l2.cli._ledger`).
For that to mean anything, the bytes hashed must be the bytes evaluated, so
every input is opened once and only that open file is read:

- **a regular file** is opened, its descriptor is hashed, and Polars scans
  that same open file through ``/proc/self/fd/N``: a file renamed over,
  deleted or replaced after the open does not change what is read. A
  change in place (the same inode written to) is caught by comparing the
  file's status (size, modification and change times) before the hash and
  after the scan: such a file is refused, to be read again on the next run.
  Scanning a descriptor also keeps names literal: ``d[1].ndjson`` is that
  file, never a pattern.
- **a stream** (a FIFO, a ``/proc`` file whose size reads 0) is copied, at
  most :func:`stream_limit` bytes, into an anonymous temporary file while it
  is hashed; the copy is scanned (and kept for the run: a FIFO is read once).
- **an object in object storage** is downloaded with one GET request into
  an anonymous temporary file while it is hashed; the copy is scanned. Its
  size is checked against the one the response announced. Two spellings of
  one object (``s3://b//k`` and ``s3://b/k``) give the same bytes, hence
  one source.
- **a device, a socket** is refused: nothing bounds what it gives.

Memory never holds a whole input: copies go to anonymous files on disk
(under ``TMPDIR``), which the system frees when they are closed, also when
the process is killed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from polars_l2.cli._errors import CliError, about
from polars_l2.cli._inputs import split_uri, version_file
from polars_l2.cli._ledger import Entry

if TYPE_CHECKING:
    from collections.abc import Iterator

    import polars as pl

    from polars_l2.cli._inputs import Source

#: The environment variable that bounds how many bytes a stream may give.
STREAM_LIMIT_VARIABLE = "POLARS_L2_MAX_STREAM_BYTES"
#: The default bound: 16 GiB.
STREAM_LIMIT = 16 << 30
#: Bytes read at a time when hashing and copying.
_CHUNK = 1 << 20
#: Where a process sees its own open files by number.
_FD_DIRECTORY = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def stream_limit() -> int:
    """Return the most bytes a stream may give (:data:`STREAM_LIMIT_VARIABLE`).

    Examples
    --------
    >>> stream_limit() > 0
    True
    """
    text = os.environ.get(STREAM_LIMIT_VARIABLE)
    if text is None:
        return STREAM_LIMIT
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"{STREAM_LIMIT_VARIABLE} must be a number of bytes, got {text!r}"
        raise CliError(msg)
    return value


@dataclass
class Opened:
    """An input opened once: what Polars scans, and what it is (its entry)."""

    source: Source
    #: The open file Polars reads (a descriptor, or an anonymous copy).
    handle: IO[bytes]
    #: The content's fingerprint, when asked for.
    entry: Entry | None = None
    #: The status of a regular file when it was opened (to see it change).
    status: os.stat_result | None = None
    _closes: bool = field(default=True, repr=False)

    @property
    def target(self) -> str:
        """The path through which Polars reads the open file."""
        return f"{_FD_DIRECTORY}/{self.handle.fileno()}"

    def scan(self) -> pl.LazyFrame:
        """Return a lazy scan of the open file (see :meth:`Source.scan`)."""
        return self.source.scan(self.target)

    def check_unchanged(self) -> None:
        """Refuse a file written to in place while it was read."""
        if self.status is None:
            return
        with about(self.source.path):
            now = os.fstat(self.handle.fileno())
        fields = ["st_size", "st_mtime_ns"]
        if now.st_nlink == self.status.st_nlink:
            # Renaming another file over this one, or deleting it, changes
            # its link count and so its change time, not its bytes.
            fields.append("st_ctime_ns")
        if any(getattr(now, f) != getattr(self.status, f) for f in fields):
            msg = (
                f"{self.source.name}: changed while it was read; "
                "nothing of it was counted, run again once it is written"
            )
            raise CliError(msg)


def _hash_into(
    stream: IO[bytes], copy: IO[bytes] | None, *, limit: int | None, name: str
) -> tuple[str, int]:
    """Hash `stream` to its end, copying it into `copy`; refuse past `limit`."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            msg = (
                f"{name}: a stream longer than {limit} bytes "
                f"(${STREAM_LIMIT_VARIABLE}); write it to a file first"
            )
            raise CliError(msg)
        digest.update(chunk)
        if copy is not None:
            copy.write(chunk)
    if copy is not None:
        copy.flush()
    return digest.hexdigest(), size


_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def _refuse_kind(name: str, mode: int) -> None:
    kind = _KINDS.get(stat.S_IFMT(mode))
    if kind is not None:
        msg = (
            f"{name}: {kind}, not a data file; nothing bounds what "
            "it gives, so it is not read (write the data to a file)"
        )
        raise CliError(msg)


def _copy_stream(handle: IO[bytes], source: Source) -> tuple[IO[bytes], Entry]:
    """Copy a stream, bounded, into an anonymous file; return it and its entry."""
    copy = tempfile.TemporaryFile()  # noqa: SIM115 - kept for the run
    try:
        with about(source.path):
            digest, size = _hash_into(
                handle, copy, limit=stream_limit(), name=source.name
            )
    except BaseException:
        copy.close()
        raise
    return copy, _file_entry(source, digest, size)


def _file_entry(source: Source, digest: str, size: int) -> Entry:
    """Return the ledger entry of a data file: its bytes and its partitions."""
    partitions = tuple((p.name, p.text) for p in source.partitions)
    return Entry("file", digest, size, source.name, partitions)


@contextlib.contextmanager
def _local(source: Source, *, identify: bool) -> Iterator[Opened]:
    path = source.path
    assert isinstance(path, Path)
    if not source.copies:
        with about(path):
            _refuse_kind(source.name, os.stat(path).st_mode)
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        with handle:
            with about(path):
                status = os.fstat(handle.fileno())
            _refuse_kind(source.name, status.st_mode)
            if stat.S_ISREG(status.st_mode) and status.st_size > 0:
                entry = None
                if identify:
                    with about(path):
                        digest, size = _hash_into(
                            handle, None, limit=None, name=source.name
                        )
                    entry = _file_entry(source, digest, size)
                yield Opened(source, handle, entry, status)
                return
            # A FIFO, or a /proc file whose size reads 0: read once, into a
            # copy kept for the run (see close_copies).
            source.copies.append(_copy_stream(handle, source))
            _COPIED.append(source)
    yield Opened(source, *source.copies[0])


@contextlib.contextmanager
def _table(source: Source, *, identify: bool) -> Iterator[Opened]:
    """Open the file that names a table's current version, for its identity.

    The table itself is scanned from its directory (:meth:`Source.scan`).
    """
    marker = version_file(str(source.path), source.format)
    with about(marker):
        handle = open(marker, "rb")  # noqa: SIM115 - closed below
    with handle:
        with about(marker):
            status = os.fstat(handle.fileno())
        entry = None
        if identify:
            with about(marker):
                digest, size = _hash_into(handle, None, limit=None, name=source.name)
            entry = _file_entry(source, digest, size)
        yield Opened(source, handle, entry, status)


#: The sources whose streams were copied in this run (see close_copies).
_COPIED: list[Source] = []


def close_copies() -> None:
    """Close the copies of the streams read in this run (the run is over)."""
    while _COPIED:
        source = _COPIED.pop()
        for copy, _ in source.copies:
            copy.close()
        source.copies.clear()


@functools.cache
def _store(base: str) -> object:
    """Return the object store of a bucket (``s3://bucket``).

    It is configured from the environment, as Polars configures its own.
    """
    from obstore.store import from_url  # noqa: PLC0415 - only for object storage

    return from_url(base)


def _download(uri: str, copy: IO[bytes]) -> tuple[str, int]:
    """Copy the object at `uri` into `copy` in one GET request; hash it."""
    import obstore  # noqa: PLC0415 - only for object storage

    base, key = split_uri(uri)
    if base.startswith("hf://"):
        msg = (
            f"{uri}: hf:// objects cannot be read once and fingerprinted here; "
            "download them first, or read them in Python with "
            "polars_l2.report(pl.scan_parquet('hf://...'))"
        )
        raise CliError(msg)
    result = obstore.get(_store(base), key)  # type: ignore[arg-type]
    digest = hashlib.sha256()
    size = 0
    for chunk in result.stream(min_chunk_size=_CHUNK):
        digest.update(chunk)
        copy.write(chunk)
        size += len(chunk)
    copy.flush()
    expected = int(result.meta["size"])
    if size != expected:
        msg = f"{uri}: the download stopped at {size} of {expected} bytes; run again"
        raise CliError(msg)
    return digest.hexdigest(), size


@contextlib.contextmanager
def _remote(source: Source) -> Iterator[Opened]:
    assert isinstance(source.path, str)
    with tempfile.TemporaryFile() as copy:
        with about(source.path), _store_errors():
            digest, size = _download(source.path, copy)
        yield Opened(source, copy, _file_entry(source, digest, size))


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """Word the object store's errors as Polars words its own (the user's)."""
    from obstore.exceptions import BaseError  # noqa: PLC0415

    try:
        yield
    except (BaseError, OSError) as error:
        # "object-store error: " lets first_line() read the S3-style body.
        raise OSError(f"object-store error: {error}") from error


@contextlib.contextmanager
def opened(source: Source, *, identify: bool) -> Iterator[Opened]:
    """Open `source` once, for the duration of the block.

    Parameters
    ----------
    source
        The input.
    identify
        Whether to hash a regular file (a stream and an object are always
        hashed while they are copied).

    Raises
    ------
    CliError
        If it cannot be opened or read, is a device or a socket, or a stream
        gives more than :func:`stream_limit` bytes.
    """
    if source.table:
        with _table(source, identify=identify) as result:
            yield result
    elif source.remote:
        with _remote(source) as result:
            yield result
    else:
        with _local(source, identify=identify) as result:
            yield result

"""What a saved state has absorbed, and one update of a state at a time.

**The ledger.** A state saved by ``--save-state`` lists, in its parquet
metadata (key :data:`LEDGER_KEY`, a JSON list), every source it has
absorbed: each data file, and each state file merged into it (with that
state's own ledger). A source is known by a fingerprint of its content, the
SHA-256 of its bytes (and the Hive partitions of its path, which are columns
of its rows: one file's bytes under ``region=north/`` and ``region=south/``
are two sources), not by its path, size, modification time or inode: a
day's file copied, re-downloaded, restored from a backup or reached through
another mount is still the same day, and those change every property of
the file but its bytes. The bytes hashed are the bytes evaluated: each
input is opened once and scanned through that open file, and an object in
object storage is downloaded once (see :mod:`polars_l2.cli._opened`), so
two spellings of one object, or a server-side copy, are one source.

:func:`plan_states` decides which ``--state`` files to merge, before any
data is read; :class:`Counted` decides for each data file, once it is
opened and hashed:

- a data file already in the ledger of a ``--state`` (the day a rerun of an
  interrupted job has counted already), or whose bytes were met earlier in
  this run (identical content given twice is one source, on every route),
  is **skipped**, with a one-line notice naming it;
- a ``--state`` file given twice (``--state s --state ./s``, a copy), or
  already absorbed by another ``--state``, is skipped likewise;
- two ``--state`` files that share a source, neither holding the other,
  cannot be merged without counting that source twice: refused, naming it.

A ledger is checked field by field when it is read (:func:`read_ledger`):
hostile metadata (``Infinity`` or ``1e400`` as a size, a nesting deep
enough to exhaust the parser) is a damaged state, exit status 2.

A state written without a ledger (by Python, or by polars-l2 before the
ledger) is known by its own bytes only: what it absorbed is unknown, and
cannot be checked.

**The lock.** ``--save-state S`` holds an exclusive lock
(:func:`fcntl.flock`) on a lock file beside the file S leads to (every
symbolic link followed, so that every spelling of one state takes one
lock), ``.S.lock`` (its name starts with a dot, so a directory input skips
it), opened without following a link planted there (:func:`open_lock`),
from before any ``--state`` is
read until the new S has replaced the old: two updates of S run one after
the other, and neither loses the other's data. A process that finds S
locked says so in one line and waits, up to ``--lock-timeout`` seconds
(default :data:`LOCK_TIMEOUT`, or the environment variable
:data:`LOCK_TIMEOUT_VARIABLE`), then gives up with one line and exit status
2. The lock file is left in place: removing it would let a third process
lock a file the second is about to lock. ``flock`` is advisory and local:
on a network file system it may not exclude a process on another machine.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from polars_l2.cli._errors import CliError, about

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

#: The parquet metadata key of a saved state's ledger.
LEDGER_KEY = "polars_l2.ledger"
#: Seconds a process waits for another's update of the same state.
LOCK_TIMEOUT = 600.0
#: The environment variable that changes the default of ``--lock-timeout``.
LOCK_TIMEOUT_VARIABLE = "POLARS_L2_LOCK_TIMEOUT"
#: How often a waiting process tries the lock again, in seconds.
_POLL = 0.05
#: The longest file name most file systems take.
_NAME_MAX = 255


#: A data file's Hive partitions: (key, value as its path spells it, or None).
Partitions = tuple[tuple[str, "str | None"], ...]


@dataclass(frozen=True)
class Entry:
    """One absorbed source: a data file or a state file, by its content."""

    kind: str
    sha256: str
    size: int
    #: The path it was read from, for messages only.
    name: str
    #: The Hive partitions its rows take from its path; None in a ledger
    #: written before they were recorded (then unknown).
    partitions: Partitions | None = ()

    def as_json(self) -> dict[str, object]:
        """Return the entry as a JSON object."""
        return {
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "name": self.name,
            "partitions": [list(pair) for pair in self.partitions or ()],
        }

    def same_source(self, other: Entry) -> bool:
        """Whether `other` is this source: the same bytes, in the same partitions.

        An entry whose partitions are unknown (an older ledger) is known by
        its bytes alone, as it was when it was written.
        """
        if self.sha256 != other.sha256:
            return False
        return (
            self.partitions is None
            or other.partitions is None
            or self.partitions == other.partitions
        )


_HEX = frozenset("0123456789abcdef")


def _entry(item: object) -> Entry:
    """Return one ledger entry, checked field by field."""
    if not isinstance(item, dict):
        msg = f"an entry is {type(item).__name__}, not an object"
        raise TypeError(msg)
    kind, sha256, size, name = (item.get(k) for k in ("kind", "sha256", "size", "name"))
    problems = {
        "kind": kind not in ("file", "state"),
        "sha256": not (
            isinstance(sha256, str) and len(sha256) == 64 and set(sha256) <= _HEX
        ),
        "size": not (type(size) is int and 0 <= size < 1 << 63),
        "name": not isinstance(name, str),
    }
    for field_name, bad in problems.items():
        if bad:
            msg = f"field {field_name!r} is {item.get(field_name)!r}"
            raise ValueError(msg)
    assert isinstance(size, int)  # checked above
    return Entry(str(kind), str(sha256), size, str(name), _partitions(item))


def _partitions(item: dict[str, object]) -> Partitions | None:
    """Return an entry's partitions, checked; None where it records none."""
    if "partitions" not in item:
        return None
    pairs = item["partitions"]
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
        for pair in pairs
    ):
        msg = f"field 'partitions' is {pairs!r}"
        raise ValueError(msg)
    return tuple((str(key), value) for key, value in pairs)


def _no_constant(name: str) -> object:
    msg = f"{name} is not a number a ledger holds"
    raise ValueError(msg)


def read_ledger(metadata: Mapping[str, str], path: Path) -> list[Entry] | None:
    """Return the ledger in a state's metadata; None if it has none.

    Raises
    ------
    CliError
        If the ledger is not a JSON list of entries, each with a kind
        (``file`` or ``state``), a SHA-256 (64 hexadecimal digits), a size (a
        non-negative 64-bit integer), a name (a string) and, where recorded,
        the Hive partitions (a list of [key, value or null]), naming the field.
    """
    text = metadata.get(LEDGER_KEY)
    if text is None:
        return None
    try:
        # Infinity, NaN and 1e400 are no sizes; a nesting deep enough to
        # exhaust the parser's stack is no ledger either.
        items = json.loads(text, parse_constant=_no_constant)
        if not isinstance(items, list):
            msg = f"it is {type(items).__name__}, not a list"
            raise TypeError(msg)
        entries = [_entry(item) for item in items]
    except (ValueError, TypeError, RecursionError) as error:
        problem = "nested too deep" if isinstance(error, RecursionError) else error
        msg = (
            f"{path}: damaged state: its ledger ({LEDGER_KEY}) does not read "
            f"({problem})"
        )
        raise CliError(msg) from error
    return entries


def ledger_metadata(entries: Sequence[Entry]) -> dict[str, str]:
    """Return the metadata that records `entries` in a saved state."""
    unique: list[Entry] = []
    # By bytes first: a ledger grows by a file a day, and is written each day.
    kept: dict[str, list[Entry]] = {}
    for entry in entries:
        same = kept.setdefault(entry.sha256, [])
        if not any(other.same_source(entry) for other in same):
            same.append(entry)
            unique.append(entry)
    return {LEDGER_KEY: json.dumps([entry.as_json() for entry in unique])}


@dataclass
class StateInput:
    """A ``--state`` file: its fingerprint and what it has absorbed."""

    path: Path
    entry: Entry
    #: Its ledger, or None if it has none (absorbed sources unknown).
    ledger: list[Entry] | None
    #: The file's bytes, read once for the fingerprint and the state.
    data: bytes

    def holds(self, source: Entry) -> bool:
        """Whether `source` is in this state already."""
        return any(entry.same_source(source) for entry in self.absorbed())

    def absorbed(self) -> list[Entry]:
        """Return this state and everything it absorbed, as ledger entries."""
        return [self.entry, *(self.ledger or ())]


def _contains(outer: StateInput, inner: StateInput) -> bool:
    """Whether everything in `inner` is counted in `outer` already."""
    if outer.holds(inner.entry):
        return True
    # A ledger lists every source of its state, so a state whose sources are
    # all in another is part of it (a state saved before a later update).
    return bool(inner.ledger) and all(outer.holds(e) for e in inner.ledger or ())


def plan_states(
    states: Sequence[StateInput], notice: Callable[[str], None]
) -> list[StateInput]:
    """Return the states to merge: each once, none twice through another."""
    kept: list[StateInput] = []
    for i, state in enumerate(states):
        holder = next(
            (
                other
                for j, other in enumerate(states)
                if j != i
                and _contains(other, state)
                # Of two equal states, the first is kept.
                and not (j > i and _contains(state, other))
            ),
            None,
        )
        if holder is None:
            kept.append(state)
        else:
            how = (
                "the same state as"
                if holder.entry.sha256 == state.entry.sha256
                else "already counted in"
            )
            notice(f"skipping --state {state.path}: {how} --state {holder.path}")
    for i, state in enumerate(kept):
        for other in kept[:i]:
            shared = next((e for e in state.absorbed() if other.holds(e)), None)
            if shared is not None:
                msg = (
                    f"--state {other.path} and --state {state.path} both count "
                    f"{shared.name} ({shared.kind}); merging them would count it "
                    "twice"
                )
                raise CliError(msg)
    return kept


class Counted:
    """The sources counted so far: those of the ``--state`` files, and this run's.

    A data file whose content is counted already (in a state's ledger, or
    earlier in this run) is skipped: :meth:`skip` says why.
    """

    def __init__(self, states: Sequence[StateInput]) -> None:
        self._states = states
        #: This run's sources so far, by the SHA-256 of their bytes.
        self._first: dict[str, list[Entry]] = {}

    def skip(self, entry: Entry) -> str | None:
        """Return why the source of `entry` is not counted again; None to count it."""
        holder = next((s for s in self._states if s.holds(entry)), None)
        if holder is not None:
            return f"skipping {entry.name}: already counted in --state {holder.path}"
        met = self._first.setdefault(entry.sha256, [])
        first = next((e for e in met if e.same_source(entry)), None)
        if first is not None:
            return f"skipping {entry.name}: the same content as {first.name}"
        met.append(entry)
        return None

    def changed(self, entry: Entry) -> str | None:
        """Return a note where a state counted a source of this name with other bytes.

        Such a source is counted in full, as any new content is: a file
        that grows after it was counted has its old rows counted again.
        """
        for state in self._states:
            for earlier in state.absorbed():
                if earlier.name == entry.name and earlier.sha256 != entry.sha256:
                    return (
                        f"{entry.name} was counted in --state {state.path} "
                        "with other content; its content now is counted in full, "
                        "beside the content counted before (a file that grew has "
                        "its earlier rows counted twice: write new rows to new "
                        "files)"
                    )
        return None


def lock_timeout(text: str | None = None) -> float:
    """Return the lock timeout: `text`, else the environment's, else the default."""
    value = text if text is not None else os.environ.get(LOCK_TIMEOUT_VARIABLE)
    if value is None:
        return LOCK_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        source = "--lock-timeout" if text is not None else LOCK_TIMEOUT_VARIABLE
        msg = f"{source} must be a number of seconds (0 or more), got {value!r}"
        raise CliError(msg)
    return seconds


def lock_path(path: Path) -> Path:
    """Return the lock file of state `path`: ``.NAME.lock`` beside its real file.

    The name is that of the file `path` leads to (every symbolic link, of
    the file or of a directory on the way, followed), so every spelling of
    one state (a link to it, a path through a linked directory) takes one
    lock, beside the file that the update replaces.
    """
    real = Path(os.path.realpath(path))
    name = f".{real.name}.lock"
    if len(os.fsencode(name)) > _NAME_MAX:
        short = hashlib.sha256(os.fsencode(real.name)).hexdigest()[:16]
        name = f".polars-l2-{short}.lock"
    return real.with_name(name)


def _refuse_lock(lock: Path, state: Path, problem: str) -> CliError:
    return CliError(
        f"{lock}: the lock file of {state} {problem}; refusing to use it "
        "(remove it if no polars-l2 is running)"
    )


def open_lock(lock: Path, state: Path) -> int:
    """Open (creating it) the lock file `lock`, never through a link.

    Raises
    ------
    CliError
        If a symbolic link, or anything but a regular file, is at `lock`;
        or, in a directory that anyone may write to (``/tmp``), a lock file
        that another user owns (anyone could have put it there).
    """
    with about(lock):
        try:
            before = os.lstat(lock)
        except FileNotFoundError:
            before = None
    if before is not None and not stat.S_ISREG(before.st_mode):
        kind = "is a symbolic link" if stat.S_ISLNK(before.st_mode) else "is not a file"
        raise _refuse_lock(lock, state, kind)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(lock, flags, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a link put there since the lstat
            raise _refuse_lock(lock, state, "is a symbolic link") from error
        with about(lock):
            raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse_lock(lock, state, "is not a file")
        directory = os.stat(lock.parent)
        if directory.st_mode & stat.S_IWOTH and info.st_uid != os.geteuid():
            raise _refuse_lock(
                lock, state, "belongs to another user in a directory anyone may write"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def locked(
    path: Path, *, timeout: float, notice: Callable[[str], None]
) -> Iterator[None]:
    """Hold the exclusive lock of state `path` for the duration of the block.

    Raises
    ------
    CliError
        If another process holds it for more than `timeout` seconds, or the
        lock file cannot be created or is refused (:func:`open_lock`).
    """
    lock = lock_path(path)
    fd = open_lock(lock, path)
    try:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    with about(lock):
                        raise
            if time.monotonic() >= deadline:
                msg = (
                    f"{path}: another polars-l2 is updating this state (lock "
                    f"{lock.name}) and has not finished within {timeout:g} s; "
                    "try again later, or raise --lock-timeout"
                )
                raise CliError(msg)
            if not waiting:
                notice(f"waiting for another polars-l2 updating {path}")
                waiting = True
            time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock

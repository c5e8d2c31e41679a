"""Evaluate input files and saved states for the command line.

Every file is scanned lazily and run on Polars' streaming engine. How the
report is computed depends only on the inputs, never on whether a progress
bar is drawn:

- **One data file and no** ``--state``: :func:`polars_l2.report` on the file,
  one query. Every column is exactly what the library gives, including
  ``top_1pct_share``.
- **Several data files, or any** ``--state``: each file is reduced, one after
  another, to a mergeable state (:func:`polars_l2.state`; this is what the
  progress bar counts), and the states and the saved ones are merged as they
  come (:class:`Merger`, :func:`polars_l2.merge_states`) and finalised
  (:func:`polars_l2.finalize`). Every column equals the report on all the
  data up to rounding, ``top_1pct_share`` included (each state keeps the
  squared errors' histogram, whose fixed bins merge by adding). Memory
  grows with the number of segments, not of rows or files (measured: about
  300 MB for 10, 20 and 40 million rows and 1,000 segments).

Each file is opened once (:mod:`polars_l2.cli._opened`); a file whose
content is counted already, in a ``--state`` or earlier in the run, is
skipped with a note on every route, the one-query route included. A parquet
file with huge row groups is read in slices (:mod:`polars_l2.cli._row_groups`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

import polars_l2
from polars_l2 import _report, _state
from polars_l2._core import arguments, options
from polars_l2._core.arguments import Spec, column
from polars_l2._core.losses import SQUARED, Losses
from polars_l2._core.per_output import OUTPUT_KEY
from polars_l2._state import RESERVED, Measured
from polars_l2.cli import _ledger, _row_groups
from polars_l2.cli._errors import CliError, about
from polars_l2.cli._inputs import is_empty
from polars_l2.cli._opened import opened
from polars_l2.cli._progress import Progress

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path
    from typing import TextIO

    from polars_l2.cli._inputs import Location, Source
    from polars_l2.typing import NanPolicy, Variance

__all__ = [
    "STREAMING",
    "ColumnOptions",
    "Merger",
    "Outcome",
    "SavedStates",
    "Spec",
    "all_rows",
    "column_spec",
    "evaluate",
    "load_states",
    "read_rows",
]

#: Common-subplan elimination shares one scan between the group-bys of a plan
#: through a cache, which the streaming engine fills with the whole input;
#: without it each group-by streams its own scan, in bounded memory.
STREAMING = pl.QueryOptFlags(comm_subplan_elim=False)


@dataclass
class Outcome:
    """The result of an evaluation."""

    report: pl.DataFrame
    #: The merged state, when it was asked for (or computed anyway).
    state: pl.DataFrame | None
    #: Files without data rows, which were skipped.
    skipped: list[Location] = field(default_factory=list)
    #: Every source the state has absorbed (see :mod:`polars_l2.cli._ledger`).
    ledger: list[_ledger.Entry] = field(default_factory=list)
    #: The files counted (each content once), in order.
    read: list[Source] = field(default_factory=list)


@dataclass
class SavedStates:
    """The ``--state`` files to merge in, each once, checked (:func:`load_states`)."""

    #: The kept files, their fingerprints and ledgers.
    inputs: list[_ledger.StateInput] = field(default_factory=list)
    #: Each kept state, labelled by its path, with this version's columns.
    frames: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    #: What the states measured together; None without states.
    measured: Measured | None = None


def load_states(paths: Sequence[Path], *, notice: Callable[[str], None]) -> SavedStates:
    """Read and check the ``--state`` files; skip those counted already.

    Each file is read once: its bytes give its fingerprint, its ledger and
    the state, which is checked as :func:`polars_l2.merge_states` checks it
    (columns, dtypes, both version markers, possible values). A state given
    twice, or absorbed already by another, is skipped with a notice, once
    every state is checked with the others as :func:`polars_l2.merge_states`
    checks them; states that share a source are refused (see
    :mod:`polars_l2.cli._ledger`).
    """
    inputs = []
    footers = []
    for path in paths:
        with about(path):  # a missing, unreadable or corrupt state file
            data = path.read_bytes()
            metadata = pl.read_parquet_metadata(io.BytesIO(data))
            ledger = _ledger.read_ledger(metadata, path)
        digest = hashlib.sha256(data).hexdigest()
        entry = _ledger.Entry("state", digest, len(data), str(path))
        inputs.append(_ledger.StateInput(path, entry, ledger, data))
        footers.append(metadata)
    loaded = []
    for state, metadata in zip(inputs, footers, strict=True):
        with about(state.path):
            frame = _state.load(
                pl.read_parquet(io.BytesIO(state.data)),
                metadata=metadata,
                function="polars_l2.merge_states",
            )
        loaded.append((str(state.path), frame))
    skipped: list[str] = []
    kept = _ledger.plan_states(inputs, skipped.append)
    if skipped:
        # A state skipped as counted already must still have measured what
        # the others did, or the result would depend on the order of the
        # files: merged with them (then dropped), the states refuse as
        # merge_states does, before any is said to be skipped. The models
        # are checked against the options.
        with about(None):
            _state.merge(
                loaded, allow_new_models=True, function="polars_l2.merge_states"
            )
    for line in skipped:
        notice(line)
    position = {id(state): i for i, state in enumerate(inputs)}
    frames = [loaded[position[id(state)]] for state in kept]
    measured = None
    if frames:
        # What is wrong with the states together is about no one file.
        with about(None):
            measured = _state.agree(
                frames, allow_new_models=True, function="polars_l2.merge_states"
            )
    return SavedStates(kept, frames, measured)


@dataclass(frozen=True)
class ColumnOptions:
    """The column options as given; empty where not given."""

    actual: str | None = None
    predicted: tuple[str, ...] = ()
    by: tuple[str, ...] = ()
    weight: str | None = None
    nan_policy: str | None = None


def add_nan_policy(group: argparse._ArgumentGroup) -> None:
    """Add ``--nan-policy``, the ``nan_policy=`` of every function, to `group`."""
    group.add_argument(
        "--nan-policy",
        choices=options.NAN_POLICIES,
        help="what a NaN in the actual or a prediction does: propagate (the "
        "default: the segment's metrics are NaN) or omit (the row does not "
        "count, like a missing value); as nan_policy= in polars_l2.report; "
        "with --state, the states' own",
    )


def column_spec(
    options: ColumnOptions,
    states: SavedStates,
    *,
    data: bool,
    allow_new_models: bool,
) -> Spec | None:
    """Return the columns to evaluate: the options, completed from the states.

    Without ``--state``, ``--actual`` and ``--predicted`` are required with
    data files. With ``--state``, an option not given is taken from what
    the states recorded, and every option is checked against it: a
    difference is refused, naming it. None where there are no data files.
    """
    recorded = states.measured
    if recorded is None:
        if not data:
            return None
        if not options.actual or not options.predicted:
            msg = "--actual and at least one --predicted are required with data files"
            raise CliError(msg)
        return _parse(options)
    completed = ColumnOptions(
        actual=options.actual or recorded.actual,
        predicted=options.predicted or recorded.models,
        by=options.by or _recorded_by(recorded.keys),
        weight=options.weight or (recorded.weight if recorded.weighted else None),
        nan_policy=options.nan_policy or recorded.nan_policy,
    )
    keys = completed.by
    if OUTPUT_KEY in recorded.keys and OUTPUT_KEY not in keys:
        keys = (*keys, OUTPUT_KEY)  # a state of vector columns, per output
    asked = Measured(
        actual=completed.actual,
        models=completed.predicted,
        keys=keys,
        weight=completed.weight,
        # A state that does not record its weight column keeps its own.
        weighted=True if options.weight else recorded.weighted,
        nan_policy=options.nan_policy,
    )
    found = recorded.differences(asked, models=not allow_new_models)
    if found:
        hint = (
            "; --allow-new-models lets the models differ from the states' "
            "deliberately (a model joining or left out)"
            if any(text.startswith("models ") for text in found)
            else ""
        )
        msg = (
            "the column options differ from what the --state files measured "
            f"(state, options): {'; '.join(found)}{hint}"
        )
        raise CliError(msg)
    if not data:
        return None
    _require_recorded(completed, recorded, given=options)
    return _parse(completed)


def _recorded_by(keys: Sequence[str]) -> tuple[str, ...]:
    # A state of vector columns has the output number as its last key, which
    # is no column of the data.
    if keys and keys[-1] == OUTPUT_KEY:
        return tuple(keys[:-1])
    return tuple(keys)


def _require_recorded(
    completed: ColumnOptions, recorded: Measured, *, given: ColumnOptions
) -> None:
    """Refuse data files where the states leave a column unknown (no rows)."""
    if not completed.predicted:
        msg = "the --state files hold no rows, so no models: give --predicted"
        raise CliError(msg)
    if completed.actual is None:
        msg = (
            "the --state files hold no rows, so they do not record their "
            "actual column: give --actual"
        )
        raise CliError(msg)
    if recorded.weighted and completed.weight is None and not given.weight:
        msg = (
            "the --state files are weighted but do not record the weight "
            "column: give --weight"
        )
        raise CliError(msg)


def _parse(options: ColumnOptions) -> Spec:
    assert options.actual is not None  # checked by the callers
    return arguments.parse(
        options.actual,
        list(options.predicted),
        by=list(options.by),
        weight=options.weight,
        nan_policy=options.nan_policy or "propagate",
        # The command names the state's columns: its refusals say what is
        # wrong, not which function (the prefix is dropped on stderr).
        function="polars_l2.state",
        reserved=RESERVED,
    )


def _empty_input(paths: list[Location]) -> CliError:
    shown = ", ".join(str(p) for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    return CliError(f"empty input: no data rows in {shown}")


class Merger:
    """Merge states as they come, so memory grows with segments, not files.

    Up to :attr:`FAN_IN` states wait; then they are merged into one, which
    waits with the next ones (merging is exact up to rounding, in any
    grouping). A merged state is labelled by its first part, for messages.
    """

    FAN_IN = 32

    def __init__(
        self, saved: Sequence[tuple[str, pl.DataFrame]], *, allow_new_models: bool
    ) -> None:
        self._parts = list(saved)
        self._allow_new_models = allow_new_models
        self._merges = 0

    def add(self, label: str, state: pl.DataFrame) -> None:
        """Take one more state; merge those waiting once there are enough."""
        self._parts.append((label, state))
        if len(self._parts) > self.FAN_IN:
            self._fold()

    def _fold(self) -> None:
        first = self._parts[0][0].removesuffix(" and those after it")
        merged = self._merge()
        self._parts = [(f"{first} and those after it", merged)]

    def _merge(self) -> pl.DataFrame:
        # What is wrong with the states together (different segments) is
        # about no one file.
        with about(None):
            merged = _state.merge(self._parts, allow_new_models=self._allow_new_models)
        self._merges += 1
        return merged

    @property
    def waiting(self) -> int:
        """How many states wait to be merged (at most :attr:`FAN_IN` + 1)."""
        return len(self._parts)

    def result(self) -> pl.DataFrame | None:
        """Return the merge of every state taken; None if there was none."""
        return self._merge() if self._parts else None


@dataclass
class _Run:
    """What one evaluation has read so far."""

    counted: _ledger.Counted
    ledger: list[_ledger.Entry]
    merger: Merger
    #: The sources counted, in order (an empty one too).
    read: list[Source] = field(default_factory=list)
    #: The sources without data rows.
    empty: list[Location] = field(default_factory=list)


def evaluate(
    sources: list[Source],
    states: SavedStates,
    spec: Spec | None,
    *,
    confidence: float,
    top_share: bool = True,
    min_n: int = 30,
    overall: bool = False,
    variance: Variance = "hc1",
    want_state: bool,
    progress_stream: TextIO,
    progress: bool,
    allow_new_models: bool = False,
    notice: Callable[[str], None] = lambda _: None,
    baseline: str | None = None,
    losses: Losses = SQUARED,
    check_schema: Callable[[pl.Schema], None] | None = None,
) -> Outcome:
    """Evaluate the files and saved states into one report.

    Each file is opened once (:mod:`polars_l2.cli._opened`): a file whose
    content is counted already, in a ``--state`` or earlier in this run, is
    skipped with a notice; the others are each reduced to a state and merged
    as they come (:class:`Merger`). One file alone, without ``--state``, is
    evaluated in one query, unless its parquet row groups must be sliced.

    Parameters
    ----------
    sources
        The data files.
    states
        Saved states to merge with the files' states (:func:`load_states`).
    spec
        The columns to evaluate (:func:`column_spec`); needed when there are
        data files.
    confidence
        Level of the RMSE confidence interval.
    top_share
        Whether to compute ``top_1pct_share`` (from each file's histogram,
        merged, when there are several). False skips its cost, as in
        :func:`polars_l2.report`.
    min_n, overall, variance
        As in :func:`polars_l2.report`: the size below which a segment is
        flagged small, whether each model's overall row is added, and the
        variance of the intervals' weighted means.
    want_state
        Whether the merged state is needed (for ``--save-state``).
    progress_stream
        Where the progress bar goes (stderr).
    progress
        Whether to draw the bar. It changes nothing else.
    allow_new_models
        Whether the files' models may differ from the states' (a notice
        names each model that joins, or gets no new rows).
    notice
        Says one line to the user (a file skipped as counted already).
    baseline, losses
        The baseline of ``compare``: the states then keep each other
        model's paired moments against it (see :func:`polars_l2.state`),
        for each of `losses`.
    check_schema
        Called with each file's schema once it is scanned, before anything
        of it is computed (the gates' checks of the keys' dtypes).

    Returns
    -------
    Outcome
        The report, the merged state if `want_state` (or if it was computed
        anyway) and its ledger.
    """
    if sources and spec is None:  # pragma: no cover - the parser requires it
        msg = "--actual and --predicted are required to read data files"
        raise CliError(msg)
    if spec is not None and states.measured is not None and sources:
        _say_new_models(states.measured, spec, notice)
    run = _Run(
        _ledger.Counted(states.inputs),
        [entry for state in states.inputs for entry in state.absorbed()],
        Merger(states.frames, allow_new_models=allow_new_models),
    )
    options = _Options(
        confidence,
        top_share,
        want_state,
        baseline,
        min_n,
        overall,
        losses,
        variance,
        check_schema,
    )
    alone = len(sources) == 1 and not states.frames
    with Progress(len(sources), stream=progress_stream, enabled=progress) as bar:
        for source in sources:
            assert spec is not None  # checked above
            whole = _read(source, spec, run, options, alone=alone, notice=notice)
            if whole is not None:
                whole.ledger = run.ledger
                return whole
            bar.advance()
    merged = run.merger.result()
    if merged is None:
        raise _empty_input(run.empty)
    report = polars_l2.finalize(
        merged,
        confidence=confidence,
        min_n=min_n,
        overall=overall,
        variance=variance,
    )
    _check_not_empty(report)
    return Outcome(report, merged, run.empty, run.ledger, run.read)


@dataclass(frozen=True)
class _Options:
    confidence: float
    top_share: bool
    want_state: bool
    baseline: str | None
    min_n: int = 30
    overall: bool = False
    losses: Losses = SQUARED
    variance: Variance = "hc1"
    #: Checks each file's schema once it is scanned, before it is evaluated.
    check_schema: Callable[[pl.Schema], None] | None = None

    def state_query(self, frame: pl.LazyFrame, spec: Spec) -> pl.LazyFrame:
        """Return the state query of `frame`, paired with the baseline if any."""
        return _state.state_query(
            frame,
            spec,
            top_share=self.top_share,
            baseline=self.baseline,
            losses=self.losses,
        )


def _read(
    source: Source,
    spec: Spec,
    run: _Run,
    options: _Options,
    *,
    alone: bool,
    notice: Callable[[str], None],
) -> Outcome | None:
    """Count one file into `run`; return the whole outcome if it is read alone."""
    with opened(source, identify=options.want_state or not alone) as file:
        if file.entry is not None:
            why = run.counted.skip(file.entry)
            if why is not None:
                notice(why)
                return None
            changed = run.counted.changed(file.entry)
            if changed is not None:
                notice(changed)
        with about(source.path):
            frame = file.scan()
            schema = frame.collect_schema() if options.check_schema else None
            empty = is_empty(frame)
        if options.check_schema is not None and schema is not None:
            options.check_schema(schema)
        with about(source.path):
            sliced = (
                None if empty else _row_groups.rows_to_slice(file.target, source.format)
            )
        outcome = None
        if empty:
            run.empty.append(source.path)
            if alone:
                raise _empty_input([source.path])
        elif alone and sliced is None:
            outcome = _evaluate_whole(frame, source, spec, options)
        else:
            parts = [frame] if sliced is None else _row_groups.slices(frame, sliced)
            for part in parts:  # one slice in memory at a time
                run.merger.add(source.name, _state_of(part, source, spec, options))
        file.check_unchanged()
    if file.entry is not None:
        run.ledger.append(file.entry)
    run.read.append(source)
    if outcome is not None:
        outcome.read = run.read
    return outcome


def _state_of(
    frame: pl.LazyFrame, source: Source, spec: Spec, options: _Options
) -> pl.DataFrame:
    # Column and dtype errors come while the plan is built, before any data
    # is read.
    with about(source.path):
        query = options.state_query(frame, spec)
        return query.collect(engine="streaming", optimizations=STREAMING)


def _say_new_models(
    recorded: Measured, spec: Spec, notice: Callable[[str], None]
) -> None:
    """Name the models that join the states, and those the files lack."""
    joining = [m for m in spec.predicted if m not in recorded.models]
    missing = [m for m in recorded.models if m not in spec.predicted]
    if joining:
        notice(
            f"model(s) {', '.join(map(repr, joining))} join the state here: "
            "their rows start with these files"
        )
    if missing:
        notice(
            f"model(s) {', '.join(map(repr, missing))} of the state get no "
            "rows from these files"
        )


def _evaluate_whole(
    frame: pl.LazyFrame, source: Source, spec: Spec, options: _Options
) -> Outcome:
    with about(source.path):
        queries = [
            _report.report_query(
                frame,
                spec,
                confidence=options.confidence,
                top_share=options.top_share,
                min_n=options.min_n,
                overall=options.overall,
                variance=options.variance,
            )
        ]
        if options.want_state:
            queries.append(options.state_query(frame, spec))
        results = pl.collect_all(queries, engine="streaming", optimizations=STREAMING)
    _check_not_empty(results[0])
    return Outcome(results[0], results[1] if options.want_state else None)


def _check_not_empty(report: pl.DataFrame) -> None:
    if report.height == 0 or report.get_column("n").fill_null(0).max() == 0:
        msg = (
            "empty input: no row has both the actual value and a prediction "
            "present (and, weighted, a non-zero weight)"
        )
        raise CliError(msg)


@contextlib.contextmanager
def read_rows(
    sources: Sequence[Source],
    *,
    identify: bool,
    notice: Callable[[str], None] = lambda _: None,
) -> Iterator[list[tuple[Source, pl.LazyFrame]]]:
    """Open every file at once and yield the scans of those with data rows.

    With `identify`, a file whose content another has given already is
    skipped with a notice, as :func:`evaluate` skips it. The files stay open
    for the duration of the block, which reads them.
    """
    counted = _ledger.Counted([])
    scans = []
    with contextlib.ExitStack() as stack:
        for source in sources:
            file = stack.enter_context(opened(source, identify=identify))
            why = None if file.entry is None else counted.skip(file.entry)
            if why is not None:
                notice(why)
                continue
            with about(source.path):
                frame = file.scan()
                if not is_empty(frame):
                    scans.append((source, frame))
        yield scans


#: The column options of the subcommands, each one name or a list of names.
_ONE_COLUMN = ("actual", "baseline", "weight", "feature", "cluster")
_COLUMNS = ("predicted", "candidate", "by")


def roles(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Return the columns a subcommand's options name, as (role, name) pairs."""
    named = [
        (role, name)
        for role in _ONE_COLUMN
        if (name := getattr(args, role, None)) is not None
    ]
    named += [
        (role, name) for role in _COLUMNS for name in getattr(args, role, None) or ()
    ]
    return named


def nan_policy(args: argparse.Namespace) -> NanPolicy:
    """Return ``--nan-policy``: given, or the functions' default."""
    policy: NanPolicy = args.nan_policy or "propagate"
    return policy


def rows_of(
    scans: Sequence[tuple[Source, pl.LazyFrame]], roles: Sequence[tuple[str, str]]
) -> pl.LazyFrame:
    """Return the rows of every file as one lazy frame, with all their columns.

    Each file must hold every column of `roles` ((role, name) pairs), as
    :func:`evaluate` requires of each: a file without one is refused, naming
    it, rather than given nulls there, which would leave its rows out of
    that column's figures unseen. Columns outside `roles` may differ.
    """
    if not scans:
        msg = "empty input: no data rows"
        raise CliError(msg)
    for source, frame in scans:
        with about(source.path):
            arguments.check_columns(
                frame.collect_schema(), roles, function="polars_l2.cli"
            )
    return pl.concat([frame for _, frame in scans], how="diagonal_relaxed")


def all_rows(scans: Sequence[tuple[Source, pl.LazyFrame]], spec: Spec) -> pl.LazyFrame:
    """Return the rows of every file as one lazy frame (the columns of `spec`).

    Dtypes that differ between files (an integer column in one CSV, a float
    one in another) are relaxed to their common supertype.
    """
    return pl.concat(
        [frame.select(column(name) for name in spec.needed) for _, frame in scans],
        how="vertical_relaxed",
    )

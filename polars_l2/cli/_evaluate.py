"""Evaluate input files and saved states for the command line.

Every file is scanned lazily and run on Polars' streaming engine. How the
report is computed depends only on the inputs, never on whether a progress
bar is drawn:

- **One data file and no** ``--state``: :func:`polars_l2.report` on the file,
  one query. Every column is exactly what the library gives, including
  ``top_1pct_share``.
- **Several data files, or any** ``--state``: each file is reduced, one after
  another, to a mergeable state (:func:`polars_l2.state`; this is what the
  progress bar counts), the states and the saved ones are merged
  (:func:`polars_l2.merge_states`) and finalised (:func:`polars_l2.finalize`).
  Every column equals the report on all the data up to rounding,
  ``top_1pct_share`` included (each state keeps the squared errors'
  histogram, whose fixed bins merge by adding). Memory
  grows with the number of segments, not of rows (measured: about 300 MB
  for 10, 20 and 40 million rows and 1,000 segments).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

import polars_l2
from polars_l2 import _report, _state
from polars_l2._core import arguments
from polars_l2._core.arguments import Spec, column
from polars_l2._core.per_output import OUTPUT_KEY
from polars_l2._state import RESERVED, Measured
from polars_l2.cli import _ledger
from polars_l2.cli._errors import CliError, about
from polars_l2.cli._progress import Progress

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import TextIO

    from polars_l2.cli._inputs import Location, Source

__all__ = [
    "STREAMING",
    "ColumnOptions",
    "Outcome",
    "SavedStates",
    "Spec",
    "all_rows",
    "column_spec",
    "evaluate",
    "load_states",
    "scan_rows",
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
    twice, or absorbed already by another, is skipped with a notice; states
    that share a source are refused (see :mod:`polars_l2.cli._ledger`).
    """
    inputs = []
    for path in paths:
        with about(path):  # a missing, unreadable or corrupt state file
            data = path.read_bytes()
            metadata = pl.read_parquet_metadata(io.BytesIO(data))
            ledger = _ledger.read_ledger(metadata, path)
        digest = hashlib.sha256(data).hexdigest()
        entry = _ledger.Entry("state", digest, len(data), str(path))
        inputs.append(_ledger.StateInput(path, entry, ledger, data))
    kept = _ledger.plan_states(inputs, notice)
    frames = []
    for state in kept:
        with about(state.path):
            frame = _state.load(
                pl.read_parquet(io.BytesIO(state.data)),
                metadata=pl.read_parquet_metadata(io.BytesIO(state.data)),
                function="polars_l2.merge_states",
            )
        frames.append((str(state.path), frame))
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
        return _parse(options, "propagate")
    completed = ColumnOptions(
        actual=options.actual or recorded.actual,
        predicted=options.predicted or recorded.models,
        by=options.by or _recorded_by(recorded.keys),
        weight=options.weight or (recorded.weight if recorded.weighted else None),
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
        nan_policy=None,
    )
    found = recorded.differences(asked, models=not allow_new_models)
    if found:
        hint = (
            "; --allow-new-models adds a model to a state deliberately"
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
    return _parse(completed, recorded.nan_policy or "propagate")


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


def _parse(options: ColumnOptions, nan_policy: str) -> Spec:
    assert options.actual is not None  # checked by the callers
    return arguments.parse(
        options.actual,
        list(options.predicted),
        by=list(options.by),
        weight=options.weight,
        nan_policy=nan_policy,
        function="evaluate",
        reserved=RESERVED,
    )


def _empty_input(paths: list[Location]) -> CliError:
    shown = ", ".join(str(p) for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    return CliError(f"empty input: no data rows in {shown}")


def scan_rows(source: Source) -> pl.LazyFrame | None:
    """Scan a file, or return None if it has no data rows."""
    with about(source.path):
        return None if source.is_empty() else source.scan()
    raise AssertionError  # pragma: no cover - for type checkers


def evaluate(
    sources: list[Source],
    states: SavedStates,
    spec: Spec | None,
    *,
    confidence: float,
    top_share: bool = True,
    min_n: int = 30,
    overall: bool = False,
    want_state: bool,
    progress_stream: TextIO,
    progress: bool,
    allow_new_models: bool = False,
    notice: Callable[[str], None] = lambda _: None,
    baseline: str | None = None,
) -> Outcome:
    """Evaluate the files and saved states into one report.

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
    min_n, overall
        As in :func:`polars_l2.report`: the size below which a segment is
        flagged small, and whether each model's overall row is added.
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
    baseline
        The baseline of ``compare``: the states then keep each other
        model's paired moments against it (see :func:`polars_l2.state`).

    Returns
    -------
    Outcome
        The report, the merged state if `want_state` (or if it was computed
        anyway) and its ledger.
    """
    if sources and spec is None:  # pragma: no cover - the parser requires it
        msg = "--actual and --predicted are required to read data files"
        raise CliError(msg)
    ledger = [entry for state in states.inputs for entry in state.absorbed()]
    if want_state or states.inputs:
        # Fingerprints cost a read of each file; only a ledger needs them.
        chosen, entries = _ledger.plan_files(
            [s.path for s in sources], states.inputs, notice
        )
        sources = [s for s in sources if s.path in set(chosen)]
        ledger += entries
    if spec is not None and states.measured is not None and sources:
        _say_new_models(states.measured, spec, notice)
    if len(sources) == 1 and not states.frames and spec is not None:
        outcome = _evaluate_whole(
            sources[0],
            spec,
            confidence=confidence,
            top_share=top_share,
            min_n=min_n,
            overall=overall,
            want_state=want_state,
            baseline=baseline,
        )
        outcome.ledger = ledger
        return outcome
    file_states, skipped = _file_states(
        sources,
        spec,
        progress_stream=progress_stream,
        progress=progress,
        top_share=top_share,
        baseline=baseline,
    )
    if not file_states and not states.frames:
        raise _empty_input(skipped)
    parts = [*states.frames, *((str(path), f) for path, f in file_states)]
    # What is wrong with the states together (different segments) is about
    # no one file.
    with about(None):
        merged = _state.merge(parts, allow_new_models=allow_new_models)
    report = polars_l2.finalize(
        merged, confidence=confidence, min_n=min_n, overall=overall
    )
    _check_not_empty(report)
    return Outcome(report, merged, skipped, ledger)


def _file_states(
    sources: list[Source],
    spec: Spec | None,
    *,
    progress_stream: TextIO,
    progress: bool,
    top_share: bool,
    baseline: str | None,
) -> tuple[list[tuple[Location, pl.DataFrame]], list[Location]]:
    """Reduce each file to its state, one after another; list the empty ones."""
    file_states: list[tuple[Location, pl.DataFrame]] = []
    skipped: list[Location] = []
    with Progress(len(sources), stream=progress_stream, enabled=progress) as bar:
        for source in sources:
            assert spec is not None  # checked by the caller
            frame = scan_rows(source)
            if frame is None:
                skipped.append(source.path)
            else:
                # Column and dtype errors come while the plan is built,
                # before any data is read.
                with about(source.path):
                    query = _state.state_query(
                        frame, spec, top_share=top_share, baseline=baseline
                    )
                    state = query.collect(engine="streaming", optimizations=STREAMING)
                file_states.append((source.path, state))
            bar.advance()
    return file_states, skipped


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
    source: Source,
    spec: Spec,
    *,
    confidence: float,
    top_share: bool,
    min_n: int = 30,
    overall: bool = False,
    want_state: bool,
    baseline: str | None,
) -> Outcome:
    frame = scan_rows(source)
    if frame is None:
        raise _empty_input([source.path])
    with about(source.path):
        queries = [
            _report.report_query(
                frame,
                spec,
                confidence=confidence,
                top_share=top_share,
                min_n=min_n,
                overall=overall,
            )
        ]
        if want_state:
            queries.append(
                _state.state_query(frame, spec, top_share=top_share, baseline=baseline)
            )
        results = pl.collect_all(queries, engine="streaming", optimizations=STREAMING)
    _check_not_empty(results[0])
    return Outcome(results[0], results[1] if want_state else None)


def _check_not_empty(report: pl.DataFrame) -> None:
    if report.height == 0 or report.get_column("n").fill_null(0).max() == 0:
        msg = (
            "empty input: no row has both the actual value and a prediction "
            "(and the weight) present"
        )
        raise CliError(msg)


def all_rows(
    sources: list[Source], spec: Spec, *, skip: list[Location]
) -> pl.LazyFrame:
    """Return the rows of every file as one lazy frame (the columns of `spec`).

    Dtypes that differ between files (an integer column in one CSV, a float
    one in another) are relaxed to their common supertype.
    """
    skipped = set(skip)
    return pl.concat(
        [
            s.scan().select(column(name) for name in spec.needed)
            for s in sources
            if s.path not in skipped
        ],
        how="vertical_relaxed",
    )

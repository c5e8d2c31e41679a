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
  Every column equals the report on all the data up to rounding, except
  ``top_1pct_share``, which is null: it needs the largest 1% of the squared
  errors of all the data at once, which no fixed-size state keeps. Memory
  grows with the number of segments, not of rows (measured: about 300 MB
  for 10, 20 and 40 million rows and 1,000 segments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

import polars_l2
from polars_l2 import _report, _state
from polars_l2._core.columns import Spec, column
from polars_l2.cli._errors import CliError, about
from polars_l2.cli._progress import Progress

if TYPE_CHECKING:
    from pathlib import Path
    from typing import TextIO

    from polars_l2.cli._inputs import Location, Source

__all__ = [
    "STREAMING",
    "Outcome",
    "Spec",
    "all_rows",
    "evaluate",
    "report_query",
    "state_query",
]

#: Common-subplan elimination shares one scan between the group-bys of a plan
#: through a cache, which the streaming engine fills with the whole input;
#: without it each group-by streams its own scan, in bounded memory.
STREAMING = pl.QueryOptFlags(comm_subplan_elim=False)


def report_query(
    spec: Spec, frame: pl.LazyFrame, *, confidence: float, top_share: bool = True
) -> pl.LazyFrame:
    """Return the report of `frame` for the columns of `spec` (lazy)."""
    return _report.evaluate(frame, spec, confidence=confidence, top_share=top_share)


def state_query(spec: Spec, frame: pl.LazyFrame) -> pl.LazyFrame:
    """Return the mergeable state of `frame` for the columns of `spec` (lazy)."""
    return _state.evaluate(frame, spec)


@dataclass
class Outcome:
    """The result of an evaluation."""

    report: pl.DataFrame
    #: The merged state, when it was asked for (or computed anyway).
    state: pl.DataFrame | None
    #: Files without data rows, which were skipped.
    skipped: list[Location] = field(default_factory=list)


def _empty_input(paths: list[Location]) -> CliError:
    shown = ", ".join(str(p) for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    return CliError(f"empty input: no data rows in {shown}")


def _scan(source: Source) -> pl.LazyFrame | None:
    """Scan a file, or return None if it has no data rows."""
    with about(source.path):
        return None if source.is_empty() else source.scan()
    raise AssertionError  # pragma: no cover - for type checkers


def evaluate(
    sources: list[Source],
    states: list[Path],
    spec: Spec | None,
    *,
    confidence: float,
    top_share: bool = True,
    want_state: bool,
    progress_stream: TextIO,
    progress: bool,
) -> Outcome:
    """Evaluate the files and saved states into one report.

    Parameters
    ----------
    sources
        The data files.
    states
        Saved state files (parquet) to merge with the files' states.
    spec
        The columns to evaluate; needed when there are data files.
    confidence
        Level of the RMSE confidence interval.
    top_share
        Whether to compute ``top_1pct_share`` (one data file only; it is
        null after a merge anyway). False skips its cost, as in
        :func:`polars_l2.report`.
    want_state
        Whether the merged state is needed (for ``--save-state``).
    progress_stream
        Where the progress bar goes (stderr).
    progress
        Whether to draw the bar. It changes nothing else.

    Returns
    -------
    Outcome
        The report, and the merged state if `want_state` (or if it was
        computed anyway).
    """
    if sources and spec is None:  # pragma: no cover - the parser requires it
        msg = "--actual and --predicted are required to read data files"
        raise CliError(msg)
    if len(sources) == 1 and not states and spec is not None:
        return _evaluate_whole(
            sources[0],
            spec,
            confidence=confidence,
            top_share=top_share,
            want_state=want_state,
        )

    file_states: list[pl.DataFrame] = []
    skipped: list[Location] = []
    with Progress(len(sources), stream=progress_stream, enabled=progress) as bar:
        for source in sources:
            assert spec is not None  # checked above
            frame = _scan(source)
            if frame is None:
                skipped.append(source.path)
            else:
                # Column and dtype errors come while the plan is built,
                # before any data is read.
                with about(source.path):
                    file_states.append(
                        state_query(spec, frame).collect(
                            engine="streaming", optimizations=STREAMING
                        )
                    )
            bar.advance()
    if not file_states and not states:
        raise _empty_input(skipped)
    for path in states:
        with about(path):  # a missing, unreadable or corrupt state file
            pl.read_parquet_schema(path)
    # What is wrong with the states together (different segments) is about
    # no one file.
    with about(None):
        merged = polars_l2.merge_states([*states, *file_states])
    report = polars_l2.finalize(merged, confidence=confidence)
    _check_not_empty(report)
    return Outcome(report, merged, skipped)


def _evaluate_whole(
    source: Source, spec: Spec, *, confidence: float, top_share: bool, want_state: bool
) -> Outcome:
    frame = _scan(source)
    if frame is None:
        raise _empty_input([source.path])
    with about(source.path):
        queries = [
            report_query(spec, frame, confidence=confidence, top_share=top_share)
        ]
        if want_state:
            queries.append(state_query(spec, frame))
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

"""Timing, result checks and the records each benchmark case returns.

Timings are taken in interleaved rounds: every variant of a case runs once per
round, in a rotating order, so drift in machine load (the benchmark machine is
often shared) hits all variants alike and the ratios stay meaningful.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Status = Literal["PASS", "MISS", "SKIP", "INFO"]
MARGINAL = 0.03


@dataclass
class Variant:
    """One way of computing a case's figure.

    `check` turns the variant's output into a 1-D float array (sorted by group
    where grouped) so that results can be compared across libraries. `scale`
    multiplies the measured times, for variants run on a subsample.
    """

    name: str
    engine: str
    run: Callable[[], Any]
    check: Callable[[Any], np.ndarray] | None = None
    scale: float = 1.0
    note: str = ""
    times: list[float] = field(default_factory=list)
    agrees: bool | None = None
    error: str | None = None

    @property
    def median(self) -> float:
        """Median seconds per run, scaled; NaN if it did not run."""
        if not self.times:
            return math.nan
        return statistics.median(self.times) * self.scale

    @property
    def spread(self) -> tuple[float, float]:
        """Fastest and slowest run, scaled (seconds)."""
        if not self.times:
            return (math.nan, math.nan)
        return (min(self.times) * self.scale, max(self.times) * self.scale)


def measure(
    variants: Sequence[Variant],
    *,
    repeats: int,
    reference: str | None = None,
    rtol: float = 1e-9,
) -> None:
    """Warm each variant up once, check its result, then time it `repeats` times.

    The warm-up output of each variant with a `check` is compared with the
    output of the `reference` variant (by name); `agrees` records the outcome.
    A variant that raises is recorded with its error and not timed.
    """
    outputs: dict[str, np.ndarray] = {}
    live: list[Variant] = []
    for v in variants:
        try:
            out = v.run()
        except Exception as exc:  # recorded on the page, not raised
            message = (str(exc).splitlines() or [""])[0][:160]
            v.error = f"{type(exc).__name__}: {message}"
            continue
        if v.check is not None:
            outputs[v.name] = np.asarray(v.check(out), dtype=np.float64)
        live.append(v)
    if reference is not None and reference in outputs:
        ref = outputs[reference]
        for v in live:
            if v.name in outputs:
                got = outputs[v.name]
                v.agrees = got.shape == ref.shape and bool(
                    np.allclose(got, ref, rtol=rtol, atol=0.0, equal_nan=True)
                )
    # Collect garbage between rounds, not inside them, with everything older
    # (imported libraries, the data) frozen so that a collection stays cheap.
    gc.collect()
    gc.freeze()
    try:
        for r in range(repeats):
            gc.collect()
            gc.disable()
            k = r % len(live) if live else 0
            for v in live[k:] + live[:k]:
                start = time.perf_counter()
                v.run()
                v.times.append(time.perf_counter() - start)
            gc.enable()
    finally:
        gc.enable()
        gc.unfreeze()


def fastest(variants: Sequence[Variant]) -> Variant | None:
    """Return the timed variant with the lowest median, ignoring wrong results."""
    ok = [v for v in variants if v.times and v.agrees is not False]
    return min(ok, key=lambda v: v.median) if ok else None


def ms(seconds: float) -> str:
    """Format seconds as milliseconds with sensible precision."""
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(value: float, *, digits: int = 2) -> str:
    """Format a ratio (NaN as n/a); `digits` decimals below 10."""
    if math.isnan(value) or math.isinf(value):
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.{digits}f}×"


@dataclass
class Target:
    """A goal from the issue, the figure measured against it, and the verdict."""

    case: str
    goal: str
    limit: float | None
    at_most: bool = True
    measured: float | None = None
    shown: str = ""
    gap: str = ""
    skipped: str = ""

    @property
    def marginal(self) -> bool:
        """A miss within 3% of the limit: inside a shared machine's noise."""
        return (
            self.status == "MISS"
            and self.measured is not None
            and self.limit is not None
            and abs(self.measured / self.limit - 1) < MARGINAL
        )

    @property
    def status(self) -> Status:
        """PASS or MISS against the limit; SKIP when nothing was measured.

        INFO marks a figure the issue asks for without setting a limit.
        """
        if self.measured is None or math.isnan(self.measured):
            return "SKIP"
        if self.limit is None:
            return "INFO"
        ok = (
            self.measured <= self.limit if self.at_most else self.measured >= self.limit
        )
        return "PASS" if ok else "MISS"


@dataclass
class Table:
    """A markdown table."""

    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""

    def markdown(self) -> str:
        """Render as a GitHub-flavoured markdown table."""
        lines = []
        if self.caption:
            lines += [self.caption, ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass
class Section:
    """The results of one case: text, tables and the targets it measured."""

    title: str
    intro: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def markdown(self) -> str:
        """Render the section as markdown."""
        parts = [f"## {self.title}"]
        parts += self.intro
        parts += [t.markdown() for t in self.tables]
        parts += self.notes
        return "\n\n".join(parts)


def timing_table(
    variants: Sequence[Variant],
    *,
    baseline: Variant | None,
    baseline_label: str,
    extra: Sequence[tuple[str, Variant | None]] = (),
    caption: str = "",
) -> Table:
    """One row per variant: engine, median and range in ms, ratios to baselines."""
    headers = ["variant", "engine", "median ms", "range ms", f"÷ {baseline_label}"]
    headers += [f"÷ {label}" for label, _ in extra]
    headers.append("result")
    table = Table(headers, caption=caption)
    for v in variants:
        if v.error is not None:
            row = [v.name, v.engine, "failed", "", "", *["" for _ in extra]]
            row.append(f"raised {v.error}")
            table.rows.append(row)
            continue
        lo, hi = v.spread
        row = [v.name, v.engine, ms(v.median), f"{ms(lo)}–{ms(hi)}"]
        for base in [baseline, *(b for _, b in extra)]:
            row.append(ratio(v.median / base.median) if base is not None else "n/a")
        verdict = {None: "", True: "agrees", False: "**differs**"}[v.agrees]
        if v.note:
            verdict = f"{verdict}; {v.note}" if verdict else v.note
        row.append(verdict)
        table.rows.append(row)
    return table

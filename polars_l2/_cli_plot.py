"""Write the evaluation figure of ``--plot`` (needs the extra ``polars-l2[plot]``).

The figure is :func:`polars_l2.plot.plot_evaluation`: RMSE per segment and
model with its interval, beside the squared-error concentration curve of each
model. The curve ranks every row's squared error, so it reads the data once
more, and sorts one column per model in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polars_l2 import plot
from polars_l2._cli_inputs import CliError
from polars_l2._cli_output import replace_atomically

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from polars_l2._cli_evaluate import Spec


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

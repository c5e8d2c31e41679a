"""Docstring paragraphs that several public functions share, written once.

A docstring names a shared paragraph on a line of its own, as ``%(name)s``
(the placeholder of scipy's ``doccer``); :func:`fill` replaces that line with
the paragraph, indented as the placeholder was. The API docs read the filled
docstrings (``docs/scripts/runtime_docstrings.py``), and so do doctests and
``help()``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

F = TypeVar("F", bound="Callable[..., object]")

#: A placeholder: ``%(name)s`` alone on its line, after its indentation.
PLACEHOLDER = re.compile(r"^(?P<indent>[ ]*)%\((?P<name>\w+)\)s$", re.MULTILINE)

#: The shared paragraphs, unindented, by name.
PARAGRAPHS: dict[str, str] = {
    # The options of the aggregate expressions sse, mse and rmse.
    "aggregate_options": """\
weight
    Optional non-negative row weights, as for `actual`. For vectors, a
    row's weight applies to all its outputs.
multioutput
    How the outputs of vector inputs are combined:
    ``"uniform_average"`` (default) the mean of the per-output values,
    ``"raw_values"`` an ``Array(Float64, width)`` of them, ``"sum"`` their
    sum, or a sequence of non-negative output weights for a weighted
    average, as in scikit-learn. A scalar column is one output.
width
    The number of outputs of List inputs, whose dtype does not hold it
    (an Array dtype does). A row of another width fails the query.
nan_policy
    ``"propagate"`` (default) or ``"omit"``; see :func:`loss`.""",
    # Which rows an aggregate counts, and how vector outputs are combined.
    "aggregate_rows": """\
For vector inputs, each output is aggregated over the rows where its
elements (and the weight) are present, and the per-output values are
combined as `multioutput` says; ``"raw_values"`` gives an
``Array(Float64, width)``.""",
    # The column arguments of the Ray and Spark adapters.
    "adapter_columns": """\
actual
    Name of the column of observed values (numeric or Boolean).
predicted
    Name of the column of predictions, or a list of names, one per model.
by
    Name(s) of the column(s) that define the segments, or None.
weight
    Name of a column of non-negative sample weights, or None.""",
    "nan_policy": """\
nan_policy
    ``"propagate"`` (default) or ``"omit"`` NaN, as in
    :func:`polars_l2.mse`.""",
    # The pairing options of the adapters' states.
    "adapter_pairing": """\
baseline
    One of `predicted`, or None: each other model then also keeps its
    paired moments against it, which :func:`polars_l2.compare` needs (see
    :func:`polars_l2.state`).
loss, huber_delta
    With `baseline`: the losses whose paired moments are kept, as in
    :func:`polars_l2.state`.
top_share
    Keep the histogram ``top_1pct_share`` needs (default).""",
    # The report options of the adapters, as in polars_l2.report.
    "adapter_report": """\
confidence
    Level of the confidence intervals, strictly between 0 and 1.
top_share, min_n, overall, variance
    As in :func:`polars_l2.report`: compute ``top_1pct_share``, flag rows
    of fewer than `min_n` effective rows ``small``, add each model's
    overall row, and the variance of a mean in the intervals.""",
    # The test options of the adapters' compare, as in polars_l2.compare.
    "adapter_compare": """\
actual
    Name of the column of observed values.
baseline
    Name of the baseline model's prediction column.
candidates
    Name(s) of the candidate models' prediction columns.
by
    Name(s) of the columns that define the segments, or None.
weight
    Name of a column of non-negative sample weights, or None.
loss, huber_delta, variance, confidence, adjust, nan_policy, min_n
    As in :func:`polars_l2.compare`.""",
}


def _paragraph(match: re.Match[str]) -> str:
    indent = match["indent"]
    lines = PARAGRAPHS[match["name"]].splitlines()
    return "\n".join(indent + line if line else line for line in lines)


def fill(function: F) -> F:
    """Replace the placeholders of `function`'s docstring by their paragraphs.

    Examples
    --------
    >>> @fill
    ... def f() -> None:
    ...     '''Summary.
    ...
    ...     Parameters
    ...     ----------
    ...     %(nan_policy)s
    ...     '''
    >>> print(f.__doc__.splitlines()[4])
        nan_policy
    """
    if function.__doc__ is not None:  # None under ``python -OO``
        function.__doc__ = PLACEHOLDER.sub(_paragraph, function.__doc__)
    return function

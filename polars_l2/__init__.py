"""L2 loss, MSE and RMSE as first-class, lazy Polars expressions.

Importing this package registers the ``l2`` namespace on Polars expressions.
"""

from __future__ import annotations

# isort: off
# First: the command's signal handlers, before Polars is imported.
from polars_l2 import _command_start  # noqa: F401
# isort: on

from importlib.metadata import PackageNotFoundError, version

from polars_l2 import namespace as _namespace  # noqa: F401  (registers `l2`)
from polars_l2._bias import bias_by
from polars_l2._compare import compare
from polars_l2._decompose import decompose
from polars_l2._gates import gate_failures
from polars_l2._murphy import murphy
from polars_l2._report import report
from polars_l2._state import (
    STATE_VERSION,
    finalize,
    merge_states,
    state,
    state_schema,
)
from polars_l2._worst import worst
from polars_l2.accessor import l2
from polars_l2.exceptions import L2InputError
from polars_l2.functions import loss, mse, rmse, sse
from polars_l2.typing import IntoExpr, MultiOutput, NanPolicy

try:
    __version__ = version("polars-l2")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "STATE_VERSION",
    "IntoExpr",
    "L2InputError",
    "MultiOutput",
    "NanPolicy",
    "__version__",
    "bias_by",
    "compare",
    "decompose",
    "finalize",
    "gate_failures",
    "l2",
    "loss",
    "merge_states",
    "mse",
    "murphy",
    "report",
    "rmse",
    "sse",
    "state",
    "state_schema",
    "worst",
]

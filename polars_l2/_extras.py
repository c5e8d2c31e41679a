"""Optional dependencies: import one, or say in one line which extra installs it.

The plots (matplotlib), the report view (great-tables) and the Ray and Spark
adapters each need a library the core does not; they import it when used,
through :func:`require`, so that a missing one is an :class:`ImportError`
whose message names the extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType


def install_hint(user: str, library: str, extra: str) -> str:
    """Return the one-line message of a missing optional dependency.

    Examples
    --------
    >>> install_hint("polars_l2.ray", "ray", "ray")
    "polars_l2.ray needs ray, which is not installed; install the ray extra: pip install 'polars-l2[ray]'"
    """  # noqa: E501 - a doctest's expected line is the message, whole
    return (
        f"{user} needs {library}, which is not installed; "
        f"install the {extra} extra: pip install 'polars-l2[{extra}]'"
    )


def require(module: str, *, user: str, library: str, extra: str) -> ModuleType:
    """Import `module`, or raise an ImportError naming the extra that installs it.

    Parameters
    ----------
    module
        The module to import (``"matplotlib.figure"``, ``"ray"``).
    user
        Who needs it, for the message (``"polars_l2.plot"``).
    library
        The distribution's name, for the message (``"matplotlib"``).
    extra
        The extra of polars-l2 that installs it (``"plot"``).

    Raises
    ------
    ImportError
        If `module` cannot be imported; the message is one line, and the
        original error is its cause.

    Examples
    --------
    >>> require("json", user="polars_l2", library="json", extra="none").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(install_hint(user, library, extra)) from error

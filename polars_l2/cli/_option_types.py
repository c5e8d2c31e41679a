"""The argparse types of the options several subcommands share.

Each reads its option's text once, for every subcommand that has the option,
and refuses what the library would refuse, naming the option (argparse
prefixes the flag): ``--confidence``, ``--min-n`` and the input paths.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def confidence(text: str) -> float:
    """Read ``--confidence``: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        msg = f"must be a number between 0 and 1 (exclusive), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def min_n(text: str) -> int:
    """Read ``--min-n``: a non-negative whole number."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"must be a non-negative integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def input_path(text: str) -> str:
    """Read a data file's path (PATH): refuse an empty one.

    An empty path is no file; the directory it would otherwise stand for (the
    current one) holds files the user did not name.
    """
    if not text:
        msg = "the path is empty"
        raise argparse.ArgumentTypeError(msg)
    return text


def state_path(text: str) -> Path:
    """Read a ``--state`` file's path: refuse an empty one."""
    return Path(input_path(text))

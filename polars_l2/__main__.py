"""Run the ``polars-l2`` command as ``python -m polars_l2``."""

from __future__ import annotations

import sys

from polars_l2.cli import main

if __name__ == "__main__":
    sys.exit(main())

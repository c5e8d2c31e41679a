"""Without an optional extra, one line says which to install.

Each case runs in a subprocess where importing the extra's library fails, as
on an install without it: plots (matplotlib), the report view
(great-tables), the Ray and Spark adapters, and the command line's
``--format html``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from polars_l2 import _extras
from polars_l2._extras import install_hint
from tests.test_cli import assert_one_line_error, inline

if TYPE_CHECKING:
    from pathlib import Path

CASES = {
    "ray": (
        "import polars_l2.ray\npolars_l2.ray.report(None, 'y', 'p')\n",
        "polars_l2.ray needs ray, which is not installed; install the ray "
        "extra: pip install 'polars-l2[ray]'",
    ),
    "pyspark": (
        "import polars_l2.spark\npolars_l2.spark.report(None, 'y', 'p')\n",
        "polars_l2.spark needs pyspark, which is not installed; install the "
        "spark extra: pip install 'polars-l2[spark]'",
    ),
    "great_tables": (
        "import polars as pl\nfrom polars_l2 import view\n"
        "view.report_table(pl.DataFrame({'model': ['m'], 'rmse': [1.0]}))\n",
        "polars_l2.view needs great-tables, which is not installed; install "
        "the view extra: pip install 'polars-l2[view]'",
    ),
    "matplotlib": (
        "import polars as pl\nfrom polars_l2 import plot\n"
        "plot.plot_comparison(pl.DataFrame({'model': ['m']}))\n",
        "polars_l2.plot needs matplotlib, which is not installed; install the "
        "plot extra: pip install 'polars-l2[plot]'",
    ),
}


@pytest.mark.parametrize("library", sorted(CASES))
def test_a_missing_extra_is_named_in_one_line(library: str, tmp_path: Path) -> None:
    code, message = CASES[library]
    blocked = f"import sys; sys.modules[{library!r}] = None\n"
    result = subprocess.run(
        [sys.executable, "-c", blocked + code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"ImportError: {message}"


def test_format_html_without_its_extra_is_refused_before_reading(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = _extras.require

    def missing(module: str, **kwargs: str) -> object:
        if module == "great_tables":
            hint = install_hint(kwargs["user"], kwargs["library"], kwargs["extra"])
            raise ImportError(hint)
        return real(module, **kwargs)

    monkeypatch.setattr(_extras, "require", missing)
    result = inline(
        capsys,
        "evaluate",
        tmp_path / "missing.parquet",
        "--actual",
        "y",
        "--predicted",
        "p",
        "--format",
        "html",
    )
    assert_one_line_error(
        result,
        r"--format html needs great-tables, which is not installed; install the "
        r"view extra: pip install 'polars-l2\[view\]'$",
    )

"""Run every script in examples/ as a subprocess and check what it prints.

Each example this module knows has its own check against an independent
reference (numpy, math.fsum); any other script must at least run cleanly and
print something. Scripts that need an optional extra that is not installed
(Ray, Spark) are skipped.
"""

from __future__ import annotations

import importlib.util
import math
import re
import runpy
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_series_equal

import polars_l2
from polars_l2.data import make_houses

if TYPE_CHECKING:
    from collections.abc import Callable

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
#: Optional modules an example may need, by the import that shows it.
OPTIONAL = {"ray": "ray", "pyspark": "pyspark"}


def run_example(script: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def thousands(value: float, decimals: int) -> str:
    """Format as Polars does with thousands_separator and float_precision."""
    return f"{value:,.{decimals}f}"


def squared_errors(actual: np.ndarray, predicted: np.ndarray) -> list[float]:
    return [(float(a) - float(p)) ** 2 for a, p in zip(actual, predicted, strict=True)]


def check_house_prices(script: Path, _tmp_path: Path) -> None:
    stdout = run_example(script)
    # The example's own data, read without running its prints in a subprocess.
    houses = runpy.run_path(str(script), run_name="example")["houses"]
    errors = squared_errors(houses["price"].to_numpy(), houses["predicted"].to_numpy())
    sse = math.fsum(errors)
    for loss in errors:
        assert thousands(loss, 1) in stdout
    assert thousands(sse, 1) in stdout
    assert thousands(sse / len(errors), 1) in stdout
    assert thousands(math.sqrt(sse / len(errors)), 1) in stdout


def check_compare_models(script: Path, _tmp_path: Path) -> None:
    stdout = run_example(script)
    sample = resources.files("polars_l2") / "data" / "houses.parquet"
    with resources.as_file(sample) as path:
        houses = pl.read_parquet(path)
    better: dict[str, list[str]] = {"linear": [], "boosted": []}
    for (region,), group in sorted(houses.group_by("region"), key=lambda g: str(g[0])):
        price = group["price"].to_numpy().astype(np.float64)
        rmse = {
            model: float(np.sqrt(np.mean((price - group[model].to_numpy()) ** 2)))
            for model in better
        }
        for value in rmse.values():
            assert thousands(value, 0) in stdout
        better[min(rmse, key=rmse.__getitem__)].append(str(region))
    # The story of the sample: boosted wins everywhere but on the coast.
    assert better["linear"] == ["Coast"]
    for model, regions in better.items():
        assert f"{model} has the lower RMSE in: {', '.join(regions)}" in stdout
    # The report's outlier column, as a percentage: boosted on the coast.
    report = polars_l2.report(houses, "price", ["linear", "boosted"], by="region")
    coast = report.filter(pl.col("region") == "Coast", pl.col("model") == "boosted")
    assert f"{100 * coast['top_1pct_share'].item():.1f}%" in stdout


def check_pipeline_step(script: Path, tmp_path: Path) -> None:
    stdout = run_example(script, str(tmp_path))
    target = tmp_path / "scored.parquet"
    assert f"wrote {target}" in stdout
    source = pl.read_parquet(tmp_path / "predictions.parquet")
    scored = pl.read_parquet(target)
    assert scored.columns == [*source.columns, "loss"]
    expected = [
        None if p is None else (float(a) - p) ** 2
        for a, p in zip(source["price"], source["predicted"], strict=True)
    ]
    assert_series_equal(scored["loss"], pl.Series("loss", expected, pl.Float64))
    present = [e for e in expected if e is not None]
    assert thousands(math.fsum(present) / len(present), 1) in stdout


def check_distributed(script: Path, _tmp_path: Path) -> None:
    check_distributed_output(run_example(script))


def check_distributed_output(stdout: str) -> None:
    """Check what a Ray or Spark example printed (Spark Connect's too)."""
    # The Ray and Spark examples evaluate the shipped sample in 8 partitions
    # and print how far their report is from polars_l2.report.
    if stdout.startswith("skipped:"):  # pragma: no cover - the extra is missing
        pytest.skip(stdout.strip())
    rows = f"{make_houses.N_HOUSES:,} rows"
    shape = re.search(rf"{rows} in (\d+) (blocks|partitions)", stdout)
    assert shape is not None
    assert int(shape.group(1)) >= 8
    for region in ["Coast", "Downtown", "Rural", "Suburbs"]:
        assert region in stdout
    found = re.search(
        r"largest relative difference from polars_l2.report: (\S+)", stdout
    )
    assert found is not None
    assert float(found.group(1)) < 1e-9


CHECKS: dict[str, Callable[[Path, Path], None]] = {
    "house_prices.py": check_house_prices,
    "compare_models.py": check_compare_models,
    "pipeline_step.py": check_pipeline_step,
    "ray_evaluate.py": check_distributed,
    "spark_evaluate.py": check_distributed,
}


def test_examples_are_found() -> None:
    assert {s.name for s in SCRIPTS} >= set(CHECKS)


def _needs_missing_module(script: Path) -> str | None:
    source = script.read_text()
    for module in OPTIONAL.values():
        imported = re.search(rf"^\s*(import|from)\s+{module}\b", source, re.MULTILINE)
        if imported and importlib.util.find_spec(module) is None:
            return module
    return None


def _param(script: Path) -> object:
    source = script.read_text()
    needs_extra = any(
        re.search(rf"^\s*(import|from)\s+{module}\b", source, re.MULTILINE)
        for module in OPTIONAL.values()
    )
    marks = [pytest.mark.distributed] if needs_extra else []
    return pytest.param(script, id=script.name, marks=marks)


@pytest.mark.parametrize("script", [_param(s) for s in SCRIPTS])
def test_example(script: Path, tmp_path: Path) -> None:
    missing = _needs_missing_module(script)
    if missing is not None:
        pytest.skip(f"{script.name} needs {missing}, which is not installed")
    check = CHECKS.get(script.name)
    if check is None:
        assert run_example(script).strip()
    else:
        check(script, tmp_path)

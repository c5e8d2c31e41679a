"""A user's type checker sees the typed API: correct use passes, typos fail.

mypy runs once, in a subprocess, on small user files written to a temporary
directory; each file is checked for the errors it must (or must not) give.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from importlib import resources
from pathlib import Path

import pytest

import polars_l2

HEADER = """\
from __future__ import annotations

import polars as pl

import polars_l2
from polars_l2 import l2
"""

#: name -> (user code, the mypy error codes it must give; empty: none).
CASES: dict[str, tuple[str, set[str]]] = {
    "typed_use": (
        """
        df = pl.DataFrame({"y": [1.0, 2.0], "yhat": [1.5, 2.0], "w": [1.0, 2.0]})
        per_row: pl.Expr = l2(pl.col("y")).loss("yhat", nan_policy="omit")
        cost: pl.Expr = l2("y").mse("yhat", weight="w", nan_policy="propagate")
        total: pl.Expr = l2(pl.col("y") * 2).sse(pl.col("yhat"), weight=None)
        root: pl.Expr = polars_l2.rmse("y", "yhat", weight=pl.col("w"))
        out: pl.DataFrame = df.select(per_row, cost, total, root)
        """,
        set(),
    ),
    "typed_frames": (
        """
        df = pl.DataFrame({"g": ["a"], "y": [1.0], "yhat": [1.5]})
        eager: pl.DataFrame = l2(df).report("y", "yhat", by="g", confidence=0.9)
        lazy: pl.LazyFrame = l2(df.lazy()).state("y", ["yhat"], weight=None)
        """,
        set(),
    ),
    # Any object with __arrow_c_stream__ is a table: the functions give a
    # DataFrame for it, as for an eager frame; a dict is not a table.
    "arrow_stream_gives_a_dataframe": (
        """
        class Stream:
            def __arrow_c_stream__(self, requested_schema: object = None) -> object:
                return None


        report: pl.DataFrame = polars_l2.report(Stream(), "y", "yhat")
        state: pl.DataFrame = polars_l2.state(Stream(), "y", "yhat")
        final: pl.DataFrame = polars_l2.finalize(Stream())
        merged: pl.DataFrame = polars_l2.merge_states([Stream(), pl.DataFrame()])
        method: pl.DataFrame = l2(Stream()).report("y", "yhat")
        lazy: pl.LazyFrame = polars_l2.report(pl.LazyFrame(), "y", "yhat")
        """,
        set(),
    ),
    "a_dict_is_not_a_table": (
        'polars_l2.report({"y": [1.0]}, "y", "yhat")\n',
        {"call-overload"},
    ),
    "frame_method_typo": ('l2(pl.DataFrame()).reprot("y", "yhat")\n', {"attr-defined"}),
    "frame_argument_typo": (
        'l2(pl.LazyFrame()).report("y", "yhat", confidnce=0.9)\n',
        {"call-arg"},
    ),
    "lazy_report_is_not_eager": (
        'r: pl.DataFrame = l2(pl.LazyFrame()).report("y", "yhat")\n',
        {"assignment"},
    ),
    "method_typo": ('l2("y").mes("yhat")\n', {"attr-defined"}),
    "argument_typo": ('l2("y").mse("yhat", wieght="w")\n', {"call-arg"}),
    "function_argument_typo": (
        'polars_l2.rmse("y", "yhat", nan_polcy="omit")\n',
        {"call-arg"},
    ),
    "option_given_positionally": ('l2("y").mse("yhat", "w")\n', {"call-arg"}),
    "unknown_nan_policy": (
        'l2("y").rmse("yhat", nan_policy="drop")\n',
        {"arg-type"},
    ),
    "wrong_return_type": ('n: int = l2("y").mse("yhat")\n', {"assignment"}),
}

#: Values for the positional arguments of the namespace methods, by name.
POSITIONAL = {
    "predicted": '"yhat"',
    "actual": '"y"',
    "baseline": '"yhat"',
    "candidates": '["b"]',
}


def every_option_of_every_method() -> str:
    """Return user code calling each namespace method with each of its options.

    Generated from the run-time signatures, so an option a function gains is
    checked here too: the namespaces must show every option to mypy.
    """
    import inspect  # noqa: PLC0415

    import polars as pl  # noqa: PLC0415

    targets = {
        'l2("y")': polars_l2.l2("y"),
        "l2(df)": polars_l2.l2(pl.DataFrame()),
        "l2(df.lazy())": polars_l2.l2(pl.LazyFrame()),
    }
    lines = ['df = pl.DataFrame({"y": [1.0], "yhat": [1.0], "b": [1.0]})']
    for shown, namespace in targets.items():
        for name in dir(namespace):
            method = getattr(namespace, name)
            if name.startswith("_") or not callable(method):
                continue
            arguments = []
            for parameter in inspect.signature(method).parameters.values():
                if parameter.kind is parameter.KEYWORD_ONLY:
                    arguments.append(f"{parameter.name}={parameter.default!r}")
                else:
                    arguments.append(POSITIONAL[parameter.name])
            lines.append(f"{shown}.{name}({', '.join(arguments)})")
    return "\n".join(lines) + "\n"


CASES["every_option_of_every_method"] = (every_option_of_every_method(), set())

ERROR = re.compile(r"^(?P<file>[^:]+\.py):\d+: error: .*\[(?P<code>[a-z-]+)\]$")


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Run mypy --strict once over every case; return error codes per case."""
    pytest.importorskip("mypy")
    root = tmp_path_factory.mktemp("user_code")
    for name, (code, _) in CASES.items():
        (root / f"{name}.py").write_text(HEADER + textwrap.dedent(code))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(root / ".mypy_cache"),
            *sorted(f"{name}.py" for name in CASES),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
        timeout=600,
    )
    # Exit status 1 means "type errors found"; anything else is mypy failing.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    errors: dict[str, set[str]] = {name: set() for name in CASES}
    for line in result.stdout.splitlines():
        if ": note: " in line:
            continue
        match = ERROR.match(line)
        assert match is not None, f"unexpected mypy output: {line}"
        errors[Path(match["file"]).stem].add(match["code"])
    return errors


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_mypy_checks_user_code(case: str, mypy_errors: dict[str, set[str]]) -> None:
    assert mypy_errors[case] == CASES[case][1]


@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright not installed")
def test_pyright_checks_user_code(tmp_path: Path) -> None:
    # Not in CI (pyright needs Node.js); run by developers who have it.
    for name, (code, _) in CASES.items():
        (tmp_path / f"{name}.py").write_text(HEADER + textwrap.dedent(code))
    result = subprocess.run(
        ["pyright", "--pythonpath", sys.executable, "--outputjson", "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=600,
    )
    report = json.loads(result.stdout)
    failing = {
        Path(d["file"]).stem
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    }
    assert failing == {name for name, (_, codes) in CASES.items() if codes}


def test_the_package_ships_py_typed() -> None:
    assert resources.files(polars_l2).joinpath("py.typed").is_file()


@pytest.mark.slow
def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    subprocess.run(
        [*pip_wheel, "--wheel-dir", ".", str(root)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("polars_l2-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "polars_l2/py.typed" in archive.namelist()


def test_the_accessor_is_the_registered_namespace() -> None:
    import polars as pl  # noqa: PLC0415

    expr, df = pl.col("y"), pl.DataFrame({"y": [1.0]})
    assert type(polars_l2.l2(expr)) is type(expr.l2)  # type: ignore[attr-defined]
    assert type(polars_l2.l2(df)) is type(df.l2)  # type: ignore[attr-defined]
    lf = df.lazy()
    assert type(polars_l2.l2(lf)) is type(lf.l2)  # type: ignore[attr-defined]

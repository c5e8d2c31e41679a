"""The package's layout: public faces on top of one core, nothing hidden.

These guard the structure the README's layout table describes: the core
(``polars_l2._core``) never reaches up into a public face, no public module
is hidden behind a function of the same name, the command line is a package,
and no function grows past the size a reader can hold at once.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import polars_l2

PACKAGE = Path(polars_l2.__file__).parent

#: The modules a reader of the core may assume it does not depend on.
PUBLIC_FACES = (
    "polars_l2.functions",
    "polars_l2.namespace",
    "polars_l2.accessor",
    "polars_l2._report",
    "polars_l2._state",
    "polars_l2.plot",
    "polars_l2.ray",
    "polars_l2.spark",
    "polars_l2.cli",
    "polars_l2._distributed",
)

#: Longest function body, in lines, docstring excluded: in the package, the
#: tests and the benchmarks.
MAX_BODY_LINES = 60


def all_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages([str(PACKAGE)], prefix="polars_l2.")
        if not info.name.startswith(("polars_l2.ray", "polars_l2.spark"))
    ]


def source_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def core_files() -> list[Path]:
    return sorted((PACKAGE / "_core").rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_name(path: Path) -> str:
    """Return the dotted name of a module file of the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level_imports(path: Path, known: set[str]) -> set[str]:
    """Return the package's modules a file imports when it is imported.

    Imports inside functions and ``if TYPE_CHECKING:`` blocks run later, or
    never, so they cannot make a cycle at import time. ``from a import b``
    imports the module ``a.b`` where there is one, else ``a`` itself.
    """
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {name for name in found if name in known}


def import_cycles() -> list[list[str]]:
    """Return every cycle of module-level imports (Tarjan's components)."""
    files = {module_name(path): path for path in source_files()}
    graph = {
        name: module_level_imports(path, set(files)) for name, path in files.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def test_no_modules_import_each_other() -> None:
    # A cycle makes the import order matter, and each module of it
    # unreadable without the others.
    assert import_cycles() == []


def test_a_cycle_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check above must be able to fail: two modules that import each
    # other, and a third that imports one of them, make one cycle of two.
    package = tmp_path / "polars_l2"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from polars_l2 import b\n")
    (package / "b.py").write_text("import polars_l2.a\n")
    (package / "c.py").write_text("from polars_l2.a import x\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert import_cycles() == [["polars_l2.a", "polars_l2.b"]]


TESTS = Path(__file__).parent

#: subprocess functions that wait for the child, and methods of a Popen that
#: wait: each must be given a timeout.
WAITING_FUNCTIONS = {"run", "check_output", "check_call", "call"}
WAITING_METHODS = {"wait", "communicate"}


def waits_without_timeout(source: str) -> list[int]:
    """Return the lines of `source` that wait for a child without a timeout."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, owner = node.func.attr, node.func.value
        waits = name in WAITING_METHODS or (
            name in WAITING_FUNCTIONS
            and isinstance(owner, ast.Name)
            and owner.id == "subprocess"
        )
        if waits and not any(k.arg == "timeout" for k in node.keywords):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_every_wait_for_a_child_in_the_tests_has_a_timeout(path: Path) -> None:
    # A child that hangs must fail its test, not hang the suite.
    assert waits_without_timeout(path.read_text()) == []


def test_a_wait_without_a_timeout_is_found() -> None:
    source = (
        "import subprocess\n"
        "subprocess.run(['x'], check=True)\n"
        "subprocess.run(['x'], timeout=5)\n"
        "process.communicate()\n"
        "process.wait(timeout=1)\n"
        "runner.run(['x'])\n"
    )
    assert waits_without_timeout(source) == [2, 4]


def test_the_public_type_aliases_have_a_public_module() -> None:
    typing = importlib.import_module("polars_l2.typing")
    assert {"IntoExpr", "NanPolicy", "MultiOutput"} <= set(vars(typing))
    assert polars_l2.MultiOutput is typing.MultiOutput


def test_the_command_line_is_a_package() -> None:
    cli = importlib.import_module("polars_l2.cli")
    assert cli.__file__ is not None
    assert Path(cli.__file__).name == "__init__.py"
    assert callable(cli.main)


@pytest.mark.parametrize("name", all_modules())
def test_no_module_is_hidden_behind_a_function(name: str) -> None:
    module = importlib.import_module(name)
    parent, _, leaf = name.rpartition(".")
    # After importing the submodule, the parent's attribute of that name must
    # still be the module: a function or class of the same name would hide it.
    assert getattr(importlib.import_module(parent), leaf) is module


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.name)
def test_the_core_never_imports_a_public_face(path: Path) -> None:
    upward = {
        name
        for name in imported_modules(path)
        if name == "polars_l2" or name.startswith(PUBLIC_FACES)
    }
    assert not upward, f"{path.name} imports {sorted(upward)}"


@pytest.mark.parametrize(
    "path",
    [
        *source_files(),
        *sorted(Path(__file__).parent.glob("*.py")),
        *sorted((PACKAGE.parent / "benchmarks").glob("*.py")),
    ],
    ids=lambda p: str(p.relative_to(PACKAGE.parent)),
)
def test_no_function_body_is_too_long(path: Path) -> None:
    long = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = node.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if body:
            end = body[-1].end_lineno
            assert end is not None
            lines = end - body[0].lineno + 1
            if lines > MAX_BODY_LINES:
                long.append(f"{node.name} ({lines} lines)")
    assert not long, f"{path.name}: {long}"


def test_importing_the_package_and_the_command_leaves_scipy_unloaded() -> None:
    # scipy.stats cost every `import polars_l2` (and every command-line run)
    # about a second and 100 MiB of resident memory; only compare needs it.
    code = (
        "import sys, polars_l2, polars_l2.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    assert done.stdout.strip() == "[]"

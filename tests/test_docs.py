"""The documentation covers the public API, and its examples are executed.

- Every public name (``__all__`` of ``polars_l2`` and its public submodules) and
  every method of every registered ``l2`` namespace is rendered by a
  mkdocstrings directive on an API reference page.
- Every public function and method has an Examples section with a doctest.
- Every Python block on a docs page is executed when the site is built, so
  its printed output comes from the code, not from a hand-written copy.
- After ``mkdocs build``, with ``POLARS_L2_DOCS_SITE`` pointing at the built
  site, the site's inventory lists every public object (what CI runs).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

import polars_l2

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"

DIRECTIVE = re.compile(r"^::: (?P<path>[\w.]+)\s*$")
MEMBERS_OPTION = re.compile(r"^\s+members:\s*\[(?P<names>[^\]]*)\]\s*$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>.*)$")


def resolve(path: str) -> Any:
    """Import the object a mkdocstrings identifier names."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    msg = f"cannot resolve {path}"
    raise LookupError(msg)


def public_members(obj: Any) -> list[str]:
    """Return the members mkdocstrings renders for an object by default."""
    if isinstance(obj, ModuleType):
        return list(getattr(obj, "__all__", []))
    if not inspect.isclass(obj):
        return []
    # Inherited members too (the frame namespaces render them), but only the
    # package's own: an exception's with_traceback is Python's.
    return [
        name
        for name in dir(obj)
        if not name.startswith("_")
        and callable(member := getattr(obj, name))
        and getattr(member, "__module__", "").startswith("polars_l2")
    ]


def directives() -> list[tuple[str, list[str] | None]]:
    """Every ``::: identifier`` on the reference pages, with its members option."""
    found: list[tuple[str, list[str] | None]] = []
    for page in sorted(REFERENCE.glob("*.md")):
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            match = DIRECTIVE.match(line)
            if match is None:
                continue
            members: list[str] | None = None
            for option in lines[i + 1 :]:
                if option.strip() and not option.startswith(" "):
                    break
                if (m := MEMBERS_OPTION.match(option)) is not None:
                    members = [n.strip().strip("\"'") for n in m["names"].split(",")]
            found.append((match["path"], members))
    return found


def documented_objects() -> list[Any]:
    """Return what the reference pages render: each directive and its members."""
    objects: list[Any] = []
    for path, members in directives():
        obj = resolve(path)
        objects.append(obj)
        names = public_members(obj) if members is None else members
        objects.extend(getattr(obj, name) for name in names)
    return objects


def is_documented(obj: Any, documented: list[Any]) -> bool:
    return any(obj is other or obj == other for other in documented)


def public_api() -> dict[str, Any]:
    """Every public name, qualified, mapped to its object."""
    api: dict[str, Any] = {
        f"polars_l2.{name}": getattr(polars_l2, name)
        for name in polars_l2.__all__
        if name != "__version__"
    }
    # Public submodules: the plot helpers and the distributed adapters, whose
    # engines (matplotlib, Ray, Spark) are only imported when used.
    for name in ("plot", "ray", "spark", "view"):
        module = importlib.import_module(f"polars_l2.{name}")
        api.update(
            {f"polars_l2.{name}.{n}": getattr(module, n) for n in module.__all__}
        )
    return api


def namespaces() -> dict[str, type]:
    """Return the registered ``l2`` namespaces, by the Polars class they extend."""
    found: dict[str, type] = {}
    for cls in (pl.Expr, pl.DataFrame, pl.LazyFrame, pl.Series):
        # On the class (not an instance) the registered descriptor returns the
        # namespace class itself.
        namespace = getattr(cls, "l2", None)
        if isinstance(namespace, type):
            found[cls.__name__] = namespace
    return found


def namespace_methods() -> dict[str, Any]:
    return {
        f"{owner}.l2.{name}": getattr(namespace, name)
        for owner, namespace in namespaces().items()
        for name in public_members(namespace)
    }


def test_the_expression_namespace_is_found() -> None:
    assert "Expr" in namespaces()


def test_every_reference_directive_resolves() -> None:
    for path, _ in directives():
        resolve(path)


@pytest.mark.parametrize("name", sorted(public_api()))
def test_public_name_is_in_the_api_reference(name: str) -> None:
    assert is_documented(public_api()[name], documented_objects()), (
        f"{name} is public but no `::: ...` directive in docs/reference/ renders it"
    )


@pytest.mark.parametrize("name", sorted(namespace_methods()))
def test_namespace_method_is_in_the_api_reference(name: str) -> None:
    documented = documented_objects()
    owner = name.split(".l2.", maxsplit=1)[0]
    assert is_documented(namespaces()[owner], documented), (
        f"the {owner}.l2 namespace class is missing from docs/reference/"
    )
    assert is_documented(namespace_methods()[name], documented), name


def callables() -> dict[str, Any]:
    found = {
        name: obj
        for name, obj in public_api().items()
        if inspect.isfunction(obj) or inspect.isclass(obj)
    }
    found.update(namespace_methods())
    found.update({f"{o}.l2": ns for o, ns in namespaces().items()})
    return found


@pytest.mark.parametrize("name", sorted(callables()))
def test_public_callable_has_a_doctest_example(name: str) -> None:
    obj = callables()[name]
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        pytest.skip("an exception is shown where it is raised")
    doc = inspect.getdoc(obj) or ""
    assert re.search(r"^Examples\n-{8}$", doc, re.MULTILINE), f"{name}: no Examples"
    assert ">>> " in doc.split("Examples", 1)[1], f"{name}: no doctest in Examples"


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(line, info string) of each fenced Python block on a page."""
    blocks: list[tuple[int, str]] = []
    inside: str | None = None
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        match = FENCE.match(line)
        if match is None:
            continue
        if inside is None:
            inside = match["indent"]
            info = match["info"].strip()
            if info.split(" ", 1)[0] in {"python", "py", "pycon"}:
                blocks.append((number, info))
        elif match["indent"] == inside and not match["info"].strip():
            inside = None
    return blocks


#: Pages written by a script rather than by hand: benchmarks/run.py writes the
#: performance page from its own measurements, so its code is not re-run here.
GENERATED = {DOCS / "performance.md"}
PAGES = sorted(
    p for p in DOCS.rglob("*.md") if "scripts" not in p.parts and p not in GENERATED
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_python_block_is_executed(page: Path) -> None:
    for line, info in python_blocks(page):
        assert 'exec="on"' in info, (
            f"{page.name}:{line}: a Python block that the build does not run; "
            'add exec="on" so its output is generated'
        )


def read_inventory(path: Path) -> set[str]:
    """Return the object names in a Sphinx inventory (objects.inv, version 2)."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    assert data.startswith(b"# Sphinx inventory version 2")
    text = zlib.decompress(data[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in text.splitlines() if line}


@pytest.mark.skipif(
    "POLARS_L2_DOCS_SITE" not in os.environ,
    reason="set POLARS_L2_DOCS_SITE to a built site to check it",
)
def test_built_site_inventory_lists_the_public_api() -> None:
    inventory = read_inventory(Path(os.environ["POLARS_L2_DOCS_SITE"]) / "objects.inv")
    # A name re-exported by the package may be rendered at its defining
    # module's path instead (`polars_l2.state` is also a submodule's name).
    missing = [
        name
        for name, obj in public_api().items()
        if name not in inventory
        and f"{getattr(obj, '__module__', '')}.{name.rsplit('.', 1)[-1]}"
        not in inventory
    ]
    for owner, namespace in namespaces().items():
        qualified = f"{namespace.__module__}.{namespace.__qualname__}"
        missing += [
            f"{qualified}.{m}"
            for m in public_members(namespace)
            if f"{qualified}.{m}" not in inventory
        ]
        if qualified not in inventory:
            missing.append(f"{qualified} (the {owner}.l2 namespace)")
    assert not missing, f"not in the built API reference: {missing}"

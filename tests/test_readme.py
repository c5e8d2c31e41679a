"""Every Python block in README.md runs as written, in order, in a fresh directory.

The blocks run in one namespace, as a reader pasting them one after the
other into one session would run them, in an empty temporary directory. The
blocks that start Ray or Spark run in a subprocess in a test of their own
(marker ``distributed``), skipped with the reason when the extras are not
installed; they come last in the README, so no other block needs them.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

#: A fenced Python block: its body.
BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)

#: The top-level modules of the optional engines, by how a block imports them.
ENGINES = {"ray": "ray", "pyspark": "pyspark"}


def blocks() -> list[str]:
    return [match["body"] for match in BLOCK.finditer(README.read_text())]


def engines(block: str) -> set[str]:
    """Return the optional engines a block imports."""
    return {
        module
        for module in ENGINES.values()
        if re.search(rf"^\s*(import|from)\s+{module}\b", block, re.MULTILINE)
    }


def test_the_readme_has_python_blocks() -> None:
    found = blocks()
    assert len(found) >= 4
    # The distributed blocks come after every other: no plain block needs them.
    kinds = [bool(engines(block)) for block in found]
    assert kinds == sorted(kinds)
    assert any(kinds)


def test_the_python_blocks_run_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for i, block in enumerate(blocks()):
        if engines(block):
            continue  # run by the distributed test below
        code = compile(block, f"README.md python block {i + 1}", "exec")
        exec(code, namespace)  # the README's own code, on purpose
    assert list(tmp_path.iterdir()) == []  # nothing written where it runs


@pytest.mark.distributed
def test_the_distributed_blocks_run(tmp_path: Path) -> None:
    found = blocks()
    needed = set().union(*(engines(block) for block in found))
    missing = sorted(m for m in needed if importlib.util.find_spec(m) is None)
    if missing:
        pytest.skip(f"the README's distributed blocks need {', '.join(missing)}")
    script = tmp_path / "readme.py"
    # Every block, in order, as one script: the later blocks use the names
    # the earlier ones define.
    script.write_text("\n".join(found))
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]

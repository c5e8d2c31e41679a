"""``--format html``: one self-contained page, checked in headless Chromium.

The page is opened with the network off: it must request nothing but its own
file, log nothing on the console, show every report row in its table (each
number within the rounding of its significant digits of the report's own)
and draw its figures. A screenshot is taken, as the docs show one
(docs/img/report.png, made by docs/scripts/make_figures.py).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pytest

import polars_l2
from tests.browser import offline_browser, visit
from tests.test_cli import inline

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("great_tables")
pytest.importorskip("matplotlib")

pytestmark = pytest.mark.browser

#: A model name that would be markup if it were not escaped.
TRICKY = "<b>m</b>&<script>x</script>"


def make_data(seed: int, n: int = 900) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(50.0, 10.0, n)
    return pl.DataFrame(
        {
            "region": rng.choice(["north", "south", "east"], n),
            "y": y,
            "old": y + rng.normal(0.0, 4.0, n),
            TRICKY: y + rng.normal(0.0, 3.0, n),
        }
    )


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return make_data(3)


@pytest.fixture
def data(tmp_path: Path, frame: pl.DataFrame) -> Path:
    path = tmp_path / "predictions.parquet"
    frame.write_parquet(path)
    return path


#: Rows of the formatted table as the browser shows them: the model (the
#: group heading), then each cell's text.
ROWS_JS = """
() => {
  const table = document.querySelector('#table table');
  const head = Array.from(table.querySelectorAll('thead th.gt_col_heading'))
    .map(th => th.innerText.trim());
  let group = null;
  const rows = [];
  for (const tr of table.querySelectorAll('tbody tr')) {
    const heading = tr.querySelector('.gt_group_heading');
    if (heading) { group = heading.innerText.trim(); continue; }
    const cells = Array.from(tr.querySelectorAll('td'));
    rows.push([group, ...cells.map(td => td.innerText.trim())]);
  }
  return {head, rows};
}
"""

FIGURES_JS = """
() => Array.from(document.querySelectorAll('figure svg')).map(svg => {
  const box = svg.getBoundingClientRect();
  return [box.width, box.height, svg.querySelectorAll('path').length];
})
"""


def number(text: str) -> float:
    """Read a number as Great Tables writes it: 1,234.5, a minus sign, x 10^5."""
    text = text.replace("\u2212", "-").replace(",", "").replace("\u2009", "")
    scientific = re.fullmatch(r"(-?[\d.]+) \u00d7 10(-?\d+)", text)
    if scientific:
        return float(scientific[1]) * 10.0 ** int(scientific[2])
    return float(text)


def value_and_interval(cell: str) -> list[float]:
    """Read ``value [low, high]`` (or a value alone) from a cell."""
    match = re.fullmatch(r"(.+?)(?: \[(.+), (.+)\])?", cell.replace("\n", ""))
    assert match is not None, cell
    return [number(part) for part in match.groups() if part is not None]


def close(shown: float, exact: float, digits: int = 4) -> bool:
    return bool(abs(shown - exact) <= 0.5 * 10 ** (-digits + 1) * abs(exact) + 1e-12)


class Tags(HTMLParser):
    """Collect the tags and attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Keep the tag and its attributes."""
        self.tags.append((tag, dict(attrs)))


def test_the_page_loads_nothing_and_escapes_the_data(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    args: list[str | Path] = [
        "evaluate", data, "--actual", "y", "--predicted", "old",
        "--predicted", TRICKY, "--by", "region", "-f", "html", "-o", out,
    ]  # fmt: skip
    result = inline(capsys, *args)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>")
    parser = Tags()
    parser.feed(text)
    names = [tag for tag, _ in parser.tags]
    # Nothing that loads or runs anything.
    for tag in ("script", "link", "img", "iframe", "object", "embed"):
        assert tag not in names, tag
    assert "@import" not in text
    assert not re.search(r"url\(\s*['\"]?https?:", text)
    # The model's name is text, never markup.
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert names.count("svg") == 1


def test_the_report_opens_offline_with_every_row_and_its_figures(
    data: Path,
    frame: pl.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report.html"
    args: list[str | Path] = [
        "evaluate", data, "--actual", "y", "--predicted", "old",
        "--predicted", TRICKY, "--by", "region", "--overall",
        "--fail-if", "rmse > 3.5", "-f", "html", "-o", out,
    ]  # fmt: skip
    result = inline(capsys, *args)
    assert result.returncode == 3, result.stderr  # the gate fails, the page is there
    report = polars_l2.report(frame, "y", ["old", TRICKY], by="region", overall=True)
    with offline_browser(tmp_path / "profile") as browser:
        seen = visit(browser, out.as_uri())
        assert seen.requests == [out.as_uri()]
        assert seen.blocked == []
        assert seen.console == []
        assert seen.errors == []
        table: dict[str, Any] = seen.page.evaluate(ROWS_JS)
        figures = seen.page.evaluate(FIGURES_JS)
        gates = seen.page.inner_text("#gates")
        shot = tmp_path / "report.png"
        seen.page.screenshot(path=str(shot), full_page=True)
    head, rows = table["head"], table["rows"]
    assert head[:4] == ["region", "n", "rmse", "mae"]
    assert len(rows) == report.height
    for row, want in zip(rows, report.iter_rows(named=True), strict=True):
        shown = dict(zip(["model", *head], row, strict=True))
        assert shown["model"] == want["model"]
        assert shown["region"] == ("all rows" if want["overall"] else want["region"])
        assert number(shown["n"]) == want["n"]
        for metric in ("rmse", "mae", "bias"):
            got = value_and_interval(shown[metric])
            exact = [want[metric], want[f"{metric}_low"], want[f"{metric}_high"]]
            assert all(close(g, e) for g, e in zip(got, exact, strict=True)), (
                metric,
                got,
                exact,
            )
    # The figure is drawn: a visible SVG of many paths.
    ((width, height, paths),) = figures
    assert width > 400
    assert height > 200
    assert paths > 50
    assert "fails on" in gates
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_a_comparison_page_marks_verdicts_offline(
    data: Path, frame: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "compare.html"
    args: list[str | Path] = [
        "compare", data, "--actual", "y", "--baseline", "old",
        "--candidate", TRICKY, "--by", "region", "-f", "html", "-o", out,
    ]  # fmt: skip
    result = inline(capsys, *args)
    assert result.returncode == 0, result.stderr
    comparison = polars_l2.compare(frame, "y", "old", TRICKY, by="region")
    with offline_browser(tmp_path / "profile") as browser:
        seen = visit(browser, out.as_uri())
        assert seen.requests == [out.as_uri()]
        assert (seen.console, seen.errors) == ([], [])
        table: dict[str, Any] = seen.page.evaluate(ROWS_JS)
        fills = seen.page.evaluate(
            """() => Array.from(document.querySelectorAll('#table tbody td'))
              .filter(td => ['better', 'worse'].includes(td.innerText.trim()))
              .map(td => getComputedStyle(td).backgroundColor)"""
        )
        figures = seen.page.evaluate(FIGURES_JS)
    head, rows = table["head"], table["rows"]
    assert len(rows) == comparison.height
    verdicts = [dict(zip(["model", *head], r, strict=True))["verdict"] for r in rows]
    assert verdicts == [v or "—" for v in comparison["verdict"].to_list()]
    significant = [v for v in verdicts if v in ("better", "worse")]
    assert len(fills) == len(significant)
    assert all(fill not in ("rgba(0, 0, 0, 0)", "transparent") for fill in fills)
    assert len(figures) == 1

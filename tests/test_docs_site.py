"""The built docs site, in headless Chromium with the network off.

With ``POLARS_L2_DOCS_SITE`` pointing at a site built by ``mkdocs build``
(as CI does), the pages are opened from disk with every request outside the
site refused:

- the maths of "Is the new model better?" is drawn as MathML (no script, no
  font, no network), each formula a box of real size, no raw LaTeX left;
- the tables whose columns the text discusses show those columns without
  scrolling: ``verdict`` on that page, ``top_1pct_share`` on the outliers
  page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser import offline_browser, visit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        "POLARS_L2_DOCS_SITE" not in os.environ,
        reason="set POLARS_L2_DOCS_SITE to a built site to check it",
    ),
]


def site() -> Path:
    return Path(os.environ["POLARS_L2_DOCS_SITE"])


MATHS_JS = """
() => Array.from(document.querySelectorAll('article math')).map(m => {
  const box = m.getBoundingClientRect();
  return {display: m.getAttribute('display'), width: box.width,
          height: box.height, text: m.textContent};
})
"""

#: Where a word of a table's text is, against what its code block shows
#: without scrolling: [word's right edge, block's visible right edge].
IN_VIEW_JS = """
(word) => {
  const found = [];
  for (const code of document.querySelectorAll('article pre > code')) {
    if (!code.textContent.includes('┌')) continue;
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const at = node.textContent.indexOf(word);
      if (at < 0) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + word.length);
      const pre = code.parentElement.getBoundingClientRect();
      const visible = pre.left + code.parentElement.clientWidth;
      found.push([range.getBoundingClientRect().right, visible]);
    }
  }
  return found;
}
"""


def test_the_compare_page_draws_its_formulas_offline(tmp_path: Path) -> None:
    page = site() / "compare" / "index.html"
    with offline_browser(tmp_path / "profile") as browser:
        seen = visit(browser, page.as_uri())
        maths: list[dict[str, Any]] = seen.page.evaluate(MATHS_JS)
        text = seen.page.inner_text("article")
    # Nothing left the site: the page's own files only, no error.
    outside = [url for url in seen.requests if not url.startswith("file:")]
    assert outside == []
    assert seen.errors == []
    # The display formula and the inline ones, each drawn with a real size.
    assert any(m["display"] == "block" for m in maths)
    assert len(maths) >= 10
    for each in maths:
        assert each["width"] > 5, each
        assert each["height"] > 5, each
    difference = next(m for m in maths if m["display"] == "block")
    assert "candidate" in difference["text"]
    assert "baseline" in difference["text"]
    # No LaTeX source shows as text.
    for raw in ("$$", "\\text{", "\\frac", "\\sqrt", "e_{"):
        assert raw not in text, raw


@pytest.mark.parametrize(
    ("page", "word", "tables"),
    [("compare", "verdict", 1), ("outliers", "top_1pct_share", 2)],
)
def test_the_columns_a_page_discusses_are_in_view(
    page: str, word: str, tables: int, tmp_path: Path
) -> None:
    path = site() / page / "index.html"
    with offline_browser(tmp_path / "profile") as browser:
        seen = visit(browser, path.as_uri())
        places: list[list[float]] = seen.page.evaluate(IN_VIEW_JS, word)
    # Every header naming the column (and its values' rows) shows unscrolled.
    assert len(places) >= tables
    for right, visible in places:
        assert right <= visible, (page, word, right, visible)

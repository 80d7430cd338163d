"""Nothing on a chapter page is wider than the article column on a phone (390 px),
except inside a box that scrolls or clips (a code cell, a table, an equation):
otherwise the whole page scrolls sideways. Runs on the smoke book in headless
Chromium; skipped where Chromium or playwright is missing."""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.book

#: elements of the article that stick out of it, without a scrolling or clipping
#: box between them and the article: "TAG.class +N px"
STICKING_OUT = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const right = article.getBoundingClientRect().right;
  const found = [];
  for (const e of article.querySelectorAll('*')) {
    const box = e.getBoundingClientRect();
    if (box.width === 0 || box.right <= right + 1) continue;
    let p = e.parentElement, boxed = false;
    while (p && p !== article) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) { boxed = true; break; }
      p = p.parentElement;
    }
    const cls = typeof e.className === 'string' ? e.className.split(' ')[0] : '';
    if (!boxed) found.push(`${e.tagName.toLowerCase()}.${cls} +${Math.round(box.right - right)} px: `
                           + (e.textContent || '').trim().slice(0, 40));
  }
  return found;
}"""


def test_nothing_sticks_out_of_the_column_on_a_phone(smoke_site):
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): browser tests skipped")
    pytest.importorskip("playwright", reason="playwright-python is not installed: browser tests skipped")
    from tools.screenshot import open_site

    pages = sorted(p.name for p in (smoke_site / "chapters").glob("*.html"))
    assert len(pages) >= 10
    problems = {}
    with open_site(smoke_site) as (base, browser):
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True)
        for name in pages:
            page = context.new_page()
            page.goto(f"{base}/chapters/{name}", wait_until="networkidle")
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=30_000)
            page.evaluate("() => MathJax.startup.promise")
            found = page.evaluate(STICKING_OUT)
            if found:
                problems[name] = found[:5]
            page.close()
        context.close()
    assert not problems, problems

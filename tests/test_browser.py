"""Open every page of the smoke-built book in a real headless Chromium, as a
reader would: no console errors, equations typeset, images loaded. Screenshots
go to _build/screenshots/. Skipped (with the reason) where Chromium or
playwright is missing; .ci/run installs both."""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def report(smoke_site):
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): browser tests skipped")
    pytest.importorskip("playwright", reason="playwright-python is not installed: browser tests skipped")
    from tools.screenshot import visit

    pages = sorted(p.relative_to(smoke_site).as_posix() for p in smoke_site.rglob("*.html")
                   if not {"vendor", "_static", "_sources"} & set(p.parts)
                   and p.name not in ("genindex.html", "search.html"))
    return visit(pages, smoke_site, ROOT / "_build" / "screenshots")


# Known and still open (issue 8): @jupyter-widgets/html-manager 1.x typesets widget
# labels with MathJax 2's MathJax.Hub.Queue, which MathJax 3 does not have. The
# widgets still render; the error is listed here so that any *other* error fails.
KNOWN = ("Cannot read properties of undefined (reading 'Queue')",)


def test_every_page_loads_without_console_errors(report):
    bad = {page: [e for e in r["errors"] if not any(k in e for k in KNOWN)] for page, r in report.items()}
    bad = {page: errors for page, errors in bad.items() if errors}
    assert not bad, bad


def test_every_image_loads(report):
    bad = {page: r["broken_images"] for page, r in report.items() if r["broken_images"]}
    assert not bad, bad


def test_equations_are_typeset_offline(report, smoke_site):
    for page, r in report.items():
        source = (smoke_site / page).read_text()
        if 'class="math' in source:
            assert r["math"] > 0, f"{page} has maths but MathJax rendered none"
    assert report["book/notation.html"]["math"] > 10

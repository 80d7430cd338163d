"""A smoke build of the whole book, warnings as errors, into its own folder:
a broken _toc.yml, cross-reference, citation or notebook fails `make test`."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.book
def test_book_builds_under_the_smoke_profile():
    proc = subprocess.run([sys.executable, "tools/build_book.py", "--profile", "smoke",
                           "--out", "_build/smoke"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    html = ROOT / "_build" / "smoke" / "html"
    for page in ("index.html", "book/notation.html", "book/bibliography.html"):
        assert (html / page).exists(), page
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        page = (html / "chapters" / f"{nb.stem}.html").read_text()
        assert "<img" in page, f"{nb.stem}: no figure rendered"
        assert "output traceback" not in page, f"{nb.stem}: an error output was rendered"

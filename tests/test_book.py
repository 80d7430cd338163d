"""The built book: a smoke build of every page with warnings as errors (so a broken
_toc.yml, cross-reference, citation or notebook fails `make test`), served offline."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.book
def test_front_matter_and_chapters_are_built(smoke_site):
    for page in ("index.html", "book/intro.html", "book/notation.html", "book/bibliography.html",
                 "book/how_to_use.html", "book/execution.html"):
        assert (smoke_site / page).exists(), page
    for nb in CHAPTERS:
        page = (smoke_site / "chapters" / f"{nb.stem}.html").read_text()
        assert "<img" in page, f"{nb.stem}: no figure rendered"
        assert "output traceback" not in page, f"{nb.stem}: an error output was rendered"


@pytest.mark.book
def test_bootstrap_cell_is_collapsed_and_launch_buttons_use_the_one_repository_url(smoke_site):
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    repo = url.split("github.com/", 1)[1]
    for nb in CHAPTERS:
        page = (smoke_site / "chapters" / f"{nb.stem}.html").read_text()
        assert page.count("tag_hide-cell tag_bootstrap") == 1, f"{nb.stem}: bootstrap cell not collapsed"
        assert f"colab.research.google.com/github/{repo}/blob/main/chapters/{nb.name}" in page, nb.stem
        assert re.search(rf"mybinder\.org/v2/gh/{re.escape(repo)}/main\?", page), nb.stem


@pytest.mark.book
def test_nothing_is_loaded_from_the_network(smoke_site):
    """MathJax, RequireJS and the widget manager are served by the site itself."""
    for page in smoke_site.rglob("*.html"):
        if {"vendor", "_static"} & set(page.parts):
            continue
        html = page.read_text()
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        remote = [u for u in remote if not u.startswith("http://127.0.0.1")]
        assert not remote, f"{page.relative_to(smoke_site)} loads {remote}"
    assert (smoke_site / "vendor" / "mathjax" / "es5" / "tex-mml-chtml.js").exists()
    assert (smoke_site / "vendor" / "require.js").exists()
    assert (smoke_site / "vendor" / "html-manager" / "embed-amd.js").exists()


def test_cache_folder_changes_with_course_lib_and_profile(tmp_path):
    """jupyter-cache keys notebooks on their code cells only; the build gives every
    (profile, course_lib version) its own cache so stale figures are never shown."""
    import shutil
    import sys

    sys.path.insert(0, str(ROOT))
    from tools.build_book import cache_folder

    pkg = tmp_path / "course_lib"
    shutil.copytree(ROOT / "course_lib", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache_folder("cpu", pkg)
    assert cache_folder("cpu", pkg) == before
    assert cache_folder("smoke", pkg) != before
    (pkg / "losses.py").write_text((pkg / "losses.py").read_text() + "\n# changed\n")
    assert cache_folder("cpu", pkg) != before


def test_redirect_page_names_the_favicon(tmp_path):
    """The root index.html is a bare redirect; without an icon link the browser
    asks for /favicon.ico and logs a 404."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tools.build_book import add_favicon_to_redirect

    index = tmp_path / "index.html"
    index.write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />\n')
    add_favicon_to_redirect(index)
    add_favicon_to_redirect(index)          # idempotent
    text = index.read_text()
    assert text.count('rel="icon"') == 1 and 'href="_static/favicon.svg"' in text and "Refresh" in text


def _page_problems(html: str) -> list[str]:
    """Typesetting and leak problems in a rendered chapter page: a doubled equation
    prefix ("Eq. Eq."), a raw equation label ("(eq-...)"), a path of the build
    machine, and TeX outside the math containers (maths that did not typeset)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    text = soup.get_text(" ")
    for tag in soup.select(".math, pre, code, .highlight, .cell_output, .output"):
        tag.decompose()
    prose = soup.get_text(" ")

    def around(s: str, m: re.Match) -> str:
        return " ".join(s[max(0, m.start() - 50):m.end() + 30].split())

    problems = [f"doubled prefix: {around(text, m)}" for m in re.finditer(r"Eq\.\s+Eq\.", text)]
    problems += [f"raw label: {around(text, m)}" for m in re.finditer(r"\beq-[a-z0-9-]+\b", text)]
    problems += [f"machine path: {around(text, m)}"
                 for m in re.finditer(r"(?<![\w.~>])/(?:tmp|home|root|work|Users|var/folders)/", text)]
    problems += [f"raw TeX: {around(prose, m)}" for m in re.finditer(
        r"\\(?:mathbb|mathrm|mathcal|frac|lVert|rVert|tilde|hat|sum|log|sigma|mu|theta|phi|mid|Vert|left|right|big)\b"
        r"|\$[^$\s]", prose)]
    return problems


def test_page_checks_catch_what_they_look_for():
    bad = ('<p>see Eq. <a>Eq. (2.2)</a> and (eq-average); wrote /tmp/x/w.pt; because '
           '$\\mathbb{E}\\lVert x\\rVert$</p><span class="math">\\(\\mathbb{E}\\)</span>')
    kinds = sorted({p.split(":")[0] for p in _page_problems(bad)})
    assert kinds == ["doubled prefix", "machine path", "raw TeX", "raw label"]
    good = ('<p>see <a>Eq. (2.2)</a>; wrote &lt;temporary folder&gt;/w.pt and ~/w.pt</p>'
            '<span class="math">\\(\\mathbb{E}\\lVert x\\rVert\\)</span><pre>x = 1</pre>')
    assert _page_problems(good) == []


@pytest.mark.book
def test_pages_have_typeset_maths_one_reference_style_and_no_machine_paths(smoke_site):
    problems = {}
    for nb in CHAPTERS:
        found = _page_problems((smoke_site / "chapters" / f"{nb.stem}.html").read_text())
        if found:
            problems[nb.stem] = found[:5]
    assert not problems, problems

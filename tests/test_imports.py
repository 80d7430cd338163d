"""A chapter runs where a student opens it: every import in a chapter's code cells and in
``course_lib`` (top level and inside functions) resolves to the standard library, the
Jupyter kernel, or a distribution that ``pyproject.toml`` declares.

Colab, Kaggle, a class JupyterHub built from ``pyproject.toml`` or a plain ``pip install``
of the course have nothing else: the book's own tools (``myst_nb``, ``jupyter_book``) and
the test tools are not there. tests/test_outside_repo.py runs chapters in such an
environment; this test names every offending import at once, without installing anything.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path
from typing import Iterator, NamedTuple

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the kernel machinery every Jupyter, Colab and Kaggle has (distribution names)
KERNEL = {"ipython", "ipykernel"}


class Import(NamedTuple):
    module: str  # the top-level module, e.g. "sklearn" for "from sklearn.metrics import ..."
    where: str  # "chapters/06_conditional_vae.ipynb, cell 3 (id ab12cd34), line 8"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_normalise(re.match(r"[A-Za-z0-9_.\-]+", dep).group(0)) for dep in deps}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_in(source: str, where: str) -> Iterator[Import]:
    """Every absolute import that would run in ``source`` (not those under ``if TYPE_CHECKING``)."""
    tree = ast.parse(source)
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking_only(node)
               for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            yield Import(name.split(".")[0], f"{where}, line {node.lineno}")


def _code(source: str) -> str:
    """A cell's Python: IPython magics and shell escapes are not imports."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def chapter_imports(path: Path) -> Iterator[Import]:
    nb = nbformat.read(str(path), as_version=4)
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code":
            where = f"{path.relative_to(ROOT)}, cell {number} (id {cell.get('id', '?')})"
            yield from imports_in(_code(cell.source), where)


def library_imports() -> Iterator[Import]:
    for path in sorted((ROOT / "course_lib").rglob("*.py")):
        yield from imports_in(path.read_text(), str(path.relative_to(ROOT)))


def undeclared(found: list[Import], declared: set[str]) -> list[str]:
    """One sentence per import that a bare environment with the course installed lacks."""
    owners = metadata.packages_distributions()
    problems = []
    for imp in found:
        if imp.module in sys.stdlib_module_names or imp.module == "course_lib":
            continue
        dists = {_normalise(d) for d in owners.get(imp.module, [])}
        if dists & (declared | KERNEL):
            continue
        what = f"distribution {', '.join(sorted(dists))}" if dists else "no installed distribution"
        problems.append(f"{imp.where}: imports {imp.module!r} ({what}), which is neither the standard "
                        "library, the Jupyter kernel, nor a dependency declared in pyproject.toml")
    return problems


CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_imports_only_what_the_course_declares(chapter):
    problems = undeclared(list(chapter_imports(chapter)), declared_distributions())
    assert not problems, "\n".join(problems)


def test_course_lib_imports_only_what_it_declares():
    found = list(library_imports())
    assert len(found) > 100  # the walk sees the modules, function-local imports included
    problems = undeclared(found, declared_distributions())
    assert not problems, "\n".join(problems)


def test_the_check_names_an_undeclared_import_with_its_chapter_and_cell(tmp_path):
    # the import that broke every chapter on Colab, and a module that is not installed at all
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell("import numpy as np\n%matplotlib inline\nfrom myst_nb import glue"),
        nbformat.v4.new_code_cell("def f():\n    import no_such_module_here\n    return 1"),
        nbformat.v4.new_code_cell("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pytest"),
    ])
    path = ROOT / "chapters" / "__probe__.ipynb"
    found = list(imports_in(_code(nb.cells[1].source), f"{path.relative_to(ROOT)}, cell 2 (id x)"))
    found += list(imports_in(nb.cells[2].source, "cell 3"))
    found += list(imports_in(nb.cells[3].source, "cell 4"))
    assert [i.module for i in found] == ["numpy", "myst_nb", "no_such_module_here", "typing"]
    problems = undeclared(found, declared_distributions())
    assert len(problems) == 2
    assert problems[0].startswith("chapters/__probe__.ipynb, cell 2 (id x), line 3: imports 'myst_nb' "
                                  "(distribution myst-nb)")
    assert "no installed distribution" in problems[1] and "line 2" in problems[1]


def test_the_declared_set_is_read_from_pyproject():
    declared = declared_distributions()
    # what a chapter imports under another name than its distribution's
    assert {"torch", "scikit-learn", "ipywidgets", "pillow"} <= declared
    assert "myst-nb" not in declared and "jupyter-book" not in declared

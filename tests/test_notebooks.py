"""Checks on the committed chapter notebooks (their execution is nbval's job:
`make test` collects chapters/*.ipynb with --nbval-lax under the smoke profile)."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks under chapters/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `python tools/nbtools.py strip {path}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_follows_the_course_layout(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    assert "Learning goals" in "".join(cells[0]["source"])
    code_cells = [c for c in cells if c["cell_type"] == "code"]
    imports = "".join(code_cells[1]["source"])
    assert "import course_lib as cl" in imports and "cl.setup_notebook(" in imports
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in text and "## Exercises" in text
    assert text.count(":class: dropdown") >= 2, "exercises need hidden solutions"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "cuda" not in code, "chapters must not name a device; use setup.device"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_bootstrap_cell_for_the_configured_repository(path):
    """Colab/Kaggle: the first code cell installs the course from the repository URL of
    _config.yml (the launch buttons' URL), and is collapsed in the rendered book."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import nbtools

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    expected = nbtools.bootstrap_cell(url)
    assert "".join(first["source"]) == expected.source, \
        f"refresh it with `python tools/nbtools.py bootstrap {path.relative_to(ROOT)}`"
    assert f"git+{url}" in expected.source
    assert "hide-cell" in first["metadata"]["tags"]


def _toc_files(entries):
    for entry in entries:
        if "file" in entry:
            yield entry["file"]
        yield from _toc_files(entry.get("chapters", []) + entry.get("sections", []))


def test_every_chapter_is_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = set(_toc_files(toc.get("parts", [])))
    for path in NOTEBOOKS:
        assert f"chapters/{path.stem}" in files, f"{path.name} is not in _toc.yml"
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f"{f} in _toc.yml does not exist"


def _inline_maths_lines_that_start_a_list(markdown: str) -> list[str]:
    """Continuation lines of inline maths ($...$ over several source lines) that
    start with "+ ", "- ", "* " or "1. ": Markdown reads such a line as a list item
    and the maths breaks apart. Display maths ($$...$$) is one block and is safe."""
    text = re.sub(r"\$\$.*?\$\$", "", markdown, flags=re.S)
    bad = []
    for m in re.finditer(r"\$[^$]+\$", text):
        bad += [line.strip() for line in m.group(0).split("\n")[1:] if re.match(r"\s*(?:[+*-]|\d+\.)\s", line)]
    return bad


def test_inline_maths_check_finds_a_line_that_markdown_would_read_as_a_list():
    assert _inline_maths_lines_that_start_a_list("because $a\n+ b = c$ holds") == ["+ b = c$"]
    assert _inline_maths_lines_that_start_a_list("because $a + b$ holds\n- an item") == []
    assert _inline_maths_lines_that_start_a_list("$$\na\n+ b\n$$") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_inline_maths_line_starts_like_a_list_item(path):
    nb = json.loads(path.read_text())
    bad = [line for cell in nb["cells"] if cell["cell_type"] == "markdown"
           for line in _inline_maths_lines_that_start_a_list("".join(cell["source"]))]
    assert not bad, f"{path.name}: inline maths lines that Markdown reads as list items: {bad}"


#: The widest code line that fits the book's code box without a sideways scroll bar.
MAX_CODE_LINE = 88


def _long_code_lines(nb: dict, limit: int = MAX_CODE_LINE) -> list[str]:
    """'cell C, line L (N chars)' for every line of a code cell longer than ``limit``
    characters; C counts all cells from 0, L the cell's lines from 1."""
    return [f"cell {i}, line {j} ({len(line)} chars)"
            for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
            for j, line in enumerate("".join(cell["source"]).splitlines(), start=1)
            if len(line) > limit]


def test_long_line_check_names_the_cell_and_the_line():
    nb = {"cells": [{"cell_type": "markdown", "source": ["x" * 100]},
                    {"cell_type": "code", "source": ["ok = 1\n", "y = " + "x" * 90 + "\n"]}]}
    assert _long_code_lines(nb) == ["cell 1, line 2 (94 chars)"]
    assert _long_code_lines(nb, limit=94) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_code_box(path):
    bad = _long_code_lines(json.loads(path.read_text()))
    assert not bad, f"{path.name}: code lines over {MAX_CODE_LINE} characters: {bad}"


def _myst_nb_cell_tags() -> str:
    """The source of myst-nb's code-cell renderer: the tags it acts on are quoted there."""
    import inspect

    from myst_nb.core.render import MditRenderMixin

    return inspect.getsource(MditRenderMixin.render_nb_cell_code)


def test_the_tag_check_reads_myst_nbs_vocabulary():
    known = _myst_nb_cell_tags()
    assert all(f'"{tag}"' in known for tag in ("hide-input", "hide-cell", "remove-output"))
    assert '"hide-inputs"' not in known


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_hide_and_remove_tags_are_ones_myst_nb_knows(path):
    """A misspelt tag ('hide_input', 'hide-inputs') is ignored silently and the
    cell stays open; plotting-only cells are collapsed with 'hide-input'."""
    known = _myst_nb_cell_tags()
    tags = {t for c in json.loads(path.read_text())["cells"] for t in c["metadata"].get("tags", [])}
    unknown = sorted(t for t in tags if t.startswith(("hide", "remove")) and f'"{t}"' not in known)
    assert not unknown, f"{path.name}: tags myst-nb does not act on: {unknown}"


def _figure_cells_that_display_more(nb: dict) -> list[int]:
    """Cells whose figure metadata (``mystnb.figure``: caption and label) would be
    attached to something other than the figure: a cell that also calls
    ``display(...)`` has several rich outputs, myst-nb wraps each in the labelled
    figure and Sphinx sees the label twice (and drops it)."""
    return [i for i, cell in enumerate(nb["cells"])
            if cell["cell_type"] == "code"
            and "figure" in cell["metadata"].get("mystnb", {})
            and "display(" in "".join(cell["source"])]


def _rich_results_left_mid_cell(nb: dict) -> list[str]:
    """'cell C: name' for each call of ``cl.show_source`` or ``cl.table`` (or a
    widget factory) standing as a bare statement before a cell's last one: Jupyter
    shows only the last expression's value, so the result is silently lost."""
    import ast

    lost = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line for line in "".join(cell["source"]).splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        for stmt in ast.parse(code).body[:-1]:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                name = ast.unparse(stmt.value.func)
                if name in ("cl.show_source", "cl.table") or name.endswith("_widget"):
                    lost.append(f"cell {i}: {name}")
    return lost


def test_the_display_checks_find_what_they_look_for():
    fig_meta = {"mystnb": {"figure": {"name": "fig-x", "caption": "x"}}}
    nb = {"cells": [
        {"cell_type": "code", "metadata": fig_meta, "source": ["display(t)\nplt.plot(x)\n"]},
        {"cell_type": "code", "metadata": fig_meta, "source": ["plt.plot(x)\n"]},
        {"cell_type": "code", "metadata": {},
         "source": ["%matplotlib inline\ncl.show_source(f)\nx = 1\ncl.table(r, c)\n"]},
    ]}
    assert _figure_cells_that_display_more(nb) == [0]
    assert _rich_results_left_mid_cell(nb) == ["cell 2: cl.show_source"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figure_cells_show_only_their_figure(path):
    bad = _figure_cells_that_display_more(json.loads(path.read_text()))
    assert not bad, (f"{path.name}: figure cells {bad} also display a table or widget; "
                     "move it to a cell of its own")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_rich_result_is_dropped_mid_cell(path):
    bad = _rich_results_left_mid_cell(json.loads(path.read_text()))
    assert not bad, f"{path.name}: wrap these in display(...) or make them last: {bad}"

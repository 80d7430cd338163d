"""Small helpers for writing and checking chapter notebooks.

``python tools/nbtools.py strip chapters/*.ipynb`` removes outputs and execution
counts (notebooks are committed without outputs; the book build executes them).
Chapter sources may also be written as a list of cells with :func:`md` and
:func:`code` and saved with :func:`save`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(text: str, **metadata) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=metadata)


def code(text: str, caption: str | None = None, name: str | None = None, tags=None,
         **metadata) -> nbformat.NotebookNode:
    """A code cell; ``caption``/``name`` turn its image output into a numbered figure."""
    if caption is not None:
        fig = {"caption": caption}
        if name:
            fig["name"] = name
        metadata.setdefault("mystnb", {})["figure"] = fig
    if tags:
        metadata["tags"] = list(tags)
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=metadata)


def save(cells, path: str | Path) -> None:
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    nbformat.write(nb, str(path))


def strip(path: str | Path) -> bool:
    """Remove outputs and execution counts in place; True if the file changed."""
    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code":
            if cell.outputs or cell.execution_count is not None:
                changed = True
            cell.outputs, cell.execution_count = [], None
    if changed:
        nbformat.write(nb, str(path))
    return changed


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "strip":
        sys.exit("usage: python tools/nbtools.py strip NOTEBOOK...")
    for p in sys.argv[2:]:
        if strip(p):
            print(f"stripped {p}")

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


ROOT = Path(__file__).resolve().parent.parent

#: what the bootstrap cell does when course_lib is missing; {url} is the repository URL
BOOTSTRAP_TEMPLATE = '''\
# On Colab, Kaggle or a bare Jupyter, install the course if it is missing.
# In a clone of the repository (or once installed) this cell does nothing.
import importlib.util, os, subprocess, sys

if importlib.util.find_spec("course_lib") is None:
    source = os.environ.get("COURSE_INSTALL_SOURCE",
                            "git+{url}")
    print(f"course_lib is not installed here; installing it with pip from {{source}} ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", source],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        pip_error = " ".join(pip.stderr.split())[-400:]
        raise RuntimeError(
            f"Could not install the course from {{source}} (pip: {{pip_error}}). "
            f'Install it by hand with  pip install "{{source}}"  in this environment, '
            "or clone the repository and run  make lab  there.")
    importlib.invalidate_caches()'''

BOOTSTRAP_TAG = "bootstrap"


def repository_url() -> str:
    """The course's repository URL: ``repository.url`` in ``_config.yml``, the one
    place it is set (the launch buttons and the bootstrap cells use it)."""
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def bootstrap_cell(url: str | None = None) -> nbformat.NotebookNode:
    """The first code cell of every chapter: installs ``course_lib`` from the
    repository when it cannot be imported (collapsed in the rendered book)."""
    return code(BOOTSTRAP_TEMPLATE.format(url=url or repository_url()), tags=["hide-cell", BOOTSTRAP_TAG],
                mystnb={"code_prompt_show": "Set-up for Colab or Kaggle (installs the course if missing)",
                        "code_prompt_hide": "Hide the set-up"})


def set_bootstrap(path: str | Path, url: str | None = None) -> bool:
    """Make (or refresh) the bootstrap cell the first code cell of a notebook; True if it changed."""
    nb = nbformat.read(str(path), as_version=4)
    new = bootstrap_cell(url)
    cells = [c for c in nb.cells if BOOTSTRAP_TAG not in c.get("metadata", {}).get("tags", [])]
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    old = next((c for c in nb.cells if BOOTSTRAP_TAG in c.get("metadata", {}).get("tags", [])), None)
    if old is not None and old.source == new.source and old.metadata == new.metadata \
            and nb.cells.index(old) == first_code:
        return False
    cells.insert(first_code, new)
    nb.cells = cells
    nbformat.write(nb, str(path))
    return True


USAGE = "usage: python tools/nbtools.py strip|bootstrap NOTEBOOK..."

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("strip", "bootstrap"):
        sys.exit(USAGE)
    for p in sys.argv[2:]:
        if sys.argv[1] == "strip" and strip(p):
            print(f"stripped {p}")
        if sys.argv[1] == "bootstrap" and set_bootstrap(p):
            print(f"bootstrap cell written in {p}")

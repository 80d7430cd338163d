"""What a chapter needs from the notebook around it: numbers glued into the book's prose.

A chapter computes a number in a code cell and the Markdown around it quotes the
number with ``{glue:text}`name:.2f``` (MyST-NB's *glue* role). The book build
(``tools/build_book.py``) finds the values in the executed notebook, where they are
stored as display outputs under a MIME prefix that Jupyter front ends do not show.

The book's tools are not a dependency of the course: on Colab, Kaggle or a bare
Jupyter the chapter must run with only what ``pyproject.toml`` declares. So the
chapters glue with :func:`glue`, which writes the book's format while the book is
being built (``$COURSE_BOOK_BUILD`` is set) and otherwise just shows the value when
asked to, without a "no renderer" box for an output the student cannot see.
"""

from __future__ import annotations

import os
from typing import Any

from IPython.core.formatters import format_display_data
from IPython.display import display as ipython_display

__all__ = ["glue", "in_book_build", "BOOK_BUILD_ENV", "GLUE_MIME_PREFIX"]

#: set to 1 by ``tools/build_book.py`` for the kernels that execute the chapters
BOOK_BUILD_ENV = "COURSE_BOOK_BUILD"
#: the MIME prefix under which MyST-NB (and papermill's scrapbook) store a hidden glued value
GLUE_MIME_PREFIX = "application/papermill.record/"


def in_book_build() -> bool:
    """True while ``tools/build_book.py`` executes the chapters."""
    return os.environ.get(BOOK_BUILD_ENV, "").strip() not in ("", "0")


def glue(name: str, value: Any, display: bool = True) -> None:
    """Store ``value`` under ``name`` for the book's ``{glue:...}`` roles.

    During a book build this writes exactly what ``myst_nb.glue`` writes: the
    value's display formats (``text/plain``, and ``text/html`` or ``image/png``
    where it has them), prefixed with :data:`GLUE_MIME_PREFIX` when
    ``display=False`` so that the cell shows nothing, with the name in the
    output's ``scrapbook`` metadata. Anywhere else it only displays the value
    when ``display=True``, so the student sees what the page would quote.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"glue needs a non-empty name (a string) for the book to refer to, got {name!r}")
    if not in_book_build():
        if display:
            ipython_display(value)
        return
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_MIME_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipython_display({prefix + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)

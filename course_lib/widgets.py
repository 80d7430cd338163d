"""ipywidgets glue only. Every widget wires controls to a *pure* function that
returns a matplotlib Figure (or computes arrays); the tests call those
functions directly, and the widget only redraws."""

from __future__ import annotations

import time
from typing import Callable, Mapping

from matplotlib.figure import Figure

__all__ = ["figure_widget"]


def figure_widget(draw: Callable[..., Figure], controls: Mapping[str, object],
                  title: str | None = None):
    """A box with ``controls`` (ipywidgets, keyed by ``draw``'s argument names)
    above the figure ``draw(**values)``, redrawn whenever a control changes.

    ``draw`` must be cheap (tens of milliseconds) for the slider to feel live:
    precompute what does not depend on the controls outside it. The returned
    box has a ``last_seconds`` attribute with the duration of the last redraw.
    """
    import ipywidgets as widgets
    from IPython.display import display

    out = widgets.Output()
    box_children = []
    if title:
        box_children.append(widgets.HTML(f"<b>{title}</b>"))
    box_children.append(widgets.HBox(list(controls.values())))
    box_children.append(out)
    box = widgets.VBox(box_children)

    def refresh(*_):
        start = time.perf_counter()
        fig = draw(**{name: control.value for name, control in controls.items()})
        with out:
            out.clear_output(wait=True)
            display(fig)
        box.last_seconds = time.perf_counter() - start

    for control in controls.values():
        control.observe(refresh, names="value")
    refresh()
    return box

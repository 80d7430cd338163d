"""ipywidgets glue only. Every widget wires controls to a *pure* function that
returns a matplotlib Figure (or computes arrays); the tests call those
functions directly, and the widget only redraws."""

from __future__ import annotations

import time
from typing import Callable, Mapping

from matplotlib.figure import Figure

__all__ = ["figure_widget", "edit_figure", "attribute_edit_widget"]


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


# ---------------------------------------------------------------------------
# Chapter 7: latent arithmetic

def edit_figure(model, x, vectors, alphas, *, logits: bool = True) -> Figure:
    r"""Faces ``x`` (B, C, H, W) reconstructed from their mean codes (top row) and
    decoded from :math:`\mu(x) + \sum_k \alpha_k z_k` (bottom row), where
    ``vectors`` maps names to attribute vectors (L,) and ``alphas`` maps the same
    names to coefficients. Pure: the widget below only calls it."""
    from .latent_arithmetic import edit_many
    from .plotting import image_grid

    zero = {name: 0.0 for name in vectors}
    images = edit_many(model, x, vectors, [zero, dict(alphas)], logits=logits)
    label = ", ".join(f"{k}={float(a):+.2f}" for k, a in alphas.items())
    return image_grid(images.flatten(0, 1).cpu(), nrow=2,
                      row_labels=["reconstruction", "edited"], title=label, cell=0.8)


def attribute_edit_widget(model, x, vectors, *, alpha_range: tuple[float, float] = (-2.0, 3.0),
                          step: float = 0.25, logits: bool = True):
    """One slider per attribute vector in ``vectors`` (named like its key) over
    :func:`edit_figure`: move a slider to add that multiple of the vector to the
    codes of the faces ``x``."""
    import ipywidgets as widgets

    lo, hi = alpha_range
    if not lo <= 0.0 <= hi:
        raise ValueError(f"alpha_range must contain 0, got {alpha_range}")
    controls = {name: widgets.FloatSlider(value=0.0, min=lo, max=hi, step=step, description=name,
                                          continuous_update=False) for name in vectors}

    def draw(**alphas):
        return edit_figure(model, x, vectors, alphas, logits=logits)

    return figure_widget(draw, controls, title="latent arithmetic: z + sum of alpha_k z_k")

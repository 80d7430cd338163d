"""The kernel-side widgets: each wires ipywidgets controls to a drawing
function of :mod:`course_lib.plotting`, which returns a matplotlib Figure or
an RGB picture, and only redraws. The computations they show live with their
concepts, so the tests and the chapters call them without any widget.

In the rendered book these widgets are pictures of their saved state: there is
no kernel behind the controls. Every widget therefore carries a note saying so
(:func:`_static_note`), hidden wherever the book's stylesheet is absent (a live
notebook) and shown by the book (``book/_ext/book_fixes.py``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from matplotlib.figure import Figure

from .plotting import (denoising_figure, edit_figure, interpolation_figure, interpolation_picture,
                       temperature_figure)

if TYPE_CHECKING:  # annotations only: the module imports torch and ipywidgets where it uses them
    import ipywidgets as widgets
    import torch
    from torch import nn

__all__ = ["figure_widget", "ae_interpolation_widget", "denoising_widget", "interpolation_widget",
           "temperature_widget", "attribute_edit_widget"]


#: class of the note on a widget's static picture; the book's CSS shows it (book/_ext/book_fixes.py)
STATIC_NOTE_CLASS = "course-static-note"
STATIC_NOTE_TEXT = ("This widget needs a running notebook: on this page its controls do nothing and "
                    "the picture shows its initial setting. Open the notebook with the launch buttons "
                    "(the rocket icon) at the top of the page to move them.")


def _static_note() -> widgets.HTML:
    """The note every kernel widget carries for the static book: hidden (``display: none``)
    in a live notebook, where the widget works; the book's stylesheet shows it."""
    import ipywidgets as widgets

    note = widgets.HTML(f'<div class="{STATIC_NOTE_CLASS}-text">{STATIC_NOTE_TEXT}</div>',
                        layout=widgets.Layout(display="none"))
    note.add_class(STATIC_NOTE_CLASS)
    return note


def _png(picture) -> tuple[bytes, int]:
    """PNG bytes of a matplotlib Figure or of an RGB picture (H, W, 3) uint8, and
    the width in CSS pixels at which to show it: a Figure at the size the inline
    backend shows it (``figure.dpi`` pixels per inch, whatever dpi it is saved
    at), a picture one pixel per pixel."""
    import io

    import numpy as np

    buf = io.BytesIO()
    if isinstance(picture, Figure):
        # tight: labels that stick out of the axes (row names of an image grid) are kept
        picture.savefig(buf, format="png", bbox_inches="tight")
        png = buf.getvalue()
        saved_dpi = _savefig_dpi(picture)
        width_px = int.from_bytes(png[16:20], "big")       # IHDR: width, height (big-endian)
        return png, round(width_px * picture.dpi / saved_dpi)
    arr = np.asarray(picture)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError("draw must return a matplotlib Figure or an RGB picture (H, W, 3) of uint8, "
                         f"got {type(picture).__name__} {getattr(arr, 'dtype', '')} {getattr(arr, 'shape', '')}")
    from PIL import Image

    Image.fromarray(arr).save(buf, format="png", compress_level=1)
    return buf.getvalue(), arr.shape[1]


def _savefig_dpi(fig: Figure) -> float:
    """The dpi ``fig.savefig`` uses when given none (``savefig.dpi``, or the figure's own)."""
    import matplotlib

    dpi = matplotlib.rcParams["savefig.dpi"]
    return fig.dpi if dpi == "figure" else float(dpi)


def figure_widget(draw: Callable[..., object], controls: Mapping[str, object],
                  title: str | None = None, note: bool = True) -> widgets.VBox:
    """A box with ``controls`` (ipywidgets, keyed by ``draw``'s argument names)
    above the picture ``draw(**values)``, redrawn whenever a control changes.

    ``draw`` returns a matplotlib Figure, or, where a slider must feel live, an
    RGB picture (H, W, 3) of uint8: encoding that takes a few milliseconds,
    where creating and rendering a Figure takes around a hundred. Precompute what
    does not depend on the controls outside ``draw``. The returned box has the
    attributes ``controls`` (the mapping), ``image`` (the ``ipywidgets.Image``)
    and ``last_seconds`` (the duration of the last redraw).

    The layout is set here for every widget: the controls wrap onto several
    rows instead of leaving the column, their labels take the width they need,
    and the picture is shown at its own size (never stretched; shrunk only to
    fit a narrow screen). With ``note`` (the default) the box starts with
    :func:`_static_note`; a widget that puts this box inside another one passes
    ``note=False`` and adds the note itself.

    The picture is rendered to PNG and shown in an ``ipywidgets.Image`` rather
    than displayed inside an ``Output`` widget. Why: with ipykernel 7, executing
    a notebook (nbclient, the book build, nbval) hangs for good when a large PNG
    (roughly > 60 kB) is displayed inside an ``Output`` widget; an ``Image``
    widget has no such problem, and its picture is kept in the saved widget
    state, so the static page shows it.
    """
    import ipywidgets as widgets

    for control in controls.values():
        if "description_width" in getattr(getattr(control, "style", None), "keys", ()):
            control.style.description_width = "initial"   # the label's own width: never clipped
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
    children = [_static_note()] if note else []
    children += [widgets.HTML(f"<b>{title}</b>")] if title else []
    row = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
    box = widgets.VBox(children + [row, image])
    box.controls, box.image = controls, image

    def refresh(*_):
        start = time.perf_counter()
        png, width = _png(draw(**{name: control.value for name, control in controls.items()}))
        image.value = png
        image.layout.width = f"{width}px"
        box.last_seconds = time.perf_counter() - start

    for control in controls.values():
        control.observe(refresh, names="value")
    refresh()
    return box


# ---------------------------------------------------------------------------
# Chapter 6: the conditional VAE's latent space. Pure draw functions (tests call
# them) and the widgets that wire pickers and sliders to them.

def interpolation_widget(model: nn.Module, x: torch.Tensor, y: torch.Tensor, class_names: Sequence[str],
                         n_strip: int = 9, seed: int = 0) -> widgets.VBox:
    """Two pickers (class + index within that class, or a "random pair" button)
    and a slider on t: shows the decoded image at t and the strip with t marked.
    ``x`` (N, 1, H, W), ``y`` (N,) are the images to pick from (e.g. the test set)."""
    import ipywidgets as widgets
    import numpy as np

    from .latent import interpolate

    by_class = [np.flatnonzero(y.cpu().numpy() == k) for k in range(len(class_names))]
    options = [(name, k) for k, name in enumerate(class_names)]
    ts = np.linspace(0, 1, n_strip)
    cache: dict = {}
    c0 = widgets.Dropdown(options=options, value=0, description="from", layout={"width": "190px"})
    c1 = widgets.Dropdown(options=options, value=min(7, len(options) - 1), description="to",
                          layout={"width": "190px"})
    i0 = widgets.BoundedIntText(value=0, min=0, max=len(by_class[0]) - 1, description="index",
                                layout={"width": "150px"})
    i1 = widgets.BoundedIntText(value=0, min=0, max=len(by_class[c1.value]) - 1, description="index",
                                layout={"width": "150px"})
    t = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t", continuous_update=True)

    def draw(class0, index0, class1, index1, t):
        a, b = int(by_class[class0][index0]), int(by_class[class1][index1])
        if cache.get("key") != (a, b):  # the strip changes only with the pair, not with t
            cache.update(key=(a, b), strip=interpolate(model, x[a], x[b], ts, class0, class1))
        frame = interpolate(model, x[a], x[b], [t], class0, class1)[0]
        return interpolation_picture(cache["strip"], ts, frame, t)

    for cls, idx in ((c0, i0), (c1, i1)):
        cls.observe(lambda change, idx=idx: setattr(idx, "max", len(by_class[change["new"]]) - 1), names="value")
    rng = np.random.default_rng(seed)
    button = widgets.Button(description="random pair", icon="random")

    def random_pair(_):
        k0, k1 = (int(k) for k in rng.integers(0, len(class_names), size=2))
        c0.value, c1.value = k0, k1
        i0.value, i1.value = int(rng.integers(len(by_class[k0]))), int(rng.integers(len(by_class[k1])))

    button.on_click(random_pair)
    box = figure_widget(draw, {"class0": c0, "index0": i0, "class1": c1, "index1": i1, "t": t}, note=False)
    root = widgets.VBox([_static_note(), button, box])
    root.controls, root.image, root.button = box.controls, box.image, button
    return root


def temperature_widget(model: nn.Module, class_names: Sequence[str], n_samples: int = 6,
                       seed: int = 0) -> widgets.VBox:
    """A slider on the sampling temperature T over fixed noise: z = T * eps."""
    import ipywidgets as widgets
    import torch

    eps = torch.randn(n_samples, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    slider = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="temperature T")
    return figure_widget(lambda temperature: temperature_figure(model, eps, temperature, class_names),
                         {"temperature": slider},
                         title=f"Samples z = T * eps of every class ({n_samples} fixed draws of eps)")


# ---------------------------------------------------------------------------
# Chapter 7: latent arithmetic

def attribute_edit_widget(model: nn.Module, x: torch.Tensor, vectors: Mapping[str, torch.Tensor], *, alpha_range: tuple[float, float] = (-2.0, 3.0),
                          step: float = 0.25) -> widgets.VBox:
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
        return edit_figure(model, x, vectors, alphas)

    return figure_widget(draw, controls, title="latent arithmetic: z + sum of alpha_k z_k")


# ---------------------------------------------------------------------------
# Chapter 2: interpolation in a classic autoencoder.

def ae_interpolation_widget(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor,
                            data: torch.Tensor | None = None) -> widgets.VBox:
    """A slider on t in [0, 1] over :func:`course_lib.interpolation_figure`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t",
                                 continuous_update=True)
    return figure_widget(lambda t: interpolation_figure(model, x0, x1, t, data=data), {"t": slider},
                         title="Interpolation between the codes of x0 and x1")


# ---------------------------------------------------------------------------
# Chapter 3: corrupted vs denoised.

def denoising_widget(models: dict[str, nn.Module], x: torch.Tensor, seed: int = 0) -> widgets.VBox:
    """A corruption-type picker and a strength slider over :func:`course_lib.denoising_figure`."""
    import ipywidgets as widgets

    from .corruption import CORRUPTIONS

    kind = widgets.Dropdown(options=list(CORRUPTIONS), value="pixel dropping", description="corruption")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength",
                                   continuous_update=False)
    return figure_widget(lambda kind, strength: denoising_figure(models, x, kind, strength, seed),
                         {"kind": kind, "strength": strength}, title="Corrupted vs denoised")

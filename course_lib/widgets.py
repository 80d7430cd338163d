"""The kernel-side widgets: each wires ipywidgets controls to a drawing
function of :mod:`course_lib.plotting`, which returns a matplotlib Figure or
an RGB picture, and only redraws. The computations they show live with their
concepts, so the tests and the chapters call them without any widget."""

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


def _png(picture) -> bytes:
    """PNG bytes of a matplotlib Figure or of an RGB picture (H, W, 3) uint8."""
    import io

    import numpy as np

    buf = io.BytesIO()
    if isinstance(picture, Figure):
        picture.savefig(buf, format="png")
        return buf.getvalue()
    arr = np.asarray(picture)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError("draw must return a matplotlib Figure or an RGB picture (H, W, 3) of uint8, "
                         f"got {type(picture).__name__} {getattr(arr, 'dtype', '')} {getattr(arr, 'shape', '')}")
    from PIL import Image

    Image.fromarray(arr).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def figure_widget(draw: Callable[..., object], controls: Mapping[str, object],
                  title: str | None = None) -> widgets.VBox:
    """A box with ``controls`` (ipywidgets, keyed by ``draw``'s argument names)
    above the picture ``draw(**values)``, redrawn whenever a control changes.

    ``draw`` returns a matplotlib Figure, or, where a slider must feel live, an
    RGB picture (H, W, 3) of uint8: encoding that takes a few milliseconds,
    where creating and rendering a Figure takes around a hundred. Precompute what
    does not depend on the controls outside ``draw``. The returned box has a
    ``last_seconds`` attribute with the duration of the last redraw.

    The picture is rendered to PNG and shown in an ``ipywidgets.Image`` rather
    than displayed inside an ``Output`` widget. Why: with ipykernel 7, executing
    a notebook (nbclient, the book build, nbval) hangs for good when a large PNG
    (roughly > 60 kB) is displayed inside an ``Output`` widget; an ``Image``
    widget has no such problem, and its picture is kept in the saved widget
    state, so the static page shows it.
    """
    import ipywidgets as widgets

    image = widgets.Image(format="png")
    children = [widgets.HTML(f"<b>{title}</b>")] if title else []
    box = widgets.VBox(children + [widgets.HBox(list(controls.values())), image])

    def refresh(*_):
        start = time.perf_counter()
        image.value = _png(draw(**{name: control.value for name, control in controls.items()}))
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
    box = figure_widget(draw, {"class0": c0, "index0": i0, "class1": c1, "index1": i1, "t": t})
    return widgets.VBox([button, box])


def temperature_widget(model: nn.Module, class_names: Sequence[str], n_samples: int = 6,
                       seed: int = 0) -> widgets.VBox:
    """A slider on the sampling temperature T over fixed noise: z = T * eps."""
    import ipywidgets as widgets
    import torch

    eps = torch.randn(n_samples, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    slider = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="T")
    return figure_widget(lambda temperature: temperature_figure(model, eps, temperature, class_names),
                             {"temperature": slider})


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

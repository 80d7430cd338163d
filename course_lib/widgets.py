"""ipywidgets glue only. Every widget wires controls to a *pure* function that
returns a matplotlib Figure (or computes arrays); the tests call those
functions directly, and the widget only redraws."""

from __future__ import annotations

import time
from typing import Callable, Mapping

from matplotlib.figure import Figure

__all__ = ["figure_widget", "png_figure_widget", "interpolation_figure", "interpolation_widget",
           "temperature_figure", "temperature_widget"]


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
# Chapter 6: the conditional VAE's latent space. Pure draw functions (tests call
# them) and the widgets that wire pickers and sliders to them.

def png_figure_widget(draw: Callable[..., Figure], controls: Mapping[str, object],
                      title: str | None = None):
    """Like :func:`figure_widget`, but the figure is rendered to PNG and shown in
    an ``ipywidgets.Image`` instead of being displayed inside an ``Output``.

    Why: with ipykernel 7, executing a notebook (nbclient, the book build,
    nbval) hangs for good when a large PNG (roughly > 60 kB) is displayed
    inside an ``Output`` widget; an ``Image`` widget has no such problem, and its
    picture is kept in the saved widget state, so the static page shows it.
    """
    import io

    import ipywidgets as widgets

    image = widgets.Image(format="png")
    children = [widgets.HTML(f"<b>{title}</b>")] if title else []
    box = widgets.VBox(children + [widgets.HBox(list(controls.values())), image])

    def refresh(*_):
        start = time.perf_counter()
        fig = draw(**{name: control.value for name, control in controls.items()})
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        image.value = buf.getvalue()
        box.last_seconds = time.perf_counter() - start

    for control in controls.values():
        control.observe(refresh, names="value")
    refresh()
    return box

def interpolation_figure(strip, ts, frame, t: float, *, left: str = "", right: str = "") -> Figure:
    """The decoded image at ``t`` (left) beside the whole interpolation strip
    (right) with ``t`` marked. ``strip`` (T, 1, H, W) decoded at ``ts`` (T,)
    increasing from 0 to 1; ``frame`` (1, H, W) decoded at ``t``."""
    import matplotlib.pyplot as plt
    import numpy as np

    s = np.asarray(strip.detach().cpu() if hasattr(strip, "detach") else strip)[:, 0]
    f = np.asarray(frame.detach().cpu() if hasattr(frame, "detach") else frame)[0]
    ts = np.asarray(ts, dtype=float)
    T, H, W = s.shape
    if len(ts) != T:
        raise ValueError(f"strip has {T} images but ts has {len(ts)} values")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(1.4 + 0.75 * T, 1.9),
                                   gridspec_kw={"width_ratios": [1.6, T]})
    ax0.imshow(f, cmap="gray", vmin=0, vmax=1)
    ax0.set_title(f"t = {t:.2f}", fontsize=10)
    ax0.axis("off")
    ax1.imshow(np.concatenate(list(s), axis=1), cmap="gray", vmin=0, vmax=1, extent=(0, T * W, H, 0))
    centres = (np.arange(T) + 0.5) * W
    x_t = float(np.interp(t, ts, centres))  # the strip's position of t
    ax1.axvline(x_t, color="tab:red", lw=2)
    ax1.plot([x_t], [-1.5], marker="v", color="tab:red", ms=9, clip_on=False)
    ax1.set_xticks(centres)
    ax1.set_xticklabels([f"{v:.2g}" for v in ts], fontsize=8)
    ax1.set_yticks([])
    ax1.set_xlabel(f"t   ({left} at t = 0, {right} at t = 1)" if left or right else "t", fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.99, bottom=0.25, top=0.85, wspace=0.05)
    plt.close(fig)
    return fig


def interpolation_widget(model, x, y, class_names, n_strip: int = 9, seed: int = 0):
    """Two pickers (class + index within that class, or a "random pair" button)
    and a slider on t: shows the decoded image at t and the strip with t marked.
    ``x`` (N, 1, H, W), ``y`` (N,) are the images to pick from (e.g. the test set)."""
    import ipywidgets as widgets
    import numpy as np

    from .cvae import decode_interpolation

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
            cache.update(key=(a, b), strip=decode_interpolation(model, x[a], class0, x[b], class1, ts))
        frame = decode_interpolation(model, x[a], class0, x[b], class1, [t])[0]
        return interpolation_figure(cache["strip"], ts, frame, t,
                                    left=f"{class_names[class0]} #{index0}",
                                    right=f"{class_names[class1]} #{index1}")

    for cls, idx in ((c0, i0), (c1, i1)):
        cls.observe(lambda change, idx=idx: setattr(idx, "max", len(by_class[change["new"]]) - 1), names="value")
    rng = np.random.default_rng(seed)
    button = widgets.Button(description="random pair", icon="random")

    def random_pair(_):
        k0, k1 = (int(k) for k in rng.integers(0, len(class_names), size=2))
        c0.value, c1.value = k0, k1
        i0.value, i1.value = int(rng.integers(len(by_class[k0]))), int(rng.integers(len(by_class[k1])))

    button.on_click(random_pair)
    box = png_figure_widget(draw, {"class0": c0, "index0": i0, "class1": c1, "index1": i1, "t": t})
    return widgets.VBox([button, box])


def temperature_figure(model, eps, temperature: float, class_names) -> Figure:
    """Samples ``decode(T * eps, y)`` for every class (rows) and the fixed noise
    vectors ``eps`` (S, L) (columns), as one mosaic."""
    from .cvae import temperature_samples
    from .plotting import image_mosaic

    images = temperature_samples(model, eps, temperature)
    return image_mosaic(images, row_labels=list(class_names), title=f"temperature T = {temperature:.2f}")


def temperature_widget(model, class_names, n_samples: int = 6, seed: int = 0):
    """A slider on the sampling temperature T over fixed noise: z = T * eps."""
    import ipywidgets as widgets
    import torch

    eps = torch.randn(n_samples, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    slider = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="T")
    return png_figure_widget(lambda temperature: temperature_figure(model, eps, temperature, class_names),
                             {"temperature": slider})

"""The kernel-side widgets: each wires ipywidgets controls to a drawing
function of :mod:`course_lib.plotting`, which returns a matplotlib Figure or
an RGB picture, and only redraws: a slider move updates the artists of one
reused Figure in place and draws only those (see :func:`figure_widget`). The
computations they show live with their concepts, so the tests and the
chapters call them without any widget.

In the rendered book these widgets are pictures of their saved state: there is
no kernel behind the controls. Every widget therefore carries a note saying so
(:func:`_static_note`), hidden wherever the book's stylesheet is absent (a live
notebook) and shown by the book (``book/_ext/book_fixes.py``)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

from matplotlib.figure import Figure

from .plotting import (denoising_figure, edit_figure, interpolation_figure, interpolation_picture,
                       q_vs_posterior_figure, temperature_figure)

if TYPE_CHECKING:  # annotations only: the module imports torch and ipywidgets where it uses them
    import ipywidgets as widgets
    import torch
    from torch import nn

__all__ = ["figure_widget", "ae_interpolation_widget", "denoising_widget", "interpolation_widget",
           "q_posterior_widget",
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


def _png(picture, compress_level: int = 1) -> tuple[bytes, int]:
    """PNG bytes of a matplotlib Figure or of an RGB picture (H, W, 3) uint8, and
    the width in CSS pixels at which to show it: a Figure at the size the inline
    backend shows it (``figure.dpi`` pixels per inch, whatever dpi it is saved
    at), a picture one pixel per pixel. ``compress_level`` is zlib's: 1 for a
    move (fastest), 6 for the first picture, the one the book keeps (3-15 % smaller)."""
    import io

    import numpy as np

    if isinstance(picture, Figure):
        return _figure_png(picture, compress_level)
    arr = np.asarray(picture)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError("draw must return a matplotlib Figure or an RGB picture (H, W, 3) of uint8, "
                         f"got {type(picture).__name__} {getattr(arr, 'dtype', '')} {getattr(arr, 'shape', '')}")
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="png", compress_level=compress_level)
    return buf.getvalue(), arr.shape[1]


def _figure_png(fig: Figure, compress_level: int = 1) -> tuple[bytes, int]:
    """What ``fig.savefig(..., bbox_inches="tight")`` saves, drawn once instead of
    twice: savefig draws the figure to find the tight box, then again to save it;
    here one Agg draw gives both the pixels and the box, which is cut out of them
    (its padding beyond the figure's edge filled with the figure's colour) and
    encoded by Pillow (``compress_level``, see :func:`_png`). Where something is drawn outside the
    figure (a label left of the first axes), savefig's own tight box, which grows
    the picture to hold it, is used instead.

    A figure that lists the artists a move changes (``MOVING_ARTISTS``, set by the
    figure functions behind the sliders) is redrawn by blitting: once its layout
    (size, places and limits of the axes) is the same at two moves in a row, a picture of it
    without those artists is kept, and later moves paste it back and draw only the
    listed artists over it, until the layout changes."""
    import io

    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba
    from matplotlib.transforms import Bbox
    from PIL import Image

    from .plotting import MOVING_ARTISTS

    saved_dpi, shown_dpi = _savefig_dpi(fig), fig.dpi
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    moving = [a for a in getattr(fig, MOVING_ARTISTS, ()) if a.get_visible()]
    if saved_dpi != shown_dpi:
        fig.set_dpi(saved_dpi)
    try:
        # what the kept picture depends on: the figure's size, the places and the limits of its axes
        layout = (saved_dpi, tuple(fig.get_size_inches()),
                  tuple((*ax.get_position().bounds, *ax.viewLim.bounds) for ax in fig.axes))
        kept = getattr(fig, "_course_kept", None)          # (layout, canvas, picture, its tight box)
        if moving and kept is not None and kept[0] == layout and kept[1] is canvas:
            canvas.restore_region(kept[2])
            renderer = canvas.get_renderer()
            boxes = [kept[3]]
            for a in moving:
                a.draw(renderer)
                extent = a.get_tightbbox(renderer)
                # the boxes fig.get_tightbbox counts (an empty title's, zero wide, too)
                if extent is not None and np.isfinite(extent.bounds).all() and (extent.width or extent.height):
                    boxes.append(extent.transformed(fig.dpi_scale_trans.inverted()))
            box = Bbox.union(boxes)
        else:
            if moving and getattr(fig, "_course_layout", None) == layout:
                for a in moving:
                    a.set_visible(False)
                canvas.draw()
                fig._course_kept = (layout, canvas, canvas.copy_from_bbox(fig.bbox),
                                    fig.get_tightbbox(canvas.get_renderer()))
                for a in moving:
                    a.set_visible(True)
            fig._course_layout = layout
            # the whole figure, also after the drawing without the moving artists: that one
            # leaves a hidden title far up (its extent is empty), this one puts it back
            canvas.draw()
            box = fig.get_tightbbox(canvas.get_renderer())                     # inches
        width, height = fig.get_size_inches()
        eps = 0.5 / saved_dpi     # half a pixel: a title at the top edge ends there give or take rounding
        inside = box.x0 >= -eps and box.y0 >= -eps and box.x1 <= width + eps and box.y1 <= height + eps
        if inside:
            pad = matplotlib.rcParams["savefig.pad_inches"]
            box = box.padded(pad if isinstance(pad, (int, float)) else 0.1)
            rgba = np.asarray(canvas.buffer_rgba())                         # (H, W, 4), row 0 at the top
            rows, cols = rgba.shape[:2]
            x0, x1 = int(np.floor(box.x0 * saved_dpi)), int(np.ceil(box.x1 * saved_dpi))
            y0, y1 = rows - int(np.ceil(box.y1 * saved_dpi)), rows - int(np.floor(box.y0 * saved_dpi))
            face = np.round(255 * np.array(to_rgba(fig.get_facecolor())[:3])).astype(np.uint8)
            out = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
            out[:] = face
            out[max(-y0, 0):min(rows, y1) - y0, max(-x0, 0):min(cols, x1) - x0] = \
                rgba[max(y0, 0):min(rows, y1), max(x0, 0):min(cols, x1), :3]
            buf = io.BytesIO()
            Image.fromarray(out).save(buf, format="png", compress_level=compress_level)
    finally:
        if saved_dpi != shown_dpi:
            fig.set_dpi(shown_dpi)
    if not inside:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
    png = buf.getvalue()
    width_px = int.from_bytes(png[16:20], "big")       # IHDR: width, height (big-endian)
    return png, round(width_px * shown_dpi / saved_dpi)


def _savefig_dpi(fig: Figure) -> float:
    """The dpi ``fig.savefig`` uses when given none (``savefig.dpi``, or the figure's own)."""
    import matplotlib

    dpi = matplotlib.rcParams["savefig.dpi"]
    return fig.dpi if dpi == "figure" else float(dpi)


def _takes_fig(draw: Callable[..., object]) -> bool:
    """Whether ``draw`` has a ``fig`` parameter: then it redraws a figure in place."""
    import inspect

    try:
        return "fig" in inspect.signature(draw).parameters
    except (TypeError, ValueError):   # a builtin or a callable without a signature
        return False


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the block with one PyTorch thread. A move computes a small batch (a path
    of 100 points, a few dozen small images): one thread does it in well under a
    millisecond, where two threads on a busy two-core machine wait on each other
    for tens of milliseconds (chapter 2's decode: 0.4 ms against 28 ms, measured
    with the book build running beside it)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def figure_widget(draw: Callable[..., object], controls: Mapping[str, object],
                  title: str | None = None, note: bool = True) -> widgets.VBox:
    """A box with ``controls`` (ipywidgets, keyed by ``draw``'s argument names)
    above the picture ``draw(**values)``, redrawn whenever a control changes.

    ``draw`` returns a matplotlib Figure or an RGB picture (H, W, 3) of uint8.
    Creating a Figure, laying it out and drawing it takes one to a few hundred
    milliseconds, too slow for a slider, so a ``draw`` that has a ``fig``
    parameter gets the Figure it returned on the previous move (``None`` the
    first time) and updates its artists in place (``set_data``, ``set_offsets``,
    texts) instead of building a new one: every figure function behind a
    chapter's slider does (:func:`course_lib.interpolation_figure`,
    :func:`course_lib.image_grid`, ...), e.g.
    ``draw=lambda t, fig=None: cl.interpolation_figure(model, x0, x1, t, fig=fig)``.
    A picture needs no figure at all: encoding it takes a few milliseconds.
    Precompute what does not depend on the controls outside ``draw``.

    The returned box has the attributes ``controls`` (the mapping), ``image``
    (the ``ipywidgets.Image``), ``figure`` (the Figure reused between moves, or
    None), ``last_seconds`` (the duration of the last redraw: compute, draw
    and PNG encoding, what ``bench/bench_widgets.py`` reports) and
    ``last_cpu_seconds`` (its CPU time, which other busy processes do not lengthen).
    A move computes on one PyTorch thread (:func:`_one_thread`).

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
    box.controls, box.image, box.figure = controls, image, None
    in_place = _takes_fig(draw)

    def refresh(*_):
        start, cpu = time.perf_counter(), time.process_time()
        values = {name: control.value for name, control in controls.items()}
        with _one_thread():
            picture = draw(**values, fig=box.figure) if in_place else draw(**values)
        if in_place and isinstance(picture, Figure):
            box.figure = picture
        png, width = _png(picture, 1 if hasattr(box, "last_seconds") else 6)   # 6: the saved picture
        image.value = png
        image.layout.width = f"{width}px"
        box.last_seconds = time.perf_counter() - start
        box.last_cpu_seconds = time.process_time() - cpu    # this process's CPU time, whatever else runs

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
    return figure_widget(lambda temperature, fig=None: temperature_figure(model, eps, temperature, class_names,
                                                                         fig=fig),
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

    def draw(fig=None, **alphas):
        return edit_figure(model, x, vectors, alphas, fig=fig)

    return figure_widget(draw, controls, title="latent arithmetic: z + sum of alpha_k z_k")


# ---------------------------------------------------------------------------
# Chapter 2: interpolation in a classic autoencoder.

def ae_interpolation_widget(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor,
                            data: torch.Tensor | None = None) -> widgets.VBox:
    """A slider on t in [0, 1] over :func:`course_lib.interpolation_figure`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t",
                                 continuous_update=True)
    return figure_widget(lambda t, fig=None: interpolation_figure(model, x0, x1, t, data=data, fig=fig),
                         {"t": slider},
                         title="Interpolation between the codes of x0 and x1")


# ---------------------------------------------------------------------------
# Chapter 4: q against the exact posterior.

def q_posterior_widget(mu: tuple[float, float, float, float] = (0.0, -1.5, 2.0, 0.05),
                       sigma: tuple[float, float, float, float] = (1.0, 0.05, 1.5, 0.05),
                       **model) -> widgets.VBox:
    """Sliders for the mean and standard deviation of q over
    :func:`course_lib.q_vs_posterior_figure` on axes fixed for the sliders' ranges
    (:func:`course_lib.q_posterior_axes`), so a move redraws only q and the title.
    ``mu`` and ``sigma`` are (start, min, max, step); ``model`` is x, w, noise."""
    import ipywidgets as widgets

    from .ppca import q_posterior_axes

    axes = q_posterior_axes(mu[1:3], sigma[1:3], **model)
    controls = {name: widgets.FloatSlider(value=v0, min=lo, max=hi, step=step, description=name)
                for name, (v0, lo, hi, step) in (("mu", mu), ("sigma", sigma))}
    x = model.get("x", 1.5)
    return figure_widget(lambda mu, sigma, fig=None: q_vs_posterior_figure(mu, sigma, fig=fig, axes=axes, **model),
                         controls, title=f"q = N(mu, sigma^2) against the exact posterior (x = {x:g})")


# ---------------------------------------------------------------------------
# Chapter 3: corrupted vs denoised.

def denoising_widget(models: dict[str, nn.Module], x: torch.Tensor, seed: int = 0) -> widgets.VBox:
    """A corruption-type picker and a strength slider over :func:`course_lib.denoising_figure`."""
    import ipywidgets as widgets

    from .corruption import CORRUPTIONS

    kind = widgets.Dropdown(options=list(CORRUPTIONS), value="pixel dropping", description="corruption")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength",
                                   continuous_update=False)
    return figure_widget(lambda kind, strength, fig=None: denoising_figure(models, x, kind, strength, seed,
                                                                         fig=fig),
                         {"kind": kind, "strength": strength}, title="Corrupted vs denoised")

"""Figures of the course (matplotlib only). Every function returns a Figure
and leaves no open pyplot figure behind, so a cell shows it exactly once;
the one exception, :func:`interpolation_picture`, returns an RGB picture
that a slider can redraw in milliseconds.

The course's figure style lives here too (:data:`COURSE_STYLE`, applied by
:func:`use_course_style`, which ``setup_notebook`` calls): sizes in inches are
CSS inches on the page, and text stays legible at the width the book shows."""

from __future__ import annotations

import math
import struct
from binascii import b2a_base64
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.text import Text

    from torch import nn

    from .training import History

__all__ = ["scatter2d", "image_grid", "plot_history", "image_mosaic", "q_vs_posterior_figure",
           "interpolation_figure", "denoising_figure", "interpolation_picture", "temperature_figure",
           "edit_figure", "rate_distortion_figure", "traversal_figure"]

#: Width of the book's text column for a figure, in CSS pixels: the widest a
#: figure is shown (sphinx-book-theme in a 1280 px wide window, measured on the
#: built pages with tools/screenshot.py); a wider picture is shrunk to it.
COLUMN_PX = 672
#: Pixels per inch of a CSS inch. With ``figure.dpi`` at this value a figure
#: ``w`` inches wide is shown ``w * CSS_DPI`` CSS pixels wide, in the book and in
#: Jupyter alike, and its PNG holds twice as many pixels (sharp on high-DPI screens).
CSS_DPI = 96
#: The widest figure, in inches, that the book shows at its full size.
COLUMN_IN = COLUMN_PX / CSS_DPI
#: The smallest text a reader should meet on screen, in CSS pixels.
MIN_TEXT_PX = 9.0

#: The one figure style of the course. Sizes in points at CSS_DPI: 9 pt is 12 px,
#: so text stays >= MIN_TEXT_PX even in a figure shrunk to 3/4 of its size.
COURSE_STYLE: dict[str, object] = {
    "figure.dpi": CSS_DPI,
    "savefig.dpi": "figure",
    "figure.figsize": (6.0, 3.6),      # inches; at most COLUMN_IN wide
    "font.size": 10.0,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.title_fontsize": 9.0,
    "figure.titlesize": 11.0,
    "axes.grid": False,
}


def retina_png(fig: Figure) -> tuple[bytes, int, int] | None:
    """``fig`` as the book shows it: PNG bytes at twice ``fig.dpi`` (cropped to what
    is drawn, as Jupyter does) and its width and height in CSS pixels (half the
    PNG's); ``None`` when nothing is drawn."""
    from IPython.core.pylabtools import print_figure

    data = print_figure(fig, fmt="retina")            # PNG bytes at 2 * fig.dpi
    if data is None:
        return None
    width, height = struct.unpack(">II", data[16:24])  # the PNG header's IHDR chunk
    return data, width // 2, height // 2


def page_png(fig: Figure) -> tuple[str, dict[str, int]] | None:
    """The inline display of ``fig`` (:func:`retina_png`), base64-encoded, with its
    width in CSS pixels as metadata. Only the width: the book's column may shrink
    the picture, and a fixed height would then distort it."""
    png = retina_png(fig)
    if png is None:                                   # nothing drawn
        return None
    data, width, _ = png
    return b2a_base64(data, newline=False).decode("ascii"), {"width": width}


def use_course_style() -> None:
    """Apply :data:`COURSE_STYLE` to matplotlib and, inside IPython/Jupyter,
    show figures through :func:`page_png` (sharp PNGs shown at their CSS size)."""
    plt.rcParams.update(COURSE_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the course
        return
    shell = get_ipython()
    if shell is None:
        return
    # Importing the inline backend sets its default formats once; ours must come after.
    import matplotlib_inline.backend_inline  # noqa: F401
    from IPython.core.pylabtools import select_figure_formats

    select_figure_formats(shell, {"png"})   # drops any other format (svg, pdf) chosen before
    shell.display_formatter.formatters["image/png"].for_type(Figure, page_png)


def _np(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _done(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


def _inches(texts: Sequence[Text], dim: str) -> float:
    """The largest width or height (``dim``) of some drawn texts, in inches (0 if none)."""
    sizes = [getattr(t.get_window_extent(), dim) / t.figure.dpi for t in texts if t.get_visible() and t.get_text()]
    return max(sizes, default=0.0)


def _neighbours_overlap(texts: Sequence[Text], margin: float = 2.0) -> bool:
    """Whether any two of ``texts``, in left-to-right order, overlap or come within
    ``margin`` pixels of each other."""
    boxes = [t.get_window_extent() for t in texts if t.get_visible() and t.get_text()]
    return any(a.x1 + margin > b.x0 for a, b in zip(boxes, boxes[1:]))


def _place_grid(fig: Figure, rows: int, cols: int, cell: float, *, left: float, top: float,
                right: float = 0.0, aspect: float = 1.0, gap: float = 0.05, edge: float = 0.06) -> None:
    """Size ``fig`` for ``rows`` x ``cols`` cells ``cell`` inches wide and ``aspect * cell``
    high, ``gap`` (a fraction of a cell) apart, with ``left``, ``top`` and ``right``
    inches kept for labels: cells shrink so that the figure fits the text column
    (COLUMN_IN), where the labels keep their size instead of being shrunk with the picture."""
    units_w, units_h = cols + (cols - 1) * gap, (rows + (rows - 1) * gap) * aspect
    # Jupyter crops a figure to what is drawn and pads 0.1 in around it: 0.2 in spare
    cell = min(cell, (COLUMN_IN - 0.2 - left - right - edge) / units_w)
    width, height = left + cell * units_w + right + edge, top + cell * units_h + edge
    fig.set_size_inches(width, height)
    fig.subplots_adjust(left=left / width, right=1 - (right + edge) / width, bottom=edge / height,
                        top=1 - top / height, wspace=gap, hspace=gap)


def _title_above(fig: Figure, title: str | None) -> float:
    """A figure title at the top edge; returns the inches it takes (0 without one)."""
    if not title:
        return 0.0
    text = fig.suptitle(title, y=1.0, va="top")
    return _inches([text], "height") + 0.08


#: The attribute in which a figure that a slider updates in place lists the artists
#: a move changes, in the order they are drawn: :func:`course_lib.figure_widget`
#: then redraws only those over a saved picture of the rest (as long as the
#: figure's size and the axes' places and limits stay the same).
MOVING_ARTISTS = "course_moving_artists"


def _moving(fig: Figure, artists: Sequence) -> Figure:
    """Record on ``fig`` the artists a move changes (see :data:`MOVING_ARTISTS`)."""
    setattr(fig, MOVING_ARTISTS, [a for a in artists if a is not None])
    return fig


def _reused_axes(fig: Figure, n: int, name: str) -> list[Axes]:
    """The ``n`` axes of ``fig``, a figure that ``name`` drew before and now updates
    in place (what a slider does: see :func:`course_lib.figure_widget`)."""
    if len(fig.axes) != n:
        raise ValueError(f"{name}: fig has {len(fig.axes)} axes where this figure has {n}; pass the figure "
                         "it returned before, for the same arguments but the moving ones")
    return fig.axes


def _tight_layout_afresh(fig: Figure) -> None:
    """``fig.tight_layout()`` as on a new figure. tight_layout starts from where the
    axes are: a second call, on a figure already laid out, can land elsewhere (a
    title wider than its axes pulls the margins differently), so the subplot
    parameters go back to the defaults first."""
    fig.subplots_adjust(**{k: plt.rcParams[f"figure.subplot.{k}"]
                           for k in ("left", "right", "bottom", "top", "wspace", "hspace")})
    fig.tight_layout()


def scatter2d(points: torch.Tensor | np.ndarray, *, overlay: torch.Tensor | np.ndarray | None = None, labels: Sequence[str] = ("data", "model"),
              c: np.ndarray | torch.Tensor | None = None, title: str | None = None, xlabel: str = "$x_1$", ylabel: str = "$x_2$",
              ax: Axes | None = None, s: float = 2.0, lims: tuple[float, float] | None = (-2.5, 2.5)) -> Figure:
    """Scatter plot of 2-D ``points`` (N, 2), optionally with a second set
    ``overlay`` (M, 2) in another colour, or coloured by values ``c``."""
    p = _np(points)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {p.shape}")
    fig = ax.figure if ax is not None else plt.subplots(figsize=(4, 4))[0]
    ax = ax or fig.axes[0]
    sc = ax.scatter(p[:, 0], p[:, 1], s=s, c=_np(c) if c is not None else "tab:blue",
                    alpha=0.6, label=labels[0], cmap="viridis" if c is not None else None)
    if overlay is not None:
        o = _np(overlay)
        ax.scatter(o[:, 0], o[:, 1], s=s, c="tab:orange", alpha=0.6, label=labels[1])
        ax.legend(loc="upper right", markerscale=4)
    elif c is not None:
        fig.colorbar(sc, ax=ax, fraction=0.046)
    if lims is not None:
        ax.set_xlim(*lims)
        ax.set_ylim(*lims)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _done(fig)


def image_grid(images: torch.Tensor | np.ndarray, *, nrow: int | None = None, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, title: str | None = None,
               cell: float = 0.9, cmap: str = "gray", fig: Figure | None = None) -> Figure:
    """A grid of images (N, C, H, W) or (N, H, W) with values in [0, 1].

    ``nrow`` rows (default: one row per label in ``row_labels``, else a square
    grid); images fill the grid row by row, ``cell`` inches wide at most: less
    where the grid would be wider than the text column, so that the labels keep
    the course's font size on the page. Given ``fig``, a grid this function drew
    before with as many images, the images, labels and title are updated in it
    (and the grid laid out again for the new labels) instead of drawing a new figure.
    """
    x = _np(images)
    if x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
        if x.shape[-1] == 1:
            x = x[..., 0]
    elif x.ndim != 3:
        raise ValueError(f"images must be (N, C, H, W) or (N, H, W), got {x.shape}")
    n = len(x)
    if n == 0:
        raise ValueError(f"images is an empty batch {x.shape}: image_grid needs at least one image (N >= 1)")
    if nrow is None:
        nrow = len(row_labels) if row_labels is not None else int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    if fig is None:
        fig, axes = plt.subplots(nrow, ncol, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if i < n:
                ax.imshow(np.clip(x[i], 0, 1), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    else:
        axes = np.array(_reused_axes(fig, nrow * ncol, "image_grid")).reshape(nrow, ncol)
        for ax, img in zip(axes.flat, x):
            ax.images[0].set_data(np.clip(img, 0, 1))
    if row_labels is not None:
        for ax, label in zip(axes[:, 0], row_labels):
            ax.set_ylabel(label, rotation=0, ha="right", va="center")
    if col_labels is not None:
        for ax, label in zip(axes[0], col_labels):
            ax.set_title(label, pad=3)
    titles = [ax.title for ax in axes[0]]
    left = _inches([ax.yaxis.label for ax in axes[:, 0]], "width") + 0.12
    above = _title_above(fig, title)
    _place_grid(fig, nrow, ncol, cell, left=left, top=above + _inches(titles, "height") + 0.06,
                aspect=x.shape[1] / x.shape[2])
    if col_labels is not None and _neighbours_overlap(titles):
        # labels wider than their images would run together: slant them, as image_mosaic does
        for t in titles:
            t.set(rotation=45, ha="left", rotation_mode="anchor")
        _place_grid(fig, nrow, ncol, cell, left=left, top=above + _inches(titles, "height") + 0.06,
                    right=_inches(titles[-1:], "width"), aspect=x.shape[1] / x.shape[2])
    plt.close(fig)
    return _moving(fig, [ax.images[0] for ax in axes.flat[:n]] + [ax.yaxis.label for ax in axes[:, 0]]
                   + [ax.title for ax in axes[0]] + [getattr(fig, "_suptitle", None)])


def plot_history(history: History | Sequence[Mapping[str, float]], keys: Sequence[str] | None = None, *, logy: bool = True,
                 smooth: int = 1, title: str | None = None, ylabel: str = "loss") -> Figure:
    """Training curves of the loss parts, optionally smoothed by a running mean:
    of a :class:`~course_lib.History` against the optimisation step, or of a
    checkpoint manifest's ``history`` (a list of per-epoch means, one dict per
    epoch) against the epoch."""
    per_epoch = isinstance(history, (list, tuple))
    if per_epoch:
        if not history:
            raise ValueError("the history is empty: nothing to plot")
        keys = list(keys or history[0])
        missing = [k for k in keys if k not in history[0]]
        if missing:
            raise KeyError(f"no {missing} in the history; it has {list(history[0])}")
        series = {k: np.array([float(h[k]) for h in history]) for k in keys}
    else:
        keys = list(keys or history.keys)
        series = {k: history[k] for k in keys}
    fig, ax = plt.subplots(figsize=(5, 3))
    for key in keys:
        v = series[key]
        if smooth > 1 and len(v) >= smooth:
            v = np.convolve(v, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(1, len(v) + 1), v, "o-" if per_epoch else "-", ms=3, label=key)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch" if per_epoch else "optimisation step")
    ax.set_ylabel(ylabel)
    if len(keys) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    return _done(fig)


def image_mosaic(images: torch.Tensor | np.ndarray, *, row_labels: Sequence[str] | None = None,
                 col_labels: Sequence[str] | None = None, title: str | None = None,
                 cell: float = 0.55, gap: int = 2, ax: Axes | None = None, fig: Figure | None = None) -> Figure:
    """A grid of images (R, C, 1, H, W) or (R, C, H, W) in [0, 1] drawn as *one*
    picture with labelled rows and columns, ``cell`` inches per image at most (less
    where it would be wider than the text column). Much faster to redraw than one
    axes per image (:func:`image_grid`), which matters under a slider. Given
    ``fig``, a mosaic this function drew before with the same labels, the picture
    and title are updated in it instead of drawing a new figure."""
    x = _np(images)
    if x.ndim == 5:
        x = x[:, :, 0]
    if x.ndim != 4:
        raise ValueError(f"images must be (rows, cols, [1,] H, W), got {x.shape}")
    R, C, H, W = x.shape
    canvas = np.ones((R * (H + gap) - gap, C * (W + gap) - gap))
    for r in range(R):
        for c in range(C):
            canvas[r * (H + gap):r * (H + gap) + H, c * (W + gap):c * (W + gap) + W] = x[r, c]
    if fig is not None:
        ax = _reused_axes(fig, 1, "image_mosaic")[0]
        ax.images[0].set_data(np.clip(canvas, 0, 1))
        ax.set_title(title or "")
        return fig
    own = ax is None
    fig, ax = plt.subplots() if own else (ax.figure, ax)
    ax.imshow(np.clip(canvas, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([r * (H + gap) + H / 2 for r in range(R)] if row_labels else [])
    if row_labels:
        ax.set_yticklabels(row_labels)
    ax.set_xticks([c * (W + gap) + W / 2 for c in range(C)] if col_labels else [])
    if col_labels:
        slanted = max(map(len, col_labels)) > 3
        ax.set_xticklabels(col_labels, rotation=45 if slanted else 0, ha="left" if slanted else "center",
                           rotation_mode="anchor")
        ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    if not own:
        return fig
    # one cell per image, (W + gap) pixels of the canvas wide
    left = _inches(ax.get_yticklabels(), "width") + 0.1
    top = _inches([ax.title], "height") + _inches(ax.get_xticklabels(), "height") + 0.15
    # a slanted last column label reaches past the right edge of the picture
    right = _inches(ax.get_xticklabels()[-1:], "width") if col_labels and slanted else 0.0
    _place_grid(fig, 1, 1, cell * C, left=left, top=top, right=right,
                aspect=canvas.shape[0] / canvas.shape[1], gap=0)
    plt.close(fig)
    return _moving(fig, [ax.images[0], ax.title])


# ---------------------------------------------------------------------------
# Figures behind the chapters' sliders (course_lib.widgets wires controls to them)

def q_vs_posterior_figure(mu: float, sigma: float, fig: Figure | None = None,
                          axes: Mapping[str, tuple[float, float]] | None = None, **model) -> Figure:
    """Figure for :func:`q_posterior_terms`: the densities of q, the exact
    posterior and the prior, with log p(x), the ELBO and both KLs in the title.

    ``axes`` (from :func:`course_lib.q_posterior_axes`: ``{"z": (lo, hi), "density":
    (0, top)}``) fixes the axes for every mu and sigma; without it they follow q.
    Given ``fig``, one this function drew before for the same ``model`` and ``axes``,
    its curves and texts are updated for the new ``mu`` and ``sigma``: with fixed
    axes only q, its legend entry and the title change (a slider redraws only them),
    else the limits move too and the whole figure is laid out again."""
    from .ppca import q_posterior_terms

    t = q_posterior_terms(mu, sigma, z_range=None if axes is None else tuple(axes["z"]), **model)
    q_label = f"$q = \\mathcal{{N}}({mu:.2f}, {sigma:.2f}^2)$"
    if fig is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        ax.plot(t["z"], t["posterior"], color="black", lw=2, label="posterior $p(z \\mid x)$")
        ax.plot(t["z"], t["prior"], color="gray", ls=":", label="prior $p(z)$")
        # q above the fixed curves and below the frame, as a slider draws it over a kept
        # picture of the curves (the frame is drawn again over it: see the end)
        ax.fill_between(t["z"], t["q"], color="tab:orange", alpha=0.35, zorder=2.1)
        ax.plot(t["z"], t["q"], color="tab:orange", label=q_label, zorder=2.2)
        ax.set(xlabel="$z$", ylabel="density")
        if axes is not None:
            ax.set(xlim=axes["z"], ylim=axes["density"])
        plt.close(fig)
        fresh = True
    else:   # the same artists, moved
        ax = _reused_axes(fig, 1, "q_vs_posterior_figure")[0]
        posterior, prior, q = ax.lines
        for line, key in ((posterior, "posterior"), (prior, "prior"), (q, "q")):
            line.set_data(t["z"], t[key])
        q.set_label(q_label)
        ax.collections[0].set_data(t["z"], t["q"], 0)      # the filled area under q
        if axes is None:                                   # the limits follow q
            ax.relim()                                     # relim leaves collections out:
            ax.update_datalim(ax.collections[0].get_datalim(ax.transData))   # add the area back
            ax.autoscale_view()
        fresh = False
    title = ax.set_title(f"log p(x) = {t['log_px']:.3f}   ELBO = {t['elbo']:.3f}   "
                         f"KL(q||posterior) = {t['kl_post']:.3f}\nE_q log p(x|z) = {t['recon']:.3f}   "
                         f"KL(q||prior) = {t['kl_prior']:.3f}", fontsize=9.5)
    legend = ax.legend(loc="upper left")
    if axes is None:
        # the limits follow mu and sigma at almost every move, and the tick labels with them: the
        # whole figure is laid out and drawn again (no kept picture, see course_lib.figure_widget)
        _tight_layout_afresh(fig)
        return fig
    if fresh:
        fig.tight_layout()
    return _moving(fig, [ax.collections[0], ax.lines[2], *ax.spines.values(), legend, title])


def interpolation_figure(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, t: float,
                         data: torch.Tensor | None = None, n_path: int = 100, fig: Figure | None = None) -> Figure:
    """The decoded interpolation between x0 and x1 at ``t``. For 2-D data: the data (grey),
    the decoded path for t in [0, 1] (black), the straight segment between the
    end points (dashed) and the decoded point at ``t`` (red). For images: x0,
    the decoded image at ``t``, x1, and the pixel-space blend at ``t``.

    Given ``fig``, one this function drew before for the same model, end points
    and data, only what depends on ``t`` is redrawn in it (the red point and its
    legend entry; the two middle images and their titles): what a slider does."""
    from .latent import interpolate

    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t}")
    x0c, x1c = x0.detach().cpu(), x1.detach().cpu()
    if tuple(model.input_shape) == (2,):
        point = interpolate(model, x0, x1, [t])[0].numpy()
        label = f"$\\hat{{x}}(t)$, t = {t:.2f}"
        if fig is not None:
            ax = _reused_axes(fig, 1, "interpolation_figure")[0]
            ax.collections[-1].set_offsets([point])            # the red point, drawn last
            ax.collections[-1].set_label(label)
            return _moving(fig, [ax.collections[-1], ax.legend(loc="lower left")])
        path = interpolate(model, x0, x1, np.linspace(0, 1, n_path)).numpy()
        fig, ax = plt.subplots(figsize=(4.8, 4.8))
        if data is not None:
            d = data.detach().cpu().numpy() if hasattr(data, "detach") else np.asarray(data)
            ax.scatter(d[:, 0], d[:, 1], s=1, c="lightgray", label="data")
        ax.plot(path[:, 0], path[:, 1], "k-", lw=1, label="decoded path, t in [0, 1]")
        ax.plot(*np.stack([x0c.numpy(), x1c.numpy()]).T, "k--", lw=0.8, label="straight line in data space")
        ax.scatter(*x0c.numpy(), s=60, c="tab:blue", label="$x_0$", zorder=3)
        ax.scatter(*x1c.numpy(), s=60, c="tab:green", label="$x_1$", zorder=3)
        ax.scatter(*point, s=60, c="tab:red", marker="X", label=label, zorder=4)
        ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
        ax.legend(loc="lower left")
        _moving(fig, [ax.collections[-1], ax.get_legend()])
    else:
        x_t = interpolate(model, x0, x1, [t])[0]
        blend = (1 - t) * x0c + t * x1c
        panels = [(x0c, "$x_0$"), (x_t, f"decoded, t = {t:.2f}"), (x1c, "$x_1$"),
                  (blend, f"pixel blend, t = {t:.2f}")]
        if fig is not None:
            axes = _reused_axes(fig, 4, "interpolation_figure")
            for i in (1, 3):                                    # the panels that move with t
                img, label = panels[i]
                axes[i].images[0].set_data(img.reshape(img.shape[-2:]).numpy())
                axes[i].set_title(label)
            return fig                                          # the same moving artists
        fig, axes = plt.subplots(1, 4, figsize=(COLUMN_IN, 2.1))
        for ax, (img, label) in zip(axes, panels):
            ax.imshow(img.reshape(img.shape[-2:]).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(label)
            ax.axis("off")
        _moving(fig, [a for i in (1, 3) for a in (axes[i].images[0], axes[i].title)])
    fig.tight_layout()
    plt.close(fig)
    return fig


def denoising_figure(models: dict[str, nn.Module], x: torch.Tensor, kind: str, strength: float,
                     seed: int = 0, fig: Figure | None = None) -> Figure:
    """Rows: the clean images ``x`` (B, C, H, W), the corrupted ones, and the
    output of each model in ``models`` (name -> autoencoder) given the corrupted
    images; the mean squared error per image of each row against ``x`` is in
    its label. Given ``fig``, one this function drew before for the same models
    and images, it is updated in place (see :func:`image_grid`)."""
    from .corruption import denoise

    xc = x.detach().cpu()
    rows = [(xc, "clean")]
    x_tilde = None
    for name, model in models.items():
        x_tilde, x_hat = denoise(model, xc, kind, strength, seed)
        if len(rows) == 1:
            rows.append((x_tilde, f"corrupted\nerror {(x_tilde - xc).pow(2).flatten(1).sum(1).mean():.1f}"))
        rows.append((x_hat, f"{name}\nerror {(x_hat - xc).pow(2).flatten(1).sum(1).mean():.1f}"))
    fig = image_grid(torch.cat([imgs.reshape(xc.shape) for imgs, _ in rows]), nrow=len(rows),
                     row_labels=[label for _, label in rows], cell=0.8,
                     title=f"{kind}, strength {strength:.2f} (squared error per image)", fig=fig)
    # a move changes every row but the clean images (the first)
    changed = [ax.images[0] for ax in fig.axes[len(xc):]] + [ax.yaxis.label for ax in fig.axes[len(xc)::len(xc)]]
    return _moving(fig, [*changed, getattr(fig, "_suptitle", None)])


def interpolation_picture(strip: np.ndarray, ts: Sequence[float] | np.ndarray, frame: np.ndarray, t: float, *,
                          scale: int = 4) -> np.ndarray:
    """The decoded image at ``t`` (left, enlarged ``scale`` times) beside the whole
    interpolation strip (right, enlarged ``scale // 2`` times) with a red bar at
    ``t``, as one RGB picture (H, W, 3) of uint8, not a Figure: a slider redraws it
    in a few milliseconds (see :func:`course_lib.figure_widget`).
    ``strip`` (T, C, H, W) decoded at ``ts`` (T,) increasing from 0 to 1;
    ``frame`` (C, H, W) decoded at ``t``; pixel values in [0, 1], C = 1 or 3."""
    def rgb(a):
        a = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=np.float32)
        a = np.repeat(a, 3, axis=-3) if a.shape[-3] == 1 else a
        return (np.clip(np.moveaxis(a, -3, -1), 0, 1) * 255).round().astype(np.uint8)   # (..., H, W, 3)

    s, f = rgb(strip), rgb(frame)
    ts = np.asarray(ts, dtype=float)
    T, H, W, _ = s.shape
    if len(ts) != T:
        raise ValueError(f"strip has {T} images but ts has {len(ts)} values")
    big, small, gap = scale, max(1, scale // 2), 8
    f = f.repeat(big, 0).repeat(big, 1)                                       # (big H, big W, 3)
    row = np.concatenate(list(s), axis=1).repeat(small, 0).repeat(small, 1)   # (small H, T small W, 3)
    height, width = big * H, big * W + gap + T * small * W
    out = np.full((height, width, 3), 255, np.uint8)
    out[:, :big * W] = f
    top = (height - small * H) // 2
    out[top:top + small * H, big * W + gap:] = row
    centres = (np.arange(T) + 0.5) * small * W
    x_t = big * W + gap + int(round(float(np.interp(t, ts, centres))))       # the strip's position of t
    out[max(0, top - 6):top + small * H + 6, max(0, x_t - 1):x_t + 2] = (214, 39, 40)
    return out


def temperature_figure(model: nn.Module, eps: torch.Tensor, temperature: float,
                       class_names: Sequence[str], fig: Figure | None = None) -> Figure:
    """Samples ``decode(T * eps, y)`` for every class (rows) and the fixed noise
    vectors ``eps`` (S, L) (columns), as one mosaic; given ``fig``, one this
    function drew before, the mosaic is updated in it (see :func:`image_mosaic`)."""
    from .cvae import temperature_samples

    images = temperature_samples(model, eps, temperature)
    return image_mosaic(images, row_labels=list(class_names), title=f"temperature T = {temperature:.2f}", fig=fig)


def edit_figure(model: nn.Module, x: torch.Tensor, vectors: Mapping[str, torch.Tensor],
                alphas: Mapping[str, float], fig: Figure | None = None) -> Figure:
    r"""Faces ``x`` (B, C, H, W) reconstructed from their mean codes (top row) and
    decoded from :math:`\mu(x) + \sum_k \alpha_k z_k` (bottom row), where
    ``vectors`` maps names to attribute vectors (L,) and ``alphas`` maps the same
    names to coefficients. Given ``fig``, one this function drew before for the
    same faces, it is updated in place (see :func:`image_grid`)."""
    from .latent_arithmetic import edit_many

    zero = {name: 0.0 for name in vectors}
    images = edit_many(model, x, vectors, [zero, dict(alphas)])
    label = ", ".join(f"{k}={float(a):+.2f}" for k, a in alphas.items())
    fig = image_grid(images.flatten(0, 1).cpu(), nrow=2,
                     row_labels=["reconstruction", "edited"], title=label, cell=0.8, fig=fig)
    # a move changes the edited row and the title only: the reconstructions stay
    edited = [ax.images[0] for ax in fig.axes[len(x):]]
    return _moving(fig, [*edited, getattr(fig, "_suptitle", None)])


def rate_distortion_figure(results: Mapping[float, Mapping], beta: float, n_samples: int = 16,
                           fig: Figure | None = None) -> Figure:
    """The beta picker's picture: prior samples of the model trained with ``beta``
    (left) and its point on the rate/distortion curve of all models (right).

    ``results[beta]`` holds ``"rate"`` (KL, nats), ``"distortion"`` (-log p(x|z),
    nats) and ``"samples"`` (n, 1, 28, 28) in [0, 1]. Returns a Figure; given
    ``fig``, one this function drew before for the same ``results``, the samples,
    the marked point and the texts are updated in it."""
    if beta not in results:
        raise KeyError(f"no model for beta={beta}; trained betas: {sorted(results)}")
    betas = sorted(results)
    rate = np.array([results[b]["rate"] for b in betas])
    dist = np.array([results[b]["distortion"] for b in betas])
    imgs = _np(results[beta]["samples"])[:n_samples, 0]
    side = int(math.ceil(math.sqrt(len(imgs))))
    grid = np.ones((side * 29 - 1, side * 29 - 1))
    for i, im in enumerate(imgs):
        r, c = divmod(i, side)
        grid[r * 29:r * 29 + 28, c * 29:c * 29 + 28] = im
    i = betas.index(beta)
    if fig is not None:
        ax0, ax1 = _reused_axes(fig, 2, "rate_distortion_figure")
        ax0.images[0].set_data(grid)
        ax0.set_title(f"samples, beta = {beta:g}")
        ax1.lines[1].set_data([rate[i]], [dist[i]])         # the marked model
        ax1.lines[1].set_label(f"beta = {beta:g}")
        return _moving(fig, [ax0.images[0], ax0.title, ax1.lines[1], *ax1.texts, ax1.legend()])
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(COLUMN_IN, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
    ax0.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax0.set_axis_off()
    ax0.set_title(f"samples, beta = {beta:g}")
    ax1.plot(rate, dist, "o-", color="0.6", label="trained models")
    for b, r, d in zip(betas, rate, dist):
        ax1.annotate(f"{b:g}", (r, d), textcoords="offset points", xytext=(4, 4))
    ax1.plot(rate[i], dist[i], "o", color="C3", ms=11, label=f"beta = {beta:g}")
    ax1.set_xlabel("rate R = KL(q(z|x) || p(z)) [nats]")
    ax1.set_ylabel("distortion Δ = -E log p(x|z) [nats]")
    legend = ax1.legend()
    fig.tight_layout()
    plt.close(fig)
    # the marked point is drawn under the beta labels beside it: they are redrawn over it
    return _moving(fig, [ax0.images[0], ax0.title, ax1.lines[1], *ax1.texts, legend])


def traversal_figure(model: nn.Module, z: torch.Tensor, *, dims: Sequence[int] | None = None,
                     values: Sequence[float] | np.ndarray = (-2.5, -1.5, -0.75, 0.0, 0.75, 1.5, 2.5),
                     row_labels: Sequence[str] | None = None, title: str | None = None,
                     cell: float = 0.6) -> Figure:
    """Latent traversals: row ``j`` decodes the code ``z`` (L,) with its dimension
    ``dims[j]`` replaced by each of ``values`` (the columns), the others kept.

    A dimension that captures one factor changes one thing along its row; an
    unused (collapsed) dimension leaves the row constant. Images come from
    ``model.decode`` in eval mode (means in [0, 1]); ``dims`` defaults to all L.
    """
    from .utils import eval_mode, to_model

    z = torch.as_tensor(z).detach().float().reshape(-1)
    dims = list(range(len(z))) if dims is None else [int(d) for d in dims]
    if not dims or min(dims) < 0 or max(dims) >= len(z):
        raise ValueError(f"dims must index the code's {len(z)} dimensions, got {dims}")
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    codes = z.repeat(len(dims) * len(values), 1)                   # (R * C, L)
    for r, d in enumerate(dims):
        codes[r * len(values):(r + 1) * len(values), d] = torch.from_numpy(values)
    with torch.no_grad(), eval_mode(model):
        images = model.decode(to_model(codes, model)).float().cpu().clamp(0, 1)
    labels = list(row_labels) if row_labels is not None else [f"z{d + 1}" for d in dims]
    return image_grid(images, nrow=len(dims), row_labels=labels,
                      col_labels=[f"{v:+.2g}" for v in values], title=title, cell=cell)

"""Figures of the course (matplotlib only). Every function returns a Figure
and leaves no open pyplot figure behind, so a cell shows it exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .training import History

__all__ = ["scatter2d", "image_grid", "plot_history", "image_mosaic"]


def _np(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _done(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


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
               cell: float = 0.9, cmap: str = "gray") -> Figure:
    """A grid of images (N, C, H, W) or (N, H, W) with values in [0, 1].

    ``nrow`` rows (default: one row per label in ``row_labels``, else a square
    grid); images fill the grid row by row.
    """
    x = _np(images)
    if x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
        if x.shape[-1] == 1:
            x = x[..., 0]
    elif x.ndim != 3:
        raise ValueError(f"images must be (N, C, H, W) or (N, H, W), got {x.shape}")
    n = len(x)
    if nrow is None:
        nrow = len(row_labels) if row_labels is not None else int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    fig, axes = plt.subplots(nrow, ncol, figsize=(cell * ncol + (1.2 if row_labels else 0.2),
                                                  cell * nrow + (0.4 if title else 0.1)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i < n:
            ax.imshow(np.clip(x[i], 0, 1), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    if row_labels is not None:
        for ax, label in zip(axes[:, 0], row_labels):
            ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if col_labels is not None:
        for ax, label in zip(axes[0], col_labels):
            ax.set_title(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    plt.close(fig)
    return fig


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
                 cell: float = 0.55, gap: int = 2, ax: Axes | None = None) -> Figure:
    """A grid of images (R, C, 1, H, W) or (R, C, H, W) in [0, 1] drawn as *one*
    picture with labelled rows and columns. Much faster to redraw than one axes
    per image (:func:`image_grid`), which matters under a slider."""
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
    if ax is None:
        fig, ax = plt.subplots(figsize=(cell * C + (1.3 if row_labels else 0.2),
                                        cell * R + (0.5 if title else 0.1) + (0.3 if col_labels else 0)))
    else:
        fig = ax.figure
    ax.imshow(np.clip(canvas, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([r * (H + gap) + H / 2 for r in range(R)] if row_labels else [])
    if row_labels:
        ax.set_yticklabels(row_labels, fontsize=9)
    ax.set_xticks([c * (W + gap) + W / 2 for c in range(C)] if col_labels else [])
    if col_labels:
        ax.set_xticklabels(col_labels, fontsize=8, rotation=45 if max(map(len, col_labels)) > 3 else 0)
        ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return _done(fig)

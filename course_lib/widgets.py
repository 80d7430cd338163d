"""ipywidgets glue only. Every widget wires controls to a *pure* function that
returns a matplotlib Figure (or computes arrays); the tests call those
functions directly, and the widget only redraws."""

from __future__ import annotations

import time
from typing import Callable, Mapping

from matplotlib.figure import Figure

__all__ = ["figure_widget", "decode_interpolation", "draw_interpolation", "interpolation_widget",
           "denoise", "draw_denoising", "denoising_widget"]


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
# Chapter 2: latent interpolation in a classic autoencoder.

def decode_interpolation(model, x0, x1, ts):
    r"""Decode the straight line between the codes of ``x0`` and ``x1``:
    :math:`\hat{x}(t) = D\big((1 - t)\,E(x_0) + t\,E(x_1)\big)` for each ``t`` in
    ``ts``. ``x0`` and ``x1`` are single examples of shape ``model.input_shape``.
    Returns a tensor (T, *input_shape) on the CPU (no gradient)."""
    import torch

    ts = torch.as_tensor(ts, dtype=torch.float32).reshape(-1)
    if ts.numel() == 0:
        raise ValueError("ts must hold at least one value")
    if x0.shape != x1.shape or tuple(x0.shape) != tuple(model.input_shape):
        raise ValueError(f"x0 and x1 must both have shape {tuple(model.input_shape)}, "
                         f"got {tuple(x0.shape)} and {tuple(x1.shape)}")
    device = next(model.parameters()).device
    with torch.no_grad():
        z = model.encode(torch.stack([x0, x1]).to(device))
        t = ts.to(device).unsqueeze(1)
        zt = (1 - t) * z[0] + t * z[1]
        return model.decode(zt).cpu()


def draw_interpolation(model, x0, x1, t: float, data=None, n_path: int = 100):
    """The figure the interpolation widget redraws. For 2-D data: the data (grey),
    the decoded path for t in [0, 1] (black), the straight segment between the
    end points (dashed) and the decoded point at ``t`` (red). For images: x0,
    the decoded image at ``t``, x1, and the pixel-space blend at ``t``."""
    import matplotlib.pyplot as plt
    import numpy as np

    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t}")
    x0c, x1c = x0.detach().cpu(), x1.detach().cpu()
    if tuple(model.input_shape) == (2,):
        path = decode_interpolation(model, x0, x1, np.linspace(0, 1, n_path)).numpy()
        point = decode_interpolation(model, x0, x1, [t])[0].numpy()
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
        if data is not None:
            d = data.detach().cpu().numpy() if hasattr(data, "detach") else np.asarray(data)
            ax.scatter(d[:, 0], d[:, 1], s=1, c="lightgray", label="data")
        ax.plot(path[:, 0], path[:, 1], "k-", lw=1, label="decoded path, t in [0, 1]")
        ax.plot(*np.stack([x0c.numpy(), x1c.numpy()]).T, "k--", lw=0.8, label="straight line in data space")
        ax.scatter(*x0c.numpy(), s=60, c="tab:blue", label="$x_0$", zorder=3)
        ax.scatter(*x1c.numpy(), s=60, c="tab:green", label="$x_1$", zorder=3)
        ax.scatter(*point, s=60, c="tab:red", marker="X", label=f"$\\hat{{x}}(t)$, t = {t:.2f}", zorder=4)
        ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
        ax.legend(loc="lower left", fontsize=7)
    else:
        x_t = decode_interpolation(model, x0, x1, [t])[0]
        blend = (1 - t) * x0c + t * x1c
        panels = [(x0c, "$x_0$"), (x_t, f"decoded, t = {t:.2f}"), (x1c, "$x_1$"),
                  (blend, f"pixel blend, t = {t:.2f}")]
        fig, axes = plt.subplots(1, 4, figsize=(6.4, 1.9))
        for ax, (img, label) in zip(axes, panels):
            ax.imshow(img.reshape(img.shape[-2:]).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(label, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    plt.close(fig)
    return fig


def interpolation_widget(model, x0, x1, data=None):
    """A slider on t in [0, 1] over :func:`draw_interpolation`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t",
                                 continuous_update=True)
    return figure_widget(lambda t: draw_interpolation(model, x0, x1, t, data=data), {"t": slider},
                         title="Interpolation between the codes of x0 and x1")


# ---------------------------------------------------------------------------
# Chapter 3: corrupted vs denoised.

def denoise(model, x, kind: str, strength: float, seed: int = 0):
    """Corrupt the images ``x`` (B, C, H, W) with :func:`course_lib.corrupt`
    (``kind``, ``strength``, a fixed ``seed``) and pass them through ``model``.
    Returns ``(x_tilde, x_hat)``, both (B, C, H, W) on the CPU."""
    import torch

    from .corruption import corrupt

    device = next(model.parameters()).device
    x_tilde = corrupt(x.detach().cpu(), kind, strength, generator=seed)
    with torch.no_grad():
        x_hat = model(x_tilde.to(device)).x_hat.cpu()
    return x_tilde, x_hat


def draw_denoising(models: dict, x, kind: str, strength: float, seed: int = 0):
    """Rows: the clean images ``x`` (B, C, H, W), the corrupted ones, and the
    output of each model in ``models`` (name -> autoencoder) given the corrupted
    images; the mean squared error per image of each row against ``x`` is in
    its label."""
    import matplotlib.pyplot as plt

    xc = x.detach().cpu()
    rows = [(xc, "clean")]
    x_tilde = None
    for name, model in models.items():
        x_tilde, x_hat = denoise(model, xc, kind, strength, seed)
        if len(rows) == 1:
            rows.append((x_tilde, f"corrupted\nerror {(x_tilde - xc).pow(2).flatten(1).sum(1).mean():.1f}"))
        rows.append((x_hat, f"{name}\nerror {(x_hat - xc).pow(2).flatten(1).sum(1).mean():.1f}"))
    n = len(xc)
    fig, axes = plt.subplots(len(rows), n, figsize=(0.8 * n + 1.6, 0.85 * len(rows) + 0.4), squeeze=False)
    for r, (imgs, label) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c].reshape(imgs.shape[-2:]).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{kind}, strength {strength:.2f} (squared error per image)", fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.08, left=0.2)
    plt.close(fig)
    return fig


def denoising_widget(models: dict, x, seed: int = 0):
    """A corruption-type picker and a strength slider over :func:`draw_denoising`."""
    import ipywidgets as widgets

    from .corruption import CORRUPTIONS

    kind = widgets.Dropdown(options=list(CORRUPTIONS), value="pixel dropping", description="corruption")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength",
                                   continuous_update=False)
    return figure_widget(lambda kind, strength: draw_denoising(models, x, kind, strength, seed),
                         {"kind": kind, "strength": strength}, title="Corrupted vs denoised")

"""The kernel-side widgets: each wires ipywidgets controls to a pure drawing
function that returns a matplotlib Figure or an RGB picture, and only redraws.
The computations they show live with their concepts (``q_posterior_terms`` in
ppca, ``denoise`` in corruption, ``decode_interpolation`` in latent), so the
tests and the chapters call them without any widget."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from matplotlib.figure import Figure

from .corruption import denoise
from .latent import decode_interpolation
from .ppca import q_posterior_terms


if TYPE_CHECKING:  # annotations only: the module imports torch and ipywidgets where it uses them
    import ipywidgets as widgets
    import numpy as np
    import torch
    from torch import nn

__all__ = ["figure_widget", "draw_q_vs_posterior", "draw_latent_interpolation", "draw_interpolation", "ae_interpolation_widget",
           "draw_denoising", "denoising_widget", "interpolation_picture", "interpolation_widget",
           "temperature_figure", "temperature_widget", "edit_figure", "attribute_edit_widget"]


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
# Chapter 4: a Gaussian q against the exact posterior of a 1-D model.

def draw_q_vs_posterior(mu: float, sigma: float, **model) -> Figure:
    """Figure for :func:`q_posterior_terms`: the densities of q, the exact
    posterior and the prior, with log p(x), the ELBO and both KLs in the title."""
    import matplotlib.pyplot as plt

    t = q_posterior_terms(mu, sigma, **model)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(t["z"], t["posterior"], color="black", lw=2, label="posterior $p(z \\mid x)$")
    ax.plot(t["z"], t["prior"], color="gray", ls=":", label="prior $p(z)$")
    ax.fill_between(t["z"], t["q"], color="tab:orange", alpha=0.35)
    ax.plot(t["z"], t["q"], color="tab:orange", label=f"$q = \\mathcal{{N}}({mu:.2f}, {sigma:.2f}^2)$")
    ax.set(xlabel="$z$", ylabel="density")
    ax.set_title(f"log p(x) = {t['log_px']:.3f}   ELBO = {t['elbo']:.3f}   "
                 f"KL(q||posterior) = {t['kl_post']:.3f}\nE_q log p(x|z) = {t['recon']:.3f}   "
                 f"KL(q||prior) = {t['kl_prior']:.3f}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    plt.close(fig)
    return fig


# ---------------------------------------------------------------------------
# Chapter 5: walking a straight line between two codes.

def draw_latent_interpolation(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, t: float,
                              data: torch.Tensor | None = None, steps: int = 41) -> Figure:
    """Figure for the chapter-5 slider: the decoded path between ``x0`` and
    ``x1`` (2-D data) over ``data`` in grey, with the point at ``t`` marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t}")
    path = decode_interpolation(model, x0, x1, np.linspace(0, 1, steps)).cpu().numpy()
    here = decode_interpolation(model, x0, x1, [t]).cpu().numpy()[0]
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    if data is not None:
        d = data.detach().cpu().numpy() if hasattr(data, "detach") else np.asarray(data)
        ax.scatter(d[:, 0], d[:, 1], s=1, c="lightgray", label="data")
    ax.plot(path[:, 0], path[:, 1], color="tab:blue", lw=1.5, label="decoded path")
    ends = _stack_np([x0, x1])
    ax.scatter(ends[:, 0], ends[:, 1], c="black", marker="x", s=60, label="$x_0$, $x_1$", zorder=3)
    ax.scatter([here[0]], [here[1]], c="tab:red", s=80, marker="*", label=f"t = {t:.2f}", zorder=4)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    plt.close(fig)
    return fig


def _stack_np(tensors):
    import numpy as np

    return np.stack([t.detach().cpu().numpy() for t in tensors])


# ---------------------------------------------------------------------------
# Chapter 6: the conditional VAE's latent space. Pure draw functions (tests call
# them) and the widgets that wire pickers and sliders to them.

def interpolation_picture(strip: np.ndarray, ts: Sequence[float] | np.ndarray, frame: np.ndarray, t: float, *,
                          scale: int = 4) -> np.ndarray:
    """The decoded image at ``t`` (left, enlarged ``scale`` times) beside the whole
    interpolation strip (right, enlarged ``scale // 2`` times) with a red bar at
    ``t``, as one RGB picture (H, W, 3) of uint8 for :func:`figure_widget`.
    ``strip`` (T, C, H, W) decoded at ``ts`` (T,) increasing from 0 to 1;
    ``frame`` (C, H, W) decoded at ``t``; pixel values in [0, 1], C = 1 or 3."""
    import numpy as np

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


def interpolation_widget(model: nn.Module, x: torch.Tensor, y: torch.Tensor, class_names: Sequence[str],
                         n_strip: int = 9, seed: int = 0) -> widgets.VBox:
    """Two pickers (class + index within that class, or a "random pair" button)
    and a slider on t: shows the decoded image at t and the strip with t marked.
    ``x`` (N, 1, H, W), ``y`` (N,) are the images to pick from (e.g. the test set)."""
    import ipywidgets as widgets
    import numpy as np

    from .cvae import cvae_interpolation

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
            cache.update(key=(a, b), strip=cvae_interpolation(model, x[a], class0, x[b], class1, ts))
        frame = cvae_interpolation(model, x[a], class0, x[b], class1, [t])[0]
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


def temperature_figure(model: nn.Module, eps: torch.Tensor, temperature: float,
                       class_names: Sequence[str]) -> Figure:
    """Samples ``decode(T * eps, y)`` for every class (rows) and the fixed noise
    vectors ``eps`` (S, L) (columns), as one mosaic."""
    from .cvae import temperature_samples
    from .plotting import image_mosaic

    images = temperature_samples(model, eps, temperature)
    return image_mosaic(images, row_labels=list(class_names), title=f"temperature T = {temperature:.2f}")


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

def edit_figure(model: nn.Module, x: torch.Tensor, vectors: Mapping[str, torch.Tensor],
                alphas: Mapping[str, float], *, logits: bool = True) -> Figure:
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


def attribute_edit_widget(model: nn.Module, x: torch.Tensor, vectors: Mapping[str, torch.Tensor], *, alpha_range: tuple[float, float] = (-2.0, 3.0),
                          step: float = 0.25, logits: bool = True) -> widgets.VBox:
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


# ---------------------------------------------------------------------------
# Chapter 2: interpolation in a classic autoencoder.

def draw_interpolation(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, t: float,
                       data: torch.Tensor | None = None, n_path: int = 100) -> Figure:
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


def ae_interpolation_widget(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor,
                            data: torch.Tensor | None = None) -> widgets.VBox:
    """A slider on t in [0, 1] over :func:`draw_interpolation`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t",
                                 continuous_update=True)
    return figure_widget(lambda t: draw_interpolation(model, x0, x1, t, data=data), {"t": slider},
                         title="Interpolation between the codes of x0 and x1")


# ---------------------------------------------------------------------------
# Chapter 3: corrupted vs denoised.

def draw_denoising(models: dict[str, nn.Module], x: torch.Tensor, kind: str, strength: float,
                   seed: int = 0) -> Figure:
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


def denoising_widget(models: dict[str, nn.Module], x: torch.Tensor, seed: int = 0) -> widgets.VBox:
    """A corruption-type picker and a strength slider over :func:`draw_denoising`."""
    import ipywidgets as widgets

    from .corruption import CORRUPTIONS

    kind = widgets.Dropdown(options=list(CORRUPTIONS), value="pixel dropping", description="corruption")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength",
                                   continuous_update=False)
    return figure_widget(lambda kind, strength: draw_denoising(models, x, kind, strength, seed),
                         {"kind": kind, "strength": strength}, title="Corrupted vs denoised")

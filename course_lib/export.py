"""Sliders that work in the static book: decoders exported to ONNX and run in the
reader's browser by onnxruntime-web.

In a live notebook an ipywidgets slider calls PyTorch; in the rendered HTML
there is no kernel. ``latent_slider`` therefore exports the decoder to a
single-file ONNX model plus a JSON spec of what to decode, and returns an HTML
snippet whose script (``book/js/latent_slider.js``) decodes in the page as the
slider moves. Every input of the decoder follows a line in its space,

    input(s) = a + s * b,      s in [s_min, s_max],

which covers interpolation (``a = z0``, ``b = z1 - z0``, ``s = t``) and latent
arithmetic (``a = z``, ``b = z_attr``, ``s = alpha``).

``latent_plane`` does the same for a model with a 2-D code: its decoder and
encoder, and a spec with test codes to draw as a scatter over the plane, for a
plane the pointer explores and a pad the reader draws a digit on.

``figure_frames`` needs no model in the page: it draws a chapter's figure at
each of a few values of one parameter (a beta, a code size, a corruption
strength) and the page swaps the pictures as the slider moves, with no
WebAssembly. ``gaussian_posterior_explorer`` is chapter 4's closed-form
picture, computed by the page's own JavaScript.

The files go to ``$COURSE_SITE_ASSETS`` (set by ``tools/build_book.py``); when it
is unset (JupyterLab, tests) nothing is written and a short note is returned.
"""

from __future__ import annotations

import html
import json
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .utils import eval_mode, to_model


if TYPE_CHECKING:
    from IPython.display import HTML

__all__ = ["export_onnx", "figure_frames", "gaussian_posterior_explorer", "latent_plane", "latent_slider", "site_assets_dir"]

ASSETS_URL = "../assets"  # chapter pages live in chapters/, assets at the site root
VENDOR_URL = "../vendor"


Forward = Callable[..., torch.Tensor]


class _Wrapped(nn.Module):
    """``forward(model, *inputs)`` as a module that owns ``model``'s parameters."""

    def __init__(self, model: nn.Module, forward: Forward | None):
        super().__init__()
        self.model = model
        self.call = forward

    def forward(self, *inputs):
        return self.model(*inputs) if self.call is None else self.call(self.model, *inputs)


def _run(model: nn.Module, forward: Forward | None, inputs) -> torch.Tensor:
    return model(*inputs) if forward is None else forward(model, *inputs)


def export_onnx(model: nn.Module, example_inputs: Mapping[str, torch.Tensor], path: str | Path,
                forward: Forward | None = None, output_name: str = "x") -> Path:
    """Export ``model`` to a single ONNX file (weights embedded, no external data)
    with the given input names and batch size 1.

    ``forward(model, *inputs)`` selects what to export (e.g.
    ``lambda m, z, y: m.decode(z, y)``); by default ``model(*inputs)``. A copy of
    the model is exported on the CPU, so the caller's model stays where it is.
    """
    import copy

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = tuple(t.detach().float().cpu() for t in example_inputs.values())
    module = _Wrapped(copy.deepcopy(model).cpu().float(), forward)
    module.eval().requires_grad_(False)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, inputs, str(path), input_names=list(example_inputs),
                          output_names=[output_name], dynamo=False, external_data=False)
    return path


def site_assets_dir() -> Path | None:
    """Where the book build wants exported assets, or ``None`` outside a book build."""
    value = os.environ.get("COURSE_SITE_ASSETS", "").strip()
    return Path(value) if value else None


def _listify(t) -> list:
    if isinstance(t, torch.Tensor):
        t = t.detach().float().cpu().numpy()
    # rounded in float64, so that JSON holds 0.25 rather than float32's 0.25000000372529
    return np.asarray(t, dtype=np.float32).astype(np.float64).reshape(-1).round(6).tolist()


def latent_slider(model: nn.Module, *, name: str, forward: Forward | None = None,
                  lines: Sequence[Mapping[str, tuple[torch.Tensor, torch.Tensor]]],
                  labels: Sequence[str] | None = None, kind: str = "image",
                  image_shape: tuple[int, int, int] | None = None, activation: str = "identity",
                  param: tuple[str, float, float, float] = ("t", 0.0, 1.0, 0.05),
                  background: torch.Tensor | None = None, lims: tuple[float, float] = (-2.5, 2.5),
                  caption: str = "", unit: str = "") -> HTML:
    """Export a decoder and return an HTML display object holding an in-page slider.

    ``forward(model, *inputs)`` is the decoder (e.g. ``lambda m, z: m.decode(z)``),
    by default ``model(*inputs)``.

    ``lines`` is a list of presets (shown in a picker), each mapping every decoder
    input name to ``(a, b)`` tensors of the input's shape without the batch
    dimension; the page decodes ``a + s * b``. ``kind`` is ``"image"`` (output
    reshaped to ``image_shape`` = (C, H, W) after ``activation``: ``"sigmoid"``
    for logits or ``"identity"``) or ``"points"`` (2-D outputs drawn over
    ``background`` points within ``lims``). ``param`` = (label, min, max, step),
    shown beside the slider with its value and ``unit`` (e.g. ``"prior std"``);
    ``caption`` says what to look for.
    The spec stores the PyTorch output of the first preset at ``s = min``
    (``reference``) and ``s = max`` (``reference_end``), after the activation,
    so a browser test can compare the in-page decoder with PyTorch.
    """
    from IPython.display import HTML

    if kind not in ("image", "points"):
        raise ValueError(f"kind must be 'image' or 'points', got {kind!r}")
    if kind == "image" and (image_shape is None or len(image_shape) != 3):
        raise ValueError("kind='image' needs image_shape=(C, H, W)")
    if activation not in ("sigmoid", "identity"):
        raise ValueError(f"activation must be 'sigmoid' or 'identity', got {activation!r}")
    if not lines:
        raise ValueError("give at least one preset in lines")
    if labels is not None and len(labels) != len(lines):
        raise ValueError(f"give one label per preset: {len(labels)} labels for {len(lines)} presets")
    input_names = list(lines[0])
    for preset in lines:
        if list(preset) != input_names:
            raise ValueError(f"every preset must give the inputs {input_names}")
    label, s_min, s_max, step = param
    if not s_min < s_max:
        raise ValueError(f"param needs min < max, got {s_min} and {s_max}")

    def inputs_at(s: float) -> dict[str, torch.Tensor]:
        return {k: (torch.as_tensor(a).float() + s * torch.as_tensor(b).float()).cpu().unsqueeze(0)
                for k, (a, b) in lines[0].items()}

    references = []
    with torch.no_grad(), eval_mode(model):
        for s in (s_min, s_max):
            out = _run(model, forward, to_model(list(inputs_at(s).values()), model)).detach().float().cpu()
            references.append({"value": s, "output": _listify(torch.sigmoid(out) if activation == "sigmoid" else out)})
    first = inputs_at(s_min)

    out_dir = site_assets_dir()
    if out_dir is None:
        return HTML("<p><em>In the built book, an interactive figure here runs this decoder in "
                    "the browser; in Jupyter, the ipywidgets widget next to it does the same with "
                    "PyTorch.</em></p>")
    model_file = f"{name}.onnx"
    export_onnx(model, first, out_dir / model_file, forward=forward)
    spec = {
        "model": model_file, "kind": kind, "activation": activation,
        "inputs": input_names,
        "presets": [{"label": (labels[i] if labels else f"preset {i + 1}"),
                     "a": {k: _listify(a) for k, (a, b) in p.items()},
                     "b": {k: _listify(b) for k, (a, b) in p.items()},
                     "shapes": {k: [1, *torch.as_tensor(a).shape] for k, (a, b) in p.items()}}
                    for i, p in enumerate(lines)],
        "param": {"label": label, "min": s_min, "max": s_max, "step": step, "unit": unit},
        "reference": references[0],
        "reference_end": references[1],
    }
    if kind == "image":
        spec["image"] = {"channels": image_shape[0], "height": image_shape[1], "width": image_shape[2]}
    else:
        spec["points"] = {"background": (_listify(background) if background is not None else []),
                          "lims": list(lims)}
    (out_dir / f"{name}.json").write_text(json.dumps(spec))
    return _snippet("course-latent-slider", "slider", name, "the in-page decoder", caption,
                    "it needs JavaScript and WebAssembly")


def _caption(caption: str) -> str:
    return f'<p class="course-caption">{html.escape(caption)}</p>' if caption else ""


def _default_decode(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    return model.decode(z)


def _default_encode(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    mu, logvar = model.encode(x)
    return torch.cat([mu, torch.exp(0.5 * logvar)], dim=1)


def latent_plane(model: nn.Module, *, name: str, codes: torch.Tensor, labels: torch.Tensor,
                 decode: Forward | None = None, encode: Forward | None = None,
                 image_shape: tuple[int, int, int] = (1, 28, 28),
                 lims: tuple[float, float] = (-4.0, 4.0), sigmas: Sequence[float] = (1.0, 2.0, 3.0),
                 draw: bool = True, samples: int = 4, decimals: int = 2,
                 class_names: Sequence[str] | None = None, caption: str = "") -> HTML:
    r"""Export a 2-D latent space to the page: a plane the reader explores with the
    pointer and, with ``draw``, a pad to draw a digit whose posterior is shown on it.

    ``codes`` (N, 2) are test codes (e.g. posterior means), drawn as a scatter
    coloured by ``labels`` (N,) with a legend (``class_names``, default the label
    numbers); circles of radius ``sigmas`` mark the standard-normal prior's contours,
    each holding :math:`1 - e^{-r^2/2}` of its mass. Where the pointer is, the page
    decodes ``decode(model, z)`` (default ``model.decode(z)``: the decoder's mean,
    (1, *image_shape)). ``encode(model, x)`` (default: ``[mu, sigma]`` from
    ``model.encode``, shape (1, 4)) runs on the drawing after
    :func:`course_lib.preprocess_drawing`; the page draws the 1- and 2-sigma
    ellipses of :math:`q(z \mid x) = \mathcal{N}(\mu, \mathrm{diag}\,\sigma^2)`, the
    reconstruction at :math:`\mu` and ``samples`` decoded draws
    :math:`z = \mu + \sigma \odot \varepsilon`. Codes are rounded to ``decimals``.
    The spec stores PyTorch's outputs at two codes and on one image
    (``references``) for browser tests. Outside a book build nothing is written.
    """
    from IPython.display import HTML

    decode = decode or _default_decode
    encode = encode or _default_encode
    codes = torch.as_tensor(codes).detach().float().cpu()
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"latent_plane needs 2-D codes of shape (N, 2), got shape {tuple(codes.shape)}")
    if len(labels) != len(codes):
        raise ValueError(f"give one label per code: {len(labels)} labels for {len(codes)} codes")
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {image_shape}")
    if draw and tuple(image_shape) != (1, 28, 28):
        raise ValueError(f"the draw pad feeds 28x28 grey images, so draw=True needs image_shape "
                         f"(1, 28, 28), got {tuple(image_shape)}")
    if not lims[0] < lims[1]:
        raise ValueError(f"lims needs min < max, got {lims[0]} and {lims[1]}")
    if not sigmas or min(sigmas) <= 0 or list(sigmas) != sorted(sigmas):
        raise ValueError(f"sigmas must be positive and increasing, got {list(sigmas)}")
    if draw and samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    n_classes = int(labels.max()) + 1 if len(labels) else 0
    if class_names is not None and len(class_names) < n_classes:
        raise ValueError(f"give a name for every label: {len(class_names)} names for labels up to "
                         f"{n_classes - 1}")

    span = lims[1] - lims[0]
    z_refs = [torch.zeros(1, 2, dtype=torch.float32),
              torch.tensor([[lims[0] + 0.6 * span, lims[0] + 0.3 * span]], dtype=torch.float32)]
    with torch.no_grad(), eval_mode(model):
        decoded = [decode(model, to_model(z, model)).detach().float().cpu() for z in z_refs]
        for z, out in zip(z_refs, decoded):
            if out.numel() != math.prod(image_shape):
                raise ValueError(f"decode gives {out.numel()} values per code, image_shape "
                                 f"{tuple(image_shape)} needs {math.prod(image_shape)}")
        # the encoder's reference input: the decoded image at z = 0, rounded as stored
        x_ref = torch.tensor(_listify(decoded[0]), dtype=torch.float32).reshape(1, *image_shape)
        stats = encode(model, to_model(x_ref, model)).detach().float().cpu().reshape(-1) if draw else None
    if draw and stats.numel() != 4:
        raise ValueError(f"encode must return (1, 4) = [mu_1, mu_2, sigma_1, sigma_2], got {stats.numel()} "
                         "values")

    out_dir = site_assets_dir()
    if out_dir is None:
        return HTML("<p><em>In the built book, an interactive latent plane here runs this model in "
                    "the browser (onnxruntime-web): move the pointer over the plane"
                    + (", or draw a digit" if draw else "") + ".</em></p>")
    spec = {
        "kind": "plane", "decoder": f"{name}-decoder.onnx",
        "codes": codes.numpy().astype(np.float64).round(decimals).reshape(-1).tolist(),
        "labels": labels.tolist(),
        "class_names": list(class_names) if class_names is not None else [str(c) for c in range(n_classes)],
        "lims": [float(lims[0]), float(lims[1])],
        "contours": [{"sigma": float(r), "mass": round(1 - math.exp(-r * r / 2), 4)} for r in sigmas],
        "image": {"channels": image_shape[0], "height": image_shape[1], "width": image_shape[2]},
        "references": {"decode": [{"z": _listify(z), "output": _listify(o)} for z, o in zip(z_refs, decoded)]},
    }
    export_onnx(model, {"z": z_refs[0]}, out_dir / spec["decoder"], forward=decode)
    if draw:
        spec["encoder"] = f"{name}-encoder.onnx"
        spec["draw"] = {"samples": int(samples), "box": 20, "size": 28, "pad": 224, "line_width": 16}
        spec["references"]["encode"] = {"x": _listify(x_ref), "mu": _listify(stats[:2]),
                                        "sigma": _listify(stats[2:])}
        export_onnx(model, {"x": x_ref}, out_dir / spec["encoder"], forward=encode, output_name="mu_sigma")
    (out_dir / f"{name}.json").write_text(json.dumps(spec))
    return _snippet("course-latent-plane", "plane", name, "the in-page latent plane", caption,
                    "it needs JavaScript and WebAssembly")


def _snippet(css_class: str, id_prefix: str, name: str, what: str, caption: str, needs: str) -> HTML:
    """The placeholder (id ``{id_prefix}-{name}``) that ``book/js/latent_slider.js``
    replaces once loaded: until then, or without JavaScript, it says what it needs."""
    from IPython.display import HTML

    return HTML(
        f'<div class="{css_class}" data-spec="{ASSETS_URL}/{name}.json" '
        f'data-vendor="{VENDOR_URL}" id="{id_prefix}-{html.escape(name)}">'
        f'<p class="course-slider-fallback"><em>Loading {what}... ({needs}; the static figures '
        f'of this section show the same).</em></p>'
        f'{_caption(caption)}</div>'
        f'<script src="{VENDOR_URL}/course/latent_slider.js"></script>'
    )


def figure_frames(draw: Callable[[object], object], values: Sequence[object], *, name: str,
                  label: str, unit: str = "", start: object | None = None,
                  value_labels: Sequence[str] | None = None, caption: str = "") -> HTML:
    """An in-page slider over precomputed pictures: ``draw(value)`` (a matplotlib
    Figure, e.g. the figure function behind a kernel slider) at every value of
    ``values``, saved as sharp PNGs (twice the figure's dpi, shown at its CSS size);
    the page shows the one the slider picks, with ``label``, the value and ``unit``
    beside it. It needs no WebAssembly and no kernel, and each picture is exactly
    what the notebook draws at that value.

    ``value_labels`` (default ``f"{value:g}"``) is how each value is written;
    ``start`` the value shown first (default the first). The spec lists the values,
    their labels and the files; outside a book build nothing is drawn or written
    and a short note is returned.
    """
    from IPython.display import HTML
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from .plotting import retina_png

    values = list(values)
    if len(values) < 2:
        raise ValueError(f"figure_frames needs at least two values to move between, got {len(values)}")
    if value_labels is not None and len(value_labels) != len(values):
        raise ValueError(f"give one label per value: {len(value_labels)} labels for {len(values)} values")
    if start is not None and start not in values:
        raise ValueError(f"start must be one of the values {values}, got {start!r}")
    texts = [str(t) for t in value_labels] if value_labels is not None else [
        f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in values]
    out_dir = site_assets_dir()
    if out_dir is None:
        return HTML("<p><em>In the built book, a slider here swaps the figure drawn at each value "
                    f"of {html.escape(label)}; in Jupyter, the ipywidgets widget does the same.</em></p>")
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, value in enumerate(values):
        fig = draw(value)
        if not isinstance(fig, Figure):
            raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__} for {value!r}")
        png = retina_png(fig)                             # as the book shows its figures
        plt.close(fig)
        if png is None:
            raise ValueError(f"draw drew nothing for {value!r}: an empty figure has no picture")
        data, width, height = png
        file = f"{name}-{i}.png"
        (out_dir / file).write_bytes(data)
        frames.append({"file": file, "width": width, "height": height})
    spec = {"kind": "frames", "label": label, "unit": unit, "values": texts, "frames": frames,
            "start": values.index(start) if start is not None else 0}
    (out_dir / f"{name}.json").write_text(json.dumps(spec))
    return _snippet("course-frames", "frames", name, "the pictures for this slider", caption,
                    "it needs JavaScript")


def gaussian_posterior_explorer(*, name: str, x: float = 1.5, w: float = 2.0, noise: float = 0.5,
                                mu: tuple[float, float, float, float] = (0.0, -1.5, 2.0, 0.05),
                                sigma: tuple[float, float, float, float] = (1.0, 0.05, 1.5, 0.05),
                                caption: str = "") -> HTML:
    r"""Chapter 4's picture of :func:`course_lib.q_posterior_terms` in the page, in
    plain JavaScript (it is closed-form maths: no model, no WebAssembly): sliders for
    the mean and standard deviation of :math:`q = \mathcal{N}(\mu, \sigma^2)`, the
    densities of q, the exact posterior and the prior on fixed axes, and
    :math:`\log p(x)`, the ELBO and both KLs. ``mu`` and ``sigma`` are (start, min,
    max, step). The spec holds the model and Python's terms at a few (mu, sigma),
    which the browser tests compare with the page's."""
    from .ppca import q_posterior_axes, q_posterior_terms

    for label, (v0, lo, hi, step) in (("mu", mu), ("sigma", sigma)):
        if not (lo < hi and lo <= v0 <= hi and step > 0):
            raise ValueError(f"{label} needs (start, min, max, step) with min <= start <= max, "
                             f"min < max and step > 0, got {(v0, lo, hi, step)}")
    if sigma[1] <= 0:
        raise ValueError(f"sigma's range must be positive, got min {sigma[1]}")
    if not noise > 0:
        raise ValueError(f"noise must be positive, got {noise}")
    model = dict(x=x, w=w, noise=noise)
    post = q_posterior_terms(mu[0], sigma[0], **model)
    pm, ps = post["post_mean"], post["post_std"]
    axes = q_posterior_axes(mu[1:3], sigma[1:3], **model)     # the kernel widget's axes too
    keys = ("log_px", "elbo", "kl_post", "recon", "kl_prior")
    references = []
    for m, s_ in ((mu[0], sigma[0]), (pm, ps), (mu[1], sigma[2]), (mu[2], sigma[1])):
        t = q_posterior_terms(m, s_, **model)
        references.append({"mu": m, "sigma": s_, **{k: float(t[k]) for k in keys}})
    out_dir = site_assets_dir()
    if out_dir is None:
        from IPython.display import HTML

        return HTML("<p><em>In the built book, sliders here move q against the exact posterior in "
                    "the page itself; in Jupyter, the ipywidgets widget does the same.</em></p>")
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = {"kind": "gaussian-posterior", "model": model,
            "posterior": {"mean": pm, "std": ps},
            "mu": dict(zip(("value", "min", "max", "step"), mu)),
            "sigma": dict(zip(("value", "min", "max", "step"), sigma)),
            "axes": {"z": list(axes["z"]), "density": list(axes["density"])},
            "references": references}
    (out_dir / f"{name}.json").write_text(json.dumps(spec))
    return _snippet("course-gaussian-posterior", "gaussian-posterior", name, "the interactive figure", caption,
                    "it needs JavaScript")

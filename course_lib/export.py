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

The files go to ``$COURSE_SITE_ASSETS`` (set by ``tools/build_book.py``); when it
is unset (JupyterLab, tests) nothing is written and a short note is returned.
"""

from __future__ import annotations

import html
import json
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

__all__ = ["export_onnx", "latent_slider", "site_assets_dir"]

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
    return np.asarray(t, dtype=np.float32).reshape(-1).round(6).tolist()


def latent_slider(model: nn.Module, *, name: str, forward: Forward | None = None,
                  lines: Sequence[Mapping[str, tuple[torch.Tensor, torch.Tensor]]],
                  labels: Sequence[str] | None = None, kind: str = "image",
                  image_shape: tuple[int, int, int] | None = None, activation: str = "identity",
                  param: tuple[str, float, float, float] = ("t", 0.0, 1.0, 0.05),
                  background: torch.Tensor | None = None, lims: tuple[float, float] = (-2.5, 2.5),
                  caption: str = "") -> HTML:
    """Export a decoder and return an HTML display object holding an in-page slider.

    ``forward(model, *inputs)`` is the decoder (e.g. ``lambda m, z: m.decode(z)``),
    by default ``model(*inputs)``.

    ``lines`` is a list of presets (shown in a picker), each mapping every decoder
    input name to ``(a, b)`` tensors of the input's shape without the batch
    dimension; the page decodes ``a + s * b``. ``kind`` is ``"image"`` (output
    reshaped to ``image_shape`` = (C, H, W) after ``activation``: ``"sigmoid"``
    for logits or ``"identity"``) or ``"points"`` (2-D outputs drawn over
    ``background`` points within ``lims``). ``param`` = (label, min, max, step).
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
        "param": {"label": label, "min": s_min, "max": s_max, "step": step},
        "reference": references[0],
        "reference_end": references[1],
    }
    if kind == "image":
        spec["image"] = {"channels": image_shape[0], "height": image_shape[1], "width": image_shape[2]}
    else:
        spec["points"] = {"background": (_listify(background) if background is not None else []),
                          "lims": list(lims)}
    (out_dir / f"{name}.json").write_text(json.dumps(spec))
    snippet = (
        f'<div class="course-latent-slider" data-spec="{ASSETS_URL}/{name}.json" '
        f'data-vendor="{VENDOR_URL}" id="slider-{html.escape(name)}">'
        f'<p class="course-slider-fallback"><em>Loading the in-page decoder... '
        f'(it needs JavaScript and WebAssembly; the static figure above shows the same).</em></p>'
        f'{("<p>" + html.escape(caption) + "</p>") if caption else ""}</div>'
        f'<script src="{VENDOR_URL}/course/latent_slider.js"></script>'
    )
    return HTML(snippet)

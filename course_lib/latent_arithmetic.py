r"""Latent arithmetic (chapter 7): attribute vectors and edits.

An attribute vector is the difference of two class means in latent space,

.. math:: z_{\text{attr}} = \frac{1}{|S_+|}\sum_{i \in S_+} \mu(x_i)
          - \frac{1}{|S_-|}\sum_{i \in S_-} \mu(x_i),

and an edit decodes :math:`z + \alpha\, z_{\text{attr}}` (White, 2016). The
functions here work with any model that has ``encode`` (returning ``mu`` or
``(mu, logvar)``) and ``decode`` (returning the decoder's mean).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .latent import encode_dataset
from .utils import eval_mode, to_model

__all__ = ["attribute_vector", "class_means", "decode_images", "edit", "edit_many"]


def _as_tensor(x, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, device=device)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def attribute_vector(z: torch.Tensor, has: torch.Tensor | np.ndarray,
                     without: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    r"""The attribute vector :math:`\bar z_{+} - \bar z_{-}` (L,) from codes ``z``
    (N, L) and a boolean mask ``has`` (N,) of the examples with the attribute.
    ``without`` selects the other group (default: ``~has``), so that ambiguous
    examples can be left out of both."""
    if z.dim() != 2:
        raise ValueError(f"z must have shape (N, L), got {tuple(z.shape)}")
    has = _as_tensor(has, z.device).bool()
    without = ~has if without is None else _as_tensor(without, z.device).bool()
    if has.shape != (len(z),) or without.shape != (len(z),):
        raise ValueError(f"the masks must have shape ({len(z)},), got {tuple(has.shape)}, {tuple(without.shape)}")
    if (has & without).any():
        raise ValueError("an example cannot be in both groups")
    if not has.any() or not without.any():
        raise ValueError(f"both groups need examples: {int(has.sum())} with, {int(without.sum())} without")
    return z[has].mean(0) - z[without].mean(0)


def class_means(z: torch.Tensor, y: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """Mean code of each class: (C, L) from codes ``z`` (N, L) and labels ``y`` (N,).
    Raises if a class has no example."""
    if z.dim() != 2 or y.shape != (len(z),):
        raise ValueError(f"expected z (N, L) and y (N,), got {tuple(z.shape)} and {tuple(y.shape)}")
    y = y.to(z.device).long()
    c = int(n_classes if n_classes is not None else int(y.max()) + 1)
    counts = torch.bincount(y, minlength=c)[:c]
    if (counts == 0).any():
        raise ValueError(f"classes {torch.nonzero(counts == 0).flatten().tolist()} have no example")
    sums = torch.zeros(c, z.shape[1], dtype=z.dtype, device=z.device).index_add_(0, y, z)
    return sums / counts[:, None].to(z.dtype)


@torch.no_grad()
def decode_images(model: nn.Module, z: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The decoder's means (N, *input_shape) at codes ``z`` (N, L), in eval mode
    and in batches, on the model's device."""
    with eval_mode(model):
        return torch.cat([model.decode(to_model(z[i:i + batch_size], model))
                          for i in range(0, len(z), batch_size)])


def edit(model: nn.Module, x: torch.Tensor, z_attr: torch.Tensor, alphas: Sequence[float]) -> torch.Tensor:
    r"""Decode :math:`\mu(x) + \alpha\, z_{\text{attr}}` for every ``alpha``.

    Shapes: ``x`` (B, C, H, W), ``z_attr`` (L,) -> (len(alphas), B, C, H, W),
    images in [0, 1]. ``alpha = 0`` is the plain reconstruction from the mean code.
    """
    return edit_many(model, x, {"attr": z_attr}, [{"attr": float(a)} for a in alphas])


def edit_many(model: nn.Module, x: torch.Tensor, vectors: Mapping[str, torch.Tensor],
              coefficients: Sequence[Mapping[str, float]]) -> torch.Tensor:
    r"""Several attribute vectors at once: for each dict of coefficients
    :math:`\{\alpha_k\}`, decode :math:`\mu(x) + \sum_k \alpha_k z_k`.
    Returns (len(coefficients), B, C, H, W)."""
    z = encode_dataset(model, x)
    for name, v in vectors.items():
        if v.shape != (z.shape[1],):
            raise ValueError(f"attribute vector {name!r} must have shape ({z.shape[1]},), got {tuple(v.shape)}")
    out = []
    for coeffs in coefficients:
        unknown = set(coeffs) - set(vectors)
        if unknown:
            raise KeyError(f"no attribute vector named {sorted(unknown)}; have {sorted(vectors)}")
        shift = sum(float(a) * vectors[k].to(z.device) for k, a in coeffs.items())
        out.append(decode_images(model, z + shift))
    return torch.stack(out)

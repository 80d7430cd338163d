"""Corruptions for denoising autoencoders (chapter 3).

A denoising autoencoder is trained to map a corrupted input ``x_tilde = T(x)``
back to the clean ``x`` (Vincent et al., 2008). Every corruption ``T`` here is a
function of a batch ``x`` (B, ...) that returns a tensor of the same shape,
dtype and device; for images with values in [0, 1] the result stays in [0, 1].
Randomness comes from ``generator`` (a ``torch.Generator`` or an integer seed):
the random numbers are drawn on the CPU and then moved to ``x``'s device, so a
seed gives the same corruption on every device.

:func:`corrupt` reaches all of them through one ``strength`` in [0, 1] (the
widget of chapter 3 uses it).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["denoise", "gaussian_noise", "mask_pixels", "salt_and_pepper", "gaussian_blur", "block_mask",
           "corrupt", "random_corruption", "CORRUPTIONS"]

Generator = torch.Generator | int | None


def _generator(generator: Generator) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")


def _check_batch(x: torch.Tensor, images: bool = False) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if images and x.dim() != 4:
        raise ValueError(f"expected a batch of images (B, C, H, W), got shape {tuple(x.shape)}")
    if x.dim() < 2:
        raise ValueError(f"expected a batch (B, ...) of examples, got shape {tuple(x.shape)}")


def _rand(shape, generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(device=like.device, dtype=like.dtype)


def _probability(p, name: str = "p") -> tuple[float, float]:
    """A probability ``p`` or a range ``(p_min, p_max)``, checked to lie in [0, 1]."""
    lo, hi = (p, p) if isinstance(p, (int, float)) else tuple(p)
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f"{name} must be a probability in [0, 1] or a range (p_min, p_max) "
                         f"with 0 <= p_min <= p_max <= 1, got {p}")
    return float(lo), float(hi)


def _per_example_p(p, x: torch.Tensor, g) -> torch.Tensor:
    """(B, 1, ..., 1) probabilities: ``p`` itself, or drawn from U[p_min, p_max] per example."""
    lo, hi = _probability(p)
    shape = (len(x),) + (1,) * (x.dim() - 1)
    if lo == hi:
        return torch.full(shape, lo, dtype=x.dtype, device=x.device)
    return lo + (hi - lo) * _rand(shape, g, x)


def gaussian_noise(x: torch.Tensor, sigma: float, generator: Generator = None,
                   clip: bool = True) -> torch.Tensor:
    r"""Additive Gaussian noise :math:`\tilde{x} = x + \sigma\varepsilon`,
    :math:`\varepsilon \sim \mathcal{N}(0, I)`, clipped to [0, 1] when ``clip``
    (images); use ``clip=False`` for unbounded data such as the swiss roll.
    Shapes: (B, ...) -> (B, ...)."""
    _check_batch(x)
    if not sigma >= 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    g = _generator(generator)
    eps = torch.randn(x.shape, generator=g).to(device=x.device, dtype=x.dtype)
    out = x + sigma * eps
    return out.clamp(0.0, 1.0) if clip else out


def mask_pixels(x: torch.Tensor, p: float | tuple[float, float], generator: Generator = None) -> torch.Tensor:
    r"""Masking noise: each pixel is set to 0 independently with probability
    ``p`` (the same mask for all channels of a pixel), :math:`\tilde{x} = x \odot (1 - m)`,
    :math:`m_{d} \sim \mathrm{Bernoulli}(p)`. With ``p = (p_min, p_max)`` every image
    draws its own :math:`p \sim U[p_{\min}, p_{\max}]` (the source notes use (0.3, 0.7)).
    Shapes: (B, ...) -> (B, ...); for images (B, C, H, W)."""
    _check_batch(x)
    g = _generator(generator)
    p_b = _per_example_p(p, x, g)
    mask_shape = (x.shape[0], 1, *x.shape[2:]) if x.dim() == 4 else x.shape
    drop = _rand(mask_shape, g, x) < p_b
    return x.masked_fill(drop, 0.0)


def salt_and_pepper(x: torch.Tensor, p: float | tuple[float, float], generator: Generator = None,
                    low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Salt-and-pepper noise: each pixel is hit with probability ``p`` and then
    set to ``low`` or ``high`` (the minimum or maximum value) with equal
    probability. ``p`` may be a range as in :func:`mask_pixels`. Shapes: (B, ...) -> (B, ...)."""
    _check_batch(x)
    if not low < high:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    g = _generator(generator)
    p_b = _per_example_p(p, x, g)
    mask_shape = (x.shape[0], 1, *x.shape[2:]) if x.dim() == 4 else x.shape
    hit = _rand(mask_shape, g, x) < p_b
    salt = _rand(mask_shape, g, x) < 0.5
    value = torch.where(salt, torch.full_like(salt, high, dtype=x.dtype),
                        torch.full_like(salt, low, dtype=x.dtype))
    return torch.where(hit, value, x)


def gaussian_blur(x: torch.Tensor, sigma: float, generator: Generator = None) -> torch.Tensor:
    r"""Blur each image with a Gaussian kernel of standard deviation ``sigma``
    pixels (radius :math:`\lceil 3\sigma \rceil`, normalised to sum 1, reflected
    borders), as two 1-D convolutions. Deterministic: ``generator`` is accepted
    only so that every corruption has the same signature. ``sigma = 0`` returns
    a copy. Shapes: (B, C, H, W) -> (B, C, H, W)."""
    _check_batch(x, images=True)
    if not sigma >= 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}")
    if sigma == 0:
        return x.clone()
    B, C, H, W = x.shape
    radius = min(int(math.ceil(3 * sigma)), H - 1, W - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    y = x.reshape(B * C, 1, H, W)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
    return y.reshape(B, C, H, W)


def block_mask(x: torch.Tensor, size: int, generator: Generator = None) -> torch.Tensor:
    """Block masking: a ``size x size`` square at a random position (uniform,
    fully inside the image, one per image) is set to 0. Shapes: (B, C, H, W) -> (B, C, H, W)."""
    _check_batch(x, images=True)
    B, C, H, W = x.shape
    if not (isinstance(size, int) and 0 <= size <= min(H, W)):
        raise ValueError(f"size must be an integer between 0 and {min(H, W)}, got {size}")
    g = _generator(generator)
    top = torch.randint(0, H - size + 1, (B,), generator=g).to(x.device)
    left = torch.randint(0, W - size + 1, (B,), generator=g).to(x.device)
    rows = torch.arange(H, device=x.device).view(1, H, 1)
    cols = torch.arange(W, device=x.device).view(1, 1, W)
    inside = ((rows >= top.view(B, 1, 1)) & (rows < (top + size).view(B, 1, 1))
              & (cols >= left.view(B, 1, 1)) & (cols < (left + size).view(B, 1, 1)))
    return x.masked_fill(inside.unsqueeze(1), 0.0)


# strength in [0, 1] -> the corruption at that strength, for 28 x 28-like images
CORRUPTIONS: dict[str, Callable[[torch.Tensor, float, Generator], torch.Tensor]] = {
    "gaussian noise": lambda x, s, g: gaussian_noise(x, sigma=s, generator=g),
    "pixel dropping": lambda x, s, g: mask_pixels(x, p=s, generator=g),
    "salt and pepper": lambda x, s, g: salt_and_pepper(x, p=s, generator=g),
    "blur": lambda x, s, g: gaussian_blur(x, sigma=3.0 * s, generator=g),
    "block mask": lambda x, s, g: block_mask(x, size=int(round(s * min(x.shape[-2:]))), generator=g),
}


def corrupt(x: torch.Tensor, kind: str, strength: float, generator: Generator = None) -> torch.Tensor:
    """Apply the corruption ``kind`` (a key of :data:`CORRUPTIONS`) at ``strength``
    in [0, 1]: the noise standard deviation for Gaussian noise, the probability
    for pixel dropping and salt-and-pepper, ``3 * strength`` pixels of blur, and
    a block whose side is that fraction of the image side. Shapes are kept."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; known: {', '.join(CORRUPTIONS)}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength}")
    return CORRUPTIONS[kind](x, float(strength), generator)


def random_corruption(x: torch.Tensor, strength: tuple[float, float] = (0.1, 0.7),
                      generator: Generator = None, kinds: tuple[str, ...] | None = None) -> torch.Tensor:
    """Corrupt each image of ``x`` (B, C, H, W) with its own randomly chosen kind
    (uniform over ``kinds``, default all of :data:`CORRUPTIONS`) at its own
    strength drawn from U[``strength``]: the training corruption of a denoising
    autoencoder that should undo all of them. Shapes are kept."""
    _check_batch(x, images=True)
    lo, hi = _probability(strength, "strength")
    kinds = tuple(kinds or CORRUPTIONS)
    for k in kinds:
        if k not in CORRUPTIONS:
            raise ValueError(f"unknown corruption {k!r}; known: {', '.join(CORRUPTIONS)}")
    g = _generator(generator)
    which = torch.randint(0, len(kinds), (len(x),), generator=g)
    s = lo + (hi - lo) * torch.rand(len(x), generator=g)
    out = x.clone()
    for i, kind in enumerate(kinds):
        for j in (which == i).nonzero().flatten().tolist():
            out[j:j + 1] = CORRUPTIONS[kind](x[j:j + 1], float(s[j]), g)
    return out


def denoise(model: nn.Module, x: torch.Tensor, kind: str, strength: float,
            seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt the images ``x`` (B, C, H, W) with :func:`course_lib.corrupt`
    (``kind``, ``strength``, a fixed ``seed``) and pass them through ``model``.
    Returns ``(x_tilde, x_hat)``, both (B, C, H, W) on the CPU."""
    import torch


    from .utils import eval_mode, to_model

    x_tilde = corrupt(x.detach().cpu(), kind, strength, generator=seed)
    with torch.no_grad(), eval_mode(model):
        x_hat = model(to_model(x_tilde, model)).x_hat.cpu()
    return x_tilde, x_hat

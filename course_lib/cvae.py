"""What a conditional VAE adds to the latent-space tools: the same code decoded
under every class, and samples of every class at a temperature (chapter 6).

The model is :class:`course_lib.ConditionalVAE` (built by
:func:`course_lib.conditional_conv_vae`); interpolation between two labelled
images is :func:`course_lib.interpolate` with labels.
"""

from __future__ import annotations

import torch

from .models import ConditionalVAE
from .utils import eval_mode, model_device, to_model

__all__ = ["class_swap", "temperature_samples"]


@torch.no_grad()
def class_swap(model: ConditionalVAE, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Encode images x (N, C, H, W) with their labels y (N,), keep the posterior
    means and decode each under every class: returns (N, K, C, H, W) decoder means
    (the "style transfer" grid: row = image, column = class)."""
    with eval_mode(model):
        mu, _ = model.encode(*to_model((x, y), model))
        N, K = len(mu), model.n_classes
        z = mu.repeat_interleave(K, dim=0)  # (N*K, L): each code K times
        classes = torch.arange(K, device=mu.device).repeat(N)  # 0..K-1, 0..K-1, ...
        return model.decode(z, classes).view(N, K, *x.shape[1:])


@torch.no_grad()
def temperature_samples(model: ConditionalVAE, eps: torch.Tensor, temperature: float) -> torch.Tensor:
    """Decode ``z = T * eps`` under every class for fixed noise ``eps`` (S, L):
    returns (K, S, C, H, W) decoder means. Keeping ``eps`` fixed makes a
    temperature slider show the same samples drawn closer to or further from
    the prior mean (T = 0 decodes z = 0, the "average" item of each class)."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if eps.dim() != 2 or eps.shape[1] != model.latent_dim:
        raise ValueError(f"eps must have shape (S, {model.latent_dim}), got {tuple(eps.shape)}")
    with eval_mode(model):
        K, S = model.n_classes, len(eps)
        z = (temperature * to_model(eps, model)).repeat(K, 1)  # (K*S, L)
        classes = torch.arange(K, device=model_device(model)).repeat_interleave(S)
        return model.decode(z, classes).view(K, S, *model.input_shape)

"""Monte-Carlo gradient estimators for ``d/d(mu, logvar) E_{z ~ q}[f(z)]`` with
``q = N(mu, diag exp(logvar))`` (chapter 4): the reparameterisation (pathwise)
estimator and the score-function (REINFORCE) estimator.

Both return one gradient estimate *per sample*, so that a chapter can measure
their means (both unbiased) and variances (usually very different).
"""

from __future__ import annotations

from typing import Callable

import torch

from .losses import log_normal_diag

__all__ = ["reparam_gradients", "score_function_gradients"]

Objective = Callable[[torch.Tensor], torch.Tensor]


def _prepare(mu: torch.Tensor, logvar: torch.Tensor, n: int, generator: torch.Generator | None):
    if mu.shape != logvar.shape or mu.dim() != 1:
        raise ValueError(f"mu and logvar must be two (L,) vectors, got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    eps = torch.randn(n, mu.shape[0], generator=generator, dtype=mu.dtype).to(mu.device)
    # one copy of the parameters per sample: the gradient of a sum then gives
    # each sample's own gradient in the matching row
    m = mu.detach().expand(n, -1).clone().requires_grad_(True)
    lv = logvar.detach().expand(n, -1).clone().requires_grad_(True)
    return eps, m, lv


def _values(f: Objective, z: torch.Tensor) -> torch.Tensor:
    v = f(z)
    if v.shape != z.shape[:1]:
        raise ValueError(f"f must map z (n, L) to values (n,), got shape {tuple(v.shape)}")
    return v


def reparam_gradients(f: Objective, mu: torch.Tensor, logvar: torch.Tensor, n: int,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Pathwise estimates :math:`\nabla_{\mu,\log\sigma^2} f(\mu + \sigma\odot\varepsilon_i)`,
    :math:`\varepsilon_i \sim \mathcal{N}(0, I)`, ``i = 1..n``.

    ``f`` maps z (n, L) to (n,) and must be differentiable; ``mu``, ``logvar``: (L,).
    Returns the per-sample gradients with respect to ``mu`` and ``logvar``, each (n, L).
    """
    eps, m, lv = _prepare(mu, logvar, n, generator)
    z = m + (0.5 * lv).exp() * eps
    _values(f, z).sum().backward()
    return m.grad.detach(), lv.grad.detach()


def score_function_gradients(f: Objective, mu: torch.Tensor, logvar: torch.Tensor, n: int,
                             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Score-function (REINFORCE) estimates :math:`f(z_i)\,\nabla_{\mu,\log\sigma^2}\log q(z_i)`,
    :math:`z_i \sim q`, ``i = 1..n``: they need only values of ``f``, not its gradient.

    Same shapes as :func:`reparam_gradients`; ``f`` is evaluated without gradient.
    """
    eps, m, lv = _prepare(mu, logvar, n, generator)
    with torch.no_grad():
        z = m + (0.5 * lv).exp() * eps
        values = _values(f, z)
    (values * log_normal_diag(z, m, lv)).sum().backward()
    return m.grad.detach(), lv.grad.detach()

r"""Priors over the codes: the standard normal, a mixture of Gaussians, the VampPrior.

* :class:`StandardNormalPrior`: :math:`p(z) = \mathcal{N}(0, I_L)`, a VAE's default
  (:class:`course_lib.VAE` with ``prior=None`` means it: no parameters, nothing in
  the ``state_dict``, and the closed-form KL in the loss);

and two learned priors that can follow the aggregate posterior
:math:`q(z) = \frac1N\sum_n q(z \mid x_n)` instead of leaving holes in it
(chapter "Likelihoods, priors and the aggregate posterior"):

* :class:`MixtureOfGaussiansPrior`: :math:`p(z) = \frac1K\sum_k \mathcal{N}(z;\, m_k, \mathrm{diag}\, e^{s_k})`
  with learned means :math:`m_k` and log-variances :math:`s_k`;
* :class:`VampPrior` (Tomczak & Welling, 2018): :math:`p(z) = \frac1K\sum_k q(z \mid u_k)`,
  the encoder's posterior at K learned *pseudo-inputs* :math:`u_k`.

Every prior has ``log_prob(z)`` with ``z`` (..., L) -> (...) (a leading sample
dimension, as in the IWAE bound, broadcasts) and ``sample(n, generator=None)``
-> (n, L). Attach one with ``VAE(..., prior=...)`` or ``model.prior = ...``;
the loss then estimates the KL by Monte Carlo (:func:`course_lib.vae_loss`).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["log_normal_mixture", "StandardNormalPrior", "MixtureOfGaussiansPrior", "VampPrior"]

LOG_2PI = math.log(2 * math.pi)


def log_normal_mixture(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    r"""Log density of the equal-weight mixture of K diagonal Gaussians
    :math:`\mathcal{N}(\mu_k, \mathrm{diag}\,\sigma_k^2)`, :math:`\sigma_k^2 = e^{\mathrm{logvar}_k}`, at ``z``:

    .. math:: \log p(z) = \log \frac1K \sum_{k=1}^{K} \mathcal{N}(z;\, \mu_k, \mathrm{diag}\,\sigma_k^2)
              = \operatorname{logsumexp}_k \Big[-\tfrac12 \sum_{l=1}^{L}\Big(\log 2\pi\sigma_{kl}^2
              + \frac{(z_l - \mu_{kl})^2}{\sigma_{kl}^2}\Big)\Big] - \log K

    with a stable log-sum-exp over the components. The (N, K) matrix of squared
    distances comes from two matrix products, by expanding the square,
    :math:`\sum_l (z_l - \mu_{kl})^2/\sigma_{kl}^2 = z^2 \cdot \sigma_k^{-2} - 2 z \cdot (\mu_k/\sigma_k^2)
    + \sum_l \mu_{kl}^2/\sigma_{kl}^2`, instead of an (N, K, L) tensor: several times
    faster to train through than the broadcast form for K = 500. The expansion
    cancels digits where a sharp component sits near z, so it is computed in
    float64 (except on MPS) and returned in the dtype of ``z``. ``mu``, ``logvar``: (K, L); ``z``: (..., L) -> (...), ``chunk``
    codes at a time; gradients reach ``z``, ``mu`` and ``logvar``. The aggregate
    posterior's :func:`course_lib.log_aggregate_posterior` is this mixture, in float64.
    """
    if mu.dim() != 2 or mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must both have shape (K, L), got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    K, L = mu.shape
    if z.shape[-1] != L:
        raise ValueError(f"z must have shape (..., {L}), got {tuple(z.shape)}")
    # expanding the square cancels digits: work in float64 (not on MPS, which has none)
    work = z.dtype if z.device.type == "mps" else torch.float64
    flat, mu, logvar = z.reshape(-1, L).to(work), mu.to(work), logvar.to(work)  # (N, L), (K, L), (K, L)
    precision = (-logvar).exp()                                         # (K, L) 1 / sigma^2
    weighted_mu = mu * precision
    # the part of each component's log density that does not depend on z, (K,)
    const = -0.5 * (L * LOG_2PI + logvar.sum(1) + (mu * weighted_mu).sum(1))
    out = []
    for i in range(0, len(flat), chunk):
        zc = flat[i:i + chunk]
        quad = zc.pow(2) @ precision.T - 2 * zc @ weighted_mu.T         # (chunk, K)
        out.append(torch.logsumexp(const - 0.5 * quad, dim=1))         # (chunk,)
    return (torch.cat(out) - math.log(K)).reshape(z.shape[:-1]).to(z.dtype)


def _pick(n: int, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` draws from the equal-weight mixture of the rows of ``mu``, ``logvar`` (K, L): (n, L)."""
    device = generator.device if generator is not None else None
    k = torch.randint(len(mu), (int(n),), generator=generator, device=device).to(mu.device)
    eps = torch.randn(int(n), mu.shape[1], generator=generator, device=device).to(mu.device, mu.dtype)
    return mu[k] + (0.5 * logvar[k]).exp() * eps


class StandardNormalPrior(nn.Module):
    r"""The standard normal prior :math:`p(z) = \mathcal{N}(0, I_L)`,

    .. math:: \log p(z) = -\tfrac12\left(\lVert z\rVert^2 + L \log 2\pi\right).

    No parameters. A VAE without a prior module uses it (``VAE.log_prior``), and
    the loss then takes the closed-form KL (:func:`course_lib.gaussian_kl`).
    ``log_prob`` is a static method: ``StandardNormalPrior.log_prob(z)``.
    """

    def __init__(self, latent_dim: int):
        super().__init__()
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        self.latent_dim = int(latent_dim)

    @staticmethod
    def log_prob(z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(z)`, (..., L) -> (...)."""
        return -0.5 * (z.pow(2) + LOG_2PI).sum(dim=-1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes (n, L), z ~ N(0, I)."""
        device = generator.device if generator is not None else None
        return torch.randn(int(n), self.latent_dim, generator=generator, device=device)


class MixtureOfGaussiansPrior(nn.Module):
    r"""A mixture of K diagonal Gaussians with equal weights, means and
    log-variances learned with the VAE:

    .. math:: p(z) = \frac1K \sum_{k=1}^{K} \mathcal{N}\big(z;\, m_k, \mathrm{diag}\,e^{s_k}\big)

    ``means`` (K, L) start as draws from :math:`\mathcal{N}(0, \texttt{init\_scale}^2 I)`
    (drawn with ``generator``, or the global generator), ``logvars`` (K, L) at 0, so
    the untrained prior is a blurred standard normal. K = 1 with zero means is
    exactly :math:`\mathcal{N}(0, I)`.
    """

    def __init__(self, latent_dim: int, components: int, *, init_scale: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        if int(latent_dim) < 1 or int(components) < 1:
            raise ValueError(f"latent_dim and components must be positive, got {latent_dim}, {components}")
        self.latent_dim, self.components = int(latent_dim), int(components)
        means = torch.randn(self.components, self.latent_dim, generator=generator) * init_scale
        self.means = nn.Parameter(means)                                   # (K, L)
        self.logvars = nn.Parameter(torch.zeros(self.components, self.latent_dim))  # (K, L)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(z)`, (..., L) -> (...)."""
        return log_normal_mixture(z, self.means, self.logvars)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes (n, L): a component k uniformly, then z ~ N(m_k, diag e^{s_k})."""
        return _pick(n, self.means, self.logvars, generator)


class VampPrior(nn.Module):
    r"""The VampPrior of Tomczak & Welling (2018): the mixture of the encoder's
    posteriors at K learned pseudo-inputs :math:`u_k`,

    .. math:: p_\lambda(z) = \frac1K \sum_{k=1}^{K} q_\phi(z \mid u_k),
              \qquad u_k = \mathrm{hardtanh}_{[0,1]}(w_k),

    so the prior is made of the same Gaussians as the aggregate posterior it
    should match. ``encode`` is the model's encoder, ``x -> (mu, logvar)``
    (``model.encode``; kept as a plain reference, not a submodule, so the
    encoder's weights appear once in the ``state_dict``); ``input_shape`` is the
    shape of one example. The raw pseudo-inputs :math:`w_k` (K, *input_shape) are
    the only parameters; as in the authors' code they start at
    :math:`\mathcal{N}(0.05, 0.01^2)` per pixel (``init_mean``, ``init_std``) and
    pass through a hardtanh that keeps them in [0, 1], the range of the images.
    Every ``log_prob`` call encodes the K pseudo-inputs (in the model's current
    mode), so gradients reach both :math:`w_k` and the encoder.
    """

    def __init__(self, encode: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], components: int,
                 input_shape: Sequence[int], *, init_mean: float = 0.05, init_std: float = 0.01,
                 generator: torch.Generator | None = None):
        super().__init__()
        if int(components) < 1:
            raise ValueError(f"components must be positive, got {components}")
        if not callable(encode):
            raise TypeError("encode must be the model's encoder x -> (mu, logvar), e.g. model.encode")
        self.components, self.input_shape = int(components), tuple(int(s) for s in input_shape)
        self._encode = encode  # a bound method: a plain attribute, not a registered submodule
        w = init_mean + init_std * torch.randn(self.components, *self.input_shape, generator=generator)
        self.pseudo_weights = nn.Parameter(w)                              # (K, *input_shape)

    def pseudo_inputs(self) -> torch.Tensor:
        """The pseudo-inputs :math:`u_k = \\mathrm{hardtanh}(w_k)` in [0, 1], (K, *input_shape)."""
        return F.hardtanh(self.pseudo_weights, 0.0, 1.0)

    def components_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` (K, L) of the components :math:`q(z \\mid u_k)`."""
        return self._encode(self.pseudo_inputs())

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p_\lambda(z)`, (..., L) -> (...)."""
        mu, logvar = self.components_params()
        return log_normal_mixture(z, mu, logvar)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes (n, L): a pseudo-input k uniformly, then z ~ q(z | u_k)."""
        mu, logvar = self.components_params()
        return _pick(n, mu, logvar, generator)

"""MNIST autoencoders of chapters 8 and 9, and the knobs of the VAE objective.

The dense models follow the master thesis of chapter 9: an encoder with one
hidden LeakyReLU layer, a decoder with one hidden LeakyReLU layer, and a
Bernoulli likelihood on the pixels (computed here from logits). The
convolutional VAE uses the thesis's convolutional encoder *and* decoder
(its decoder is not the dense one). One objective, :func:`mnist_vae_loss`, takes
beta, free bits and the KL warm-up weight as arguments; :class:`VAEObjective`
only counts steps for the warm-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from .losses import bernoulli_log_likelihood, elbo, gaussian_kl
from .models import AEOutput, BernoulliVAE, check_input

__all__ = ["MnistVAE", "MnistAE", "dense_decoder", "conv_decoder", "thesis_model",
           "kl_per_dim", "free_bits_kl", "kl_warmup", "dynamic_binarize", "mnist_vae_loss",
           "bernoulli_ae_loss", "VAEObjective", "mlp_bernoulli_vae", "init_output_bias",
           "stepped_lr_factor", "stepped_lr_epochs"]

IMAGE_SHAPE = (1, 28, 28)
D = 28 * 28
# Keras' LeakyReLU (the thesis's framework) uses slope 0.3, PyTorch's default is 0.01.
SLOPE = 0.3


def _images(batch) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


# ---------------------------------------------------------------------------
# Networks

def dense_encoder(hidden: int) -> nn.Sequential:
    """Thesis encoder body: flatten, ``Linear(784, hidden)``, LeakyReLU. (B, 1, 28, 28) -> (B, hidden)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(D, hidden), nn.LeakyReLU(SLOPE))


def dense_decoder(latent_dim: int, hidden: int, depth: int = 1) -> nn.Sequential:
    """Thesis decoder: ``depth`` hidden LeakyReLU layers of ``hidden`` units, then
    784 logits. ``depth=1`` is the thesis's; a larger depth is the "stronger
    decoder" of chapter 8. (B, L) -> (B, 1, 28, 28) logits."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    layers: list[nn.Module] = [nn.Linear(latent_dim, hidden), nn.LeakyReLU(SLOPE)]
    for _ in range(depth - 1):
        layers += [nn.Linear(hidden, hidden), nn.LeakyReLU(SLOPE)]
    layers += [nn.Linear(hidden, D), nn.Unflatten(1, IMAGE_SHAPE)]
    return nn.Sequential(*layers)


def conv_encoder(width: float = 1.0) -> nn.Sequential:
    """Thesis convolutional encoder body (5x5 convolutions 32, 32/2, 64, 64/2, then a
    7x7 "valid" one to 128 maps of 1x1). ``width`` scales every channel count
    (1.0 = thesis). (B, 1, 28, 28) -> (B, 128 * width)."""
    c1, c2, c3 = (max(1, round(c * width)) for c in (32, 64, 128))
    act = lambda: nn.LeakyReLU(SLOPE)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(1, c1, 5, 1, 2), act(), nn.Conv2d(c1, c1, 5, 2, 2), act(),      # 28 -> 14
        nn.Conv2d(c1, c2, 5, 1, 2), act(), nn.Conv2d(c2, c2, 5, 2, 2), act(),     # 14 -> 7
        nn.Conv2d(c2, c3, 7), act(), nn.Flatten())                                # 7 -> 1


def conv_decoder(latent_dim: int, width: float = 1.0) -> nn.Sequential:
    """Thesis convolutional decoder: the code as a 1x1 map, a 7x7 transposed
    convolution to 7x7, 5x5 transposed convolutions (two of stride 2) up to
    28x28, and a 5x5 convolution to one map of logits. (B, L) -> (B, 1, 28, 28)."""
    c1, c2 = (max(1, round(c * width)) for c in (32, 64))
    act = lambda: nn.LeakyReLU(SLOPE)  # noqa: E731
    return nn.Sequential(
        nn.Unflatten(1, (latent_dim, 1, 1)),
        nn.ConvTranspose2d(latent_dim, c2, 7), act(),                              # 1 -> 7
        nn.ConvTranspose2d(c2, c2, 5, 1, 2), act(),
        nn.ConvTranspose2d(c2, c2, 5, 2, 2, output_padding=1), act(),              # 7 -> 14
        nn.ConvTranspose2d(c2, c1, 5, 1, 2), act(),
        nn.ConvTranspose2d(c1, c1, 5, 2, 2, output_padding=1), act(),              # 14 -> 28
        nn.ConvTranspose2d(c1, c1, 5, 1, 2), act(),
        nn.Conv2d(c1, 1, 5, 1, 2))


class MnistVAE(BernoulliVAE):
    """A VAE for 28x28 images with a diagonal Gaussian posterior and a Bernoulli
    decoder: ``body(x) -> h``, ``mu = W_mu h``, ``logvar = W_s h``,
    ``z = mu + sigma * eps``, ``logits = decoder(z)``.

    ``forward`` returns :class:`VAEOutput` whose ``x_hat`` holds the decoder's
    **logits** (apply a sigmoid for pixel probabilities)."""

    def __init__(self, body: nn.Module, features: int, decoder: nn.Module, latent_dim: int):
        super().__init__()
        self.body, self.decoder, self.latent_dim = body, decoder, int(latent_dim)
        self.to_mu = nn.Linear(features, latent_dim)
        self.to_logvar = nn.Linear(features, latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``mu``, ``logvar`` (B, L) of images (B, 1, 28, 28)."""
        check_input(x, IMAGE_SHAPE, "x", self)
        h = self.body(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1, 28, 28) of the Bernoulli decoder at codes (B, L)."""
        check_input(z, (self.latent_dim,), "z", self)
        return self.decoder(z)


class MnistAE(nn.Module):
    """The deterministic baseline of the thesis: ``z = W body(x)``, ``logits = decoder(z)``;
    ``forward`` returns :class:`AEOutput` with the logits in ``x_hat``."""

    def __init__(self, body: nn.Module, features: int, decoder: nn.Module, latent_dim: int):
        super().__init__()
        self.body, self.decoder, self.latent_dim = body, decoder, int(latent_dim)
        self.to_z = nn.Linear(features, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, IMAGE_SHAPE, "x", self)
        return self.to_z(self.body(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        check_input(z, (self.latent_dim,), "z", self)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.encode(x)
        return AEOutput(self.decode(z), z)


def thesis_model(kind: Literal["ae", "vae", "conv_vae"], latent_dim: int = 16, hidden: int = 512,
                 decoder_depth: int = 1, width: float = 1.0) -> nn.Module:
    """Build one of the thesis's three models. ``ae`` and ``vae`` share the dense
    decoder (``hidden`` units, ``decoder_depth`` hidden layers); ``conv_vae`` uses
    the convolutional encoder and decoder with channels scaled by ``width``."""
    if latent_dim < 1 or hidden < 1:
        raise ValueError(f"latent_dim and hidden must be positive, got {latent_dim}, {hidden}")
    if kind == "ae":
        return MnistAE(dense_encoder(hidden), hidden, dense_decoder(latent_dim, hidden, decoder_depth),
                       latent_dim)
    if kind == "vae":
        return MnistVAE(dense_encoder(hidden), hidden, dense_decoder(latent_dim, hidden, decoder_depth),
                        latent_dim)
    if kind == "conv_vae":
        body = conv_encoder(width)
        return MnistVAE(body, body[-3].out_channels, conv_decoder(latent_dim, width), latent_dim)
    raise ValueError(f"kind must be 'ae', 'vae' or 'conv_vae', got {kind!r}")


# ---------------------------------------------------------------------------
# The objective and its knobs

def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL of each latent dimension, :math:`\tfrac12(\mu_d^2 + \sigma_d^2 - \log\sigma_d^2 - 1)`.
    Shapes (B, L) -> (B, L); summing over L gives :func:`course_lib.gaussian_kl`."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def free_bits_kl(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float) -> torch.Tensor:
    r"""The free-bits KL penalty of Kingma et al. (2016), one group per latent dimension:

    .. math:: \sum_{d=1}^{L} \max\big(\lambda,\ \tfrac1B \textstyle\sum_b \mathrm{KL}_{bd}\big)

    A dimension whose batch-mean KL is below ``free_bits`` (lambda, nats) gets
    no gradient pushing it further towards the prior. Shapes (B, L) -> scalar."""
    if free_bits < 0:
        raise ValueError(f"free_bits must be >= 0 nats, got {free_bits}")
    return kl_per_dim(mu, logvar).mean(dim=0).clamp(min=free_bits).sum()


def kl_warmup(step: int, warmup_steps: int) -> float:
    """Linear KL annealing weight ``min(1, step / warmup_steps)`` (Bowman et al. 2016);
    1 from the start when ``warmup_steps == 0``."""
    if warmup_steps < 0 or step < 0:
        raise ValueError(f"step and warmup_steps must be >= 0, got {step}, {warmup_steps}")
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)


def dynamic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fresh binary image per call: each pixel is 1 with probability equal to its
    grey level in [0, 1]. Shape preserved."""
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError("dynamic binarisation needs grey levels in [0, 1]")
    if generator is None:
        return torch.bernoulli(x)
    u = torch.rand(x.shape, generator=generator, device=generator.device).to(x.device)
    return (u < x).to(x.dtype)


def mnist_vae_loss(model: MnistVAE, batch: torch.Tensor | tuple, *, beta: float = 1.0, free_bits: float = 0.0,
             kl_weight: float = 1.0, binarize: bool = False) -> dict[str, torch.Tensor]:
    r"""The (beta-weighted, annealed, free-bits) negative ELBO of a Bernoulli VAE:

    .. math:: \mathcal{L} = \tfrac1B\sum_b -\log p(x_b\mid z_b)
              + w\,\beta\,R, \qquad R = \begin{cases}\tfrac1B\sum_b \mathrm{KL}_b & \lambda = 0\\
              \sum_d \max(\lambda, \tfrac1B\sum_b \mathrm{KL}_{bd}) & \lambda > 0\end{cases}

    with ``w = kl_weight`` (warm-up) and ``lambda = free_bits``. The returned
    ``elbo``, ``recon`` and ``kl`` are always the true (beta = 1) quantities in nats
    per image. ``binarize`` draws a fresh binary image per batch first."""
    x = _images(batch)
    if binarize:
        x = dynamic_binarize(x)
    out = model(x)
    parts = elbo(bernoulli_log_likelihood(out.x_hat, x), gaussian_kl(out.mu, out.logvar), beta=1.0)
    rate = free_bits_kl(out.mu, out.logvar, free_bits) if free_bits > 0 else parts["kl"]
    parts["loss"] = parts["recon"] + kl_weight * beta * rate
    return parts


def bernoulli_ae_loss(model: MnistAE, batch: torch.Tensor | tuple, *, binarize: bool = False) -> dict[str, torch.Tensor]:
    """The thesis's AE objective: summed binary cross-entropy ``-log p(x | z)``, batch mean."""
    x = _images(batch)
    if binarize:
        x = dynamic_binarize(x)
    recon = -bernoulli_log_likelihood(model(x).x_hat, x).mean()
    return {"loss": recon, "recon": recon}


@dataclass
class VAEObjective:
    """``loss_fn(model, batch)`` for :func:`course_lib.fit`: :func:`mnist_vae_loss` with fixed
    ``beta``, ``free_bits`` and ``binarize``, and the KL weight
    ``kl_warmup(step, warmup_steps)``, where ``step`` counts the calls made in
    training mode (evaluation calls do not advance it)."""

    beta: float = 1.0
    free_bits: float = 0.0
    warmup_steps: int = 0
    binarize: bool = False
    step: int = field(default=0, init=False)

    def __call__(self, model: nn.Module, batch) -> dict[str, torch.Tensor]:
        if model.training:
            self.step += 1
        w = kl_warmup(self.step, self.warmup_steps)
        parts = mnist_vae_loss(model, batch, beta=self.beta, free_bits=self.free_bits, kl_weight=w,
                         binarize=self.binarize)
        parts["kl_weight"] = torch.tensor(w * self.beta)
        return parts


# ---------------------------------------------------------------------------
# The one-stochastic-layer VAE of the IWAE paper (Burda et al. 2015), chapter 8's anchor

def mlp_bernoulli_vae(latent_dim: int = 50, hidden: tuple[int, ...] = (200, 200),
                      activation: type[nn.Module] = nn.Tanh) -> MnistVAE:
    """An MLP VAE for 28x28 images: ``784 -> hidden... -> (mu, logvar)`` and
    ``L -> reversed(hidden)... -> 784`` Bernoulli logits, with ``activation``
    after every hidden layer. The defaults are the model of Burda et al. (2015,
    one stochastic layer): 784-200-200-50 with tanh."""
    if latent_dim < 1 or not hidden or min(hidden) < 1:
        raise ValueError(f"latent_dim and hidden sizes must be positive, got {latent_dim}, {hidden}")
    sizes = [D, *hidden]
    body: list[nn.Module] = [nn.Flatten()]
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        body += [nn.Linear(n_in, n_out), activation()]
    dec_sizes = [latent_dim, *reversed(hidden)]
    decoder: list[nn.Module] = []
    for n_in, n_out in zip(dec_sizes[:-1], dec_sizes[1:]):
        decoder += [nn.Linear(n_in, n_out), activation()]
    decoder += [nn.Linear(dec_sizes[-1], D), nn.Unflatten(1, IMAGE_SHAPE)]
    return MnistVAE(nn.Sequential(*body), hidden[-1], nn.Sequential(*decoder), latent_dim)


@torch.no_grad()
def init_output_bias(model: MnistVAE, x: torch.Tensor, eps: float = 1e-3) -> None:
    r"""Set the decoder's last bias to the logit of the mean training image,
    :math:`b = \log \bar x - \log(1 - \bar x)` (clipped to ``[eps, 1 - eps]``): the
    untrained decoder then starts at the pixel marginals instead of 0.5 everywhere."""
    last = [m for m in model.decoder.modules() if isinstance(m, nn.Linear)][-1]
    mean = x.flatten(1).mean(0).clamp(eps, 1 - eps).to(last.bias)
    last.bias.copy_(torch.logit(mean))


def stepped_lr_factor(epoch: int, scale: float = 1.0, stages: int = 8) -> float:
    r"""The learning-rate schedule of Burda et al. (2015) as a factor of the base
    rate: stage ``i = 0 .. stages-1`` lasts :math:`\lceil s\,3^i\rceil` epochs at
    :math:`10^{-i/7}` (``s = scale``; ``s = 1`` is the paper's 3,280 epochs).
    ``epoch`` counts from 1; past the last stage the last factor stays."""
    if epoch < 1:
        raise ValueError(f"epoch counts from 1, got {epoch}")
    end = 0
    for i in range(stages):
        end += math.ceil(scale * 3 ** i)
        if epoch <= end:
            return 10 ** (-i / 7)
    return 10 ** (-(stages - 1) / 7)


def stepped_lr_epochs(scale: float = 1.0, stages: int = 8) -> int:
    """How many epochs :func:`stepped_lr_factor` spans with this ``scale``."""
    return sum(math.ceil(scale * 3 ** i) for i in range(stages))

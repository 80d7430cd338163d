"""Encoders, decoders and the autoencoder models of the course.

Every model exposes ``encode`` and ``decode`` and returns a named output from
``forward``. Training loops live in :mod:`course_lib.training`, never in a
model: ``nn.Module.train(mode)`` is how ``.eval()`` switches modes, so a
training loop named ``train`` would break it.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import nn

__all__ = ["mlp", "AEOutput", "VAEOutput", "Autoencoder", "mlp_autoencoder", "linear_autoencoder",
           "reparameterize", "check_input", "VAEMixin", "BernoulliVAE", "GaussianVAE"]


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU,
        out_activation: nn.Module | None = None) -> nn.Sequential:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]`` with
    ``activation`` between layers and ``out_activation`` (if any) at the end."""
    if len(sizes) < 2 or any(int(s) <= 0 for s in sizes):
        raise ValueError(f"mlp needs at least two positive layer sizes, got {list(sizes)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    if out_activation is not None:
        layers.append(out_activation)
    return nn.Sequential(*layers)


class AEOutput(NamedTuple):
    """What an autoencoder's forward pass returns: the reconstruction and the code."""

    x_hat: torch.Tensor
    z: torch.Tensor


class VAEOutput(NamedTuple):
    """What a variational autoencoder's forward pass returns: the decoder's
    output (mean or logits), the sampled code and the posterior parameters."""

    x_hat: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor


def check_input(t: object, shape: Sequence[int], what: str, model: nn.Module | None = None) -> None:
    """Raise a clear error unless ``t`` is a floating-point tensor of shape
    (batch, *shape) with the dtype and on the device of ``model``'s weights.

    Every model of the course calls it on its inputs, so a wrong shape, an
    integer image, a float64 batch or a tensor on another device is reported in
    one sentence instead of a matrix-size error from deep inside a layer.
    """
    shape = tuple(int(s) for s in shape)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != len(shape) + 1 or tuple(t.shape[1:]) != shape:
        raise ValueError(f"{what} must have shape (batch, {', '.join(map(str, shape))}), got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor, got {t.dtype}")
    weight = next(model.parameters(), None) if model is not None else None
    if weight is not None:
        if t.device != weight.device:
            raise ValueError(f"{what} is on {t.device} but the model is on {weight.device}; "
                             "move one of them with .to(device)")
        if t.dtype != weight.dtype:
            raise TypeError(f"{what} is {t.dtype} but the model's weights are {weight.dtype}; "
                            f"convert it with .to({weight.dtype})")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Sample :math:`z = \mu + \sigma \odot \varepsilon`, :math:`\varepsilon \sim \mathcal{N}(0, I)`,
    with :math:`\sigma = \exp(\tfrac12 \log\sigma^2)`: a differentiable function of
    ``mu`` and ``logvar`` (the reparameterisation trick). Shapes: (B, L) -> (B, L)."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    if generator is None:
        eps = torch.randn_like(mu)
    else:
        eps = torch.randn(mu.shape, generator=generator, device=generator.device,
                          dtype=mu.dtype).to(mu.device)
    return mu + (0.5 * logvar).exp() * eps


class Autoencoder(nn.Module):
    """A deterministic autoencoder ``x -> z = E(x) -> x_hat = D(z)``.

    ``input_shape`` is the shape of one example (e.g. ``(2,)`` or
    ``(1, 28, 28)``); inputs are checked against it so that a wrong tensor gets
    a clear error instead of a matrix-size message from deep inside a layer.
    Images are flattened for MLP encoders and reshaped back after decoding.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_shape: Sequence[int],
                 latent_dim: int):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim = int(latent_dim)

    @property
    def data_dim(self) -> int:
        return math.prod(self.input_shape)

    def _check(self, t: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
        check_input(t, shape, what, self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Code ``z`` (B, L) of a batch ``x`` (B, *input_shape)."""
        self._check(x, self.input_shape, "x")
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``x_hat`` (B, *input_shape) of codes ``z`` (B, L)."""
        self._check(z, (self.latent_dim,), "z")
        return self.decoder(z).view(len(z), *self.input_shape)

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.encode(x)
        return AEOutput(self.decode(z), z)


def mlp_autoencoder(data_dim: int | Sequence[int], latent_dim: int,
                    hidden: Sequence[int] = (128, 64, 32),
                    out_activation: nn.Module | None = None) -> Autoencoder:
    """An MLP autoencoder with mirrored hidden layers.

    ``data_dim`` is D, or the shape of one example for images. The default
    ``hidden`` is the toy-data network of the source notes
    (D -> 128 -> 64 -> 32 -> L and back). Use ``out_activation=nn.Sigmoid()``
    for images in [0, 1].
    """
    shape = (data_dim,) if isinstance(data_dim, int) else tuple(data_dim)
    d = math.prod(shape)
    encoder = mlp([d, *hidden, latent_dim])
    decoder = mlp([latent_dim, *reversed(hidden), d], out_activation=out_activation)
    return Autoencoder(encoder, decoder, shape, latent_dim)


def linear_autoencoder(data_dim: int | Sequence[int], latent_dim: int, bias: bool = True) -> Autoencoder:
    """A linear autoencoder ``x_hat = W_d (W_e x + b_e) + b_d``: with the squared
    error it learns the principal subspace (chapter 1)."""
    shape = (data_dim,) if isinstance(data_dim, int) else tuple(data_dim)
    d = math.prod(shape)
    return Autoencoder(nn.Linear(d, latent_dim, bias=bias), nn.Linear(latent_dim, d, bias=bias),
                       shape, latent_dim)


# ---------------------------------------------------------------------------
# What every VAE of the course shares.

class VAEMixin:
    """The parts every VAE of the course shares, given ``encode(x) -> (mu, logvar)``
    and ``decode(z)``: the reparameterised forward pass and codes from the prior.

    Mixed into an ``nn.Module`` with a ``latent_dim`` attribute. A model whose
    ``encode``/``decode`` take more inputs (the conditional VAE) overrides ``forward``.
    """

    latent_dim: int

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """``z = mu + exp(logvar / 2) * eps`` (see :func:`reparameterize`)."""
        return reparameterize(mu, logvar, generator)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return VAEOutput(self.decode(z), z, mu, logvar)

    def prior_codes(self, n: int, generator: torch.Generator | None = None,
                    temperature: float = 1.0) -> torch.Tensor:
        """``n`` codes ``z = T * eps``, ``eps ~ N(0, I_L)``, on the model's device (n, L)."""
        if int(n) <= 0:
            raise ValueError(f"n must be positive, got {n}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        device = next(self.parameters()).device
        eps = torch.randn(int(n), self.latent_dim, generator=generator,
                          device=generator.device if generator is not None else None)
        return temperature * eps.to(device)


class BernoulliVAE(VAEMixin, nn.Module):
    """Base of the VAEs whose decoder outputs Bernoulli *logits* (images in [0, 1])."""

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` new images (n, *input_shape): the pixel probabilities
        ``sigmoid(decode(z))`` at ``z ~ N(0, I)``."""
        return torch.sigmoid(self.decode(self.prior_codes(n, generator)))


# ---------------------------------------------------------------------------
# A Gaussian VAE with MLP encoder and decoder (chapters 4-5).

class GaussianVAE(VAEMixin, Autoencoder):
    r"""A variational autoencoder with fully connected networks (chapter 5).

    * Encoder :math:`q_\phi(z \mid x) = \mathcal{N}(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))`:
      a shared trunk ``D -> hidden...`` with two linear heads, one for ``mu`` and
      one for ``logvar`` :math:`= \log \sigma^2_\phi(x)` (the log-variance trick:
      an unconstrained output, exponentiated where a variance is needed).
    * Decoder :math:`p_\theta(x \mid z) = \mathcal{N}(\mu_\theta(z), \sigma_0^2 I_D)`:
      an MLP for the mean ``x_hat``; ``sigma`` is the fixed :math:`\sigma_0`.
      For images the same decoder output can serve as Bernoulli logits.
    * Prior :math:`p(z) = \mathcal{N}(0, I_L)`.

    The defaults are the toy setting of the source notes (``hidden=(128, 64, 32)``,
    ``sigma=0.1``). Shapes: ``x`` (B, *input_shape), ``z`` (B, L).
    The loss lives in :func:`course_lib.vae_loss`, not here.
    """

    def __init__(self, data_dim: int | Sequence[int], latent_dim: int,
                 hidden: Sequence[int] = (128, 64, 32), sigma: float = 0.1):
        shape = (data_dim,) if isinstance(data_dim, int) else tuple(data_dim)
        if not sigma > 0:
            raise ValueError(f"the decoder's sigma must be positive, got {sigma}")
        d, hidden = math.prod(shape), list(hidden)
        # trunk: ReLU after every hidden layer, then the two heads
        trunk = nn.Sequential(mlp([d, *hidden]), nn.ReLU())
        super().__init__(trunk, mlp([latent_dim, *reversed(hidden), d]), shape, latent_dim)
        self.mu_head = nn.Linear(hidden[-1], latent_dim)
        self.logvar_head = nn.Linear(hidden[-1], latent_dim)
        self.sigma = float(sigma)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each (B, L), of a batch ``x``."""
        self._check(x, self.input_shape, "x")
        h = self.encoder(x.flatten(1))
        return self.mu_head(h), self.logvar_head(h)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               noise: bool = False) -> torch.Tensor:
        """``n`` new examples: ``z ~ N(0, I)``, then the decoder mean (B, *input_shape);
        with ``noise=True`` also the decoder's Gaussian noise ``sigma * eps``."""
        x = self.decode(self.prior_codes(n, generator))
        if noise:
            x = x + self.sigma * torch.randn(x.shape, generator=generator).to(x.device)
        return x

"""Builders of the networks the course trains, named by their shape.

Each returns one of the model classes of :mod:`course_lib.models`
(:class:`~course_lib.Autoencoder`, :class:`~course_lib.VAE`,
:class:`~course_lib.ConditionalVAE`). ``likelihood`` says what the decoder
outputs: the mean (``"gaussian"``) or Bernoulli logits (``"bernoulli"``).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .losses import top_k_codes
from .models import Autoencoder, ConditionalVAE, Likelihood, VAE, mlp

__all__ = ["mlp_autoencoder", "linear_autoencoder", "tied_autoencoder", "TiedLinear", "TopK", "mlp_vae",
           "conv_vae", "all_conv_vae", "conditional_conv_vae", "init_output_bias"]

Activation = Callable[[], nn.Module]


def _shape(data_dim: int | Sequence[int]) -> tuple[int, ...]:
    return (int(data_dim),) if isinstance(data_dim, int) else tuple(int(s) for s in data_dim)


def _flat_input(shape: tuple[int, ...], net: nn.Sequential) -> nn.Sequential:
    """Prepend ``nn.Flatten()`` to a fully connected network when examples are not vectors."""
    return nn.Sequential(nn.Flatten(), *net) if len(shape) > 1 else net


def mlp_autoencoder(data_dim: int | Sequence[int], latent_dim: int,
                    hidden: Sequence[int] = (128, 64, 32),
                    out_activation: nn.Module | None = None, *, activation: Activation = nn.ReLU,
                    likelihood: Likelihood = "gaussian") -> Autoencoder:
    """An MLP autoencoder with mirrored hidden layers.

    ``data_dim`` is D, or the shape of one example for images. The default
    ``hidden`` is the toy-data network of the source notes
    (D -> 128 -> 64 -> 32 -> L and back). Use ``out_activation=nn.Sigmoid()``
    for a mean in [0, 1], or ``likelihood="bernoulli"`` for a decoder of logits.
    """
    shape = _shape(data_dim)
    d = math.prod(shape)
    encoder = _flat_input(shape, mlp([d, *hidden, latent_dim], activation))
    decoder = mlp([latent_dim, *reversed(hidden), d], activation, out_activation=out_activation)
    return Autoencoder(encoder, decoder, shape, latent_dim, likelihood=likelihood)


def linear_autoencoder(data_dim: int | Sequence[int], latent_dim: int, bias: bool = True) -> Autoencoder:
    """A linear autoencoder ``x_hat = W_d (W_e x + b_e) + b_d``: with the squared
    error it learns the principal subspace."""
    shape = _shape(data_dim)
    d = math.prod(shape)
    encoder = nn.Linear(d, latent_dim, bias=bias)
    return Autoencoder(nn.Sequential(nn.Flatten(), encoder) if len(shape) > 1 else encoder,
                       nn.Linear(latent_dim, d, bias=bias), shape, latent_dim)


class TiedLinear(nn.Module):
    r"""The transpose of a linear layer, sharing its weight: :math:`y = W^\top z + c`
    for the layer ``linear`` that computes :math:`W x + b` (``W``: (L, D)).

    The weight is the same ``nn.Parameter`` object as ``linear.weight`` (the
    optimiser sees it once, and a step moves both sides); only the bias ``c``
    (D,), initialised to zero, is new. Shapes: (B, L) -> (B, D)."""

    def __init__(self, linear: nn.Linear, bias: bool = True) -> None:
        super().__init__()
        self.weight = linear.weight
        self.bias = nn.Parameter(torch.zeros(linear.in_features)) if bias else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.linear(z, self.weight.t(), self.bias)


class TopK(nn.Module):
    """The layer form of :func:`course_lib.top_k_codes`: keeps ``k`` entries of
    each code (the ``k`` largest values, or the largest in absolute value with
    ``absolute=True``) and zeroes the rest; gradients reach the kept entries
    only. ``k`` is an attribute, so a schedule may change it during training.
    Shapes: (B, L) -> (B, L)."""

    def __init__(self, k: int, absolute: bool = False) -> None:
        super().__init__()
        self.k, self.absolute = int(k), bool(absolute)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return top_k_codes(z, self.k, absolute=self.absolute)

    def extra_repr(self) -> str:
        return f"k={self.k}, absolute={self.absolute}"


def tied_autoencoder(data_dim: int | Sequence[int], latent_dim: int,
                     activation: Activation | None = nn.Sigmoid, out_activation: nn.Module | None = None, *,
                     k: int | None = None, likelihood: Likelihood = "gaussian") -> Autoencoder:
    r"""A one-hidden-layer autoencoder with tied weights: the decoder's weight is
    the encoder's, transposed (:class:`TiedLinear`),

    .. math:: z = \mathrm{top}_k\big(s(W x + b)\big), \qquad \hat{x} = s_{\text{out}}(W^\top z + c),

    with ``activation()`` as :math:`s` (``None``: linear codes), ``out_activation``
    as :math:`s_{\text{out}}` and, when ``k`` is given, a :class:`TopK` layer that
    keeps the ``k`` largest entries of each code and zeroes the others
    (without ``k``, :math:`\mathrm{top}_k` is the identity). Examples:

    * the contractive autoencoder of Rifai et al. (2011), sigmoid codes:
      ``tied_autoencoder((1, 28, 28), L, nn.Sigmoid, nn.Sigmoid())``;
    * the k-sparse autoencoder of Makhzani & Frey (2013), linear codes of which
      the k largest are kept: ``tied_autoencoder((1, 28, 28), 1000, None, k=25)``.

    ``data_dim`` is D, or the shape of one example for images.
    """
    shape = _shape(data_dim)
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim must be positive, got {latent_dim}")
    if k is not None and not (isinstance(k, int) and 1 <= k <= latent_dim):
        raise ValueError(f"k must be an integer between 1 and latent_dim = {latent_dim}, got {k}")
    linear = nn.Linear(math.prod(shape), int(latent_dim))
    layers = [linear, *([activation()] if activation is not None else []), *([TopK(k)] if k is not None else [])]
    encoder = _flat_input(shape, nn.Sequential(*layers))
    decoder = nn.Sequential(TiedLinear(linear), *([out_activation] if out_activation is not None else []))
    return Autoencoder(encoder, decoder, shape, latent_dim, likelihood=likelihood)


def mlp_vae(data_dim: int | Sequence[int], latent_dim: int, hidden: Sequence[int] = (128, 64, 32), *,
            decoder_hidden: Sequence[int] | None = None, activation: Activation = nn.ReLU,
            likelihood: Likelihood = "gaussian", sigma: float | None = None) -> VAE:
    r"""A VAE with fully connected networks.

    Encoder ``D -> hidden... -> 2L`` (``[mu, logvar]``), decoder
    ``L -> decoder_hidden... -> D`` (by default the encoder's hidden sizes
    reversed), ``activation()`` after every hidden layer. With
    ``likelihood="gaussian"`` the decoder outputs the mean of
    :math:`\mathcal{N}(\hat x, \sigma^2 I)` (give ``sigma``); with ``"bernoulli"``
    it outputs logits. Examples:

    * the toy VAE of the source notes: ``mlp_vae(2, L, sigma=0.1)``;
    * the one-stochastic-layer VAE of Burda et al. (2015):
      ``mlp_vae((1, 28, 28), 50, (200, 200), activation=nn.Tanh, likelihood="bernoulli")``.
    """
    shape = _shape(data_dim)
    if int(latent_dim) < 1 or not hidden or min(hidden) < 1:
        raise ValueError(f"latent_dim and hidden sizes must be positive, got {latent_dim}, {list(hidden)}")
    d = math.prod(shape)
    dec_hidden = list(reversed(hidden)) if decoder_hidden is None else list(decoder_hidden)
    encoder = _flat_input(shape, mlp([d, *hidden, 2 * latent_dim], activation))
    decoder = mlp([latent_dim, *dec_hidden, d], activation)
    return VAE(encoder, decoder, shape, latent_dim, likelihood=likelihood, sigma=sigma)


def conv_vae(latent_dim: int = 32, channels: int = 3, size: int = 32, width: int = 32, *,
             likelihood: Likelihood = "bernoulli", sigma: float | None = None) -> VAE:
    """A convolutional VAE with batch normalisation for (channels, size, size)
    images, size divisible by 8.

    Encoder: three 4x4 stride-2 convolutions (width, 2 width, 4 width channels;
    size -> size/8) and a linear layer to 2L. Decoder: the mirror image with
    transposed convolutions. With ``likelihood="gaussian"`` a sigmoid keeps the
    decoder's mean in [0, 1]; with ``"bernoulli"`` the decoder ends in logits.
    """
    if size % 8:
        raise ValueError(f"size must be divisible by 8, got {size}")
    w, s = int(width), size // 8
    act = nn.LeakyReLU(0.2)
    encoder = nn.Sequential(
        nn.Conv2d(channels, w, 4, 2, 1), act,
        nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), act,
        nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), act,
        nn.Flatten(), nn.Linear(4 * w * s * s, 2 * latent_dim),
    )
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 4 * w * s * s), nn.Unflatten(1, (4 * w, s, s)), act,
        nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), act,
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), act,
        nn.ConvTranspose2d(w, channels, 4, 2, 1),
        *([nn.Sigmoid()] if likelihood == "gaussian" else []),
    )
    return VAE(encoder, decoder, (channels, size, size), latent_dim, likelihood=likelihood, sigma=sigma)


def all_conv_vae(latent_dim: int = 16, width: float = 1.0, negative_slope: float = 0.3, *,
                 likelihood: Likelihood = "bernoulli", sigma: float | None = None) -> VAE:
    """A VAE for 28x28 single-channel images made of convolutions only, the code
    a 1x1 map.

    Encoder: 5x5 convolutions to 32, 32 (stride 2), 64, 64 (stride 2) channels,
    a 7x7 "valid" convolution to 128 maps of 1x1, and a linear layer to 2L.
    Decoder: a 7x7 transposed convolution from the 1x1 code to 7x7, 5x5
    transposed convolutions (two of stride 2) up to 28x28 and a 5x5 convolution
    to one output map. ``width`` scales every channel count; LeakyReLU with
    ``negative_slope`` (0.3 is Keras' default) between layers.
    """
    c1, c2, c3 = (max(1, round(c * width)) for c in (32, 64, 128))

    def act() -> nn.Module:
        return nn.LeakyReLU(negative_slope)

    encoder = nn.Sequential(
        nn.Conv2d(1, c1, 5, 1, 2), act(), nn.Conv2d(c1, c1, 5, 2, 2), act(),      # 28 -> 14
        nn.Conv2d(c1, c2, 5, 1, 2), act(), nn.Conv2d(c2, c2, 5, 2, 2), act(),     # 14 -> 7
        nn.Conv2d(c2, c3, 7), act(), nn.Flatten(),                                 # 7 -> 1
        nn.Linear(c3, 2 * latent_dim))
    decoder = nn.Sequential(
        nn.Unflatten(1, (latent_dim, 1, 1)),
        nn.ConvTranspose2d(latent_dim, c2, 7), act(),                              # 1 -> 7
        nn.ConvTranspose2d(c2, c2, 5, 1, 2), act(),
        nn.ConvTranspose2d(c2, c2, 5, 2, 2, output_padding=1), act(),              # 7 -> 14
        nn.ConvTranspose2d(c2, c1, 5, 1, 2), act(),
        nn.ConvTranspose2d(c1, c1, 5, 2, 2, output_padding=1), act(),              # 14 -> 28
        nn.ConvTranspose2d(c1, c1, 5, 1, 2), act(),
        nn.Conv2d(c1, 1, 5, 1, 2))
    return VAE(encoder, decoder, (1, 28, 28), latent_dim, likelihood=likelihood, sigma=sigma)


def conditional_conv_vae(image_shape: Sequence[int] = (1, 32, 32), latent_dim: int = 128,
                         n_classes: int = 10, channels: Sequence[int] = (16, 32, 64)) -> ConditionalVAE:
    """A conditional convolutional VAE with a Bernoulli decoder.

    Encoder: ``[x, one-hot maps]`` (B, C+K, H, W) -> strided 3x3 convolutions of
    widths ``channels`` (each halves H and W) -> flatten -> linear -> 2L.
    Decoder: ``[z, one-hot]`` (B, L+K) -> linear -> unflatten -> transposed
    convolutions (each doubles H and W) -> logits (B, C, H, W). H and W must be
    divisible by ``2 ** len(channels)``. The defaults are those of the source
    notes: 1x32x32 images, L = 128, 10 classes, widths 16-32-64.
    """
    image_shape, widths = tuple(int(s) for s in image_shape), tuple(int(c) for c in channels)
    if len(image_shape) != 3 or min(image_shape) <= 0:
        raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {image_shape}")
    if latent_dim <= 0 or n_classes < 2 or not widths or min(widths) <= 0:
        raise ValueError("latent_dim and the channel widths must be positive and n_classes >= 2")
    c, h, w = image_shape
    factor = 2 ** len(widths)
    if h % factor or w % factor:
        raise ValueError(f"H and W ({h}, {w}) must be divisible by 2**{len(widths)} = {factor} "
                         "(one halving per strided convolution)")
    k = int(n_classes)
    bottom = (widths[-1], h // factor, w // factor)
    flat = math.prod(bottom)
    enc: list[nn.Module] = []
    for n_in, n_out in zip((c + k, *widths[:-1]), widths):
        enc += [nn.Conv2d(n_in, n_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
    encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, 2 * latent_dim))
    dec: list[nn.Module] = [nn.Linear(latent_dim + k, flat), nn.ReLU(), nn.Unflatten(1, bottom)]
    outs = (*reversed(widths[:-1]), c)
    for i, (n_in, n_out) in enumerate(zip(reversed(widths), outs)):
        # output_padding=1 makes each layer exactly double H and W
        dec.append(nn.ConvTranspose2d(n_in, n_out, kernel_size=3, stride=2, padding=1, output_padding=1))
        if i < len(outs) - 1:
            dec.append(nn.ReLU())  # no activation at the end: the decoder outputs logits
    return ConditionalVAE(encoder, nn.Sequential(*dec), image_shape, latent_dim, k, likelihood="bernoulli")


@torch.no_grad()
def init_output_bias(model: Autoencoder, x: torch.Tensor, eps: float = 1e-3) -> None:
    r"""Set the last bias of a Bernoulli decoder to the logit of the mean training
    image, :math:`b = \log \bar x - \log(1 - \bar x)` (clipped to ``[eps, 1 - eps]``):
    the untrained decoder then starts at the pixel marginals instead of 0.5 everywhere."""
    if model.likelihood != "bernoulli":
        raise ValueError("init_output_bias sets logits; this model's decoder outputs a Gaussian mean")
    last = [m for m in model.decoder.modules() if isinstance(m, nn.Linear)][-1]
    mean = x.flatten(1).mean(0).clamp(eps, 1 - eps).to(last.bias)
    last.bias.copy_(torch.logit(mean))

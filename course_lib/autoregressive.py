r"""A decoder that can model the image without the code: an autoregressive Bernoulli
decoder (chapter 8).

The decoders of :mod:`course_lib.architectures` give every pixel its own Bernoulli
probability given ``z`` alone, so whatever the pixels share must travel through the
code. Here each pixel's logit also sees the pixels before it, in raster order, through a
masked convolution (the "type A" mask of PixelCNN, which hides the pixel itself and
every pixel after it):

.. math:: p_\theta(x \mid z) = \prod_{i=1}^{D} \mathrm{Bernoulli}\big(x_i;\ \sigma(g_i(z) + h_i(x_{<i}))\big),

with :math:`g` an ordinary decoder network and :math:`h` a small convolutional network
over the causal neighbourhood of each pixel. By the chain rule this is a normalised
distribution over binary images, so the ELBO, the rate and the distortion mean what they
mean for any VAE. Training reads the true pixels (teacher forcing); sampling draws them
one at a time.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .models import VAE, VAEOutput, check_input, mlp

__all__ = ["MaskedConv2d", "AutoregressiveDecoder", "AutoregressiveVAE", "autoregressive_mlp_vae"]


class MaskedConv2d(nn.Conv2d):
    """A 2-D convolution that sees only the pixels *before* each output position in raster
    order: the rows above, and the same row to the left (PixelCNN's mask "A": the centre
    pixel is hidden too). Odd ``kernel_size``; padding keeps the image size."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5) -> None:
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and at least 3, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        c = kernel_size // 2
        mask = torch.ones(1, 1, kernel_size, kernel_size)
        mask[..., c, c:] = 0          # the pixel itself and those to its right
        mask[..., c + 1:, :] = 0      # the rows below
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class AutoregressiveDecoder(nn.Module):
    r"""Logits :math:`g(z) + h(x_{<i})` (B, C, H, W) of a Bernoulli decoder for images
    ``image_shape`` = (C, H, W): ``z_decoder`` maps codes (B, L) to (B, C H W) logits
    :math:`g(z)`; :math:`h` is a :class:`MaskedConv2d` of ``channels`` maps, a ReLU and a
    1x1 convolution back to C maps, started at zero so that the decoder begins as
    ``z_decoder`` alone. Call it as ``decoder(z, x)`` with the binary images ``x``."""

    def __init__(self, z_decoder: nn.Module, image_shape: Sequence[int], kernel_size: int = 5,
                 channels: int = 8) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {self.image_shape}")
        c = self.image_shape[0]
        self.z_decoder = z_decoder
        self.context = nn.Sequential(MaskedConv2d(c, channels, kernel_size), nn.ReLU(),
                                     nn.Conv2d(channels, c, 1))
        nn.init.zeros_(self.context[2].weight)
        nn.init.zeros_(self.context[2].bias)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        B = len(z)
        g = self.z_decoder(z).reshape(B, *self.image_shape)          # (B, C, H, W)
        return g + self.context(x.reshape(B, *self.image_shape))    # + h(x_<i)


class AutoregressiveVAE(VAE):
    r"""A VAE whose Bernoulli decoder is an :class:`AutoregressiveDecoder`:
    ``forward(x)`` encodes, samples :math:`z \sim q(z \mid x)` and returns the logits of
    every pixel given ``z`` and the true pixels before it, so :func:`course_lib.vae_loss`
    and :func:`course_lib.fit` train it as any VAE. There is no mean image at a code
    (each pixel depends on the pixels drawn before it): ``decode(z)`` is refused and
    :meth:`sample` draws the pixels one at a time."""

    def __init__(self, encoder: nn.Module, decoder: AutoregressiveDecoder, input_shape: Sequence[int],
                 latent_dim: int) -> None:
        if not isinstance(decoder, AutoregressiveDecoder):
            raise TypeError(f"decoder must be an AutoregressiveDecoder, got {type(decoder).__name__}")
        super().__init__(encoder, decoder, input_shape, latent_dim, likelihood="bernoulli")

    def forward(self, x: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        logits = self.decoder_output(z, x)
        return VAEOutput(torch.sigmoid(logits), z, mu, logvar, logits)

    def decoder_output(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Logits (B, *input_shape) at codes ``z`` (B, L) given the images ``x``:
        ``decoder_output(z, x)``."""
        if len(inputs) != 2:
            raise TypeError("an autoregressive decoder needs the codes and the images: decoder_output(z, x)")
        z, x = inputs
        check_input(x, self.input_shape, "x", self)
        return super().decoder_output(z, x)

    def decode(self, *inputs: torch.Tensor) -> torch.Tensor:
        raise TypeError("an autoregressive decoder has no mean image at a code: each pixel depends on the "
                        "pixels drawn before it; use sample(n) or sample_at(z)")

    @torch.no_grad()
    def sample_at(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Binary images (B, *input_shape) drawn from :math:`p_\\theta(x \\mid z)` at the codes
        ``z`` (B, L), one pixel at a time in raster order (channel, row, column)."""
        check_input(z, (self.latent_dim,), "z", self)
        x = torch.zeros(len(z), self.data_dim, device=z.device, dtype=z.dtype)
        # one draw per pixel, made up front so that a generator fixes the whole image
        u = torch.rand(x.shape, generator=generator,
                       device=generator.device if generator is not None else None).to(x)
        for i in range(self.data_dim):
            logits = self.decoder_output(z, x.view(len(z), *self.input_shape)).flatten(1)
            x[:, i] = (u[:, i] < torch.sigmoid(logits[:, i])).to(x.dtype)
        return x.view(len(z), *self.input_shape)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, noise: bool = True) -> torch.Tensor:
        """``n`` binary images drawn at codes from the prior (:meth:`sample_at`); the draw
        is the only way to sample, so ``noise`` must stay True."""
        if not noise:
            raise ValueError("an autoregressive decoder has no mean image; its samples are binary draws")
        return self.sample_at(self.prior_codes(n, generator), generator)


def autoregressive_mlp_vae(image_shape: Sequence[int], latent_dim: int, hidden: Sequence[int] = (256,), *,
                           decoder_hidden: Sequence[int] | None = None,
                           activation: Callable[[], nn.Module] = nn.ReLU,
                           kernel_size: int = 5, channels: int = 8) -> AutoregressiveVAE:
    """The MLP VAE of :func:`course_lib.mlp_vae` (Bernoulli decoder) with an
    :class:`AutoregressiveDecoder`: the same encoder ``D -> hidden... -> 2L`` and code
    network ``L -> decoder_hidden... -> D``, plus a masked convolution of ``channels`` maps
    over the ``kernel_size`` x ``kernel_size`` neighbourhood before each pixel."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {shape}")
    if int(latent_dim) < 1 or not hidden or min(hidden) < 1:
        raise ValueError(f"latent_dim and hidden sizes must be positive, got {latent_dim}, {list(hidden)}")
    d = math.prod(shape)
    dec_hidden = list(reversed(hidden)) if decoder_hidden is None else list(decoder_hidden)
    encoder = nn.Sequential(nn.Flatten(), *mlp([d, *hidden, 2 * latent_dim], activation))
    z_decoder = mlp([latent_dim, *dec_hidden, d], activation)
    decoder = AutoregressiveDecoder(z_decoder, shape, kernel_size, channels)
    return AutoregressiveVAE(encoder, decoder, shape, latent_dim)

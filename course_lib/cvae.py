"""A conditional convolutional VAE for small images (chapter 6).

The class label ``y`` enters both networks (Sohn et al., 2015): the encoder sees
the image with the one-hot label broadcast as ``K`` extra constant channels, the
decoder sees ``[z, one_hot(y)]``. The decoder returns *logits*; the Bernoulli
log-likelihood is computed from them (stable when the sigmoid saturates), never from
``sigmoid(logits).log()``.

Also here: the pure compute functions behind the chapter's widgets
(interpolation, the same ``z`` under every class, samples at a temperature).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .losses import bernoulli_log_likelihood, elbo, gaussian_kl
from .utils import eval_mode, to_model
from .models import VAEMixin, VAEOutput, check_input

__all__ = ["CVAEConfig", "ConditionalVAE", "cvae_loss", "cvae_interpolation", "class_swap",
           "temperature_samples"]


@dataclass(frozen=True)
class CVAEConfig:
    """Architecture of a :class:`ConditionalVAE` (what the weights depend on).

    ``image_shape`` is (C, H, W) with H and W divisible by 2**len(channels);
    ``channels`` are the widths of the strided convolutions of the encoder
    (the decoder mirrors them). The defaults are those of the source notes:
    1x32x32 images, L = 128, 10 classes, widths 16-32-64.
    """

    image_shape: tuple[int, int, int] = (1, 32, 32)
    latent_dim: int = 128
    n_classes: int = 10
    channels: tuple[int, ...] = (16, 32, 64)

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.image_shape) != 3 or min(self.image_shape) <= 0:
            raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}")
        if self.latent_dim <= 0 or self.n_classes < 2 or not self.channels or min(self.channels) <= 0:
            raise ValueError("latent_dim and the channel widths must be positive and n_classes >= 2")
        factor = 2 ** len(self.channels)
        _, h, w = self.image_shape
        if h % factor or w % factor:
            raise ValueError(f"H and W ({h}, {w}) must be divisible by 2**{len(self.channels)} = {factor} "
                             "(one halving per strided convolution)")

    def to_dict(self) -> dict:
        """Plain JSON-friendly dict (lists instead of tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class ConditionalVAE(VAEMixin, nn.Module):
    r"""Conditional VAE :math:`q_\phi(z \mid x, y)`, :math:`p_\theta(x \mid z, y)` with
    :math:`p(z) = \mathcal{N}(0, I_L)`.

    * encoder: ``[x, one_hot(y) broadcast to H x W]`` (B, C+K, H, W) -> strided
      3x3 convolutions (each halves H and W) -> flatten -> linear -> (mu, logvar), each (B, L);
    * decoder: ``[z, one_hot(y)]`` (B, L+K) -> linear -> unflatten -> transposed
      convolutions (each doubles H and W) -> logits (B, C, H, W).

    ``y`` is a (B,) tensor of class indices, or (B, K) float class weights
    (e.g. a blend of two one-hot vectors); inputs are checked with clear errors.
    """

    def __init__(self, config: CVAEConfig | None = None, **overrides):
        super().__init__()
        if config is None:
            config = CVAEConfig(**overrides)
        elif overrides:
            raise TypeError("give either a CVAEConfig or keyword overrides, not both")
        self.config = config
        c, h, w = config.image_shape
        k, widths = config.n_classes, config.channels
        self.bottom = (widths[-1], h // 2 ** len(widths), w // 2 ** len(widths))
        flat = widths[-1] * self.bottom[1] * self.bottom[2]

        enc: list[nn.Module] = []
        for n_in, n_out in zip((c + k, *widths[:-1]), widths):
            enc += [nn.Conv2d(n_in, n_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, 2 * config.latent_dim))

        dec: list[nn.Module] = [nn.Linear(config.latent_dim + k, flat), nn.ReLU(), nn.Unflatten(1, self.bottom)]
        outs = (*reversed(widths[:-1]), c)
        for i, (n_in, n_out) in enumerate(zip(reversed(widths), outs)):
            # output_padding=1 makes each layer exactly double H and W
            dec.append(nn.ConvTranspose2d(n_in, n_out, kernel_size=3, stride=2, padding=1, output_padding=1))
            if i < len(outs) - 1:
                dec.append(nn.ReLU())  # no activation at the end: the decoder outputs logits
        self.decoder = nn.Sequential(*dec)

    # -- input checks ---------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def n_classes(self) -> int:
        return self.config.n_classes

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def one_hot(self, y: torch.Tensor, batch: int) -> torch.Tensor:
        """Class labels (B,) or class weights (B, K) -> float (B, K), checked."""
        k = self.n_classes
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor of class indices, got {type(y).__name__}")
        if y.device != self._device():
            raise ValueError(f"y is on {y.device} but the model is on {self._device()}")
        if y.dim() == 1 and not y.is_floating_point():
            if len(y) != batch:
                raise ValueError(f"y has {len(y)} labels for a batch of {batch}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= k):
                raise ValueError(f"class labels must lie in 0..{k - 1}, got {int(y.min())}..{int(y.max())}")
            return F.one_hot(y.long(), k).float()
        if y.dim() == 2 and y.is_floating_point():
            if tuple(y.shape) != (batch, k):
                raise ValueError(f"class weights must have shape ({batch}, {k}), got {tuple(y.shape)}")
            return y
        raise ValueError(f"y must be integer labels (B,) or float class weights (B, {k}); "
                         f"got {y.dtype} of shape {tuple(y.shape)}")

    # -- the model ----------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``mu``, ``logvar`` (B, L) of images x (B, C, H, W) with labels y."""
        check_input(x, self.config.image_shape, "x", self)
        onehot = self.one_hot(y, len(x))
        B, _, H, W = x.shape
        maps = onehot[:, :, None, None].expand(B, self.n_classes, H, W)  # (B, K, H, W)
        mu, logvar = self.encoder(torch.cat([x, maps], dim=1)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Bernoulli *logits* (B, C, H, W) of codes z (B, L) with labels y."""
        check_input(z, (self.latent_dim,), "z", self)
        return self.decoder(torch.cat([z, self.one_hot(y, len(z))], dim=1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar)
        return VAEOutput(self.decode(z, y), z, mu, logvar)

    @torch.no_grad()
    def sample(self, y: torch.Tensor, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Pixel means ``sigmoid(decode(z, y))`` (B, C, H, W) for ``z ~ N(0, T^2 I)``, one per label."""
        return torch.sigmoid(self.decode(self.prior_codes(len(y), generator, temperature), y))

    def layer_shapes(self, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, str, tuple[int, ...]]]:
        """(network, layer, output shape) for every layer on one pass of x, y: the
        architecture walk-through of chapter 6."""
        rows = []
        with torch.no_grad():
            check_input(x, self.config.image_shape, "x", self)
            B, _, H, W = x.shape
            h = torch.cat([x, self.one_hot(y, B)[:, :, None, None].expand(B, self.n_classes, H, W)], 1)
            rows.append(("encoder", "input [x, one-hot maps]", tuple(h.shape)))
            for layer in self.encoder:
                h = layer(h)
                rows.append(("encoder", type(layer).__name__, tuple(h.shape)))
            mu, _ = h.chunk(2, dim=1)
            rows.append(("encoder", "chunk -> mu (and logvar)", tuple(mu.shape)))
            h = torch.cat([mu, self.one_hot(y, B)], 1)
            rows.append(("decoder", "input [z, one-hot]", tuple(h.shape)))
            for layer in self.decoder:
                h = layer(h)
                rows.append(("decoder", type(layer).__name__, tuple(h.shape)))
        return rows


def cvae_loss(model: ConditionalVAE, batch: tuple[torch.Tensor, torch.Tensor],
              beta: float = 1.0) -> dict[str, torch.Tensor]:
    r"""Negative ELBO of a conditional VAE for :func:`course_lib.fit`:

    .. math:: -\mathrm{ELBO}(x, y) = -\log p_\theta(x \mid z, y) + \mathrm{KL}(q_\phi(z \mid x, y)
              \,\Vert\, \mathcal{N}(0, I)),\quad z \sim q_\phi(z \mid x, y)

    with the Bernoulli log-likelihood computed from the decoder's logits. Sums
    over pixels and latent dimensions, mean over the batch; returns the parts
    ``loss``, ``elbo``, ``recon``, ``kl`` (nats per image). ``batch`` = (x, y).
    """
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError("a conditional VAE needs batches (x, y) of images and labels")
    x, y = batch
    out = model(x, y)
    return elbo(bernoulli_log_likelihood(out.x_hat, x), gaussian_kl(out.mu, out.logvar), beta=beta)


# ---------------------------------------------------------------------------
# Pure compute functions behind the chapter's widgets

@torch.no_grad()
def cvae_interpolation(model: ConditionalVAE, x0: torch.Tensor, y0: int, x1: torch.Tensor, y1: int,
                         ts: Sequence[float] | torch.Tensor) -> torch.Tensor:
    r"""Decode the straight line between the posterior means of two images.

    For each t: :math:`z_t = (1-t)\mu_0 + t\mu_1` and class weights
    :math:`c_t = (1-t)\,\mathrm{onehot}(y_0) + t\,\mathrm{onehot}(y_1)`; returns the
    pixel means ``sigmoid(decode(z_t, c_t))``, shape (T, C, H, W). ``x0``, ``x1``
    are single images (C, H, W); t = 0 and t = 1 give the two reconstructions.
    """
    with eval_mode(model):
        dev = model._device()
        ts = to_model(torch.as_tensor(ts, dtype=torch.float32).reshape(-1), model)
        if len(ts) == 0:
            raise ValueError("ts must hold at least one value of t")
        for name, x in (("x0", x0), ("x1", x1)):
            if x.dim() != 3:
                raise ValueError(f"{name} must be one image (C, H, W), got shape {tuple(x.shape)}")
        x = to_model(torch.stack([x0, x1]), model)
        y = torch.tensor([int(y0), int(y1)], device=dev)
        mu, _ = model.encode(x, y)
        onehot = model.one_hot(y, 2)
        t = ts[:, None]
        z = (1 - t) * mu[0] + t * mu[1]
        c = (1 - t) * onehot[0] + t * onehot[1]
        return torch.sigmoid(model.decode(z, c))


@torch.no_grad()
def class_swap(model: ConditionalVAE, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Encode images x (N, C, H, W) with their labels y (N,), keep the posterior
    means and decode each under every class: returns (N, K, C, H, W) pixel means
    (the "style transfer" grid: row = image, column = class)."""
    with eval_mode(model):
        mu, _ = model.encode(*to_model((x, y), model))
        N, K = len(mu), model.n_classes
        z = mu.repeat_interleave(K, dim=0)  # (N*K, L): each code K times
        classes = torch.arange(K, device=mu.device).repeat(N)  # 0..K-1, 0..K-1, ...
        return torch.sigmoid(model.decode(z, classes)).view(N, K, *x.shape[1:])


@torch.no_grad()
def temperature_samples(model: ConditionalVAE, eps: torch.Tensor, temperature: float) -> torch.Tensor:
    """Decode ``z = T * eps`` under every class for fixed noise ``eps`` (S, L):
    returns (K, S, C, H, W) pixel means. Keeping ``eps`` fixed makes a
    temperature slider show the same samples drawn closer to or further from
    the prior mean (T = 0 decodes z = 0, the "average" item of each class)."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if eps.dim() != 2 or eps.shape[1] != model.latent_dim:
        raise ValueError(f"eps must have shape (S, {model.latent_dim}), got {tuple(eps.shape)}")
    with eval_mode(model):
        K, S = model.n_classes, len(eps)
        dev = model._device()
        z = (temperature * to_model(eps, model)).repeat(K, 1)  # (K*S, L)
        classes = torch.arange(K, device=dev).repeat_interleave(S)
        return torch.sigmoid(model.decode(z, classes)).view(K, S, *model.config.image_shape)

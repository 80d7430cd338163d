"""Models of the latent-arithmetic chapter (chapter 7): an image VAE with a
Bernoulli decoder (convolutional for the synthetic faces), and the attribute
regressor that *measures* the faces a decoder produces.

Training goes through :func:`course_lib.fit`; :func:`train_faces_vae` and
:func:`train_attribute_regressor` wrap data, model and budget in one call so
that a training command can register them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .utils import eval_mode, to_model

from .faces import FACE_ATTRIBUTES, FaceAttributes, make_faces
from .losses import bernoulli_log_likelihood, elbo, gaussian_kl, gaussian_log_likelihood
from .models import BernoulliVAE, check_input
from .profiles import Budget
from .training import Batch, History, fit

__all__ = ["ImageVAE", "conv_vae", "bernoulli_vae_loss", "gaussian_vae_loss", "FacesVAEConfig", "train_faces_vae",
           "AttributeRegressor", "attribute_loss", "train_attribute_regressor", "predict_attributes",
           "r2_scores"]


class ImageVAE(BernoulliVAE):
    """A VAE ``x -> (mu, logvar) -> z -> logits`` with a Bernoulli decoder.

    ``encoder`` maps a batch (B, *input_shape) to (B, 2L) = [mu, logvar];
    ``decoder`` maps codes (B, L) to logits (B, *input_shape). The pixel
    probabilities are ``sigmoid(logits)``; the loss uses the logits directly.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_shape: Sequence[int],
                 latent_dim: int):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim = int(latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``mu``, ``logvar`` (B, L) of a batch ``x`` (B, *input_shape)."""
        check_input(x, self.input_shape, "x", self)
        h = self.encoder(x)
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (B, *input_shape) of codes ``z`` (B, L)."""
        check_input(z, (self.latent_dim,), "z", self)
        return self.decoder(z)



def conv_vae(latent_dim: int = 32, channels: int = 3, size: int = 32, width: int = 32) -> ImageVAE:
    """A convolutional VAE for (channels, size, size) images, size divisible by 8.

    Encoder: three 4x4 stride-2 convolutions (width, 2 width, 4 width channels;
    size -> size/8) and a linear layer to 2L. Decoder: the mirror image with
    transposed convolutions, ending in logits.
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
    )
    return ImageVAE(encoder, decoder, (channels, size, size), latent_dim)


def bernoulli_vae_loss(model: ImageVAE, batch: Batch, beta: float = 1.0) -> dict[str, torch.Tensor]:
    r"""Negative ELBO of an :class:`ImageVAE` on one batch (labels, if any, are ignored):
    :math:`-\log p(x \mid z) + \beta\,\mathrm{KL}(q(z \mid x) \Vert p(z))`, the
    log-likelihood summed over pixels from the logits, averaged over the batch."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    out = model(x)
    return elbo(bernoulli_log_likelihood(out.x_hat, x), gaussian_kl(out.mu, out.logvar), beta)


def gaussian_vae_loss(model: ImageVAE, batch: Batch, sigma: float = 0.1, beta: float = 1.0) -> dict[str, torch.Tensor]:
    r"""Negative ELBO with a Gaussian decoder of fixed standard deviation ``sigma``:
    :math:`p(x \mid z) = \mathcal{N}(x;\, \mathrm{sigmoid}(\text{logits}), \sigma^2 I)`, the
    log-density *with* its normaliser (so the ELBO is in nats, of a density), plus
    :math:`\beta` times the KL. A small ``sigma`` weights the reconstruction more
    (a factor :math:`1/2\sigma^2` on the squared error), so small details get coded."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    out = model(x)
    log_px = gaussian_log_likelihood(torch.sigmoid(out.x_hat), x, sigma)
    return elbo(log_px, gaussian_kl(out.mu, out.logvar), beta)


@dataclass(frozen=True)
class FacesVAEConfig:
    """Architecture, likelihood and data of the faces VAE (the budget comes from the profile)."""

    latent_dim: int = 32
    width: int = 32
    size: int = 32
    sigma: float = 0.05  # decoder standard deviation (Gaussian likelihood on pixel values)
    data_seed: int = 1  # the faces are drawn from this seed; held-out faces use others
    beta: float = 1.0


def train_faces_vae(config: FacesVAEConfig, budget: Budget, device: str | torch.device = "cpu",
                    seed: int = 0, progress: bool | None = None) -> tuple[ImageVAE, History]:
    """Draw ``budget.train_size`` synthetic faces, build :func:`conv_vae` from
    ``config`` and train it on :func:`gaussian_vae_loss` (decoder standard deviation
    ``config.sigma``) with :func:`course_lib.fit` for ``budget.epochs``.
    Returns the model (in eval mode) and the training history."""
    if not budget.train_size or not budget.epochs:
        raise ValueError(f"the faces VAE needs a budget with train_size and epochs, got {budget}")
    x, _ = make_faces(budget.train_size, seed=config.data_seed, size=config.size, device=device)
    torch.manual_seed(seed)
    model = conv_vae(config.latent_dim, 3, config.size, config.width).to(device)
    history = fit(model, lambda m, b: gaussian_vae_loss(m, b, config.sigma, config.beta), x,
                  epochs=budget.epochs,
                  batch_size=budget.batch_size, lr=budget.lr, seed=seed, progress=progress,
                  desc="faces VAE")
    return model.eval(), history


class AttributeRegressor(nn.Module):
    """A small CNN from faces (B, 3, H, W) to the K attributes of ``FACE_ATTRIBUTES`` (B, K).

    The binary attributes (hair, glasses) are predicted as real numbers like the
    others: the chapter needs a *score* that moves smoothly with an edit.
    """

    def __init__(self, names: Sequence[str] = FACE_ATTRIBUTES, width: int = 32):
        super().__init__()
        self.names = tuple(names)
        w = int(width)
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(), nn.Linear(2 * w * 16, 128), nn.ReLU(), nn.Linear(128, len(self.names)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected faces of shape (B, 3, H, W), got {tuple(getattr(x, 'shape', ()))}")
        check_input(x, x.shape[1:], "x", self)
        return self.net(x)


# variance of each attribute under sample_face_attributes: U(-1, 1), U(0, 1), Bernoulli(0.7 / 0.3)
ATTRIBUTE_VARIANCE = {"smile": 1 / 3, "eyes": 1 / 12, "width": 1 / 12, "hair": 0.21,
                      "hair_colour": 1 / 12, "glasses": 0.21, "skin": 1 / 12}


def attribute_loss(model: AttributeRegressor, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Squared error of each attribute divided by its variance in the data (so
    every attribute counts equally, as in R^2), averaged over attributes and
    batch; ``hair_colour`` counts only where ``hair`` is 1 (a bald face has no
    visible hair colour)."""
    x, y = batch
    names = model.names
    var = torch.tensor([ATTRIBUTE_VARIANCE.get(n, 1.0) for n in names], device=y.device)
    err = (model(x) - y).pow(2) / var
    if "hair_colour" in names and "hair" in names:
        weight = torch.ones_like(err)
        weight[:, names.index("hair_colour")] = y[:, names.index("hair")]
        err = err * weight
    return {"loss": err.mean()}


@torch.no_grad()
def predict_attributes(model: AttributeRegressor, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """Scores (N, K) of images (N, 3, H, W), in eval mode."""
    with eval_mode(model):
        return torch.cat([model(to_model(x[i:i + batch_size], model)).cpu()
                          for i in range(0, len(x), batch_size)]).numpy()


def r2_scores(pred: np.ndarray, attrs: FaceAttributes, names: Sequence[str] = FACE_ATTRIBUTES) -> dict[str, float]:
    r"""Coefficient of determination per attribute,
    :math:`R^2 = 1 - \sum (y - \hat y)^2 / \sum (y - \bar y)^2` (``hair_colour``
    over faces with hair only). ``pred`` is (N, K) in the order of ``names``."""
    truth = attrs.table(names)
    if pred.shape != truth.shape:
        raise ValueError(f"pred has shape {pred.shape}, expected {truth.shape}")
    out = {}
    for j, name in enumerate(names):
        keep = attrs.hair > 0.5 if name == "hair_colour" else np.ones(len(attrs), bool)
        y, p = truth[keep, j], pred[keep, j]
        out[name] = float(1.0 - ((y - p) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12))
    return out


def train_attribute_regressor(budget: Budget, device: str | torch.device = "cpu", seed: int = 0,
                              data_seed: int = 2, size: int = 32, progress: bool | None = None
                              ) -> tuple[AttributeRegressor, History, dict[str, float]]:
    """Train an :class:`AttributeRegressor` on ``budget.train_size`` fresh faces
    (drawn from ``data_seed``) and score it on ``budget.test_size`` held-out faces
    (seed ``data_seed + 1000``). Returns the model (eval mode), history and held-out R^2."""
    if not budget.train_size or not budget.epochs:
        raise ValueError(f"the regressor needs a budget with train_size and epochs, got {budget}")
    x, attrs = make_faces(budget.train_size, seed=data_seed, size=size, device=device)
    y = torch.from_numpy(attrs.table()).to(x.device)
    torch.manual_seed(seed)
    model = AttributeRegressor().to(device)
    history = fit(model, attribute_loss, (x, y), epochs=budget.epochs, batch_size=budget.batch_size,
                  lr=budget.lr, seed=seed, progress=progress, desc="attribute regressor")
    x_te, a_te = make_faces(budget.test_size or 1000, seed=data_seed + 1000, size=size, device=device)
    return model.eval(), history, r2_scores(predict_attributes(model, x_te), a_te)

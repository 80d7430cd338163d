"""An attribute regressor for the synthetic faces: a small CNN that *measures*
the faces a decoder produces (chapter 7's latent arithmetic is judged by it),
and its training and scoring."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .faces import FACE_ATTRIBUTES, FaceAttributes, make_faces
from .models import check_input
from .profiles import Budget
from .training import History, fit
from .utils import eval_mode, to_model

__all__ = ["AttributeRegressor", "attribute_loss", "train_attribute_regressor", "predict_attributes",
           "r2_scores"]


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
    history = fit(model, attribute_loss, (x, y), budget=budget, seed=seed, progress=progress, desc="attribute regressor")
    x_te, a_te = make_faces(budget.test_size or 1000, seed=data_seed + 1000, size=size, device=device)
    return model.eval(), history, r2_scores(predict_attributes(model, x_te), a_te)

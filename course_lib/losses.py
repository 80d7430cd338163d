"""Loss terms as pure functions over tensors.

Convention used throughout the course: a loss is **summed over the data
dimensions** of one example (and over latent dimensions for KL terms) and
**averaged over the batch**. Per-example functions return shape (B,) so that
the caller decides how to reduce.
"""

from __future__ import annotations

import torch

__all__ = ["squared_error", "ae_loss"]


def _same_shape(x_hat: torch.Tensor, x: torch.Tensor) -> None:
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat has shape {tuple(x_hat.shape)} but x has {tuple(x.shape)}; "
                         "they must match")
    if x.dim() < 2:
        raise ValueError(f"expected a batch (B, ...) of examples, got shape {tuple(x.shape)}")


def squared_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-example squared error ``||x - x_hat||^2`` summed over data dimensions.

    Shapes: ``x_hat``, ``x``: (B, ...) -> (B,).
    """
    _same_shape(x_hat, x)
    return (x_hat - x).pow(2).flatten(1).sum(dim=1)


def ae_loss(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The classic autoencoder objective ``mean_b ||x_b - D(E(x_b))||^2``.

    Written as ``loss_fn(model, batch)`` so that :func:`course_lib.fit` can use
    it directly; returns the parts dict that ``fit`` logs.
    """
    if isinstance(x, (tuple, list)):  # (images, labels) batches: labels are unused
        x = x[0]
    x_hat, _ = model(x)
    loss = squared_error(x_hat, x).mean()
    return {"loss": loss}

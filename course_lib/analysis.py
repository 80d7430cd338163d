"""Measurements on trained models and data: subspaces, reconstruction errors."""

from __future__ import annotations

from typing import Callable, Union

import numpy as np
import torch

#: a tensor on any device or an array
ArrayLike = Union[torch.Tensor, np.ndarray]

__all__ = ["principal_angles", "pca_fit", "pca_reconstruct", "pairwise_sq_distances",
           "distance_distortion", "fraction_within", "code_sparsity", "jacobian_norms",
           "code_sensitivity", "nearest_distances"]


def _as_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def principal_angles(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spaces of ``A``
    (D, k) and ``B`` (D, m).

    With orthonormal bases ``Q_A``, ``Q_B`` the cosines of the angles are the
    singular values of ``Q_A^T Q_B`` (Bjorck & Golub, 1973). All angles are 0
    exactly when one span contains the other.
    """
    A, B = _as_numpy(A), _as_numpy(B)
    if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[0]:
        raise ValueError(f"need two matrices with the same number of rows, got {A.shape} and {B.shape}")
    qa, _ = np.linalg.qr(A)
    qb, _ = np.linalg.qr(B)
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))


def pca_fit(x: ArrayLike, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean (D,) and the top-``k`` principal directions (D, k, orthonormal
    columns, by decreasing variance) of data ``x`` (N, D), via the SVD."""
    x = _as_numpy(x).reshape(len(x), -1)
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"k must be between 1 and {min(x.shape)}, got {k}")
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:k].T


def pca_reconstruct(x: ArrayLike, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Project ``x`` (N, D) onto the affine PCA subspace and map it back:
    ``mean + (x - mean) U U^T``."""
    x = _as_numpy(x).reshape(len(x), -1)
    return mean + (x - mean) @ components @ components.T


# ---------------------------------------------------------------------------
# Measurements of chapters 2 and 3: distance distortion (Johnson-Lindenstrauss),
# sparsity of codes, sensitivity of an encoder to its input.

def pairwise_sq_distances(x: ArrayLike) -> np.ndarray:
    """Squared Euclidean distances ``||x_i - x_j||^2`` of all pairs ``i < j`` of
    the rows of ``x`` (N, ...), in the order of ``scipy.spatial.distance.pdist``.
    Shape: (N, ...) -> (N (N - 1) / 2,)."""
    x = _as_numpy(x).reshape(len(x), -1)
    if len(x) < 2:
        raise ValueError(f"need at least two points, got {len(x)}")
    sq = (x * x).sum(axis=1)
    gram = sq[:, None] + sq[None, :] - 2.0 * x @ x.T
    i, j = np.triu_indices(len(x), k=1)
    return np.maximum(gram[i, j], 0.0)


def distance_distortion(x: ArrayLike, y: ArrayLike, scale: float | str = 1.0) -> np.ndarray:
    r"""Ratios :math:`\lVert y_i - y_j\rVert^2 / \lVert x_i - x_j\rVert^2` over all
    pairs ``i < j`` (pairs of identical points are skipped): the distortion of
    squared distances by a map ``x_n -> y_n``. A Johnson-Lindenstrauss map keeps
    every ratio inside [1 - eps, 1 + eps]. ``scale="median"`` divides by the median
    ratio, for maps whose overall scale is arbitrary (a learned code).
    Shapes: x (N, D), y (N, L) -> (M,)."""
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same number of points, got {len(x)} and {len(y)}")
    dx, dy = pairwise_sq_distances(x), pairwise_sq_distances(y)
    keep = dx > 1e-12
    ratio = dy[keep] / dx[keep]
    if scale == "median":
        return ratio / np.median(ratio)
    if isinstance(scale, str):
        raise ValueError(f"scale must be a number or 'median', got {scale!r}")
    return ratio / float(scale)


def fraction_within(ratios: ArrayLike, eps: float) -> float:
    """Fraction of distortion ratios inside [1 - eps, 1 + eps]."""
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    r = _as_numpy(ratios)
    return float(np.mean(np.abs(r - 1.0) <= eps))


def code_sparsity(z: ArrayLike, tol: float = 1e-3) -> dict:
    """How sparse codes ``z`` (N, L) are: ``zero_fraction`` (entries with
    ``|z| <= tol``), ``active_per_example`` (mean number of entries above ``tol``),
    ``unit_activity`` (L,) (fraction of examples in which each unit is active)
    and ``dead_units`` (units never active)."""
    z = _as_numpy(z)
    if z.ndim != 2:
        raise ValueError(f"codes must have shape (N, L), got {z.shape}")
    if not tol >= 0:
        raise ValueError(f"tol must be non-negative, got {tol}")
    active = np.abs(z) > tol
    unit = active.mean(axis=0)
    return {"zero_fraction": float(1.0 - active.mean()),
            "active_per_example": float(active.sum(axis=1).mean()),
            "unit_activity": unit, "dead_units": int((unit == 0).sum())}


def jacobian_norms(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    r"""Frobenius norm :math:`\lVert J_E(x_n)\rVert_F` of the encoder Jacobian at
    each example of ``x`` (N, ...), in batches, without building a graph.
    Shape: (N,)."""
    from .losses import contractive_penalty

    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(contractive_penalty(encode, x[start:start + batch_size]).sqrt().cpu())
    return torch.cat(out).numpy().astype(np.float64)


def code_sensitivity(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, sigma: float, generator: torch.Generator | int | None = 0) -> dict:
    r"""How much codes move under a small input perturbation
    :math:`\delta \sim \mathcal{N}(0, \sigma^2 I)`: ``change`` (N,) is
    :math:`\lVert E(x + \delta) - E(x)\rVert`, ``spread`` the mean distance between
    the codes of two different examples (random pairing), and ``relative`` the
    ratio of their means, which does not depend on the scale of the code."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    g = torch.Generator().manual_seed(generator) if isinstance(generator, int) else generator
    delta = torch.randn(x.shape, generator=g).to(device=x.device, dtype=x.dtype) * sigma
    perm = torch.randperm(len(x), generator=g).to(x.device)
    with torch.no_grad():
        z, z_pert = encode(x), encode(x + delta)
    change = (z_pert - z).norm(dim=1)
    spread = (z - z[perm]).norm(dim=1)
    return {"change": change.cpu().numpy().astype(np.float64),
            "spread": float(spread.mean()), "relative": float(change.mean() / spread.mean())}


def nearest_distances(points: ArrayLike, reference: ArrayLike) -> np.ndarray:
    r"""Euclidean distance from each point to its nearest reference point,
    :math:`d_i = \min_j \lVert p_i - r_j \rVert`: how far generated points, codes or
    images lie from the data. ``points`` (N, ...) and ``reference`` (M, ...) are
    tensors on any device or arrays, flattened per row; returns (N,) float64 (a
    k-d tree or brute force from scikit-learn, on the CPU)."""
    from sklearn.neighbors import NearestNeighbors

    p, r = _as_numpy(points), _as_numpy(reference)
    p, r = p.reshape(len(p), -1), r.reshape(len(r), -1)
    if p.shape[1] != r.shape[1]:
        raise ValueError(f"points have {p.shape[1]} coordinates but the reference {r.shape[1]}")
    return NearestNeighbors(n_neighbors=1).fit(r).kneighbors(p)[0][:, 0]

"""Measurements on trained models and data: subspaces, reconstruction errors."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["principal_angles", "pca_fit", "pca_reconstruct"]


def _as_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def principal_angles(A, B) -> np.ndarray:
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


def pca_fit(x, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean (D,) and the top-``k`` principal directions (D, k, orthonormal
    columns, by decreasing variance) of data ``x`` (N, D), via the SVD."""
    x = _as_numpy(x).reshape(len(x), -1)
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"k must be between 1 and {min(x.shape)}, got {k}")
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:k].T


def pca_reconstruct(x, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Project ``x`` (N, D) onto the affine PCA subspace and map it back:
    ``mean + (x - mean) U U^T``."""
    x = _as_numpy(x).reshape(len(x), -1)
    return mean + (x - mean) @ components @ components.T

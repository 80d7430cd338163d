"""Disentanglement scores: how well each latent dimension captures one known factor (chapter 10).

A code z = (z_1, ..., z_L) is *disentangled* with respect to generating factors
v = (v_1, ..., v_K) when each factor is captured by one latent dimension and each
dimension captures at most one factor. With synthetic data the factors are known
(``course_lib.make_faces`` returns them), so this can be measured:

* ``mutual_information_matrix``: I(z_j; v_k) for every pair, from histograms;
* ``mig``: the mutual information gap (Chen et al. 2018), built on that matrix;
* ``dci``: disentanglement, completeness and informativeness (Eastwood & Williams
  2018), from the importance of each code dimension in a regressor per factor.
"""

from __future__ import annotations

from typing import NamedTuple, Union

import numpy as np
import torch

ArrayLike = Union[torch.Tensor, np.ndarray]

__all__ = ["discretize", "entropy_discrete", "mutual_information_matrix", "MutualInformation",
           "mig", "dci", "DCIScores"]


def _table(a: ArrayLike, name: str) -> np.ndarray:
    """``a`` as an (N, K) float64 array; a 1-D input is one column."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 1-D or 2-D array (examples x columns), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values; remove those examples first")
    return a


def _pair(codes: ArrayLike, factors: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    z, v = _table(codes, "codes"), _table(factors, "factors")
    if len(z) != len(v):
        raise ValueError(f"codes and factors must describe the same examples: {len(z)} codes "
                         f"but {len(v)} rows of factors")
    if len(z) < 2:
        raise ValueError(f"need at least 2 examples, got {len(z)}")
    return z, v


def discretize(values: ArrayLike, bins: int = 20) -> np.ndarray:
    """Integer labels (N, K) for each column of ``values`` (N, K) or (N,).

    A column with at most ``bins`` distinct values is taken as discrete and
    labelled by value (a binary factor stays binary); any other column is cut into
    ``bins`` bins of equal width between its minimum and maximum, as in Locatello
    et al. (2019).
    """
    if int(bins) < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    v = _table(values, "values")
    out = np.empty(v.shape, dtype=np.int64)
    for k in range(v.shape[1]):
        uniques, inverse = np.unique(v[:, k], return_inverse=True)
        if len(uniques) <= bins:
            out[:, k] = inverse.reshape(-1)
        else:
            edges = np.linspace(v[:, k].min(), v[:, k].max(), int(bins) + 1)
            out[:, k] = np.clip(np.digitize(v[:, k], edges[1:-1]), 0, int(bins) - 1)
    return out


def entropy_discrete(labels: ArrayLike) -> np.ndarray:
    """Entropy H(v_k) = -sum_a p(a) log p(a), in nats, of each column of integer
    ``labels`` (N, K), with p the empirical frequencies."""
    lab = _table(labels, "labels").astype(np.int64)
    out = np.empty(lab.shape[1])
    for k in range(lab.shape[1]):
        p = np.unique(lab[:, k], return_counts=True)[1] / len(lab)
        out[k] = -(p * np.log(p)).sum()
    return out


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) = sum p(a, b) log[p(a, b) / (p(a) p(b))] in nats, for two label vectors."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia.reshape(-1), ib.reshape(-1)), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float(max((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum(), 0.0))


class MutualInformation(NamedTuple):
    """The latent-factor matrix ``mi`` (L, K), I(z_j; v_k) in nats, and the
    factor entropies ``entropy`` (K,), H(v_k) in nats (both after discretising)."""

    mi: np.ndarray
    entropy: np.ndarray

    def gaps(self) -> np.ndarray:
        """Per-factor normalised gap (K,): (largest - second largest I(z_j; v_k) over j) / H(v_k)."""
        if self.mi.shape[0] < 2:
            raise ValueError("the gap needs at least 2 latent dimensions")
        if (self.entropy <= 0).any():
            k = int(np.argmin(self.entropy))
            raise ValueError(f"factor {k} is constant (entropy 0): its gap is undefined; leave it out")
        top = np.sort(self.mi, axis=0)[::-1]
        return (top[0] - top[1]) / self.entropy


def mutual_information_matrix(codes: ArrayLike, factors: ArrayLike, *, bins: int = 20) -> MutualInformation:
    r"""Mutual information between every code dimension and every factor.

    ``codes`` (N, L), e.g. posterior means; ``factors`` (N, K). Both are made
    discrete with :func:`discretize` (``bins`` equal-width bins per continuous
    column; discrete factors keep their values), then, from the joint histogram
    of each pair,

    .. math:: I(z_j; v_k) = \sum_{a, b} p(a, b) \log \frac{p(a, b)}{p(a)\, p(b)}
              \quad \text{(nats)},

    the estimator of Locatello et al. (2019). Returns :class:`MutualInformation`
    with the (L, K) matrix and the factor entropies H(v_k), for normalising.
    Histogram estimates are biased upwards by about (bins - 1)^2 / (2N) nats,
    so use a few thousand examples.
    """
    z, v = _pair(codes, factors)
    zd, vd = discretize(z, bins), discretize(v, bins)
    mi = np.array([[_mutual_information(zd[:, j], vd[:, k]) for k in range(vd.shape[1])]
                   for j in range(zd.shape[1])])
    return MutualInformation(mi, entropy_discrete(vd))


def mig(codes: ArrayLike, factors: ArrayLike, *, bins: int = 20) -> float:
    r"""Mutual information gap (Chen et al. 2018):

    .. math:: \mathrm{MIG} = \frac{1}{K} \sum_{k=1}^{K}
              \frac{I(z_{j^{(k)}}; v_k) - \max_{j \ne j^{(k)}} I(z_j; v_k)}{H(v_k)},
              \qquad j^{(k)} = \arg\max_j I(z_j; v_k),

    in [0, 1]: near 1 when every factor is captured by exactly one dimension,
    near 0 when a factor is spread over several dimensions or not captured.
    ``codes`` (N, L), ``factors`` (N, K), discretised as in
    :func:`mutual_information_matrix`.
    """
    return float(mutual_information_matrix(codes, factors, bins=bins).gaps().mean())


class DCIScores(NamedTuple):
    """DCI scores (Eastwood & Williams 2018): ``disentanglement`` and
    ``completeness`` in [0, 1], ``informativeness`` (K,) the held-out R^2 of each
    factor's regressor, and the ``importance`` matrix R (L, K)."""

    disentanglement: float
    completeness: float
    informativeness: np.ndarray
    importance: np.ndarray


def _normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy along ``axis`` of the rows/columns of p (already normalised), divided
    by log(size) so that it lies in [0, 1]."""
    n = p.shape[axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis) / np.log(n)


def dci(codes: ArrayLike, factors: ArrayLike, *, test_fraction: float = 0.25, n_estimators: int = 40,
        max_depth: int = 3, seed: int = 0) -> DCIScores:
    r"""Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    For each factor v_k a gradient-boosted tree regressor (scikit-learn) predicts
    v_k from the code (N, L) on a training split; its feature importances give the
    column R_{.k} of the importance matrix R (L, K). With
    P_{jk} = R_{jk} / \sum_{k'} R_{jk'} (what share of dimension j's importance goes
    to each factor),

    .. math:: D_j = 1 - H_K(P_{j.}), \qquad
              D = \sum_j \rho_j D_j, \quad \rho_j = \frac{\sum_k R_{jk}}{\sum_{j k} R_{jk}},

    with H_K the entropy in base K: D_j = 1 when dimension j matters for one
    factor only. Completeness is the same per factor over dimensions,
    C_k = 1 - H_L(\tilde P_{.k}), \tilde P_{jk} = R_{jk} / \sum_{j'} R_{j'k}, averaged
    over factors; informativeness is each regressor's R^2 on the held-out split.
    Factors are standardised; a few thousand examples take a few seconds.
    """
    from sklearn.ensemble import GradientBoostingRegressor

    z, v = _pair(codes, factors)
    L, K = z.shape[1], v.shape[1]
    if L < 2 or K < 2:
        raise ValueError(f"DCI needs at least 2 code dimensions and 2 factors, got {L} and {K}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    sd = v.std(0)
    if (sd == 0).any():
        raise ValueError(f"factor {int(np.argmin(sd))} is constant: nothing to predict; leave it out")
    v = (v - v.mean(0)) / sd
    order = np.random.default_rng(seed).permutation(len(z))
    n_test = max(1, int(round(test_fraction * len(z))))
    test, train = order[:n_test], order[n_test:]
    R = np.zeros((L, K))
    r2 = np.zeros(K)
    for k in range(K):
        reg = GradientBoostingRegressor(n_estimators=n_estimators, max_depth=max_depth, random_state=seed)
        reg.fit(z[train], v[train, k])
        R[:, k] = reg.feature_importances_
        r2[k] = reg.score(z[test], v[test, k])
    R = np.abs(R)
    total = R.sum()
    if total == 0:
        return DCIScores(0.0, 0.0, r2, R)
    row = R.sum(1)
    P = np.divide(R, row[:, None], out=np.full_like(R, 1.0 / K), where=row[:, None] > 0)
    D = 1 - _normalised_entropy(P, axis=1)
    col = R.sum(0)
    Pt = np.divide(R, col[None], out=np.full_like(R, 1.0 / L), where=col[None] > 0)
    C = 1 - _normalised_entropy(Pt, axis=0)
    return DCIScores(float((row / total * D).sum()), float(C.mean()), r2, R)

"""Working in a latent space: codes of a data set, interpolation between two
codes, active units, silhouettes, k-NN accuracy, t-SNE, and an
importance-weighted likelihood.

All functions take tensors or arrays of codes ``(N, L)`` and class labels ``(N,)``;
the scikit-learn ones return plain floats and numpy arrays.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from .analysis import ArrayLike
from .losses import decoder_log_likelihood, gaussian_kl, iwae_bound, log_normal_diag
from .models import VAE, ConditionalVAE
from .utils import eval_mode, to_model

__all__ = ["interpolate", "encode_dataset", "active_units",
           "Silhouette", "silhouette", "knn_accuracy", "tsne_2d", "iwae_log_likelihood", "iwae_nll",
           "NLLEstimate", "log_aggregate_posterior", "ELBOSurgery", "elbo_surgery"]


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _check_codes_labels(codes: np.ndarray, labels: np.ndarray) -> None:
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (N, L), got {codes.shape}")
    if labels.shape != (len(codes),):
        raise ValueError(f"labels must have shape ({len(codes)},), got {labels.shape}")


@torch.no_grad()
def encode_dataset(model: nn.Module, x: torch.Tensor, batch_size: int = 1000,
                   with_logvar: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Codes of a whole data set ``x`` (N, ...) in eval mode: the AE's ``z`` or the
    VAE's posterior mean ``mu`` (N, L); with ``with_logvar`` a VAE also returns
    ``logvar`` (N, L)."""
    with eval_mode(model):
        outs = [model.encode(to_model(x[i:i + batch_size], model)) for i in range(0, len(x), batch_size)]
    if isinstance(outs[0], tuple):
        mu, logvar = (torch.cat(t) for t in zip(*outs))
        return (mu, logvar) if with_logvar else mu
    if with_logvar:
        raise ValueError("this model's encoder returns a single code: it has no logvar")
    return torch.cat(outs)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    r"""Active units of Burda et al. (2015): dimension ``d`` is active when
    :math:`A_d = \mathrm{Cov}_x\big(\mathbb{E}_{q(z\mid x)}[z_d]\big) > 0.01`, i.e. when the
    posterior mean moves with the input. ``mu`` (N, L) are the posterior means of a
    data set; returns the count and ``A`` (L,)."""
    if mu.dim() != 2 or len(mu) < 2:
        raise ValueError(f"mu must have shape (N, L) with N >= 2, got {tuple(mu.shape)}")
    a = mu.detach().cpu().double().var(dim=0, unbiased=False).to(mu.dtype)  # no float64 on MPS
    return int((a > threshold).sum()), a


class Silhouette(NamedTuple):
    """Mean silhouette, per-class means (C,), per-sample values (n,) and their labels (n,)."""

    mean: float
    per_class: np.ndarray
    samples: np.ndarray
    labels: np.ndarray


def silhouette(codes: ArrayLike, labels: ArrayLike, sample_size: int | None = None, seed: int = 0) -> Silhouette:
    r"""Silhouette of the classes in code space (Rousseeuw 1987), Euclidean distance:
    :math:`s(i) = (b(i) - a(i)) / \max\{a(i), b(i)\}` with ``a`` the mean distance to the
    own class and ``b`` the smallest mean distance to another class. ``sample_size``
    evaluates a random subset (fixed by ``seed``) to bound the O(N^2) cost."""
    from sklearn.metrics import silhouette_samples

    codes, labels = _np(codes).astype(np.float64), _np(labels)
    _check_codes_labels(codes, labels)
    if sample_size is not None and sample_size < len(codes):
        keep = np.random.default_rng(seed).choice(len(codes), sample_size, replace=False)
        codes, labels = codes[keep], labels[keep]
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError("the silhouette needs at least two classes")
    s = silhouette_samples(codes, labels)
    per_class = np.array([s[labels == c].mean() for c in classes])
    return Silhouette(float(s.mean()), per_class, s, labels)


def knn_accuracy(train_codes: ArrayLike, train_labels: ArrayLike, test_codes: ArrayLike,
                 test_labels: ArrayLike, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour classifier (Euclidean) fitted on the
    training codes and scored on the test codes: how well the labels can be read
    off the neighbourhoods of the latent space."""
    from sklearn.neighbors import KNeighborsClassifier

    xtr, ytr, xte, yte = (_np(a) for a in (train_codes, train_labels, test_codes, test_labels))
    _check_codes_labels(xtr, ytr)
    _check_codes_labels(xte, yte)
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train codes have {xtr.shape[1]} dimensions, test codes {xte.shape[1]}")
    if not 1 <= k <= len(xtr):
        raise ValueError(f"k must be in 1..{len(xtr)}, got {k}")
    clf = KNeighborsClassifier(n_neighbors=k).fit(xtr, ytr)
    return float(clf.score(xte, yte))


def tsne_2d(codes: ArrayLike, n: int | None = None, seed: int = 0,
            perplexity: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """t-SNE embedding (van der Maaten & Hinton 2008) of ``n`` codes chosen at random
    (fixed ``seed``; all when ``None``). Returns the (n, 2) embedding and the chosen indices."""
    from sklearn.manifold import TSNE

    codes = _np(codes).astype(np.float32)
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (N, L), got {codes.shape}")
    idx = np.arange(len(codes))
    if n is not None and n < len(codes):
        idx = np.sort(np.random.default_rng(seed).choice(len(codes), n, replace=False))
    perplexity = min(perplexity, (len(idx) - 1) / 3)
    emb = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes[idx])
    return emb, idx


@torch.no_grad()
def iwae_log_likelihood(model: nn.Module, x: torch.Tensor, k: int, batch_size: int = 100,
                        max_rows: int = 20000, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Importance-weighted estimate of :math:`\log p(x)` for a VAE, per example:

    .. math:: \mathcal{L}_K(x) = \log\frac1K\sum_{k=1}^K \frac{p(x\mid z_k)\,p(z_k)}{q(z_k\mid x)},
              \quad z_k \sim q(z\mid x)

    a lower bound that tends to :math:`\log p(x)` as K grows (Burda et al. 2015).
    ``model.encode(x)`` gives ``(mu, logvar)`` of :math:`q(z\mid x)`, :math:`\log p(z)`
    is the model's prior (``model.log_prior``: :math:`\mathcal{N}(0, I)` or a learned
    one), and :math:`\log p(x\mid z)` is the model's own likelihood
    (``model.likelihood``, ``model.sigma``; a Bernoulli one needs binary ``x``).
    The K samples are decoded in chunks of at most ``max_rows`` examples. Returns
    (N,) in nats; the test NLL is ``-result.mean()`` (see :func:`iwae_nll` for it
    with its standard error)."""
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a VAE (encode(x) gives mu and logvar), got {type(model).__name__}: "
                        "a plain autoencoder has no posterior q(z|x) to draw the K samples from")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    out = []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb = to_model(x[i:i + batch_size], model)
            b = len(xb)
            mu, logvar = model.encode(xb)
            chunk = max(1, max_rows // b)
            lw = []
            for start in range(0, k, chunk):
                kk = min(chunk, k - start)
                eps = torch.randn((kk, *mu.shape), generator=generator, dtype=mu.dtype,
                                  device=generator.device if generator is not None else mu.device)
                z = mu + (0.5 * logvar).exp() * eps.to(mu.device)                  # (kk, b, L)
                decoded = model.decoder_output(z.flatten(0, 1))                    # (kk*b, ...)
                x_rep = xb.repeat(kk, *[1] * (xb.dim() - 1))
                log_px_z = decoder_log_likelihood(decoded, x_rep, model.likelihood, model.sigma).view(kk, b)
                log_pz = model.log_prior(z)                                        # (kk, b)
                log_qz = log_normal_diag(z, mu, logvar)
                lw.append(log_px_z + log_pz - log_qz)
            out.append(iwae_bound(torch.cat(lw)))                                  # (K, b) -> (b,)
    return torch.cat(out)


class NLLEstimate(NamedTuple):
    """A test negative log-likelihood in nats per example, its Monte-Carlo standard
    error (std over examples / sqrt(n)), K and the number of examples."""

    nll: float
    standard_error: float
    k: int
    n: int


def iwae_nll(model: nn.Module, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
             **kwargs) -> NLLEstimate:
    """:func:`iwae_log_likelihood` averaged over ``x``: the NLL estimate with its standard error."""
    ll = iwae_log_likelihood(model, x, k, generator=generator, **kwargs).cpu().double()  # no float64 on MPS
    n = len(ll)
    se = float(ll.std() / math.sqrt(n)) if n > 1 else float("nan")
    return NLLEstimate(float(-ll.mean()), se, int(k), n)


def _posterior_params(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if mu.dim() != 2 or mu.shape != logvar.shape or len(mu) < 1:
        raise ValueError(f"mu and logvar must both have shape (N, L) with N >= 1, got {tuple(mu.shape)} "
                         f"and {tuple(logvar.shape)}")
    return mu.detach().cpu().double(), logvar.detach().cpu().double()   # no float64 on MPS


def log_aggregate_posterior(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                            chunk: int = 1024) -> torch.Tensor:
    r"""Log density of the aggregate posterior of a data set at the codes ``z`` (M, L):
    the mixture of the N posteriors :math:`q(z \mid x_n) = \mathcal{N}(\mu_n, \mathrm{diag}\,\sigma_n^2)`
    given by ``mu``, ``logvar`` (N, L),

    .. math:: \log q(z) = \log \frac1N \sum_{n=1}^{N} q(z \mid x_n),

    computed with the log-sum-exp over ``chunk`` codes at a time. The (M, N) matrix
    of component log densities comes from two matrix products, by expanding the
    square: :math:`\sum_l (z_l - \mu_{nl})^2/\sigma_{nl}^2 = z^2 \cdot \sigma_n^{-2}
    - 2 z \cdot (\mu_n/\sigma_n^2) + \sum_l \mu_{nl}^2/\sigma_{nl}^2` (float64 keeps the
    cancellation harmless), instead of an (M, N, L) tensor. Returns (M,), float64 on the CPU."""
    mu, logvar = _posterior_params(mu, logvar)
    z = z.detach().cpu().double()
    if z.dim() != 2 or z.shape[1] != mu.shape[1]:
        raise ValueError(f"z must have shape (M, {mu.shape[1]}), got {tuple(z.shape)}")
    precision = (-logvar).exp()                                         # (N, L) 1 / sigma^2
    weighted_mu = mu * precision
    # the part of each component's log density that does not depend on z, (N,)
    const = -0.5 * (mu.shape[1] * math.log(2 * math.pi) + logvar.sum(1)
                    + (mu * weighted_mu).sum(1))
    out = []
    for i in range(0, len(z), chunk):
        zc = z[i:i + chunk]
        quad = zc.pow(2) @ precision.T - 2 * zc @ weighted_mu.T         # (chunk, N)
        out.append(torch.logsumexp(const - 0.5 * quad, dim=1))         # (chunk,)
    return torch.cat(out) - math.log(len(mu))


class ELBOSurgery(NamedTuple):
    """The terms of :func:`elbo_surgery`, in nats per data point: the rate (exact), the
    mutual information and the marginal KL (Monte Carlo, with standard errors), the
    bound ``log_n`` of the mutual information, N and the samples per point."""

    rate: float
    mutual_information: float
    marginal_kl: float
    mi_standard_error: float
    marginal_kl_standard_error: float
    log_n: float
    n: int
    samples: int


def elbo_surgery(mu: torch.Tensor, logvar: torch.Tensor, samples: int = 1,
                 generator: torch.Generator | None = None) -> ELBOSurgery:
    r"""The rate of an encoder on a data set, split as in "ELBO surgery" (Hoffman &
    Johnson, 2016). With the data set's empirical distribution over its N points,
    :math:`q(z) = \frac1N\sum_n q(z \mid x_n)` the aggregate posterior and
    :math:`p(z) = \mathcal{N}(0, I)`,

    .. math:: \begin{aligned}
              &\underbrace{\frac1N\sum_n \mathrm{KL}\big(q(z\mid x_n)\,\Vert\,p(z)\big)}_{\text{rate}} \\
              &\quad = \underbrace{\frac1N\sum_n \mathbb{E}_{q(z\mid x_n)}\big[\log q(z\mid x_n)
                 - \log q(z)\big]}_{I_q(x;\,z)} \\
              &\quad + \underbrace{\mathbb{E}_{q(z)}\big[\log q(z) - \log p(z)\big]}_{\mathrm{KL}(q(z)\,\Vert\,p(z))} .
              \end{aligned}

    The rate is exact (closed form); the other two are Monte-Carlo averages over
    ``samples`` draws :math:`z \sim q(z \mid x_n)` per point, with
    :func:`log_aggregate_posterior` for :math:`\log q(z)`. On the same draws their sum
    is an unbiased estimate of the rate. Since :math:`q(z) \ge q(z \mid x_n)/N`, every
    term of the mutual information is at most :math:`\log N`: a data set of N points
    cannot show more information than that. ``mu``, ``logvar`` (N, L) are the
    encoder's outputs for the data set (:func:`encode_dataset` with ``with_logvar``);
    cost O(samples N^2 L)."""
    mu, logvar = _posterior_params(mu, logvar)
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    n = len(mu)
    eps = torch.randn((samples, *mu.shape), generator=generator, dtype=torch.float64)
    z = (mu + (0.5 * logvar).exp() * eps).reshape(-1, mu.shape[1])            # (S N, L), z ~ q(z | x_n)
    mu_rep, logvar_rep = mu.repeat(samples, 1), logvar.repeat(samples, 1)
    log_q_cond = log_normal_diag(z, mu_rep, logvar_rep)                        # log q(z | x_n)
    log_q_agg = log_aggregate_posterior(z, mu, logvar)                         # log q(z)
    log_p = log_normal_diag(z, torch.zeros_like(z), torch.zeros_like(z))       # log p(z)
    mi_terms, kl_terms = log_q_cond - log_q_agg, log_q_agg - log_p
    m = len(z)
    se = (lambda t: float(t.std() / math.sqrt(m)) if m > 1 else float("nan"))
    return ELBOSurgery(float(gaussian_kl(mu, logvar).mean()), float(mi_terms.mean()), float(kl_terms.mean()),
                       se(mi_terms), se(kl_terms), math.log(n), n, int(samples))


def interpolate(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, ts: Sequence[float] | torch.Tensor,
                y0: int | None = None, y1: int | None = None) -> torch.Tensor:
    r"""Decode the straight line between the codes of two examples:
    :math:`\hat{x}(t) = D\big((1 - t)\,z_0 + t\,z_1\big)` for each ``t`` in ``ts``,
    with :math:`z_i = E(x_i)` for an autoencoder and the posterior mean for a VAE.

    For a conditional VAE give the labels ``y0`` and ``y1``: the class weights
    move along the line too, :math:`c_t = (1-t)\,\mathrm{onehot}(y_0) + t\,\mathrm{onehot}(y_1)`.
    ``x0`` and ``x1`` are single examples of shape ``model.input_shape``. Runs in
    eval mode (with batch norm, each t must not depend on the other ts decoded
    with it). Returns the decoder's means (T, *input_shape) on the CPU; t = 0 and
    t = 1 are the two reconstructions."""
    ts = torch.as_tensor(ts, dtype=torch.float32).reshape(-1)
    if ts.numel() == 0:
        raise ValueError("ts must hold at least one value")
    if x0.shape != x1.shape or tuple(x0.shape) != tuple(model.input_shape):
        raise ValueError(f"x0 and x1 must both have shape {tuple(model.input_shape)}, "
                         f"got {tuple(x0.shape)} and {tuple(x1.shape)}")
    conditional = isinstance(model, ConditionalVAE)
    if conditional != (y0 is not None and y1 is not None):
        raise ValueError("give the labels y0 and y1 for a conditional VAE, and only for one")
    with torch.no_grad(), eval_mode(model):
        x = to_model(torch.stack([x0, x1]), model)
        t = to_model(ts, model).unsqueeze(1)
        if conditional:
            y = torch.tensor([int(y0), int(y1)], device=x.device)
            mu, _ = model.encode(x, y)
            onehot = model.one_hot(y, 2)
            return model.decode((1 - t) * mu[0] + t * mu[1], (1 - t) * onehot[0] + t * onehot[1]).cpu()
        codes = model.encode(x)
        z = codes[0] if isinstance(codes, tuple) else codes  # a VAE's encode gives (mu, logvar)
        return model.decode((1 - t) * z[0] + t * z[1]).cpu()

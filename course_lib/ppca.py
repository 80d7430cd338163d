"""A linear-Gaussian latent-variable model (probabilistic PCA) whose evidence
log p(x) and posterior p(z | x) are exact: the test bench for the ELBO and the
importance-weighted bound of chapter 4.

The model (Tipping & Bishop, 1999) is

    z ~ N(0, I_L),    x | z ~ N(W z + b, sigma^2 I_D),

so that x ~ N(b, W W^T + sigma^2 I_D) and

    p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}),   M = W^T W + sigma^2 I_L.

A variational distribution q(z | x) = N(m, S) is given by its means m (B, L)
and one covariance S, either (L, L) shared by the batch or (B, L, L).
Everything is computed in float64.

The model also separates the two reasons why an encoder's ELBO falls short of
log p(x) (Cremer et al., 2018): with q* the best member of the variational
family for each x,

    log p(x) - ELBO(q_phi) = [log p(x) - ELBO(q*)] + [ELBO(q*) - ELBO(q_phi)],
                              approximation gap        amortisation gap

For the diagonal family q* has a closed form (:meth:`LinearGaussian.best_q`);
:func:`fit_q` finds it by gradient ascent instead, and :func:`inference_gaps`
measures both gaps per point.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch.distributions import MultivariateNormal

from .losses import LOG_2PI

__all__ = ["q_posterior_terms", "q_posterior_axes", "LinearGaussian", "ppca_log_weights", "fit_q", "InferenceGaps",
           "inference_gaps", "FAMILIES"]

#: the variational families of :meth:`LinearGaussian.best_q`, :func:`fit_q` and :func:`inference_gaps`
FAMILIES = ("diagonal", "full")


class LinearGaussian:
    """The model ``z ~ N(0, I_L)``, ``x | z ~ N(W z + b, sigma^2 I_D)`` with
    ``W`` (D, L), ``b`` (D,) and a scalar ``sigma`` > 0 (float64 throughout)."""

    def __init__(self, W: torch.Tensor, b: torch.Tensor | None = None, sigma: float = 1.0):
        W = torch.as_tensor(W, dtype=torch.float64)
        if W.dim() != 2:
            raise ValueError(f"W must be a (D, L) matrix, got shape {tuple(W.shape)}")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.W = W
        self.b = torch.zeros(W.shape[0], dtype=torch.float64) if b is None else \
            torch.as_tensor(b, dtype=torch.float64)
        if self.b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},), got {tuple(self.b.shape)}")
        self.sigma = float(sigma)

    @classmethod
    def random(cls, data_dim: int, latent_dim: int, sigma: float = 0.5, seed: int = 0) -> "LinearGaussian":
        """A model with standard-normal ``W`` and ``b`` drawn under ``seed``."""
        g = torch.Generator().manual_seed(seed)
        W = torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64)
        b = torch.randn(data_dim, generator=g, dtype=torch.float64)
        return cls(W, b, sigma)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def _x(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape (B, {self.data_dim}), got {tuple(x.shape)}")
        return x

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws of x (n, D) from the model."""
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, self.data_dim, generator=generator, dtype=torch.float64)
        return z @ self.W.T + self.b + self.sigma * eps

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """The exact evidence ``log N(x; b, W W^T + sigma^2 I)``, shape (B,)."""
        x = self._x(x)
        cov = self.W @ self.W.T + self.sigma ** 2 * torch.eye(self.data_dim, dtype=torch.float64)
        return MultivariateNormal(self.b, covariance_matrix=cov).log_prob(x)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact posterior ``p(z | x) = N(mean, cov)``: mean (B, L), cov (L, L)."""
        x = self._x(x)
        M = self.W.T @ self.W + self.sigma ** 2 * torch.eye(self.latent_dim, dtype=torch.float64)
        mean = torch.linalg.solve(M, self.W.T @ (x - self.b).T).T
        return mean, self.sigma ** 2 * torch.linalg.inv(M)

    def best_q(self, x: torch.Tensor, family: str = "diagonal") -> tuple[torch.Tensor, torch.Tensor]:
        r"""The member :math:`q^\star` of a Gaussian family with the largest ELBO for each
        x, in closed form: mean (B, L) and covariance (L, L).

        ``family="full"`` (any covariance): the posterior itself, whose ELBO is
        :math:`\log p(x)`. ``family="diagonal"`` (mean field): write
        :math:`\Lambda = \Sigma^{-1} = W^\top W / \sigma^2 + I` for the posterior precision and
        :math:`\mu` for the posterior mean. For :math:`q = \mathcal{N}(m, \mathrm{diag}\,v)`,

        .. math:: \mathrm{KL}(q \,\Vert\, p(z \mid x)) = \tfrac12\Big[\sum_l (\Lambda_{ll} v_l - \log v_l)
                  + (m - \mu)^\top \Lambda (m - \mu) - L - \log\det\Lambda\Big],

        minimised by :math:`m = \mu` and :math:`v_l = 1/\Lambda_{ll}`. The gap left,
        :math:`\tfrac12(\sum_l \log\Lambda_{ll} - \log\det\Lambda) \ge 0` (Hadamard's
        inequality), is the same for every x and vanishes only when :math:`W^\top W` is diagonal."""
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
        mean, cov = self.posterior(x)
        if family == "full":
            return mean, cov
        precision = self.W.T @ self.W / self.sigma ** 2 + torch.eye(self.latent_dim, dtype=torch.float64)
        return mean, torch.diag(1.0 / torch.diagonal(precision))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` with its normaliser; ``z`` (..., B, L) -> (..., B)."""
        x = self._x(x)
        r = x - (z @ self.W.T + self.b)
        return -0.5 * (r.pow(2).sum(-1) / self.sigma ** 2
                       + self.data_dim * (LOG_2PI + 2 * math.log(self.sigma)))

    def elbo(self, x: torch.Tensor, q_mean: torch.Tensor, q_cov: torch.Tensor) -> torch.Tensor:
        r"""The exact ELBO of ``q = N(q_mean, q_cov)`` (B,), in closed form:
        :math:`\mathbb{E}_q[\log p(x \mid z)] - \mathrm{KL}(q \,\Vert\, \mathcal{N}(0, I))` with
        :math:`\mathbb{E}_q\lVert x - Wz - b\rVert^2 = \lVert x - Wm - b\rVert^2 + \mathrm{tr}(W S W^\top)`."""
        x = self._x(x)
        m, S = _check_q(q_mean, q_cov, len(x), self.latent_dim)
        r = x - (m @ self.W.T + self.b)
        trace = ((self.W @ S) * self.W).sum((-1, -2))                     # tr(W S W^T), (B,) or ()
        expected_ll = -0.5 * ((r.pow(2).sum(-1) + trace) / self.sigma ** 2
                              + self.data_dim * (LOG_2PI + 2 * math.log(self.sigma)))
        L = self.latent_dim
        kl = 0.5 * (m.pow(2).sum(-1) + torch.diagonal(S, dim1=-2, dim2=-1).sum(-1)
                    - L - _logdet(S))
        return expected_ll - kl


def _logdet(S: torch.Tensor) -> torch.Tensor:
    """log det of a covariance (..., L, L); a diagonal one (a mean-field encoder's) without
    LAPACK, which on the CPU costs milliseconds per batch of small matrices."""
    diag = torch.diagonal(S, dim1=-2, dim2=-1)
    if bool((S == torch.diag_embed(diag)).all()):
        return diag.log().sum(-1)
    return torch.logdet(S)


def _check_q(q_mean, q_cov, batch: int, latent_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    m = torch.as_tensor(q_mean, dtype=torch.float64)
    S = torch.as_tensor(q_cov, dtype=torch.float64)
    if m.shape != (batch, latent_dim):
        raise ValueError(f"q_mean must have shape ({batch}, {latent_dim}), got {tuple(m.shape)}")
    if S.shape not in ((latent_dim, latent_dim), (batch, latent_dim, latent_dim)):
        raise ValueError(f"q_cov must be ({latent_dim}, {latent_dim}) or ({batch}, {latent_dim}, "
                         f"{latent_dim}), got {tuple(S.shape)}")
    return m, S


def ppca_log_weights(model: LinearGaussian, x: torch.Tensor, q_mean: torch.Tensor,
                     q_cov: torch.Tensor, K: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``K`` samples ``z_k ~ q(z | x) = N(q_mean, q_cov)`` per example and return
    the log importance weights ``log p(x | z_k) + log p(z_k) - log q(z_k | x)``, shape
    (K, B): :func:`course_lib.iwae_bound` of them is ``L_K``, their mean over k a
    K-sample ELBO estimate."""
    x = model._x(x)
    if K < 1:
        raise ValueError(f"K must be at least 1, got {K}")
    m, S = _check_q(q_mean, q_cov, len(x), model.latent_dim)
    q = MultivariateNormal(m, covariance_matrix=S.expand(len(x), *S.shape[-2:]))
    eps = torch.randn(K, *m.shape, generator=generator, dtype=torch.float64)
    z = m + torch.einsum("blj,kbj->kbl", q.scale_tril, eps)
    prior = MultivariateNormal(torch.zeros(model.latent_dim, dtype=torch.float64),
                               torch.eye(model.latent_dim, dtype=torch.float64))
    return model.log_likelihood(x, z) + prior.log_prob(z) - q.log_prob(z)


def fit_q(model: LinearGaussian, x: torch.Tensor, family: str = "diagonal",
          max_iter: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Find the best member of a Gaussian family for each x numerically, by
    maximising the exact ELBO with L-BFGS, one free ``q`` per point: what
    :meth:`LinearGaussian.best_q` gives in closed form, found the way one must
    when there is no closed form. It starts from the prior;
    ``family="diagonal"`` optimises the means (B, L) and log-variances (B, L),
    ``family="full"`` the means and a Cholesky factor :math:`C` per point,
    :math:`S = C C^\top`. The objective is written here from the parameters,
    :math:`\mathrm{tr}(W S W^\top) = \lVert W C\rVert_F^2` and
    :math:`\log\det S = 2\sum_l \log C_{ll}`, independently of :meth:`LinearGaussian.elbo`.
    Returns the mean (B, L) and covariance (B, L, L), detached."""
    x = model._x(x)
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    B, (D, L), s2 = len(x), model.W.shape, model.sigma ** 2
    m = torch.zeros(B, L, dtype=torch.float64, requires_grad=True)
    log_std = torch.zeros(B, L, dtype=torch.float64, requires_grad=True)  # log of C's diagonal
    off = torch.zeros(B, L, L, dtype=torch.float64, requires_grad=True)   # C below its diagonal (full)
    lower = torch.tril(torch.ones(L, L, dtype=torch.bool), diagonal=-1)

    def chol() -> torch.Tensor:
        C = torch.diag_embed(log_std.exp())
        return C + off * lower if family == "full" else C

    def negative_elbo() -> torch.Tensor:
        C = chol()
        r = x - (m @ model.W.T + model.b)
        trace_wsw = torch.einsum("dl,blk->bdk", model.W, C).pow(2).sum((-1, -2))
        expected_ll = -0.5 * ((r.pow(2).sum(-1) + trace_wsw) / s2 + D * math.log(2 * math.pi * s2))
        kl = 0.5 * (m.pow(2).sum(-1) + C.pow(2).sum((-1, -2)) - L - 2 * log_std.sum(-1))
        return (kl - expected_ll).sum()   # the points are independent: one sum, B problems

    params = [m, log_std] + ([off] if family == "full" else [])
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, tolerance_grad=1e-9,
                            tolerance_change=1e-15, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = negative_elbo()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        C = chol()
        return m.detach().clone(), (C @ C.transpose(-1, -2)).detach()


class InferenceGaps(NamedTuple):
    """Per-point terms, each (B,) in nats, of ``log_px - elbo_q = approximation + amortisation``,
    with ``approximation = log_px - elbo_best`` and ``amortisation = elbo_best - elbo_q``."""

    log_px: torch.Tensor
    elbo_best: torch.Tensor
    elbo_q: torch.Tensor
    approximation: torch.Tensor
    amortisation: torch.Tensor


def inference_gaps(model: LinearGaussian, x: torch.Tensor, q_mean: torch.Tensor, q_cov: torch.Tensor,
                   family: str = "diagonal") -> InferenceGaps:
    r"""Split the gap between :math:`\log p(x)` and the ELBO of an encoder's
    :math:`q_\phi(z \mid x) = \mathcal{N}(` ``q_mean`` (B, L), ``q_cov`` (L, L) or
    (B, L, L) :math:`)` into its two parts (Cremer et al., 2018),

    .. math:: \begin{aligned}
              \log p(x) - \mathrm{ELBO}(q_\phi)
              &= \big[\log p(x) - \mathrm{ELBO}(q^\star)\big] \\
              &\quad + \big[\mathrm{ELBO}(q^\star) - \mathrm{ELBO}(q_\phi)\big],
              \end{aligned}

    the approximation gap and the amortisation gap, with :math:`q^\star` the best
    member of ``family`` for each x (:meth:`LinearGaussian.best_q`). The first is
    the price of the family, the second the price of computing q with one network
    for all x; both are :math:`\ge 0` when :math:`q_\phi` belongs to ``family``. For a
    diagonal :math:`q_\phi = \mathcal{N}(m, \mathrm{diag}\,v)` the amortisation gap is
    :math:`\tfrac12 (m - \mu)^\top \Lambda (m - \mu) + \tfrac12 \sum_l (r_l - \log r_l - 1)`
    with :math:`r_l = v_l \Lambda_{ll}` (notation of :meth:`LinearGaussian.best_q`).
    All terms exact, in float64."""
    x = model._x(x)
    log_px = model.log_marginal(x)
    best_mean, best_cov = model.best_q(x, family)
    elbo_best = model.elbo(x, best_mean, best_cov)
    elbo_q = model.elbo(x, q_mean, q_cov)
    return InferenceGaps(log_px, elbo_best, elbo_q, log_px - elbo_best, elbo_best - elbo_q)


def q_posterior_terms(mu: float, sigma: float, *, x: float = 1.5, w: float = 2.0,
                      noise: float = 0.5, grid: int = 400,
                      z_range: tuple[float, float] | None = None) -> dict:
    r"""Everything the chapter-4 slider shows, for the 1-D model
    :math:`z \sim \mathcal{N}(0, 1)`, :math:`x \mid z \sim \mathcal{N}(w z, \text{noise}^2)`
    at one observed ``x``, and :math:`q = \mathcal{N}(\mu, \sigma^2)`.

    Returns a dict with the grid ``z`` and the densities ``q``, ``posterior``;
    the scalars ``log_px`` (exact evidence), ``elbo`` (closed form), ``kl_post``
    = KL(q || p(z | x)), ``recon`` = E_q log p(x | z) and ``kl_prior`` = KL(q || p(z)).
    ``elbo = log_px - kl_post = recon - kl_prior`` holds up to rounding. The grid
    spans ``z_range`` if given, else the mass of q, the posterior and the prior.
    """
    import numpy as np
    import torch

    from .losses import gaussian_kl, gaussian_kl_diag

    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    model = LinearGaussian(torch.tensor([[w]]), None, noise)
    xt = torch.tensor([[x]], dtype=torch.float64)
    post_mean, post_cov = model.posterior(xt)
    pm, pv = float(post_mean[0, 0]), float(post_cov[0, 0])
    m = torch.tensor([[mu]], dtype=torch.float64)
    lv = torch.tensor([[2 * np.log(sigma)]], dtype=torch.float64)
    elbo = float(model.elbo(xt, m, torch.tensor([[sigma ** 2]], dtype=torch.float64))[0])
    kl_prior = float(gaussian_kl(m, lv)[0])
    # E_q log N(x; w z, noise^2), in closed form
    recon = -0.5 * np.log(2 * np.pi * noise ** 2) - ((x - w * mu) ** 2 + w ** 2 * sigma ** 2) / (2 * noise ** 2)
    kl_post = float(gaussian_kl_diag(m, lv, post_mean, torch.log(post_cov).expand(1, 1))[0])
    if z_range is None:
        z_range = (min(pm - 4 * pv ** 0.5, mu - 4 * sigma, -3.0), max(pm + 4 * pv ** 0.5, mu + 4 * sigma, 3.0))
    z = np.linspace(*z_range, grid)

    def pdf(mean, var):
        return np.exp(-0.5 * (z - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)

    return {"z": z, "q": pdf(mu, sigma ** 2), "posterior": pdf(pm, pv), "prior": pdf(0.0, 1.0),
            "log_px": float(model.log_marginal(xt)[0]), "elbo": elbo, "kl_post": kl_post,
            "recon": float(recon), "kl_prior": kl_prior, "post_mean": pm, "post_std": pv ** 0.5}


def q_posterior_axes(mu_range: tuple[float, float], sigma_range: tuple[float, float], *,
                     x: float = 1.5, w: float = 2.0, noise: float = 0.5) -> dict[str, tuple[float, float]]:
    """Axes that stay put while q = N(mu, sigma^2) moves over ``mu_range`` x
    ``sigma_range`` (the sliders' ranges) for the model of :func:`q_posterior_terms`:
    ``z`` spans the prior's [-3, 3], the posterior's mean +- 4 sd and every q's mean
    +- 2 sd; ``density`` goes up to 1.6 times the posterior's peak (a q narrower than
    the posterior runs off the top). Fixed axes let a slider redraw only q."""
    import math

    (mu_lo, mu_hi), (s_lo, s_hi) = mu_range, sigma_range
    if not (mu_lo < mu_hi and 0 < s_lo < s_hi):
        raise ValueError(f"need mu_range (lo, hi) with lo < hi and 0 < sigma_range lo < hi, got "
                         f"{mu_range} and {sigma_range}")
    t = q_posterior_terms(mu_lo, s_hi, x=x, w=w, noise=noise, grid=2)
    pm, ps = t["post_mean"], t["post_std"]
    z = (min(mu_lo - 2 * s_hi, pm - 4 * ps, -3.0), max(mu_hi + 2 * s_hi, pm + 4 * ps, 3.0))
    return {"z": z, "density": (0.0, 1.6 / (ps * math.sqrt(2 * math.pi)))}

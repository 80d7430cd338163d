import math

import pytest
import torch

import course_lib as cl


@pytest.fixture
def setting():
    model = cl.LinearGaussian.random(data_dim=5, latent_dim=2, sigma=0.7, seed=0)
    x = model.sample(400, generator=torch.Generator().manual_seed(1))
    return model, x


def _mean_field(model, x, shift=0.3, shrink=0.6):
    """A deliberately imperfect q: shifted mean, shrunken diagonal covariance."""
    mean, cov = model.posterior(x)
    return mean + shift, torch.diag(torch.diagonal(cov) * shrink)


def _iwae(model, x, m, S, K, g=None):
    """L_K of the linear-Gaussian model from K log-weights per example."""
    return cl.iwae_bound(cl.ppca_log_weights(model, x, m, S, K, generator=g))


def test_log_marginal_against_monte_carlo(setting):
    model, x = setting
    # independent estimate: p(x) = E_{p(z)} p(x | z) with many prior samples
    z = torch.randn(200000, 1, model.latent_dim, generator=torch.Generator().manual_seed(2),
                    dtype=torch.float64)
    x3 = x[:3]
    ll = model.log_likelihood(x3, z)  # (N, 3)
    mc = torch.logsumexp(ll, dim=0) - math.log(len(z))
    torch.testing.assert_close(mc, model.log_marginal(x3), atol=0.02, rtol=0)


def test_posterior_against_bayes_by_hand():
    # 1-D: z ~ N(0,1), x | z ~ N(w z, s^2): posterior N(w x / (w^2 + s^2), s^2 / (w^2 + s^2))
    w, s, x = 2.0, 0.5, 1.5
    model = cl.LinearGaussian(torch.tensor([[w]]), None, s)
    mean, cov = model.posterior(torch.tensor([[x]]))
    assert mean.item() == pytest.approx(w * x / (w ** 2 + s ** 2))
    assert cov.item() == pytest.approx(s ** 2 / (w ** 2 + s ** 2))


def test_exact_elbo_is_evidence_minus_kl_to_posterior(setting):
    model, x = setting
    m, S = _mean_field(model, x)
    pm, pS = model.posterior(x)
    kl = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(m, S.expand(len(x), 2, 2)),
        torch.distributions.MultivariateNormal(pm, pS.expand(len(x), 2, 2)))
    torch.testing.assert_close(model.elbo(x, m, S), model.log_marginal(x) - kl)


def test_bounds_are_ordered_and_tighten_with_k(setting):
    model, x = setting
    m, S = _mean_field(model, x)
    log_px = model.log_marginal(x).mean().item()
    elbo = model.elbo(x, m, S).mean().item()
    g = torch.Generator().manual_seed(3)
    iwae = {K: torch.stack([_iwae(model, x, m, S, K, g) for _ in range(5)]).mean().item()
            for K in (1, 10, 100)}
    assert elbo < log_px - 0.05  # q is not the posterior: a real gap
    assert iwae[1] == pytest.approx(elbo, abs=0.05)  # K = 1 is an unbiased ELBO estimate
    assert elbo - 0.05 <= iwae[1] < iwae[10] < iwae[100] <= log_px + 1e-9
    assert log_px - iwae[100] < 0.2 * (log_px - elbo)


def test_equality_when_q_is_the_posterior(setting):
    model, x = setting
    pm, pS = model.posterior(x)
    log_px = model.log_marginal(x)
    torch.testing.assert_close(model.elbo(x, pm, pS), log_px)
    for K in (1, 10, 100):
        torch.testing.assert_close(_iwae(model, x, pm, pS, K), log_px)
        lw = cl.ppca_log_weights(model, x, pm, pS, K)
        assert lw.shape == (K, len(x))
        torch.testing.assert_close(lw, log_px.expand(K, -1))  # zero-variance weights


def test_determinism_and_errors(setting):
    model, x = setting
    m, S = _mean_field(model, x)
    a = _iwae(model, x, m, S, 10, torch.Generator().manual_seed(0))
    b = _iwae(model, x, m, S, 10, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="x must have shape"):
        model.log_marginal(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="K must be at least 1"):
        cl.ppca_log_weights(model, x, m, S, 0)
    with pytest.raises(ValueError, match="q_cov"):
        cl.ppca_log_weights(model, x, m, torch.eye(3), 2)
    with pytest.raises(ValueError, match="sigma must be positive"):
        cl.LinearGaussian(torch.eye(2), None, -1.0)


def test_log_weights_are_log_p_x_z_plus_log_prior_minus_log_q(setting):
    """Each weight against torch.distributions at the same samples z_k (drawn here from the
    same generator stream: z = m + chol(S) eps)."""
    from torch.distributions import MultivariateNormal, Normal

    model, x = setting
    x = x[:7]
    m, S = _mean_field(model, x)
    lw = cl.ppca_log_weights(model, x, m, S, 4, generator=torch.Generator().manual_seed(5))
    eps = torch.randn(4, *m.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    z = m + eps @ torch.linalg.cholesky(S).T                                   # (K, B, L)
    log_px_z = Normal(z @ model.W.T + model.b, model.sigma).log_prob(x).sum(-1)
    log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_q = MultivariateNormal(m, covariance_matrix=S).log_prob(z)
    torch.testing.assert_close(lw, log_px_z + log_pz - log_q)



# ---------------------------------------------------------------------------
# q*: the best member of a family per point, and the two gaps (chapter 4)

@pytest.fixture
def correlated():
    """A model whose latent directions are nearly aligned: a strongly correlated posterior."""
    g = torch.Generator().manual_seed(3)
    u = torch.randn(6, 1, generator=g, dtype=torch.float64)
    W = u.repeat(1, 3) + 0.5 * torch.randn(6, 3, generator=g, dtype=torch.float64)
    model = cl.LinearGaussian(W, torch.randn(6, generator=g, dtype=torch.float64), sigma=0.5)
    return model, model.sample(40, generator=torch.Generator().manual_seed(4))


def test_closed_form_best_diagonal_q_matches_numerical_optimisation(correlated):
    model, x = correlated
    m, S = model.best_q(x)
    fm, fS = cl.fit_q(model, x, family="diagonal")
    torch.testing.assert_close(fm, m, atol=1e-6, rtol=0)
    torch.testing.assert_close(fS, torch.diag(torch.diagonal(S)).expand(len(x), 3, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(model.elbo(x, fm, fS), model.elbo(x, m, S), atol=1e-9, rtol=0)


def test_best_diagonal_q_beats_every_perturbed_diagonal_q(correlated):
    model, x = correlated
    m, S = model.best_q(x)
    best = model.elbo(x, m, S)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        dm = 0.1 * torch.randn(m.shape, generator=g, dtype=torch.float64)
        scale = torch.exp(0.2 * torch.randn(3, generator=g, dtype=torch.float64))
        assert (model.elbo(x, m + dm, S * torch.diag(scale)) < best).all()


def test_approximation_gap_is_hadamard_and_constant(correlated):
    model, x = correlated
    m, S = model.best_q(x)
    gaps = cl.inference_gaps(model, x, m, S)
    # independent reference: KL(q* || posterior) with torch.distributions
    pm, pS = model.posterior(x)
    kl = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(m, S.expand(len(x), 3, 3)),
        torch.distributions.MultivariateNormal(pm, pS.expand(len(x), 3, 3)))
    torch.testing.assert_close(gaps.approximation, kl)
    precision = torch.linalg.inv(pS)
    hadamard = 0.5 * (torch.diagonal(precision).log().sum() - torch.logdet(precision))
    torch.testing.assert_close(gaps.approximation, hadamard.expand(len(x)))
    assert hadamard > 0.1                                   # a correlated posterior: a real gap
    torch.testing.assert_close(gaps.amortisation, torch.zeros(len(x), dtype=torch.float64),
                               atol=1e-10, rtol=0)           # q* itself has no amortisation gap


def test_gaps_add_up_are_non_negative_and_match_the_closed_form(correlated):
    model, x = correlated
    m, S = model.best_q(x)
    g = torch.Generator().manual_seed(1)
    qm = m + 0.3 * torch.randn(m.shape, generator=g, dtype=torch.float64)      # an imperfect encoder
    v = torch.diagonal(S) * torch.exp(0.5 * torch.randn(len(x), 3, generator=g, dtype=torch.float64))
    gaps = cl.inference_gaps(model, x, qm, torch.diag_embed(v))
    torch.testing.assert_close(gaps.approximation + gaps.amortisation, gaps.log_px - gaps.elbo_q)
    assert (gaps.approximation >= 0).all() and (gaps.amortisation > 0).all()
    precision = torch.linalg.inv(model.posterior(x)[1])
    d, r = qm - m, v * torch.diagonal(precision)
    closed = 0.5 * torch.einsum("bl,lk,bk->b", d, precision, d) + 0.5 * (r - r.log() - 1).sum(-1)
    torch.testing.assert_close(gaps.amortisation, closed)


def test_full_covariance_family_has_no_approximation_gap(correlated):
    model, x = correlated
    m, S = model.best_q(x, family="full")
    gaps = cl.inference_gaps(model, x, m, S, family="full")
    torch.testing.assert_close(gaps.approximation, torch.zeros(len(x), dtype=torch.float64), atol=1e-10, rtol=0)
    fm, fS = cl.fit_q(model, x[:10], family="full")        # found numerically too
    torch.testing.assert_close(model.elbo(x[:10], fm, fS), model.log_marginal(x[:10]), atol=1e-7, rtol=0)


def test_orthogonal_columns_give_a_diagonal_posterior_and_no_gap():
    W = torch.linalg.qr(torch.randn(5, 2, generator=torch.Generator().manual_seed(0),
                                    dtype=torch.float64))[0] * torch.tensor([2.0, 0.5], dtype=torch.float64)
    model = cl.LinearGaussian(W, None, 0.3)
    x = model.sample(10, generator=torch.Generator().manual_seed(1))
    gaps = cl.inference_gaps(model, x, *model.best_q(x))
    torch.testing.assert_close(gaps.approximation, torch.zeros(10, dtype=torch.float64), atol=1e-10, rtol=0)


def test_family_errors(correlated):
    model, x = correlated
    with pytest.raises(ValueError, match="family must be one of"):
        model.best_q(x, family="banded")
    with pytest.raises(ValueError, match="family must be one of"):
        cl.fit_q(model, x, family="banded")


def test_q_posterior_axes_hold_every_q_of_the_sliders_and_refuse_bad_ranges():
    """The fixed axes of chapter 4's slider: every q of the ranges within 2 sd, the
    posterior within 4 sd and the prior's [-3, 3]; the top above the posterior's peak
    (checked against the densities q_posterior_terms draws)."""
    axes = cl.q_posterior_axes((-1.5, 2.0), (0.05, 1.5))
    (lo, hi), (bottom, top) = axes["z"], axes["density"]
    for mu in (-1.5, 2.0):
        t = cl.q_posterior_terms(mu, 1.5)
        assert lo <= mu - 2 * 1.5 and hi >= mu + 2 * 1.5
        assert lo <= t["post_mean"] - 4 * t["post_std"] and hi >= t["post_mean"] + 4 * t["post_std"]
        assert bottom == 0 and top > t["posterior"].max()
    assert lo <= -3 and hi >= 3
    with pytest.raises(ValueError, match="need mu_range"):
        cl.q_posterior_axes((1.0, -1.0), (0.1, 1.0))
    with pytest.raises(ValueError, match="need mu_range"):
        cl.q_posterior_axes((-1.0, 1.0), (0.0, 1.0))

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

import course_lib as cl


def thesis_vae(latent_dim, hidden):
    return cl.mlp_vae((1, 28, 28), latent_dim, (hidden,), decoder_hidden=(hidden,),
                      activation=functools.partial(nn.LeakyReLU, 0.3), likelihood="bernoulli")


def thesis_ae(latent_dim, hidden):
    return cl.mlp_autoencoder((1, 28, 28), latent_dim, (hidden,), activation=functools.partial(nn.LeakyReLU, 0.3),
                              likelihood="bernoulli")


def clusters(sep: float, n: int = 30, seed: int = 0):
    """Three Gaussian blobs of n points in 4-D, centres `sep` apart on the axes."""
    rng = np.random.default_rng(seed)
    centres = sep * np.eye(3, 4)
    x = np.concatenate([c + 0.1 * rng.standard_normal((n, 4)) for c in centres])
    return x, np.repeat(np.arange(3), n)


class TestActiveUnits:
    def test_hand_made_means(self):
        g = torch.Generator().manual_seed(0)
        mu = torch.stack([torch.randn(500, generator=g),            # var ~1: active
                          0.05 * torch.randn(500, generator=g),     # var ~0.0025: inactive
                          torch.full((500,), 3.0)], dim=1)          # constant: inactive
        n, a = cl.active_units(mu)
        assert n == 1 and a.shape == (3,)
        torch.testing.assert_close(a, mu.var(0, unbiased=False))
        assert cl.active_units(mu, threshold=1e-3)[0] == 2

    def test_errors(self):
        with pytest.raises(ValueError, match=r"\(N, L\)"):
            cl.active_units(torch.zeros(5))


class TestSilhouette:
    def test_separated_clusters_score_near_one_and_match_a_hand_computation(self):
        x, y = clusters(10.0)
        s = cl.silhouette(x, y)
        assert s.mean > 0.9 and s.per_class.shape == (3,)
        # s(0) by hand
        d = np.linalg.norm(x - x[0], axis=1)
        a = d[1:30].mean()
        b = min(d[30:60].mean(), d[60:].mean())
        assert s.samples[0] == pytest.approx((b - a) / max(a, b))
        assert s.mean == pytest.approx(s.samples.mean())

    def test_mixed_clusters_score_near_zero(self):
        x, _ = clusters(0.0)
        y = np.random.default_rng(1).integers(0, 3, len(x))
        assert abs(cl.silhouette(x, y).mean) < 0.1

    def test_subsample_and_errors(self):
        x, y = clusters(10.0)
        s = cl.silhouette(torch.tensor(x), torch.tensor(y), sample_size=45, seed=3)
        assert len(s.samples) == 45
        with pytest.raises(ValueError, match="labels"):
            cl.silhouette(x, y[:-1])
        with pytest.raises(ValueError, match="two classes"):
            cl.silhouette(x, np.zeros(len(x), dtype=int))


class TestKNN:
    def test_separated_and_shuffled_labels(self):
        x, y = clusters(10.0)
        xt, yt = clusters(10.0, seed=1)
        assert cl.knn_accuracy(x, y, xt, yt, k=5) == 1.0
        rng = np.random.default_rng(0)
        acc = cl.knn_accuracy(x, rng.permutation(y), xt, yt, k=1)
        assert acc < 0.7

    def test_errors(self):
        x, y = clusters(1.0)
        with pytest.raises(ValueError, match="k must"):
            cl.knn_accuracy(x, y, x, y, k=0)
        with pytest.raises(ValueError, match="dimensions"):
            cl.knn_accuracy(x, y, x[:, :2], y)


def test_tsne_shapes_and_subsample():
    x, y = clusters(10.0, n=20)
    emb, idx = cl.tsne_2d(x, n=30, seed=0)
    assert emb.shape == (30, 2) and len(np.unique(idx)) == 30


def test_encode_dataset():
    x = torch.rand(7, 1, 28, 28)
    vae, ae = thesis_vae(3, 8), thesis_ae(3, 8)
    mu, logvar = cl.encode_dataset(vae, x, batch_size=3, with_logvar=True)
    torch.testing.assert_close(mu, vae.encode(x)[0])
    assert cl.encode_dataset(ae, x, batch_size=2).shape == (7, 3)
    with pytest.raises(ValueError, match="logvar"):
        cl.encode_dataset(ae, x, with_logvar=True)


class TestIWAE:
    def test_matches_a_direct_computation_and_chunking(self):
        torch.manual_seed(0)
        m = thesis_vae(2, 8)
        x = torch.bernoulli(torch.rand(3, 1, 28, 28))
        ll = cl.iwae_log_likelihood(m, x, k=6, batch_size=2, max_rows=4,
                                    generator=torch.Generator().manual_seed(1))
        # direct: the same noise drawn in the same order, per batch and chunk
        g = torch.Generator().manual_seed(1)
        ref = []
        for xb in (x[:2], x[2:]):
            mu, logvar = m.encode(xb)
            chunk = max(1, 4 // len(xb))
            eps = torch.cat([torch.randn((min(chunk, 6 - s), *mu.shape), generator=g)
                             for s in range(0, 6, chunk)])
            z = mu + (0.5 * logvar).exp() * eps
            px = torch.distributions.Bernoulli(logits=m.decode_logits(z.flatten(0, 1)))
            log_px = px.log_prob(xb.repeat(6, 1, 1, 1)).flatten(1).sum(1).view(6, len(xb))
            log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
            log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
            ref.append(torch.logsumexp(log_px + log_pz - log_q, 0) - math.log(6))
        torch.testing.assert_close(ll, torch.cat(ref).detach())

    def test_bound_grows_with_k(self):
        torch.manual_seed(0)
        m = thesis_vae(2, 8)
        x = torch.bernoulli(torch.rand(20, 1, 28, 28))
        lo = cl.iwae_log_likelihood(m, x, 1, generator=torch.Generator().manual_seed(0)).mean()
        hi = cl.iwae_log_likelihood(m, x, 200, generator=torch.Generator().manual_seed(0)).mean()
        assert hi > lo
        with pytest.raises(ValueError, match="k must"):
            cl.iwae_log_likelihood(m, x, 0)


class _ExactPosterior(nn.Module):
    """An encoder that returns the exact posterior of chapter 4's linear-Gaussian model
    as a diagonal Gaussian: its mean and the log of its covariance's diagonal, (B, 2L)."""

    def __init__(self, lg):
        super().__init__()
        self.lg = lg

    def forward(self, x):
        mean, cov = self.lg.posterior(x)
        return torch.cat([mean, cov.diagonal().log().expand_as(mean)], dim=1)


def _linear_gaussian_vae(lg):
    """The exact linear-Gaussian model as a course VAE: decoder W z + b, Gaussian likelihood
    with the model's sigma, encoder the (diagonal of the) exact posterior."""
    decoder = nn.Linear(lg.latent_dim, lg.data_dim).double()
    with torch.no_grad():
        decoder.weight.copy_(lg.W)
        decoder.bias.copy_(lg.b)
    return cl.VAE(_ExactPosterior(lg), decoder, (lg.data_dim,), lg.latent_dim, likelihood="gaussian",
                  sigma=lg.sigma)


class TestNLLEstimatorAgainstTheExactModel:
    def test_exact_for_every_k_when_q_is_the_true_posterior(self):
        # orthogonal columns of W: the true posterior is diagonal, so q = p(z|x) and every weight is p(x)
        q, _ = torch.linalg.qr(torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
        lg = cl.LinearGaussian(q * torch.tensor([2.0, 0.7], dtype=torch.float64), sigma=0.5)
        x = lg.sample(50, generator=torch.Generator().manual_seed(1))
        model = _linear_gaussian_vae(lg)
        for k in (1, 7):
            ll = cl.iwae_log_likelihood(model, x, k)
            torch.testing.assert_close(ll, lg.log_marginal(x))

    def test_converges_to_log_p_as_k_grows_with_its_standard_error(self):
        g = torch.Generator().manual_seed(3)
        u = torch.randn(6, 1, generator=g, dtype=torch.float64)
        w = torch.cat([u, u + 0.3 * torch.randn(6, 1, generator=g, dtype=torch.float64)], dim=1)
        lg = cl.LinearGaussian(w, sigma=0.5)   # nearly parallel columns: a correlated posterior
        x = lg.sample(200, generator=torch.Generator().manual_seed(4))
        model = _linear_gaussian_vae(lg)
        exact = float(lg.log_marginal(x).mean())
        est = {k: cl.iwae_nll(model, x, k, generator=torch.Generator().manual_seed(k)) for k in (1, 100, 5000)}
        gaps = {k: e.nll + exact for k, e in est.items()}           # -L_K - (-log p) >= 0
        assert gaps[1] > 0.05, "the test needs a posterior the diagonal q cannot match"
        assert gaps[1] > gaps[100] > gaps[5000] > -3 * est[5000].standard_error
        assert gaps[5000] < 0.05 * gaps[1]
        ll = lg.log_marginal(x)
        expected_se = float(ll.std() / len(ll) ** 0.5)
        assert est[5000].standard_error == pytest.approx(expected_se, rel=0.05)
        assert (est[5000].k, est[5000].n) == (5000, 200)


# --- interpolation between the codes of two examples -----------------------------------------


def test_interpolate_endpoints_of_a_vae():
    torch.manual_seed(0)
    vae = cl.mlp_vae(2, 4, sigma=0.1)
    x0, x1 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.5])
    path = cl.interpolate(vae, x0, x1, [0.0, 0.5, 1.0])
    assert path.shape == (3, 2) and path.device.type == "cpu"
    with torch.no_grad():
        mu = vae.encode(torch.stack([x0, x1]))[0]
        torch.testing.assert_close(path[0], vae.decode(mu[:1])[0])
        torch.testing.assert_close(path[2], vae.decode(mu[1:])[0])
        torch.testing.assert_close(path[1], vae.decode(mu.mean(0, keepdim=True))[0])
    ae = cl.mlp_autoencoder(2, 3)  # plain autoencoders work too
    assert cl.interpolate(ae, x0, x1, [0.25]).shape == (1, 2)


def test_interpolate_of_a_bernoulli_vae_gives_means():
    torch.manual_seed(0)
    vae = cl.mlp_vae((1, 4, 4), 2, (8,), likelihood="bernoulli")
    x = torch.rand(2, 1, 4, 4)
    path = cl.interpolate(vae, x[0], x[1], [0.0, 1.0])
    with torch.no_grad():
        mu = vae.encode(x)[0]
        torch.testing.assert_close(path, torch.sigmoid(vae.decode_logits(mu)))


def test_interpolate_end_points_and_linearity():
    torch.manual_seed(0)
    model = cl.mlp_autoencoder(2, 4, hidden=(8,))
    x0, x1 = torch.tensor([0.5, -1.0]), torch.tensor([1.0, 2.0])
    path = cl.interpolate(model, x0, x1, [0.0, 0.25, 1.0])
    with torch.no_grad():
        ends = model(torch.stack([x0, x1])).x_hat
        z = model.encode(torch.stack([x0, x1]))
        quarter = model.decode((0.75 * z[0] + 0.25 * z[1]).unsqueeze(0))[0]
    assert path.shape == (3, 2)
    torch.testing.assert_close(path[0], ends[0])
    torch.testing.assert_close(path[2], ends[1])
    torch.testing.assert_close(path[1], quarter)
    with pytest.raises(ValueError, match="shape"):
        cl.interpolate(model, torch.zeros(3), torch.zeros(3), [0.5])


def test_interpolate_of_a_batch_norm_model_does_not_depend_on_the_other_ts():
    """Each t's image is the model's output for that t alone: eval mode, whatever the
    other values of t decoded in the same call (batch norm in training mode would mix them)."""
    torch.manual_seed(0)
    model = cl.conv_vae(8, 3, 32, 8)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    model.train()
    x0, x1 = torch.rand(2, 3, 32, 32)
    alone = cl.interpolate(model, x0, x1, [0.5])
    among = cl.interpolate(model, x0, x1, [0.0, 0.5, 1.0])
    torch.testing.assert_close(among[1], alone[0])
    assert model.training, "the model's mode is restored"


# ---------------------------------------------------------------------------
# The aggregate posterior and ELBO surgery (chapter 8)

def test_log_aggregate_posterior_against_torch_mixture():
    from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(300, 4, generator=g), torch.randn(300, 4, generator=g)
    z = torch.randn(50, 4, generator=g)
    mixture = MixtureSameFamily(Categorical(torch.ones(300)),
                                Independent(Normal(mu.double(), (0.5 * logvar.double()).exp()), 1))
    torch.testing.assert_close(cl.log_aggregate_posterior(z, mu, logvar, chunk=7), mixture.log_prob(z.double()))


def test_log_aggregate_posterior_keeps_its_precision_for_sharp_posteriors():
    """The expanded square cancels large terms when sigma is tiny: codes drawn from
    posteriors with sigma = e^-6 (precision 1.6e5) still match torch's mixture."""
    from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

    g = torch.Generator().manual_seed(1)
    mu = 3 * torch.randn(200, 6, generator=g, dtype=torch.float64)
    logvar = torch.full((200, 6), -12.0, dtype=torch.float64)
    z = mu[:40] + (0.5 * logvar[:40]).exp() * torch.randn(40, 6, generator=g, dtype=torch.float64)
    mixture = MixtureSameFamily(Categorical(torch.ones(200, dtype=torch.float64)),
                                Independent(Normal(mu, (0.5 * logvar).exp()), 1))
    torch.testing.assert_close(cl.log_aggregate_posterior(z, mu, logvar), mixture.log_prob(z),
                               rtol=1e-9, atol=1e-6)


def _grid_terms(mu, sd):
    """Independent reference for a 1-D aggregate posterior of a few points: the three
    terms of the identity by numerical integration on a fine grid."""
    from scipy.integrate import trapezoid
    from scipy.stats import norm

    z = np.linspace(-15, 15, 200001)
    q_n = np.stack([norm.pdf(z, m, s) for m, s in zip(mu, sd)])          # (N, G)
    q = q_n.mean(0)
    p = norm.pdf(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.mean([trapezoid(np.where(qn > 0, qn * np.log(qn / p), 0), z) for qn in q_n])
        mi = np.mean([trapezoid(np.where(qn > 0, qn * np.log(qn / q), 0), z) for qn in q_n])
        mkl = trapezoid(np.where(q > 0, q * np.log(q / p), 0), z)
    return rate, mi, mkl


def test_elbo_surgery_against_numerical_integration():
    mu = torch.tensor([[-2.0], [0.5], [1.0]])
    sd = torch.tensor([[0.5], [0.3], [1.5]])
    rate, mi, mkl = _grid_terms(mu.ravel().numpy(), sd.ravel().numpy())
    assert rate == pytest.approx(mi + mkl, abs=1e-6)           # the identity itself, on the grid
    s = cl.elbo_surgery(mu, 2 * sd.log(), samples=20000, generator=torch.Generator().manual_seed(1))
    assert s.rate == pytest.approx(rate, abs=1e-5)               # exact closed form against the grid
    assert abs(s.mutual_information - mi) < 4 * s.mi_standard_error
    assert abs(s.marginal_kl - mkl) < 4 * s.marginal_kl_standard_error
    assert s.mi_standard_error < 0.01 and s.n == 3 and s.samples == 20000
    assert s.log_n == pytest.approx(math.log(3))


def test_an_encoder_that_ignores_x_carries_no_information():
    mu = torch.tensor([[0.7, -1.2]]).repeat(50, 1)
    logvar = torch.tensor([[-0.5, 0.3]]).repeat(50, 1)
    s = cl.elbo_surgery(mu, logvar, samples=4, generator=torch.Generator().manual_seed(0))
    assert abs(s.mutual_information) < 1e-9                      # q(z | x) = q(z): every term is 0
    assert s.marginal_kl == pytest.approx(s.rate, abs=5 * s.marginal_kl_standard_error)


def test_mutual_information_is_at_most_log_n_and_reaches_it_for_separated_codes():
    g = torch.Generator().manual_seed(0)
    far = 100 * torch.randn(64, 3, generator=g)                   # posteriors that never overlap
    s = cl.elbo_surgery(far, torch.full((64, 3), -4.0), generator=g)
    assert s.mutual_information <= s.log_n + 1e-9
    assert s.mutual_information == pytest.approx(math.log(64), abs=1e-6)
    near = 0.1 * torch.randn(64, 3, generator=g)                  # heavily overlapping posteriors
    s2 = cl.elbo_surgery(near, torch.zeros(64, 3), samples=8, generator=g)
    assert 0 <= s2.mutual_information < 0.1 < s2.log_n


def test_terms_add_up_to_the_rate_on_a_trained_looking_code():
    g = torch.Generator().manual_seed(2)
    mu, logvar = torch.randn(400, 5, generator=g), -1.0 + 0.3 * torch.randn(400, 5, generator=g)
    s = cl.elbo_surgery(mu, logvar, samples=16, generator=g)
    se = math.hypot(s.mi_standard_error, s.marginal_kl_standard_error)
    assert s.mutual_information + s.marginal_kl == pytest.approx(s.rate, abs=4 * se + 0.05)
    assert 0 < s.mutual_information <= s.log_n and s.marginal_kl > 0


def test_elbo_surgery_errors():
    with pytest.raises(ValueError, match="mu and logvar must both have shape"):
        cl.elbo_surgery(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="samples must be at least 1"):
        cl.elbo_surgery(torch.zeros(5, 2), torch.zeros(5, 2), samples=0)
    with pytest.raises(ValueError, match="z must have shape"):
        cl.log_aggregate_posterior(torch.zeros(3, 4), torch.zeros(5, 2), torch.zeros(5, 2))

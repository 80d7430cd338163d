"""Priors (course_lib.priors), the VAE's prior, the Monte-Carlo KL and the IWAE objective."""

import math

import pytest
import torch
from torch import distributions as D

import course_lib as cl
from course_lib.pretrain import CHECKPOINT_DIR, REGISTRY


def torch_mixture(mu, logvar):
    """The same equal-weight mixture of diagonal Gaussians, built by torch.distributions."""
    K = len(mu)
    return D.MixtureSameFamily(D.Categorical(logits=torch.zeros(K, dtype=mu.dtype)),
                               D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1))


def tiny_vae(latent_dim=3, prior=None, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    model = cl.mlp_vae(6, latent_dim, (8,), likelihood="bernoulli").to(dtype)
    if prior == "mog":
        model.prior = cl.MixtureOfGaussiansPrior(latent_dim, 4, generator=torch.Generator().manual_seed(seed))
    elif prior == "vamp":
        model.prior = cl.VampPrior(model.encode, 5, model.input_shape, init_mean=0.5, init_std=0.3,
                                   generator=torch.Generator().manual_seed(seed))
    return model.to(dtype)


def binary_batch(n=16, d=6, seed=1, dtype=torch.float64):
    return torch.bernoulli(torch.full((n, d), 0.4, dtype=dtype), generator=torch.Generator().manual_seed(seed))


class TestLogProb:
    def test_mixture_of_gaussians_against_torch_distributions(self):
        prior = cl.MixtureOfGaussiansPrior(4, 6, generator=torch.Generator().manual_seed(0)).double()
        with torch.no_grad():
            prior.logvars.copy_(torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))
        z = 2 * torch.randn(3, 7, 4, dtype=torch.float64)            # a leading sample dimension
        ref = torch_mixture(prior.means.detach(), prior.logvars.detach()).log_prob(z)
        got = prior.log_prob(z)
        assert got.shape == (3, 7)
        torch.testing.assert_close(got, ref)

    def test_vampprior_is_the_mixture_of_the_encoders_posteriors_at_the_pseudo_inputs(self):
        model = tiny_vae(prior="vamp")
        u = model.prior.pseudo_inputs()
        assert u.shape == (5, 6) and float(u.detach().min()) >= 0.0 and float(u.detach().max()) <= 1.0
        w = model.prior.pseudo_weights.detach()
        assert float(w.min()) < 0.0 or float(w.max()) > 1.0           # the hardtanh had something to clip
        mu, logvar = model.encode(u)
        z = torch.randn(2, 9, 3, dtype=torch.float64)
        ref = torch_mixture(mu.detach(), logvar.detach()).log_prob(z)
        torch.testing.assert_close(model.log_prior(z), ref)

    def test_gradients_reach_pseudo_inputs_and_encoder(self):
        model = tiny_vae(prior="vamp")
        model.log_prior(torch.randn(4, 3, dtype=torch.float64)).sum().backward()
        assert model.prior.pseudo_weights.grad.abs().sum() > 0
        assert model.encoder[0].weight.grad.abs().sum() > 0

    def test_matrix_form_keeps_its_precision_for_sharp_components_in_float32(self):
        g = torch.Generator().manual_seed(0)
        mu = torch.randn(500, 50, generator=g)
        logvar = -6.0 + torch.rand(500, 50, generator=g)                 # sd 0.03 to 0.08
        z = mu[:200] + 0.05 * torch.randn(200, 50, generator=g)          # near their own components
        ref = torch.logsumexp(cl.log_normal_diag(z.double()[:, None], mu.double(), logvar.double()), 1) - math.log(500)
        got = cl.log_normal_mixture(z, mu, logvar)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got.double(), ref, atol=1e-4, rtol=0)

    def test_equals_the_aggregate_posterior_of_course_lib_latent(self):
        g = torch.Generator().manual_seed(2)
        mu, logvar, z = torch.randn(30, 5, generator=g), torch.randn(30, 5, generator=g), torch.randn(11, 5, generator=g)
        torch.testing.assert_close(cl.log_normal_mixture(z.double(), mu.double(), logvar.double(), chunk=4),
                                   cl.log_aggregate_posterior(z, mu, logvar))

    def test_standard_normal_default(self):
        model = tiny_vae()
        z = torch.randn(5, 2, 3, dtype=torch.float64)
        ref = D.Independent(D.Normal(torch.zeros(3, dtype=torch.float64), 1.0), 1).log_prob(z)
        torch.testing.assert_close(model.log_prior(z), ref)
        torch.testing.assert_close(cl.StandardNormalPrior.log_prob(z), ref)
        # one component at the origin with unit variance is the standard normal
        one = cl.MixtureOfGaussiansPrior(3, 1, init_scale=0.0).double()
        torch.testing.assert_close(one.log_prob(z), ref)


class TestSampling:
    def test_mixture_samples_pick_components_uniformly(self):
        prior = cl.MixtureOfGaussiansPrior(2, 3)
        with torch.no_grad():
            prior.means.copy_(torch.tensor([[-20.0, 0.0], [0.0, 0.0], [20.0, 0.0]]))
            prior.logvars.fill_(math.log(0.25))
        z = prior.sample(30_000, generator=torch.Generator().manual_seed(0))
        counts = torch.stack([(z[:, 0] < -10).sum(), (z[:, 0].abs() < 10).sum(), (z[:, 0] > 10).sum()]).double()
        # each count is Binomial(30000, 1/3): sd = 82
        assert ((counts - 10_000).abs() < 4 * 82).all(), counts
        middle = z[z[:, 0].abs() < 10]
        assert abs(float(middle[:, 1].std()) - 0.5) < 0.02

    def test_model_draws_its_codes_from_its_prior(self):
        model = tiny_vae(prior="mog", dtype=torch.float32)
        a = model.prior_codes(7, generator=torch.Generator().manual_seed(3))
        b = model.prior.sample(7, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(a, b)
        assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 6)
        with pytest.raises(ValueError, match="temperature"):
            model.prior_codes(3, temperature=0.5)
        # the standard normal keeps its draws and its temperature
        plain = tiny_vae(dtype=torch.float32)
        torch.testing.assert_close(plain.prior_codes(5, torch.Generator().manual_seed(1), temperature=2.0),
                                   2 * torch.randn(5, 3, generator=torch.Generator().manual_seed(1)))


class TestKL:
    def test_monte_carlo_kl_is_unbiased_for_the_closed_form(self):
        g = torch.Generator().manual_seed(0)
        mu, logvar = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
        S = 200_000
        z = mu + (0.5 * logvar).exp() * torch.randn(S, 4, 3, generator=g, dtype=torch.float64)
        terms = cl.log_normal_diag(z, mu, logvar) - cl.StandardNormalPrior.log_prob(z)   # (S, 4)
        mc = cl.posterior_kl(z, mu, logvar, cl.StandardNormalPrior.log_prob)
        torch.testing.assert_close(mc, terms.mean(0))
        se = terms.std(0) / math.sqrt(S)
        closed = cl.posterior_kl(z, mu, logvar)                         # no log_prior: the closed form
        torch.testing.assert_close(closed, cl.gaussian_kl(mu, logvar))
        assert ((mc - closed).abs() < 4 * se).all(), (mc, closed, se)

    def test_vae_loss_keeps_the_closed_form_for_the_standard_normal(self):
        model, x = tiny_vae(), binary_batch()
        torch.manual_seed(5)
        parts = cl.vae_loss(model, x)
        torch.manual_seed(5)
        out = model(x)
        torch.testing.assert_close(parts["kl"], cl.gaussian_kl(out.mu, out.logvar).mean())
        # an explicit StandardNormalPrior module is the same model: closed form, no state
        model.prior = cl.StandardNormalPrior(3)
        assert set(model.state_dict()) == set(tiny_vae().state_dict())
        torch.manual_seed(5)
        torch.testing.assert_close(cl.vae_loss(model, x)["kl"], parts["kl"])

    @pytest.mark.parametrize("prior", ["mog", "vamp"])
    def test_vae_loss_takes_the_monte_carlo_kl_for_a_learned_prior(self, prior):
        model, x = tiny_vae(prior=prior), binary_batch()
        torch.manual_seed(5)
        parts = cl.vae_loss(model, x)
        torch.manual_seed(5)
        out = model(x)
        mix = torch_mixture(*(t.detach() for t in (model.prior.means, model.prior.logvars))) if prior == "mog" \
            else torch_mixture(*(t.detach() for t in model.encode(model.prior.pseudo_inputs())))
        q = D.Independent(D.Normal(out.mu, (0.5 * out.logvar).exp()), 1)
        kl = (q.log_prob(out.z) - mix.log_prob(out.z)).mean()
        recon = -D.Bernoulli(logits=out.logits).log_prob(x).sum(1).mean()
        torch.testing.assert_close(parts["kl"], kl)
        torch.testing.assert_close(parts["elbo"], -(recon + kl))
        with pytest.raises(ValueError, match="free bits"):
            cl.vae_loss(model, x, free_bits=0.5)


class TestIWAEObjective:
    @pytest.mark.parametrize("prior", [None, "mog"])
    def test_k_samples_against_a_hand_made_bound(self, prior):
        model, x = tiny_vae(prior=prior), binary_batch()
        k = 7
        torch.manual_seed(3)
        parts = cl.IWAEObjective(k=k)(model, x)
        torch.manual_seed(3)
        eps = torch.randn(k, *x.shape[:1], 3, dtype=torch.float64)          # the same draws
        mu, logvar = model.encode(x)
        z = mu + (0.5 * logvar).exp() * eps
        logits = model.decoder(z)
        log_px_z = D.Bernoulli(logits=logits).log_prob(x).sum(-1)
        log_pz = (D.Independent(D.Normal(torch.zeros(3, dtype=torch.float64), 1.0), 1).log_prob(z) if prior is None
                  else torch_mixture(model.prior.means, model.prior.logvars).log_prob(z))
        log_q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1).log_prob(z)
        bound = torch.logsumexp(log_px_z + log_pz - log_q, 0) - math.log(k)
        torch.testing.assert_close(parts["iwae"], bound.mean())
        torch.testing.assert_close(parts["loss"], -bound.mean())
        torch.testing.assert_close(parts["recon"], -log_px_z.mean())
        kl = cl.gaussian_kl(mu, logvar).mean() if prior is None else (log_q - log_pz).mean()
        torch.testing.assert_close(parts["kl"], kl)
        torch.testing.assert_close(parts["elbo"], -(parts["recon"] + parts["kl"]))

    def test_k1_is_the_elbo_on_the_same_sample(self):
        model, x = tiny_vae(prior="mog"), binary_batch()
        torch.manual_seed(8)
        iwae = cl.IWAEObjective(k=1)(model, x)
        torch.manual_seed(8)
        elbo = cl.vae_loss(model, x)
        torch.testing.assert_close(iwae["iwae"], elbo["elbo"])
        torch.testing.assert_close(iwae["loss"], elbo["loss"])

    def test_bound_rises_with_k_above_the_elbo(self):
        # one image, many independent draws: the batch mean of L_k estimates E[L_k]
        model = tiny_vae(seed=4)
        x = binary_batch(1, seed=2).expand(4000, 6)
        means = {}
        for k in (1, 2, 5, 20):
            torch.manual_seed(k)
            with torch.no_grad():
                groups = torch.stack([cl.IWAEObjective(k=k)(model, xg)["iwae"] for xg in x.chunk(20)])
            means[k] = (float(groups.mean()), float(groups.std() / math.sqrt(20)))
        # L_1 is the ELBO: the same mean as vae_loss's (closed-form KL) over the same copies
        torch.manual_seed(0)
        with torch.no_grad():
            elbo = float(cl.vae_loss(model, x)["elbo"])
        assert abs(means[1][0] - elbo) < 4 * means[1][1] * math.sqrt(2), (means[1], elbo)
        ks = sorted(means)
        for a, b in zip(ks, ks[1:]):
            (ma, sa), (mb, sb) = means[a], means[b]
            assert mb - ma > 3 * math.hypot(sa, sb), means

    def test_rejects_bad_k(self):
        with pytest.raises(ValueError, match="k must be"):
            cl.IWAEObjective(k=0)


def grid_log_px(model, x, lo=-12.0, hi=12.0, n=40_001):
    """log p(x) = log int p(x|z) p(z) dz of a model with L = 1, on a fine grid (trapezoid rule)."""
    z = torch.linspace(lo, hi, n, dtype=torch.float64)[:, None]                  # (n, 1)
    with torch.no_grad():
        logits = model.decoder(z)                                                 # (n, D)
        log_joint = (D.Bernoulli(logits=logits[:, None]).log_prob(x[None]).sum(-1)
                     + model.log_prior(z)[:, None])                                # (n, N)
    w = torch.full((n,), (hi - lo) / (n - 1), dtype=torch.float64)
    w[0] = w[-1] = w[0] / 2
    return torch.logsumexp(log_joint + w.log()[:, None], 0)


@pytest.mark.parametrize("prior", ["mog", "vamp", None])
def test_iwae_log_likelihood_is_the_exact_marginal_likelihood_with_the_models_prior(prior):
    model = tiny_vae(latent_dim=1, prior=prior, seed=3)
    with torch.no_grad():
        model.encoder[-1].bias[1] += 1.5        # a broad proposal
        model.decoder[0].weight.mul_(4)         # a decoder that depends on z, so the prior matters
        if prior == "mog":
            model.prior.means.mul_(3)
    x = binary_batch(6, seed=7)
    exact = grid_log_px(model, x)
    # K = 100,000 samples: the estimates land within 0.006 nats of the integral (0.02 at K = 4,000)
    est = cl.iwae_log_likelihood(model, x, 100_000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(est, exact, atol=0.015, rtol=0)
    if prior is not None:  # the test can fail: the standard normal's log p(x) is far from it
        saved, model.prior = model.prior, None
        assert (grid_log_px(model, x) - exact).abs().max() > 0.1
        model.prior = saved


def test_existing_checkpoint_loads_into_the_vae_with_its_standard_normal_prior():
    spec = REGISTRY["vae-binary-mnist"]
    model = spec.build(spec.config)
    assert model.prior is None
    state = torch.load(CHECKPOINT_DIR / "vae-binary-mnist.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)                                   # strict: no new keys, none missing
    assert set(model.state_dict()) == set(state)
    # the learned priors add their parameters, and only those
    vamp = REGISTRY["vampprior-binary-mnist"]
    vmodel = vamp.build(vamp.config)
    assert set(vmodel.state_dict()) - set(state) == {"prior.pseudo_weights"}
    assert vmodel.prior.pseudo_weights.shape == (500, 1, 28, 28)
    # the VampPrior's encoder is the model's: one copy of its weights
    assert sum(p.numel() for p in vmodel.parameters()) == sum(p.numel() for p in model.parameters()) + 500 * 784

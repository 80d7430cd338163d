import math

import pytest
import torch

import course_lib as cl


def test_squared_error_by_hand():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    x_hat = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    torch.testing.assert_close(cl.squared_error(x_hat, x), torch.tensor([25.0, 4.0]))


def test_squared_error_sums_over_image_dimensions():
    x = torch.zeros(2, 1, 3, 3)
    x_hat = torch.ones(2, 1, 3, 3)
    torch.testing.assert_close(cl.squared_error(x_hat, x), torch.tensor([9.0, 9.0]))


def test_shape_mismatch():
    with pytest.raises(ValueError, match="must match"):
        cl.squared_error(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="batch"):
        cl.squared_error(torch.zeros(3), torch.zeros(3))


def test_ae_loss_is_batch_mean_and_has_gradient():
    ae = cl.mlp_autoencoder(2, 1)
    x = torch.randn(6, 2)
    parts = cl.ae_loss(ae, x)
    expected = cl.squared_error(ae(x).x_hat, x).mean()
    torch.testing.assert_close(parts["loss"], expected)
    parts["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in ae.parameters())
    # (images, labels) batches use the images only
    torch.testing.assert_close(cl.ae_loss(ae, (x, torch.zeros(6)))["loss"], parts["loss"].detach())


# --- variational terms -------------------------------------------------------
import torch.nn.functional as F
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence


def _q(B=5, L=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, L, generator=g), torch.randn(B, L, generator=g)


class TestGaussianKL:
    def test_against_torch_distributions(self):
        mu, logvar = _q()
        q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
        p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
        torch.testing.assert_close(cl.gaussian_kl(mu, logvar), kl_divergence(q, p))

    def test_against_monte_carlo(self):
        mu, logvar = _q(B=2, L=2, seed=1)
        g = torch.Generator().manual_seed(2)
        z = mu + (0.5 * logvar).exp() * torch.randn(200_000, *mu.shape, generator=g)
        log_q = cl.log_normal_diag(z, mu, logvar)
        log_p = cl.log_normal_diag(z, torch.zeros_like(mu), torch.zeros_like(mu))
        mc = (log_q - log_p).mean(0)
        torch.testing.assert_close(mc, cl.gaussian_kl(mu, logvar), atol=0.05, rtol=0.02)

    def test_zero_iff_q_equals_prior_and_nonnegative(self):
        assert torch.equal(cl.gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))
        mu, logvar = _q(B=100, L=4, seed=3)
        assert (cl.gaussian_kl(mu, logvar) > 0).all()

    def test_general_kl_matches_prior_special_case_and_torch(self):
        mu, logvar = _q()
        z = torch.zeros_like(mu)
        torch.testing.assert_close(cl.gaussian_kl_diag(mu, logvar, z, z), cl.gaussian_kl(mu, logvar))
        mp, lp = _q(seed=9)
        ref = kl_divergence(Independent(Normal(mu, (0.5 * logvar).exp()), 1),
                            Independent(Normal(mp, (0.5 * lp).exp()), 1))
        torch.testing.assert_close(cl.gaussian_kl_diag(mu, logvar, mp, lp), ref)

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match="same shape"):
            cl.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))

    def test_gradients_finite_for_extreme_inputs(self):
        mu = torch.tensor([[1e3, -1e3]], requires_grad=True)
        logvar = torch.tensor([[-30.0, 30.0]], requires_grad=True)
        cl.gaussian_kl(mu, logvar).sum().backward()
        assert torch.isfinite(mu.grad).all() and torch.isfinite(logvar.grad).all()


class TestLikelihoods:
    def test_log_normal_diag_against_torch(self):
        mu, logvar = _q()
        z = torch.randn_like(mu)
        ref = Independent(Normal(mu, (0.5 * logvar).exp()), 1).log_prob(z)
        torch.testing.assert_close(cl.log_normal_diag(z, mu, logvar), ref)

    def test_bernoulli_against_torch_including_saturation(self):
        logits = torch.tensor([[-200.0, 200.0, 0.3, -1.0], [50.0, -50.0, 2.0, 0.0]])
        x = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.25, 0.5]])
        ours = cl.bernoulli_log_likelihood(logits, x)
        assert torch.isfinite(ours).all()
        binary = x[0]
        ref0 = Bernoulli(logits=logits[0]).log_prob(binary).sum()
        torch.testing.assert_close(ours[0], ref0)
        # grey levels: x log pi + (1 - x) log(1 - pi)
        # (log pi and log(1 - pi) via logsigmoid: 1 - sigmoid(50) is exactly 0 in floating point)
        l1 = logits[1].double()
        ref1 = (x[1] * F.logsigmoid(l1) + (1 - x[1]) * F.logsigmoid(-l1)).sum().float()
        torch.testing.assert_close(ours[1], ref1)

    def test_bernoulli_saturated_wrong_prediction_is_large_but_finite(self):
        logits = torch.tensor([[-200.0]], requires_grad=True)
        ll = cl.bernoulli_log_likelihood(logits, torch.ones(1, 1))
        ll.sum().backward()
        assert torch.isfinite(ll).all() and ll.item() < -199 and torch.isfinite(logits.grad).all()

    def test_bernoulli_rejects_targets_outside_unit_interval(self):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            cl.bernoulli_log_likelihood(torch.zeros(1, 2), torch.tensor([[0.0, 255.0]]))

    def test_gaussian_against_torch_with_normaliser(self):
        x_hat, x = torch.randn(4, 6), torch.randn(4, 6)
        ref = Independent(Normal(x_hat, 0.1), 1).log_prob(x)
        torch.testing.assert_close(cl.gaussian_log_likelihood(x_hat, x, 0.1), ref)
        with pytest.raises(ValueError, match="positive"):
            cl.gaussian_log_likelihood(x_hat, x, 0.0)


class TestBounds:
    def test_elbo_parts(self):
        ll, kl = torch.tensor([-10.0, -20.0]), torch.tensor([1.0, 3.0])
        parts = cl.elbo(ll, kl, beta=2.0)
        assert parts["recon"].item() == 15.0 and parts["kl"].item() == 2.0
        assert parts["loss"].item() == 19.0 and parts["elbo"].item() == -17.0
        with pytest.raises(ValueError):
            cl.elbo(ll, kl[:1])

    def test_iwae_is_log_mean_exp_and_stable(self):
        lw = torch.tensor([[-1000.0, 0.0], [-1001.0, 1.0]])
        zero = torch.zeros_like(lw)
        out = cl.iwae_bound(lw, zero, zero)
        expected = torch.tensor([-1000.0 + math.log((1 + math.exp(-1)) / 2),
                                 math.log((1 + math.e) / 2)])
        torch.testing.assert_close(out, expected)
        assert torch.isfinite(out).all()


class TestVaeLoss:
    def test_matches_the_parts_by_hand(self):
        torch.manual_seed(0)
        vae = cl.GaussianVAE(2, 3, sigma=0.2)
        x = torch.randn(6, 2)
        torch.manual_seed(1)
        parts = cl.vae_loss(vae, x)
        torch.manual_seed(1)
        out = vae(x)
        # independent reference: torch.distributions for both terms
        log_px = torch.distributions.Normal(out.x_hat, 0.2).log_prob(x).sum(1)
        q = torch.distributions.Normal(out.mu, (0.5 * out.logvar).exp())
        p = torch.distributions.Normal(torch.zeros_like(out.mu), torch.ones_like(out.mu))
        kl = torch.distributions.kl_divergence(q, p).sum(1)
        torch.testing.assert_close(parts["recon"], -log_px.mean())
        torch.testing.assert_close(parts["kl"], kl.mean())
        torch.testing.assert_close(parts["elbo"], (log_px - kl).mean())
        torch.testing.assert_close(parts["loss"], -parts["elbo"])

    def test_beta_and_sigma_override(self):
        vae = cl.GaussianVAE(2, 3)
        x = torch.randn(4, 2)
        torch.manual_seed(2)
        a = cl.vae_loss(vae, x, beta=3.0, sigma=1.0)
        torch.manual_seed(2)
        b = cl.vae_loss(vae, x, sigma=1.0)
        torch.testing.assert_close(a["loss"], b["recon"] + 3.0 * b["kl"])
        torch.testing.assert_close(a["elbo"], b["elbo"])

    def test_bernoulli_from_logits_is_finite(self):
        vae = cl.GaussianVAE((1, 4, 4), 2, hidden=(8,))
        with torch.no_grad():
            vae.decoder[-1].bias.fill_(80.0)  # saturated logits
        x = (torch.rand(3, 1, 4, 4) > 0.5).float()
        parts = cl.vae_loss(vae, (x, torch.zeros(3)), likelihood="bernoulli")
        assert torch.isfinite(parts["loss"])
        parts["loss"].backward()
        assert all(torch.isfinite(p.grad).all() for p in vae.parameters() if p.grad is not None)

    def test_errors(self):
        vae = cl.GaussianVAE(2, 3)
        with pytest.raises(ValueError, match="likelihood must be"):
            cl.vae_loss(vae, torch.zeros(2, 2), likelihood="poisson")
        ae = cl.mlp_autoencoder(2, 2)
        with pytest.raises(Exception):
            cl.vae_loss(ae, torch.zeros(2, 2))

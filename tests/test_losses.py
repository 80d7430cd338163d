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
        with pytest.raises(TypeError, match="returns AEOutput, not a VAEOutput"):
            cl.vae_loss(ae, torch.zeros(2, 2))



# --- regularisers (chapter 3) --------------------------------------------------


class TestRegularisers:
    def test_sparsity_penalty_by_hand(self):
        z = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.5, -0.5]])
        torch.testing.assert_close(cl.sparsity_penalty(z, p=1), torch.tensor([3.0, 1.5]))
        torch.testing.assert_close(cl.sparsity_penalty(z, p=2), torch.tensor([5.0, 0.75]))
        with pytest.raises(ValueError, match="p must be positive"):
            cl.sparsity_penalty(z, p=0)
        with pytest.raises(ValueError, match=r"\(B, L\)"):
            cl.sparsity_penalty(torch.zeros(3))

    def test_top_k_codes_by_hand(self):
        z = torch.tensor([[0.1, -3.0, 2.0, 0.5], [4.0, 0.0, -1.0, 1.5]])
        expected = torch.tensor([[0.0, -3.0, 2.0, 0.0], [4.0, 0.0, 0.0, 1.5]])
        torch.testing.assert_close(cl.top_k_codes(z, 2), expected)
        torch.testing.assert_close(cl.top_k_codes(z, 4), z)
        assert torch.equal(cl.top_k_codes(z, 0), torch.zeros_like(z))
        assert bool(((cl.top_k_codes(torch.randn(50, 20), 5) != 0).sum(1) == 5).all())
        for k in (-1, 5, 1.5):
            with pytest.raises(ValueError, match="k must be"):
                cl.top_k_codes(z, k)

    def test_jacobian_of_a_linear_encoder_is_its_weight(self):
        torch.manual_seed(0)
        lin = torch.nn.Linear(5, 3)
        x = torch.randn(4, 5)
        J = cl.encoder_jacobian(lin, x)
        assert J.shape == (4, 3, 5)
        torch.testing.assert_close(J, lin.weight.detach().expand(4, 3, 5))
        torch.testing.assert_close(cl.contractive_penalty(lin, x),
                                   lin.weight.detach().pow(2).sum().expand(4))

    def test_contractive_penalty_by_hand_for_tanh(self):
        # E(x) = tanh(W x): J = diag(1 - tanh^2(W x)) W, so ||J||_F^2 = sum_l (1 - h_l^2)^2 ||W_l||^2
        W = torch.tensor([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]])
        x = torch.tensor([[0.2, -0.1], [1.0, 0.3]])
        h = torch.tanh(x @ W.T)
        expected = ((1 - h ** 2) ** 2 * W.pow(2).sum(1)).sum(1)
        torch.testing.assert_close(cl.contractive_penalty(lambda v: torch.tanh(v @ W.T), x), expected)

    def test_jacobian_against_finite_differences_on_an_autoencoder(self):
        torch.manual_seed(1)
        model = cl.mlp_autoencoder((1, 4, 4), 3, hidden=(8,)).double()
        model.encoder[1] = torch.nn.Tanh()  # smooth, so central differences are exact to O(h^2)
        x = torch.rand(2, 1, 4, 4, dtype=torch.float64)
        J = cl.encoder_jacobian(model.encode, x)
        assert J.shape == (2, 3, 16)
        h = 1e-6
        fd = torch.zeros_like(J)
        with torch.no_grad():
            for d in range(16):
                e = torch.zeros(16, dtype=torch.float64)
                e[d] = h
                e = e.view(1, 1, 4, 4)
                fd[:, :, d] = (model.encode(x + e) - model.encode(x - e)) / (2 * h)
        torch.testing.assert_close(J, fd, rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(cl.contractive_penalty(model.encode, x), fd.pow(2).sum((1, 2)))

    def test_contractive_loss_trains_the_encoder(self):
        torch.manual_seed(2)
        model = cl.mlp_autoencoder(6, 2, hidden=(8,))
        x = torch.randn(10, 6)
        parts = cl.contractive_ae_loss(alpha=0.5)(model, (x, torch.zeros(10)))
        torch.testing.assert_close(parts["recon"], cl.squared_error(model(x).x_hat, x).mean())
        torch.testing.assert_close(parts["penalty"], cl.contractive_penalty(model.encode, x).mean())
        torch.testing.assert_close(parts["loss"], parts["recon"] + 0.5 * parts["penalty"])
        # the penalty alone has a gradient on the encoder's first layer
        model.zero_grad()
        parts["penalty"].backward()
        g = model.encoder[0].weight.grad
        assert g is not None and float(g.abs().sum()) > 0
        assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in model.decoder.parameters())

    def test_sparse_loss_parts(self):
        torch.manual_seed(3)
        model = cl.mlp_autoencoder(6, 12, hidden=(8,))
        x = torch.randn(10, 6)
        parts = cl.sparse_ae_loss(alpha=0.1, p=1)(model, x)
        z = model(x).z
        torch.testing.assert_close(parts["penalty"], z.abs().sum(1).mean())
        torch.testing.assert_close(parts["loss"], parts["recon"] + 0.1 * parts["penalty"])
        with pytest.raises(ValueError, match="alpha"):
            cl.sparse_ae_loss(-1.0)
        with pytest.raises(ValueError, match="alpha"):
            cl.contractive_ae_loss(-1.0)

    def test_denoising_loss_compares_with_the_clean_input(self):
        model = cl.mlp_autoencoder(4, 2, hidden=(8,))
        x = torch.rand(5, 4)
        parts = cl.denoising_ae_loss(lambda v: torch.zeros_like(v))(model, x)
        expected = cl.squared_error(model(torch.zeros_like(x)).x_hat, x).mean()
        torch.testing.assert_close(parts["loss"], expected)
        with pytest.raises(ValueError, match="shape"):
            cl.denoising_ae_loss(lambda v: v[:, :2])(model, x)

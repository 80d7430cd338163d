import math

import numpy as np
import pytest
import torch
from torch import nn

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


def _by_hand_output():
    """A VAE output whose ELBO is known by hand: D = 1, x = 0, sigma = 1, so that
    -log p(x | z) = x_hat^2 / 2 + log(2 pi) / 2; logvar = 0, so KL = mu^2 / 2 per example."""
    x_hat = torch.tensor([[2.0], [4.0]])                      # -log p: 2 + c and 8 + c
    mu = torch.tensor([[math.sqrt(2.0)], [math.sqrt(6.0)]])   # KL: 1 and 3
    return cl.VAEOutput(x_hat, torch.zeros(2, 1), mu, torch.zeros(2, 1)), torch.zeros(2, 1)


class TestBounds:
    def test_negative_elbo_parts_by_hand(self):
        out, x = _by_hand_output()
        c = 0.5 * math.log(2 * math.pi)
        parts = cl.negative_elbo(out, x, likelihood="gaussian", sigma=1.0, beta=2.0)
        assert parts["recon"].item() == pytest.approx(5.0 + c) and parts["kl"].item() == pytest.approx(2.0)
        assert parts["loss"].item() == pytest.approx(5.0 + c + 2.0 * 2.0)
        assert parts["elbo"].item() == pytest.approx(-(5.0 + c + 2.0))
        with pytest.raises(ValueError, match="must match"):
            cl.negative_elbo(out, torch.zeros(1, 1), likelihood="gaussian", sigma=1.0)
        with pytest.raises(ValueError, match="same shape"):
            cl.negative_elbo(out._replace(logvar=torch.zeros(2, 2)), x, likelihood="gaussian", sigma=1.0)

    def test_negative_elbo_errors(self):
        out, x = _by_hand_output()
        # a Gaussian model's output has no logits to read a Bernoulli likelihood from
        with pytest.raises(ValueError, match="logits"):
            cl.negative_elbo(out, x, likelihood="bernoulli")
        with pytest.raises(ValueError, match="sigma"):
            cl.negative_elbo(out, x, likelihood="gaussian")
        with pytest.raises(ValueError, match="likelihood must be"):
            cl.negative_elbo(out, x, likelihood="poisson", sigma=1.0)
        with pytest.raises(TypeError, match="ae_loss"):
            cl.negative_elbo(cl.AEOutput(out.x_hat, out.z), x, likelihood="gaussian", sigma=1.0)

    def test_iwae_is_log_mean_exp_and_stable(self):
        lw = torch.tensor([[-1000.0, 0.0], [-1001.0, 1.0]])
        out = cl.iwae_bound(lw)
        expected = torch.tensor([-1000.0 + math.log((1 + math.exp(-1)) / 2),
                                 math.log((1 + math.e) / 2)])
        torch.testing.assert_close(out, expected)
        assert torch.isfinite(out).all()
        # K = 1: the bound is the one log-weight itself
        torch.testing.assert_close(cl.iwae_bound(lw[:1]), lw[0])
        with pytest.raises(ValueError, match=r"\(K, B\)"):
            cl.iwae_bound(torch.zeros(3))


class TestKLTerms:
    def test_kl_per_dim_sums_to_gaussian_kl_and_matches_torch(self):
        g = torch.Generator().manual_seed(0)
        mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
        per = cl.kl_per_dim(mu, logvar)
        torch.testing.assert_close(per.sum(1), cl.gaussian_kl(mu, logvar))
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
        torch.testing.assert_close(per, torch.distributions.kl_divergence(q, p))

    def test_free_bits_by_hand(self):
        # batch-mean KL per dimension: dim 0 -> 0.5 * mu^2 = 2.0, dim 1 -> 0.0
        mu = torch.tensor([[2.0, 0.0], [-2.0, 0.0]])
        logvar = torch.zeros(2, 2)
        assert float(cl.free_bits_kl(mu, logvar, 0.0)) == pytest.approx(2.0)
        assert float(cl.free_bits_kl(mu, logvar, 0.5)) == pytest.approx(2.5)
        assert float(cl.free_bits_kl(mu, logvar, 3.0)) == pytest.approx(6.0)
        with pytest.raises(ValueError, match="free_bits"):
            cl.free_bits_kl(mu, logvar, -1.0)

    def test_free_bits_stops_the_gradient_of_small_dimensions(self):
        mu = torch.tensor([[2.0, 0.1]], requires_grad=True)
        cl.free_bits_kl(mu, torch.zeros(1, 2), 0.5).backward()
        assert mu.grad[0, 0] == pytest.approx(2.0) and mu.grad[0, 1] == 0.0

    def test_warmup_schedule_by_hand(self):
        assert [cl.kl_warmup(s, 4) for s in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
        assert cl.kl_warmup(0, 0) == 1.0
        with pytest.raises(ValueError):
            cl.kl_warmup(-1, 3)


def _thesis_vae(latent_dim=4, hidden=16):
    import functools

    return cl.mlp_vae((1, 28, 28), latent_dim, (hidden,), decoder_hidden=(hidden,),
                      activation=functools.partial(torch.nn.LeakyReLU, 0.3), likelihood="bernoulli")


def _torch_reference(out, x, *, likelihood, sigma=None):
    """-ELBO parts from torch.distributions: recon = -E log p(x|z), kl = KL(q || N(0, I))."""
    if likelihood == "bernoulli":
        log_px = Bernoulli(logits=out.logits).log_prob(x).flatten(1).sum(1)
    else:
        log_px = Normal(out.x_hat, sigma).log_prob(x).flatten(1).sum(1)
    q = Normal(out.mu, (0.5 * out.logvar).exp())
    kl = kl_divergence(q, Normal(torch.zeros_like(out.mu), torch.ones_like(out.mu))).sum(1)
    return -log_px.mean(), kl.mean()


class TestVaeLoss:
    @pytest.mark.parametrize("build, x, batch, likelihood, sigma", [
        (lambda: cl.mlp_vae(2, 3, sigma=0.2), lambda: torch.randn(6, 2), lambda x: x, "gaussian", 0.2),
        (lambda: cl.conv_vae(latent_dim=4, width=8, likelihood="gaussian", sigma=0.05),
         lambda: torch.rand(3, 3, 32, 32), lambda x: x, "gaussian", 0.05),
        (lambda: cl.mlp_vae((1, 28, 28), 5, (32,), likelihood="bernoulli"),
         lambda: torch.bernoulli(torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))),
         lambda x: (x, torch.zeros(len(x))), "bernoulli", None),   # labels of an unconditional model are unused
    ], ids=["mlp-gaussian", "conv-gaussian", "mlp-bernoulli"])
    def test_matches_torch_distributions(self, build, x, batch, likelihood, sigma):
        torch.manual_seed(0)
        vae, x = build(), x()
        torch.manual_seed(2)
        parts = cl.vae_loss(vae, batch(x))
        torch.manual_seed(2)
        out = vae(x)
        # independent reference: torch.distributions for both terms, at the same sampled z
        recon, kl = _torch_reference(out, x, likelihood=likelihood, sigma=sigma)
        torch.testing.assert_close(parts["recon"], recon)
        torch.testing.assert_close(parts["kl"], kl)
        torch.testing.assert_close(parts["elbo"], -(recon + kl))
        torch.testing.assert_close(parts["loss"], recon + kl)

    def test_a_gaussian_likelihood_needs_a_positive_sigma(self):
        vae = cl.conv_vae(latent_dim=4, width=8, likelihood="gaussian", sigma=0.05)
        with pytest.raises(ValueError, match="positive"):
            cl.vae_loss(vae, torch.rand(3, 3, 32, 32), sigma=0.0)

    def test_bernoulli_grey_levels_by_hand(self):
        torch.manual_seed(0)
        vae = cl.VAE(nn.Sequential(nn.Flatten(), nn.Linear(12, 6)),
                     nn.Sequential(nn.Linear(3, 12), nn.Unflatten(1, (1, 3, 4))), (1, 3, 4), 3,
                     likelihood="bernoulli")
        x = torch.rand(7, 1, 3, 4)
        torch.manual_seed(1)
        parts = cl.vae_loss(vae, (x, torch.zeros(7)))
        torch.manual_seed(1)
        out = vae(x)
        l = out.logits  # continuous targets: x log sigmoid(l) + (1 - x) log sigmoid(-l)
        recon = -(x * F.logsigmoid(l) + (1 - x) * F.logsigmoid(-l)).flatten(1).sum(1).mean()
        q = Normal(out.mu, (0.5 * out.logvar).exp())
        kl = kl_divergence(q, Normal(0.0, 1.0)).sum(1).mean()
        torch.testing.assert_close(parts["recon"], recon)
        torch.testing.assert_close(parts["kl"], kl)
        torch.testing.assert_close(parts["loss"], recon + kl)

    def test_knobs_change_only_the_loss(self):
        torch.manual_seed(0)
        vae = _thesis_vae()
        x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))

        def parts(**knobs):
            torch.manual_seed(1)                      # the same z for every call
            return cl.vae_loss(vae, x, **knobs)

        base = parts()
        torch.manual_seed(1)
        out = vae(x)
        per_dim = cl.kl_per_dim(out.mu, out.logvar).mean(0).detach()  # (L,) batch-mean KL of each dimension
        lam = float(per_dim.median())
        assert (per_dim < lam).any() and (per_dim >= lam).any()         # the clamp acts on some dimensions only
        cases = {
            "beta": ({"beta": 4.0}, base["recon"] + 4.0 * base["kl"]),
            "kl_weight": ({"kl_weight": 0.25}, base["recon"] + 0.25 * base["kl"]),
            "beta and kl_weight": ({"beta": 4.0, "kl_weight": 0.25}, base["loss"]),
            "free_bits": ({"free_bits": lam}, base["recon"] + per_dim.clamp(min=lam).sum()),
            "all three": ({"beta": 2.0, "kl_weight": 0.5, "free_bits": lam},
                          base["recon"] + 2.0 * 0.5 * per_dim.clamp(min=lam).sum()),
        }
        for name, (knobs, expected_loss) in cases.items():
            p = parts(**knobs)
            for key in ("elbo", "recon", "kl"):
                torch.testing.assert_close(p[key], base[key], msg=f"{name} changed {key}")
            torch.testing.assert_close(p["loss"], expected_loss, msg=name)
        assert parts(free_bits=lam)["loss"] > base["loss"]            # the clamp lifts the small dimensions
        torch.testing.assert_close(base["loss"], -base["elbo"])

    def test_sigma_override(self):
        vae = cl.mlp_vae(2, 3, sigma=0.1)
        x = torch.randn(4, 2)
        torch.manual_seed(2)
        a = cl.vae_loss(vae, x, sigma=1.0)
        torch.manual_seed(2)
        out = vae(x)
        recon, _ = _torch_reference(out, x, likelihood="gaussian", sigma=1.0)
        torch.testing.assert_close(a["recon"], recon)
        torch.manual_seed(2)
        torch.testing.assert_close(cl.vae_loss(vae, x)["recon"],
                                   _torch_reference(out, x, likelihood="gaussian", sigma=0.1)[0])

    def test_bernoulli_from_logits_is_finite(self):
        vae = cl.mlp_vae((1, 4, 4), 2, hidden=(8,), likelihood="bernoulli")
        with torch.no_grad():
            vae.decoder[-1].bias.fill_(80.0)  # saturated logits
        x = (torch.rand(3, 1, 4, 4) > 0.5).float()
        parts = cl.vae_loss(vae, (x, torch.zeros(3)))
        assert torch.isfinite(parts["loss"])
        assert (vae(x).x_hat[x == 0] == 1.0).all()    # the sigmoid is exactly 1: log(1 - x_hat) would be -inf
        parts["loss"].backward()
        assert all(torch.isfinite(p.grad).all() for p in vae.parameters() if p.grad is not None)

    def test_binarize_draws_fresh_binary_targets(self):
        torch.manual_seed(0)
        vae = _thesis_vae()
        x = torch.full((4, 1, 28, 28), 0.5)
        torch.manual_seed(3)
        parts = cl.vae_loss(vae, x, binarize=True)
        torch.manual_seed(3)
        xb = cl.dynamic_binarize(x)
        out = vae(xb)
        recon, kl = _torch_reference(out, xb, likelihood="bernoulli")
        torch.testing.assert_close(parts["recon"], recon)
        torch.testing.assert_close(parts["kl"], kl)

    def test_errors(self):
        vae = cl.mlp_vae(2, 3, sigma=0.1)
        with pytest.raises(ValueError, match="likelihood must be"):
            cl.vae_loss(vae, torch.zeros(2, 2), likelihood="poisson")
        with pytest.raises(ValueError, match="logits"):
            cl.vae_loss(vae, torch.zeros(2, 2), likelihood="bernoulli")
        with pytest.raises(ValueError, match="sigma"):
            cl.vae_loss(cl.mlp_vae(2, 3), torch.zeros(2, 2))
        ae = cl.mlp_autoencoder(2, 2)
        with pytest.raises(TypeError, match="returns AEOutput, not a VAEOutput"):
            cl.vae_loss(ae, torch.zeros(2, 2))


class TestObjective:
    def test_objective_counts_training_steps_only(self):
        x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        m = _thesis_vae()
        obj = cl.VAEObjective(beta=2.0, warmup_steps=4)
        w = [float(obj(m, x)["kl_weight"]) for _ in range(3)]
        assert w == [0.5, 1.0, 1.5]
        m.eval()
        assert float(obj(m, x)["kl_weight"]) == 1.5 and obj.step == 3

    def test_objective_is_vae_loss_with_the_warmup_weight(self):
        x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        m = _thesis_vae()
        obj = cl.VAEObjective(beta=2.0, free_bits=0.1, warmup_steps=4)
        obj(m, x)                                       # step 1
        torch.manual_seed(5)
        got = obj(m, x)                                 # step 2: weight 0.5
        torch.manual_seed(5)
        want = cl.vae_loss(m, x, beta=2.0, free_bits=0.1, kl_weight=0.5)
        for key in ("loss", "elbo", "recon", "kl"):
            torch.testing.assert_close(got[key], want[key], msg=key)

    def test_fit_with_objective_and_ae_loss(self):
        import functools

        x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        ae = cl.mlp_autoencoder((1, 28, 28), 3, (16,), activation=functools.partial(torch.nn.LeakyReLU, 0.3),
                                likelihood="bernoulli")
        for m, loss in [(_thesis_vae(3, 16), cl.VAEObjective(binarize=True, free_bits=0.1, warmup_steps=3)),
                        (ae, functools.partial(cl.ae_loss, binarize=True))]:
            h = cl.fit(m, loss, x, epochs=2, batch_size=3, progress=False, seed=0)
            assert len(h) == 4 and np.isfinite(h["loss"]).all()


def test_ae_loss_of_a_bernoulli_autoencoder_is_the_summed_cross_entropy():
    torch.manual_seed(0)
    ae = cl.mlp_autoencoder((1, 6, 6), 3, (16,), likelihood="bernoulli")
    x = torch.bernoulli(torch.rand(5, 1, 6, 6, generator=torch.Generator().manual_seed(1)))
    parts = cl.ae_loss(ae, (x, torch.zeros(5)))
    logits = ae(x).logits
    ref = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1).mean()
    torch.testing.assert_close(parts["loss"], ref)
    torch.testing.assert_close(parts["recon"], ref)
    # not the squared error of the pixel probabilities
    assert not torch.allclose(parts["loss"], cl.squared_error(ae(x).x_hat, x).mean())


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

    def test_top_k_codes_by_value(self):
        # absolute=False keeps the k largest values: negative codes lose to small positive ones
        z = torch.tensor([[0.1, -3.0, 2.0, 0.5], [4.0, 0.0, -1.0, 1.5]])
        expected = torch.tensor([[0.0, 0.0, 2.0, 0.5], [4.0, 0.0, 0.0, 1.5]])
        torch.testing.assert_close(cl.top_k_codes(z, 2, absolute=False), expected)
        relu = torch.rand(20, 12)   # non-negative codes: both rules keep the same entries
        torch.testing.assert_close(cl.top_k_codes(relu, 5, absolute=False), cl.top_k_codes(relu, 5))
        # against torch.topk: the kept values are exactly the k largest of each row
        r = torch.randn(30, 16, generator=torch.Generator().manual_seed(0))
        kept = cl.top_k_codes(r, 3, absolute=False)
        torch.testing.assert_close(kept.sort(1, descending=True).values[:, :3], r.topk(3, dim=1).values)

    def test_top_k_codes_gradient_reaches_the_kept_entries_only(self):
        z = torch.tensor([[0.1, -3.0, 2.0, 0.5]], requires_grad=True)
        (cl.top_k_codes(z, 2, absolute=False) * torch.tensor([[1.0, 2.0, 3.0, 4.0]])).sum().backward()
        torch.testing.assert_close(z.grad, torch.tensor([[0.0, 0.0, 3.0, 4.0]]))

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
        assert isinstance(model.encoder[2], torch.nn.ReLU)  # encoder: Flatten, Linear, ReLU, Linear
        model.encoder[2] = torch.nn.Tanh()  # smooth, so central differences are exact to O(h^2)
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
        parts = cl.contractive_ae_loss(weight=0.5)(model, (x, torch.zeros(10)))
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
        parts = cl.sparse_ae_loss(weight=0.1, p=1)(model, x)
        z = model(x).z
        torch.testing.assert_close(parts["penalty"], z.abs().sum(1).mean())
        torch.testing.assert_close(parts["loss"], parts["recon"] + 0.1 * parts["penalty"])
        with pytest.raises(ValueError, match="weight must be non-negative"):
            cl.sparse_ae_loss(-1.0)
        with pytest.raises(ValueError, match="weight must be non-negative"):
            cl.contractive_ae_loss(-1.0)

    def test_denoising_loss_compares_with_the_clean_input(self):
        model = cl.mlp_autoencoder(4, 2, hidden=(8,))
        x = torch.rand(5, 4)
        parts = cl.denoising_ae_loss(lambda v: torch.zeros_like(v))(model, x)
        expected = cl.squared_error(model(torch.zeros_like(x)).x_hat, x).mean()
        torch.testing.assert_close(parts["loss"], expected)
        with pytest.raises(ValueError, match="shape"):
            cl.denoising_ae_loss(lambda v: v[:, :2])(model, x)

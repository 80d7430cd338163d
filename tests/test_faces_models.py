"""The image VAE, its loss, the attribute regressor and R^2."""

import numpy as np
import pytest
import torch
from torch import nn

import course_lib as cl
from course_lib.profiles import Budget


class TestConvVAE:
    def test_shapes_and_output(self):
        torch.manual_seed(0)
        vae = cl.conv_vae(latent_dim=8, channels=3, size=32, width=8)
        x = torch.rand(5, 3, 32, 32)
        out = vae(x)
        assert isinstance(out, cl.VAEOutput)
        assert out.x_hat.shape == x.shape and out.z.shape == out.mu.shape == out.logvar.shape == (5, 8)
        s = vae.sample(4, generator=torch.Generator().manual_seed(0))
        assert s.shape == (4, 3, 32, 32) and 0 <= float(s.min()) and float(s.max()) <= 1

    def test_sample_is_deterministic_with_a_generator(self):
        vae = cl.conv_vae(latent_dim=4, width=8).eval()
        a = vae.sample(3, generator=torch.Generator().manual_seed(1))
        b = vae.sample(3, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(a, b)

    def test_eval_still_works(self):
        vae = cl.conv_vae(latent_dim=4, width=8)
        assert vae.eval() is vae and not vae.training  # no train() override

    def test_bad_inputs(self):
        vae = cl.conv_vae(latent_dim=4, width=8)
        with pytest.raises(ValueError, match=r"\(batch, 3, 32, 32\)"):
            vae.encode(torch.zeros(2, 1, 28, 28))
        with pytest.raises(ValueError, match=r"\(batch, 4\)"):
            vae.decode(torch.zeros(2, 5))
        with pytest.raises(TypeError):
            vae.encode(torch.zeros(2, 3, 32, 32, dtype=torch.long))
        with pytest.raises(ValueError, match="divisible by 8"):
            cl.conv_vae(size=30)

    def test_loss_matches_a_hand_computation(self):
        torch.manual_seed(0)
        mlp_vae = cl.ImageVAE(nn.Sequential(nn.Flatten(), nn.Linear(12, 6)),
                              nn.Sequential(nn.Linear(3, 12), nn.Unflatten(1, (1, 3, 4))), (1, 3, 4), 3)
        x = torch.rand(7, 1, 3, 4)
        torch.manual_seed(1)
        parts = cl.bernoulli_vae_loss(mlp_vae, (x, torch.zeros(7)))
        torch.manual_seed(1)
        out = mlp_vae(x)
        l = out.x_hat  # continuous targets: x log sigmoid(l) + (1 - x) log sigmoid(-l)
        recon = -(x * nn.functional.logsigmoid(l) + (1 - x) * nn.functional.logsigmoid(-l)).flatten(1).sum(1).mean()
        q = torch.distributions.Normal(out.mu, (0.5 * out.logvar).exp())
        kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
        torch.testing.assert_close(parts["recon"], recon)
        torch.testing.assert_close(parts["kl"], kl)
        torch.testing.assert_close(parts["loss"], recon + kl)

    def test_gaussian_loss_against_torch_distributions(self):
        torch.manual_seed(0)
        vae = cl.conv_vae(latent_dim=4, width=8)
        x = torch.rand(3, 3, 32, 32)
        torch.manual_seed(2)
        parts = cl.gaussian_vae_loss(vae, x, sigma=0.05)
        torch.manual_seed(2)
        out = vae(x)
        log_px = torch.distributions.Normal(torch.sigmoid(out.x_hat), 0.05).log_prob(x).flatten(1).sum(1)
        q = torch.distributions.Normal(out.mu, (0.5 * out.logvar).exp())
        kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
        torch.testing.assert_close(parts["recon"], -log_px.mean())
        torch.testing.assert_close(parts["elbo"], (log_px - kl).mean())
        with pytest.raises(ValueError, match="positive"):
            cl.gaussian_vae_loss(vae, x, sigma=0.0)

    def test_train_faces_vae_learns(self):
        cfg = cl.FacesVAEConfig(latent_dim=4, width=8)
        model, hist = cl.train_faces_vae(cfg, Budget(epochs=2, batch_size=64, lr=2e-3, train_size=256),
                                         seed=0, progress=False)
        assert not model.training
        assert hist["loss"][-3:].mean() < hist["loss"][:3].mean()
        with pytest.raises(ValueError, match="train_size"):
            cl.train_faces_vae(cfg, Budget(steps=3))


class TestRegressor:
    def test_r2_against_sklearn(self):
        from sklearn.metrics import r2_score

        _, attrs = cl.make_faces(300, seed=0)
        rng = np.random.default_rng(0)
        pred = attrs.table() + rng.normal(0, 0.2, (300, len(cl.FACE_ATTRIBUTES))).astype(np.float32)
        r2 = cl.r2_scores(pred, attrs)
        j = cl.FACE_ATTRIBUTES.index("smile")
        assert r2["smile"] == pytest.approx(r2_score(attrs.smile, pred[:, j]), abs=1e-6)
        hair = attrs.hair > 0.5
        jc = cl.FACE_ATTRIBUTES.index("hair_colour")
        assert r2["hair_colour"] == pytest.approx(r2_score(attrs.hair_colour[hair], pred[hair, jc]), abs=1e-6)
        assert cl.r2_scores(attrs.table(), attrs)["eyes"] == pytest.approx(1.0)
        with pytest.raises(ValueError, match="shape"):
            cl.r2_scores(pred[:, :3], attrs)

    def test_hair_colour_loss_is_masked_on_bald_faces(self):
        model = cl.AttributeRegressor(width=4)
        x = torch.rand(4, 3, 32, 32)
        y = torch.zeros(4, len(cl.FACE_ATTRIBUTES))  # hair = 0 everywhere
        base = cl.attribute_loss(model, (x, y))["loss"]
        y2 = y.clone()
        y2[:, cl.FACE_ATTRIBUTES.index("hair_colour")] = 5.0
        torch.testing.assert_close(cl.attribute_loss(model, (x, y2))["loss"], base)
        with pytest.raises(ValueError, match="B, 3, H, W"):
            model(torch.rand(2, 1, 32, 32))

    def test_train_regressor_returns_held_out_r2(self):
        model, hist, r2 = cl.train_attribute_regressor(
            Budget(epochs=1, batch_size=64, lr=1e-3, train_size=256, test_size=64), seed=0, progress=False)
        assert set(r2) == set(cl.FACE_ATTRIBUTES) and all(np.isfinite(v) for v in r2.values())
        assert cl.predict_attributes(model, torch.rand(3, 3, 32, 32)).shape == (3, len(cl.FACE_ATTRIBUTES))

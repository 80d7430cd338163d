import pytest
import torch

import course_lib as cl
from course_lib.vae_mnist import conv_encoder


@pytest.fixture
def x():
    return torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))


class TestModels:
    @pytest.mark.parametrize("kind", ["ae", "vae", "conv_vae"])
    def test_shapes(self, kind, x):
        m = cl.thesis_model(kind, latent_dim=5, hidden=32, width=0.25)
        out = m(x)
        assert out.x_hat.shape == x.shape and out.z.shape == (6, 5)
        if kind != "ae":
            assert out.mu.shape == out.logvar.shape == (6, 5)
            s = m.sample(3, generator=torch.Generator().manual_seed(1))
            assert s.shape == (3, 1, 28, 28) and 0 <= float(s.min()) and float(s.max()) <= 1

    def test_ae_and_vae_share_the_decoder_architecture(self):
        ae, vae = cl.thesis_model("ae", 8, 64), cl.thesis_model("vae", 8, 64)
        assert [p.shape for p in ae.decoder.parameters()] == [p.shape for p in vae.decoder.parameters()]

    def test_thesis_conv_sizes(self, x):
        assert conv_encoder(1.0)(x).shape == (6, 128)
        assert cl.conv_decoder(7, 1.0)(torch.zeros(2, 7)).shape == (2, 1, 28, 28)

    def test_decoder_depth_adds_layers(self):
        n1 = sum(p.numel() for p in cl.dense_decoder(4, 16, depth=1).parameters())
        n3 = sum(p.numel() for p in cl.dense_decoder(4, 16, depth=3).parameters())
        assert n3 - n1 == 2 * (16 * 16 + 16)

    def test_bad_inputs(self):
        m = cl.thesis_model("vae", 4, 16)
        with pytest.raises(ValueError, match=r"\(batch, 1, 28, 28\)"):
            m(torch.rand(2, 784))
        with pytest.raises(TypeError, match="floating"):
            m(torch.zeros(2, 1, 28, 28, dtype=torch.long))
        with pytest.raises(ValueError, match=r"\(batch, 4\)"):
            m.decode(torch.zeros(2, 3))
        with pytest.raises(ValueError, match="kind"):
            cl.thesis_model("gan")
        with pytest.raises(ValueError, match="depth"):
            cl.dense_decoder(4, 16, depth=0)


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


class TestObjective:
    def test_dynamic_binarize(self):
        g = torch.Generator().manual_seed(0)
        x = torch.full((20000,), 0.3)
        b = cl.dynamic_binarize(x, generator=g)
        assert set(b.unique().tolist()) <= {0.0, 1.0}
        assert float(b.mean()) == pytest.approx(0.3, abs=0.01)
        assert not torch.equal(b, cl.dynamic_binarize(x, generator=g))  # fresh each call
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            cl.dynamic_binarize(torch.tensor([1.5]))

    def test_vae_loss_parts(self, x):
        torch.manual_seed(0)
        m = cl.thesis_model("vae", 4, 16)
        torch.manual_seed(1)
        p1 = cl.mnist_vae_loss(m, x)
        torch.manual_seed(1)
        p4 = cl.mnist_vae_loss(m, (x, torch.zeros(6)), beta=4.0)
        torch.testing.assert_close(p1["loss"], p1["recon"] + p1["kl"])
        torch.testing.assert_close(p4["loss"], p4["recon"] + 4 * p4["kl"])
        torch.testing.assert_close(p4["elbo"], p1["elbo"])  # the reported ELBO ignores beta
        torch.manual_seed(1)
        pw = cl.mnist_vae_loss(m, x, beta=4.0, kl_weight=0.25)
        torch.testing.assert_close(pw["loss"], p1["loss"])

    def test_objective_counts_training_steps_only(self, x):
        m = cl.thesis_model("vae", 4, 16)
        obj = cl.VAEObjective(beta=2.0, warmup_steps=4)
        w = [float(obj(m, x)["kl_weight"]) for _ in range(3)]
        assert w == [0.5, 1.0, 1.5]
        m.eval()
        assert float(obj(m, x)["kl_weight"]) == 1.5 and obj.step == 3

    def test_fit_with_objective_and_ae_loss(self, x):
        for kind, loss in [("vae", cl.VAEObjective(binarize=True, free_bits=0.1, warmup_steps=3)),
                           ("ae", cl.bernoulli_ae_loss)]:
            m = cl.thesis_model(kind, 3, 16)
            h = cl.fit(m, loss, x, epochs=2, batch_size=3, progress=False, seed=0)
            assert len(h) == 4

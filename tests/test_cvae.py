import pytest
import torch
import torch.nn.functional as F

import course_lib as cl


@pytest.fixture
def small():
    torch.manual_seed(0)
    return cl.conditional_conv_vae(image_shape=(1, 16, 16), latent_dim=4, n_classes=3, channels=(4, 8))


def batch(B=5, shape=(1, 16, 16), k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, *shape, generator=g), torch.randint(0, k, (B,), generator=g)


class TestShapes:
    def test_default_architecture_per_layer(self):
        model = cl.conditional_conv_vae()  # the source notes' model: 1x32x32, L=128, 10 classes
        x, y = batch(2, (1, 32, 32), 10)
        rows = model.layer_shapes(x, y)
        shapes = [s for _, _, s in rows]
        assert rows[0][2] == (2, 11, 32, 32)  # image + 10 one-hot maps
        assert (2, 16, 16, 16) in shapes and (2, 32, 8, 8) in shapes and (2, 64, 4, 4) in shapes
        assert ("encoder", "Linear", (2, 256)) in rows  # 2L outputs: mu and logvar
        assert ("decoder", "input [z, one-hot]", (2, 138)) in rows
        assert rows[-1] == ("decoder", "ConvTranspose2d", (2, 1, 32, 32))

    def test_forward_outputs(self, small):
        x, y = batch()
        out = small(x, y)
        assert isinstance(out, cl.VAEOutput)
        assert out.x_hat.shape == x.shape
        assert out.z.shape == out.mu.shape == out.logvar.shape == (5, 4)

    def test_encoder_sees_the_label(self, small):
        x, y = batch()
        mu_a, _ = small.encode(x, y)
        mu_b, _ = small.encode(x, (y + 1) % 3)
        assert not torch.allclose(mu_a, mu_b)

    def test_soft_labels_equal_one_hot(self, small):
        x, y = batch()
        z = torch.randn(5, 4)
        torch.testing.assert_close(small.decode(z, y), small.decode(z, F.one_hot(y, 3).float()))

    def test_sample_shape_range_and_seed(self, small):
        y = torch.tensor([0, 1, 2, 2])
        a = small.sample(y, generator=torch.Generator().manual_seed(3))
        b = small.sample(y, generator=torch.Generator().manual_seed(3))
        assert a.shape == (4, 1, 16, 16) and a.min() >= 0 and a.max() <= 1
        torch.testing.assert_close(a, b)
        # temperature 0 decodes z = 0
        torch.testing.assert_close(small.sample(y, temperature=0.0), small.decode(torch.zeros(4, 4), y))
        # the decoder's mean: pixel probabilities from the logits
        torch.testing.assert_close(small.decode(torch.zeros(4, 4), y),
                                   torch.sigmoid(small.decode_logits(torch.zeros(4, 4), y)))


class TestLoss:
    def test_matches_a_hand_computation(self, small):
        x, y = batch()
        torch.manual_seed(1)
        parts = cl.vae_loss(small, (x, y))
        torch.manual_seed(1)
        out = small(x, y)
        p = out.x_hat  # pixel probabilities
        log_lik = (x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
        q = torch.distributions.Normal(out.mu, (0.5 * out.logvar).exp())
        kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
        torch.testing.assert_close(parts["recon"], -log_lik.mean(), rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(parts["kl"], kl.mean(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(parts["loss"], -parts["elbo"])

    def test_the_label_is_fed_to_the_model(self, small):
        x, y = batch()
        torch.manual_seed(1)
        a = cl.vae_loss(small, (x, y))
        torch.manual_seed(1)
        b = cl.vae_loss(small, (x, (y + 1) % 3))
        assert not torch.allclose(a["recon"], b["recon"])

    def test_finite_for_saturated_logits(self, small):
        # Logits of +-200 saturate the sigmoid to exactly 0 or 1 in float32: the
        # seed's x_hat.log() gives -inf there, the logits form stays finite.
        x, y = batch()
        x = (x > 0.5).float()
        with torch.no_grad():
            small.decoder[-1].bias.fill_(200.0)
        parts = cl.vae_loss(small, (x, y))
        assert all(torch.isfinite(v) for v in parts.values())
        p = small(x, y).x_hat
        naive = (x * p.log() + (1 - x) * (1 - p).log()).sum()
        assert not torch.isfinite(naive)
        parts["loss"].backward()
        assert all(torch.isfinite(q.grad).all() for q in small.parameters() if q.grad is not None)

    def test_needs_labels(self, small):
        x, _ = batch()
        with pytest.raises(TypeError, match=r"batches \(x, y\)"):
            cl.vae_loss(small, x)


class TestErrors:
    def test_bad_config(self):
        with pytest.raises(ValueError, match="divisible by 2\\*\\*3 = 8"):
            cl.conditional_conv_vae(image_shape=(1, 28, 28))
        with pytest.raises(ValueError, match=r"\(C, H, W\)"):
            cl.conditional_conv_vae(image_shape=(28, 28))
        with pytest.raises(ValueError, match="n_classes >= 2"):
            cl.conditional_conv_vae(n_classes=1)
        with pytest.raises(ValueError, match="positive"):
            cl.conditional_conv_vae(channels=(16, 0, 64))
        with pytest.raises(ValueError, match=r"images \(C, H, W\)"):
            cl.ConditionalVAE(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4), (4,), 2, 3)

    def test_wrong_image_shape(self, small):
        with pytest.raises(ValueError, match=r"x must have shape \(batch, 1, 16, 16\), got \(5, 1, 32, 32\)"):
            small.encode(torch.rand(5, 1, 32, 32), torch.zeros(5, dtype=torch.long))

    def test_integer_images(self, small):
        with pytest.raises(TypeError, match="floating-point"):
            small.encode(torch.zeros(2, 1, 16, 16, dtype=torch.uint8), torch.zeros(2, dtype=torch.long))

    def test_label_out_of_range_and_count(self, small):
        x, _ = batch(2)
        with pytest.raises(ValueError, match=r"labels must lie in 0..2, got 0..3"):
            small.encode(x, torch.tensor([0, 3]))
        with pytest.raises(ValueError, match="3 labels for a batch of 2"):
            small.encode(x, torch.tensor([0, 1, 2]))
        with pytest.raises(ValueError, match="integer labels"):
            small.encode(x, torch.tensor([[0, 1]]))

    def test_wrong_latent(self, small):
        with pytest.raises(ValueError, match=r"z must have shape \(batch, 4\)"):
            small.decode(torch.zeros(2, 5), torch.tensor([0, 1]))

    def test_negative_temperature(self, small):
        with pytest.raises(ValueError, match="temperature"):
            small.sample(torch.tensor([0]), temperature=-1)


class TestWidgetComputations:
    def test_interpolation_end_points_are_reconstructions(self, small):
        x, y = batch(2)
        frames = cl.interpolate(small, x[0], x[1], [0.0, 0.5, 1.0], int(y[0]), int(y[1]))
        assert frames.shape == (3, 1, 16, 16)
        small.eval()
        with torch.no_grad():
            mu, _ = small.encode(x, y)
            torch.testing.assert_close(frames[0], small.decode(mu[:1], y[:1])[0], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(frames[2], small.decode(mu[1:], y[1:])[0], rtol=1e-5, atol=1e-6)
            # the decoder's means, not its logits
            assert ((frames > 0) & (frames < 1)).all()

    def test_interpolation_midpoint_decodes_the_mean_code(self, small):
        x, y = batch(2)
        small.eval()
        mu, _ = small.encode(x, y)
        onehot = F.one_hot(y, 3).float()
        expected = small.decode(mu.mean(0, keepdim=True), onehot.mean(0, keepdim=True))
        mid = cl.interpolate(small, x[0], x[1], torch.tensor([0.5]), int(y[0]), int(y[1]))
        torch.testing.assert_close(mid, expected, rtol=1e-5, atol=1e-6)

    def test_interpolation_errors(self, small):
        x, y = batch(2)
        with pytest.raises(ValueError, match=r"must both have shape \(1, 16, 16\)"):
            cl.interpolate(small, x, x[1], [0.5], 0, 1)
        with pytest.raises(ValueError, match="at least one"):
            cl.interpolate(small, x[0], x[1], [], 0, 1)
        # a conditional VAE needs both labels; an unconditional model takes none
        with pytest.raises(ValueError, match="labels y0 and y1"):
            cl.interpolate(small, x[0], x[1], [0.5])
        with pytest.raises(ValueError, match="labels y0 and y1"):
            cl.interpolate(small, x[0], x[1], [0.5], 0)
        vae = cl.mlp_vae((1, 16, 16), 4, (8,), likelihood="bernoulli")
        with pytest.raises(ValueError, match="labels y0 and y1"):
            cl.interpolate(vae, x[0], x[1], [0.5], 0, 1)

    def test_class_swap_grid(self, small):
        x, y = batch(2)
        grid = cl.class_swap(small, x, y)
        assert grid.shape == (2, 3, 1, 16, 16)
        mu, _ = small.encode(x, y)
        torch.testing.assert_close(grid[1, 2], small.decode(mu[1:], torch.tensor([2]))[0])

    def test_temperature_samples(self, small):
        eps = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
        out = cl.temperature_samples(small, eps, 0.5)
        assert out.shape == (3, 4, 1, 16, 16)
        torch.testing.assert_close(out[2, 1], small.decode(0.5 * eps[1:2], torch.tensor([2]))[0])
        zero = cl.temperature_samples(small, eps, 0.0)
        torch.testing.assert_close(zero[:, 0], zero[:, 3])  # T = 0: every sample is the class's z = 0 image
        with pytest.raises(ValueError, match=r"eps must have shape \(S, 4\)"):
            cl.temperature_samples(small, torch.randn(2, 3), 1.0)

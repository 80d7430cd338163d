import math

import pytest
import torch
from torch import nn

import course_lib as cl


class TestMlp:
    def test_layers_and_activations(self):
        net = cl.mlp([2, 8, 4, 3], out_activation=nn.Sigmoid())
        kinds = [type(m) for m in net]
        assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid]
        assert net(torch.randn(5, 2)).shape == (5, 3)

    def test_bad_sizes(self):
        with pytest.raises(ValueError):
            cl.mlp([4])
        with pytest.raises(ValueError):
            cl.mlp([4, 0, 2])


class TestAutoencoder:
    def test_toy_architecture_of_the_notes(self):
        ae = cl.mlp_autoencoder(2, 16)
        sizes = [m.out_features for m in ae.encoder if isinstance(m, nn.Linear)]
        assert sizes == [128, 64, 32, 16]
        sizes = [m.out_features for m in ae.decoder if isinstance(m, nn.Linear)]
        assert sizes == [32, 64, 128, 2]

    def test_forward_returns_named_output(self):
        ae = cl.mlp_autoencoder(2, 3)
        out = ae(torch.randn(7, 2))
        assert isinstance(out, cl.AEOutput) and out.x_hat.shape == (7, 2) and out.z.shape == (7, 3)
        x = torch.randn(7, 2)
        out = ae(x)
        torch.testing.assert_close(out.z, ae.encode(x))
        torch.testing.assert_close(out.x_hat, ae.decode(ae.encode(x)))

    def test_images_are_flattened_and_restored(self):
        ae = cl.mlp_autoencoder((1, 28, 28), 4, hidden=(32,), out_activation=nn.Sigmoid())
        x = torch.rand(3, 1, 28, 28)
        out = ae(x)
        assert out.x_hat.shape == x.shape and out.z.shape == (3, 4)
        assert ae.data_dim == 784
        assert float(out.x_hat.detach().min()) >= 0 and float(out.x_hat.detach().max()) <= 1

    def test_wrong_shape_gives_clear_error(self):
        ae = cl.mlp_autoencoder(2, 3)
        with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\), got \(4, 3\)"):
            ae(torch.randn(4, 3))
        with pytest.raises(ValueError, match=r"z must have shape \(batch, 3\)"):
            ae.decode(torch.randn(4, 2))
        with pytest.raises(ValueError):
            ae(torch.randn(2))  # missing batch dimension

    def test_wrong_dtype_gives_clear_error(self):
        ae = cl.mlp_autoencoder(2, 3)
        with pytest.raises(TypeError, match="floating-point"):
            ae(torch.ones(4, 2, dtype=torch.long))
        with pytest.raises(TypeError, match="torch.Tensor"):
            ae([[0.0, 1.0]])

    def test_eval_still_works(self):
        # the seeds' defect: a training loop named `train` breaks .eval()
        ae = cl.mlp_autoencoder(2, 3)
        assert ae.eval() is ae and not ae.training
        assert ae.train() is ae and ae.training

    def test_linear_autoencoder_is_linear(self):
        ae = cl.linear_autoencoder(5, 2, bias=False)
        a, b = torch.randn(3, 5), torch.randn(3, 5)
        torch.testing.assert_close(ae(a + 2 * b).x_hat, ae(a).x_hat + 2 * ae(b).x_hat)
        assert ae.decoder.weight.shape == (5, 2)


class TestReparameterize:
    def test_moments_and_gradient(self):
        mu = torch.full((200_000, 2), 1.5, requires_grad=True)
        logvar = torch.full((200_000, 2), math.log(0.25), requires_grad=True)
        z = cl.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
        assert abs(float(z.detach().mean()) - 1.5) < 0.01 and abs(float(z.detach().std()) - 0.5) < 0.01
        z.sum().backward()  # d z / d mu = 1 for every sample
        assert torch.equal(mu.grad, torch.ones_like(mu))
        assert torch.isfinite(logvar.grad).all()

    def test_seeded_and_shape_checked(self):
        mu, lv = torch.zeros(3, 4), torch.zeros(3, 4)
        a = cl.reparameterize(mu, lv, generator=torch.Generator().manual_seed(1))
        b = cl.reparameterize(mu, lv, generator=torch.Generator().manual_seed(1))
        assert torch.equal(a, b)
        with pytest.raises(ValueError):
            cl.reparameterize(mu, torch.zeros(3, 5))


class TestMlpVAE:
    def test_shapes_and_heads(self):
        torch.manual_seed(0)
        vae = cl.mlp_vae(2, 16, sigma=0.1)
        x = torch.randn(7, 2)
        mu, logvar = vae.encode(x)
        assert mu.shape == logvar.shape == (7, 16)
        out = vae(x)
        assert isinstance(out, cl.VAEOutput)
        assert out.x_hat.shape == (7, 2) and out.z.shape == (7, 16)
        torch.testing.assert_close(out.mu, mu)
        # mu and logvar are the two halves of the encoder's (B, 2L) output
        h = vae.encoder(x)
        torch.testing.assert_close(torch.cat([mu, logvar], dim=1), h)
        assert vae.data_dim == 2 and vae.latent_dim == 16

    def test_seed_architecture(self):
        vae = cl.mlp_vae(2, 16)
        linears = [m for m in vae.encoder.modules() if isinstance(m, nn.Linear)]
        assert [(m.in_features, m.out_features) for m in linears] == [(2, 128), (128, 64), (64, 32), (32, 32)]
        dec = [m for m in vae.decoder.modules() if isinstance(m, nn.Linear)]
        assert [(m.in_features, m.out_features) for m in dec] == [(16, 32), (32, 64), (64, 128), (128, 2)]

    def test_reparameterize_uses_the_posterior(self):
        vae = cl.mlp_vae(2, 3)
        mu, logvar = torch.zeros(20000, 3) + 1.5, torch.full((20000, 3), math.log(0.25))
        z = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
        assert abs(z.mean().item() - 1.5) < 0.01 and abs(z.std().item() - 0.5) < 0.01

    def test_sample_is_deterministic_under_a_generator(self):
        vae = cl.mlp_vae(2, 4, sigma=0.1)
        a = vae.sample(5, generator=torch.Generator().manual_seed(1))
        b = vae.sample(5, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(a, b)
        assert a.shape == (5, 2) and not a.requires_grad
        noisy = vae.sample(5, generator=torch.Generator().manual_seed(1), noise=True)
        assert not torch.allclose(noisy, a)

    def test_sample_noise_is_the_decoders_gaussian(self):
        vae = cl.mlp_vae(2, 4, sigma=0.3)
        mean = vae.sample(20000, generator=torch.Generator().manual_seed(2))
        noisy = vae.sample(20000, generator=torch.Generator().manual_seed(2), noise=True)
        eps = (noisy - mean) / 0.3          # the same codes, plus sigma * N(0, I)
        assert abs(float(eps.mean())) < 0.02 and abs(float(eps.std()) - 1) < 0.02
        with pytest.raises(ValueError, match="sigma"):
            cl.mlp_vae(2, 4).sample(3, noise=True)

    def test_images_and_eval_mode(self):
        vae = cl.mlp_vae((1, 28, 28), 8, hidden=(64,))
        out = vae(torch.rand(3, 1, 28, 28))
        assert out.x_hat.shape == (3, 1, 28, 28)
        vae.eval()  # eval() must work: no train() override
        assert not vae.training

    def test_bad_input(self):
        vae = cl.mlp_vae(2, 4)
        with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
            vae.encode(torch.zeros(3, 5))
        with pytest.raises(ValueError, match="sigma must be positive"):
            cl.mlp_vae(2, 4, sigma=0.0)
        with pytest.raises(ValueError, match="n must be positive"):
            vae.sample(0)
        bad = cl.VAE(nn.Linear(2, 5), nn.Linear(2, 2), (2,), 2)   # an encoder that does not give 2L outputs
        with pytest.raises(ValueError, match=r"\(B, 2L\) = \(B, 4\)"):
            bad.encode(torch.zeros(3, 2))


# --- the one model family: Autoencoder, VAE, ConditionalVAE -----------------------------------


def _tiny_bernoulli_vae(L=3):
    torch.manual_seed(0)
    return cl.VAE(nn.Linear(4, 2 * L), nn.Linear(L, 4), (4,), L, likelihood="bernoulli")


def test_every_builder_returns_the_one_model_family():
    vaes = [cl.mlp_vae(2, 3), cl.mlp_vae((1, 28, 28), 3, (8,), likelihood="bernoulli"),
            cl.conv_vae(3, 3, 16, 4), cl.all_conv_vae(3, width=0.125), cl.conditional_conv_vae((1, 8, 8), 3, 3, (4, 8))]
    for vae in vaes:
        assert isinstance(vae, cl.VAE), type(vae)
        assert type(vae).reparameterize is cl.VAE.reparameterize and type(vae).prior_codes is cl.VAE.prior_codes
    for ae in (cl.mlp_autoencoder(2, 3), cl.linear_autoencoder(2, 1)):
        assert isinstance(ae, cl.Autoencoder) and not isinstance(ae, cl.VAE)


def test_the_encoder_gets_the_batch_unflattened():
    seen = []

    class Record(nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            return x.flatten(1)[:, :2]

    ae = cl.Autoencoder(Record(), nn.Linear(2, 12), (3, 2, 2), 2)
    out = ae(torch.rand(5, 3, 2, 2))
    assert seen == [(5, 3, 2, 2)]
    assert out.x_hat.shape == (5, 3, 2, 2)      # the decoder's (B, D) is reshaped to the input shape
    with pytest.raises(ValueError, match="likelihood must be one of"):
        cl.Autoencoder(Record(), nn.Linear(2, 12), (3, 2, 2), 2, likelihood="laplace")


def test_forward_is_encode_reparameterize_decode():
    vae = _tiny_bernoulli_vae()
    x = torch.randn(5, 4)
    torch.manual_seed(3)
    out = vae(x)
    mu, logvar = vae.encode(x)
    torch.manual_seed(3)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    torch.testing.assert_close(out.z, z)
    torch.testing.assert_close(out.logits, vae.decoder(z))
    torch.testing.assert_close(out.x_hat, torch.sigmoid(vae.decoder(z)))
    torch.testing.assert_close(out.mu, mu)


def test_prior_codes_shape_temperature_determinism_and_errors():
    vae = _tiny_bernoulli_vae(L=3)
    z = vae.prior_codes(7, torch.Generator().manual_seed(1))
    assert z.shape == (7, 3)
    torch.testing.assert_close(z, vae.prior_codes(7, torch.Generator().manual_seed(1)))
    torch.testing.assert_close(vae.prior_codes(7, torch.Generator().manual_seed(1), temperature=0.5), 0.5 * z)
    assert (vae.prior_codes(4, temperature=0.0) == 0).all()
    big = vae.prior_codes(20000, torch.Generator().manual_seed(2))
    assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02
    with pytest.raises(ValueError, match="positive"):
        vae.prior_codes(0)
    with pytest.raises(ValueError, match="temperature"):
        vae.prior_codes(3, temperature=-1)


def test_bernoulli_vae_samples_are_pixel_probabilities():
    vae = _tiny_bernoulli_vae()
    x = vae.sample(6, torch.Generator().manual_seed(0))
    z = vae.prior_codes(6, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, torch.sigmoid(vae.decoder(z)))   # decode applies the sigmoid, once
    torch.testing.assert_close(x, vae.decode(z))
    assert x.shape == (6, 4) and ((x > 0) & (x < 1)).all() and not x.requires_grad
    # noise=True draws binary pixels with those probabilities
    many = vae.sample(20000, torch.Generator().manual_seed(1), noise=True)
    assert set(many.unique().tolist()) == {0.0, 1.0}
    p = vae.decode(vae.prior_codes(20000, torch.Generator().manual_seed(1))).detach()
    assert abs(float(many.mean()) - float(p.mean())) < 0.01


def test_decode_logits_and_decoder_output():
    bern = _tiny_bernoulli_vae()
    z = torch.randn(5, 3)
    with torch.no_grad():
        torch.testing.assert_close(bern.decode_logits(z), bern.decoder(z))
        torch.testing.assert_close(bern.decoder_output(z), bern.decoder(z))
        torch.testing.assert_close(bern.decode(z), torch.sigmoid(bern.decoder(z)))
    gauss = cl.mlp_vae(4, 3, (8,), sigma=0.1)
    with torch.no_grad():
        torch.testing.assert_close(gauss.decode(z), gauss.decoder(z))   # a Gaussian decoder outputs its mean
    with pytest.raises(ValueError, match="not logits; use decode"):
        gauss.decode_logits(z)

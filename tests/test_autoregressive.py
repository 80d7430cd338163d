import itertools

import pytest
import torch

import course_lib as cl
from course_lib.autoregressive import (AutoregressiveDecoder, AutoregressiveVAE, MaskedConv2d,
                                       autoregressive_mlp_vae)


def _model(shape=(1, 4, 4), latent_dim=3, seed=0, **kw):
    torch.manual_seed(seed)
    model = autoregressive_mlp_vae(shape, latent_dim, (8,), **kw)
    # the context network starts at zero; give it weights so that the tests see it
    torch.nn.init.normal_(model.decoder.context[2].weight)
    return model


class TestMaskedConv2d:
    def test_each_output_sees_only_the_pixels_before_it_in_raster_order(self):
        torch.manual_seed(0)
        conv = MaskedConv2d(1, 3, 5)
        H = W = 6
        x = torch.rand(1, 1, H, W, requires_grad=True)
        for i in range(H * W):
            grad, = torch.autograd.grad(conv(x)[0, :, i // W, i % W].sum(), x)
            seen = grad.flatten().abs() > 0
            assert not seen[i:].any(), f"output {i} depends on pixel {int(seen[i:].nonzero()[0]) + i}"
        # the neighbourhood before the centre is used (mask "A" keeps 12 of 25 positions)
        assert int(conv.mask.sum()) == 12

    def test_even_or_tiny_kernels_are_refused(self):
        for k in (1, 4):
            with pytest.raises(ValueError, match="odd"):
                MaskedConv2d(1, 1, k)


class TestAutoregressiveVAE:
    def test_logits_of_pixel_i_do_not_depend_on_pixels_from_i_on(self):
        model = _model()
        z = torch.randn(1, 3)
        x = torch.bernoulli(torch.full((1, 1, 4, 4), 0.5)).requires_grad_(True)
        for i in range(16):
            grad, = torch.autograd.grad(model.decoder_output(z, x).flatten()[i], x)
            assert not (grad.flatten()[i:] != 0).any(), i

    def test_p_x_given_z_sums_to_one_over_all_binary_images(self):
        # 2 x 2 images: 16 configurations; the chain rule makes p(x | z) a distribution
        model = _model(shape=(1, 2, 2), kernel_size=3)
        z = torch.randn(1, 3)
        xs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).view(16, 1, 2, 2)
        with torch.no_grad():
            logits = model.decoder_output(z.expand(16, 3), xs)
            log_p = cl.bernoulli_log_likelihood(logits, xs)
        torch.testing.assert_close(log_p.exp().sum(), torch.tensor(1.0))

    def test_a_context_net_at_zero_leaves_the_code_decoder_alone(self):
        torch.manual_seed(0)
        model = autoregressive_mlp_vae((1, 4, 4), 3, (8,))   # as built: context output weight 0
        z, x = torch.randn(5, 3), torch.bernoulli(torch.full((5, 1, 4, 4), 0.5))
        torch.testing.assert_close(model.decoder_output(z, x),
                                   model.decoder.z_decoder(z).view(5, 1, 4, 4))

    def test_same_seed_same_encoder_and_code_network_as_mlp_vae(self):
        torch.manual_seed(0)
        plain = cl.mlp_vae((1, 4, 4), 3, (8,), likelihood="bernoulli")
        torch.manual_seed(0)
        ar = autoregressive_mlp_vae((1, 4, 4), 3, (8,))
        for a, b in zip(plain.encoder.parameters(), ar.encoder.parameters()):
            torch.testing.assert_close(a, b)
        for a, b in zip(plain.decoder.parameters(), ar.decoder.z_decoder.parameters()):
            torch.testing.assert_close(a, b)

    def test_the_loss_and_the_training_loop_take_it_like_any_vae(self):
        model = _model()
        x = torch.bernoulli(torch.full((32, 1, 4, 4), 0.3))
        out = model(x)
        assert out.logits.shape == x.shape and out.mu.shape == (32, 3)
        parts = cl.vae_loss(model, x)
        # the reconstruction term is the autoregressive log-likelihood at the sampled z
        torch.testing.assert_close(parts["elbo"], -(parts["recon"] + parts["kl"]))
        before = [p.detach().clone() for p in model.parameters()]
        cl.fit(model, cl.VAEObjective(binarize=True), x, steps=3, batch_size=16, progress=False)
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))

    def test_samples_are_binary_images_fixed_by_the_generator(self):
        model = _model()
        a = model.sample(4, generator=torch.Generator().manual_seed(1))
        b = model.sample(4, generator=torch.Generator().manual_seed(1))
        assert a.shape == (4, 1, 4, 4) and torch.equal(a, b)
        assert set(a.unique().tolist()) <= {0.0, 1.0}

    def test_sampling_draws_each_pixel_from_its_conditional(self):
        # one pixel whose logit depends on the pixel before it: frequencies match the chain rule
        model = _model(shape=(1, 1, 2), kernel_size=3, latent_dim=1)
        z = torch.zeros(4000, 1)
        x = model.sample_at(z, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            for first in (0.0, 1.0):
                rows = x[:, 0, 0, 0] == first
                probe = torch.tensor([[[[first, 0.0]]]])
                p_second = torch.sigmoid(model.decoder_output(z[:1], probe)[0, 0, 0, 1])
                freq = x[rows, 0, 0, 1].mean()
                assert abs(freq - p_second) < 4 * (p_second * (1 - p_second) / rows.sum()).sqrt() + 1e-3

    def test_decode_without_images_is_refused_with_a_reason(self):
        model = _model()
        with pytest.raises(TypeError, match="no mean image"):
            model.decode(torch.zeros(1, 3))
        with pytest.raises(TypeError, match="codes and the images"):
            model.decoder_output(torch.zeros(1, 3))
        with pytest.raises(ValueError, match="binary draws"):
            model.sample(2, noise=False)

    def test_only_an_autoregressive_decoder_is_accepted(self):
        with pytest.raises(TypeError, match="AutoregressiveDecoder"):
            AutoregressiveVAE(torch.nn.Flatten(), torch.nn.Linear(3, 16), (1, 4, 4), 3)
        with pytest.raises(ValueError, match=r"\(C, H, W\)"):
            AutoregressiveDecoder(torch.nn.Linear(3, 16), (16,))

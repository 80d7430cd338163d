"""The builders of course_lib.architectures: the networks they make, what their
decoders output (means or logits), and their argument checks."""

import functools

import pytest
import torch
from torch import nn

import course_lib as cl

# Keras' LeakyReLU (the framework of chapter 9's thesis) has slope 0.3
THESIS_ACT = functools.partial(nn.LeakyReLU, 0.3)


def thesis_vae(latent_dim, hidden, depth=1):
    """The thesis's dense VAE: 784 -> hidden -> 2L, L -> hidden x depth -> 784 logits."""
    return cl.mlp_vae((1, 28, 28), latent_dim, (hidden,), decoder_hidden=(hidden,) * depth,
                      activation=THESIS_ACT, likelihood="bernoulli")


def thesis_ae(latent_dim, hidden):
    """The thesis's deterministic baseline with the same dense decoder."""
    return cl.mlp_autoencoder((1, 28, 28), latent_dim, (hidden,), activation=THESIS_ACT, likelihood="bernoulli")


@pytest.fixture
def x():
    return torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))


# --- chapter 9's thesis models (dense AE and VAE, all-convolutional VAE) --------------------------

class TestThesisModels:
    @pytest.mark.parametrize("kind", ["ae", "vae", "conv_vae"])
    def test_shapes(self, kind, x):
        m = {"ae": lambda: thesis_ae(5, 32), "vae": lambda: thesis_vae(5, 32),
             "conv_vae": lambda: cl.all_conv_vae(5, width=0.25)}[kind]()
        out = m(x)
        assert out.x_hat.shape == out.logits.shape == x.shape and out.z.shape == (6, 5)
        if kind != "ae":
            assert out.mu.shape == out.logvar.shape == (6, 5)
            s = m.sample(3, generator=torch.Generator().manual_seed(1))
            assert s.shape == (3, 1, 28, 28) and 0 <= float(s.min()) and float(s.max()) <= 1

    def test_ae_and_vae_share_the_decoder_architecture(self):
        ae, vae = thesis_ae(8, 64), thesis_vae(8, 64)
        assert [p.shape for p in ae.decoder.parameters()] == [p.shape for p in vae.decoder.parameters()]

    def test_all_conv_sizes(self, x):
        m = cl.all_conv_vae(7, width=1.0)
        assert m.encoder[:-1](x).shape == (6, 128)       # the 7x7 "valid" convolution leaves 128 maps of 1x1
        mu, logvar = m.encode(x)
        assert mu.shape == logvar.shape == (6, 7)
        assert m.decoder(torch.zeros(2, 7)).shape == (2, 1, 28, 28)

    def test_decoder_depth_adds_layers(self):
        n1 = sum(p.numel() for p in thesis_vae(4, 16, depth=1).decoder.parameters())
        n3 = sum(p.numel() for p in thesis_vae(4, 16, depth=3).decoder.parameters())
        assert n3 - n1 == 2 * (16 * 16 + 16)

    def test_bad_inputs(self):
        m = thesis_vae(4, 16)
        with pytest.raises(ValueError, match=r"\(batch, 1, 28, 28\)"):
            m(torch.rand(2, 784))
        with pytest.raises(TypeError, match="floating"):
            m(torch.zeros(2, 1, 28, 28, dtype=torch.long))
        with pytest.raises(ValueError, match=r"\(batch, 4\)"):
            m.decode(torch.zeros(2, 3))
        with pytest.raises(ValueError, match="likelihood must be one of"):
            cl.mlp_vae((1, 28, 28), 4, (16,), likelihood="poisson")
        with pytest.raises(ValueError, match="must be positive"):
            cl.mlp_vae((1, 28, 28), 4, (16, 0))
        with pytest.raises(ValueError, match="must be positive"):
            cl.mlp_vae((1, 28, 28), 0, (16,))


# --- the faces VAE (chapter 7) ------------------------------------------------------------------

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

    def test_gaussian_decoder_mean_stays_in_the_unit_interval(self):
        torch.manual_seed(0)
        gauss = cl.conv_vae(latent_dim=4, width=8, likelihood="gaussian", sigma=0.05).eval()
        bern = cl.conv_vae(latent_dim=4, width=8).eval()
        bern.load_state_dict(gauss.state_dict())       # same weights: only the output layer differs
        z = 50 * torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            logits = bern.decode_logits(z)
            mean = gauss.decode(z)
        assert logits.abs().max() > 5                   # far outside [0, 1] ...
        torch.testing.assert_close(mean, torch.sigmoid(logits))  # ... squashed by the appended sigmoid
        assert gauss(torch.rand(2, 3, 32, 32)).logits is None

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
        with pytest.raises(ValueError, match="sigma must be positive"):
            cl.conv_vae(4, width=8, likelihood="gaussian", sigma=0.0)


# --- what every builder's decoder outputs -------------------------------------------------------

BUILDERS = {
    "mlp_vae bernoulli": (lambda: cl.mlp_vae((1, 8, 8), 3, (16,), likelihood="bernoulli"), (4, 1, 8, 8), ()),
    "mlp_vae gaussian": (lambda: cl.mlp_vae(5, 2, (8,), sigma=0.1), (4, 5), ()),
    "conv_vae bernoulli": (lambda: cl.conv_vae(3, 3, 16, 4), (4, 3, 16, 16), ()),
    "conv_vae gaussian": (lambda: cl.conv_vae(3, 3, 16, 4, likelihood="gaussian", sigma=0.1), (4, 3, 16, 16), ()),
    "all_conv_vae bernoulli": (lambda: cl.all_conv_vae(3, width=0.125), (4, 1, 28, 28), ()),
    "all_conv_vae gaussian": (lambda: cl.all_conv_vae(3, width=0.125, likelihood="gaussian", sigma=0.1),
                              (4, 1, 28, 28), ()),
    "conditional_conv_vae": (lambda: cl.conditional_conv_vae((1, 8, 8), 3, 3, (4, 8)), (4, 1, 8, 8),
                             (torch.tensor([0, 2, 1, 2]),)),
    "mlp_autoencoder bernoulli": (lambda: cl.mlp_autoencoder((1, 8, 8), 3, (16,), likelihood="bernoulli"),
                                  (4, 1, 8, 8), ()),
    "mlp_autoencoder gaussian": (lambda: cl.mlp_autoencoder(5, 2, (8,)), (4, 5), ()),
    "linear_autoencoder": (lambda: cl.linear_autoencoder(5, 2), (4, 5), ()),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_x_hat_is_the_decoders_mean_and_logits_only_for_bernoulli(name):
    build, shape, extra = BUILDERS[name]
    torch.manual_seed(0)
    model = build().eval()                     # eval: batch norm gives the same output for the same codes
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x, *extra)
        raw = model.decoder_output(out.z, *extra)
        assert out.x_hat.shape == raw.shape == x.shape
        torch.testing.assert_close(model.decode(out.z, *extra), out.x_hat)
        if name.endswith("gaussian") or name == "linear_autoencoder":
            assert model.likelihood == "gaussian" and out.logits is None
            torch.testing.assert_close(out.x_hat, raw)   # the network outputs the mean itself
            with pytest.raises(ValueError, match="not logits"):
                model.decode_logits(out.z, *extra)
        else:
            assert model.likelihood == "bernoulli" and out.logits is not None
            torch.testing.assert_close(out.logits, raw)
            torch.testing.assert_close(model.decode_logits(out.z, *extra), raw)
            torch.testing.assert_close(out.x_hat, torch.sigmoid(out.logits))
            assert ((out.x_hat > 0) & (out.x_hat < 1)).all()


# --- the output-bias initialisation of Burda et al.'s VAE ---------------------------------------

def test_output_bias_starts_at_the_logit_of_the_mean_image():
    model = cl.mlp_vae((1, 28, 28), 50, (200, 200), activation=nn.Tanh, likelihood="bernoulli")
    x = torch.rand(64, 1, 28, 28) * torch.linspace(0, 1, 784).view(1, 1, 28, 28)
    cl.init_output_bias(model, x)
    last = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    mean = x.flatten(1).mean(0).clamp(1e-3, 1 - 1e-3)
    torch.testing.assert_close(torch.sigmoid(last.bias), mean)
    # with zero last-layer weights the untrained decoder's mean is exactly the mean image
    with torch.no_grad():
        last.weight.zero_()
        torch.testing.assert_close(model.decode(torch.randn(3, 50))[0].flatten(), mean)
    with pytest.raises(ValueError, match="Gaussian mean"):
        cl.init_output_bias(cl.mlp_vae(4, 2, (8,), sigma=0.1), torch.rand(5, 4))


# --- tied weights: the contractive AE of Rifai et al. and the K-sparse AE of Makhzani & Frey -----

class TestTiedAutoencoder:
    def test_decoder_weight_is_the_encoder_weight_transposed(self, x):
        torch.manual_seed(0)
        model = cl.tied_autoencoder((1, 28, 28), 7, nn.Sigmoid, nn.Sigmoid())
        enc, dec = model.encoder[1], model.decoder[0]
        assert isinstance(dec, cl.TiedLinear) and dec.weight is enc.weight
        # the shared weight is one parameter: W (7 x 784), b (7), c (784)
        assert sum(p.numel() for p in model.parameters()) == 7 * 784 + 7 + 784
        with torch.no_grad():
            dec.bias.normal_()
            h = torch.sigmoid(x.flatten(1) @ enc.weight.T + enc.bias)
            out = model(x)
        torch.testing.assert_close(out.z, h)
        torch.testing.assert_close(out.x_hat, torch.sigmoid(h @ enc.weight + dec.bias).view_as(x))

    def test_one_step_moves_both_sides_and_the_tie_survives_copies(self, x):
        torch.manual_seed(1)
        model = cl.tied_autoencoder((1, 28, 28), 5, nn.Sigmoid, nn.Sigmoid())
        before = model.encoder[1].weight.detach().clone()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        cl.ae_loss(model, x)["loss"].backward()
        opt.step()
        assert not torch.equal(model.encoder[1].weight, before)
        assert model.decoder[0].weight is model.encoder[1].weight
        double = model.double()
        assert double.decoder[0].weight is double.encoder[1].weight
        assert double.encoder[1].weight.dtype == torch.float64
        fresh = cl.tied_autoencoder((1, 28, 28), 5, nn.Sigmoid, nn.Sigmoid()).double()
        fresh.load_state_dict(double.state_dict())
        assert fresh.decoder[0].weight is fresh.encoder[1].weight
        with torch.no_grad():
            torch.testing.assert_close(fresh(x.double()).x_hat, double(x.double()).x_hat)

    def test_contractive_penalty_of_a_sigmoid_encoder_is_rifais_closed_form(self, x):
        # h = sigmoid(W x + b): J = diag(h (1 - h)) W, so ||J||_F^2 = sum_l (h_l (1 - h_l))^2 ||W_l||^2
        torch.manual_seed(2)
        model = cl.tied_autoencoder((1, 28, 28), 9, nn.Sigmoid, nn.Sigmoid()).double()
        with torch.no_grad():
            model.encoder[1].weight.mul_(20.0)          # some units saturated, some not
        xd = x.double()
        W, b = model.encoder[1].weight.detach(), model.encoder[1].bias.detach()
        h = torch.sigmoid(xd.flatten(1) @ W.T + b)
        expected = ((h * (1 - h)) ** 2 * W.pow(2).sum(1)).sum(1)
        torch.testing.assert_close(cl.contractive_penalty(model.encode, xd).detach(), expected)

    def test_k_sparse_forward_keeps_the_k_largest_linear_codes(self, x):
        torch.manual_seed(3)
        k, L = 4, 30
        model = cl.tied_autoencoder((1, 28, 28), L, None, k=k)
        assert isinstance(model.encoder[-1], cl.TopK) and model.encoder[-1].k == k
        enc, dec = model.encoder[1], model.decoder[0]
        with torch.no_grad():
            a = x.flatten(1) @ enc.weight.T + enc.bias            # linear codes (B, L)
            out = model(x)
        assert bool(((out.z != 0).sum(1) == k).all())
        # the kept entries are the k largest values (not magnitudes), unchanged
        kth = a.sort(dim=1, descending=True).values[:, k - 1:k]
        torch.testing.assert_close(out.z, torch.where(a >= kth, a, torch.zeros_like(a)))
        # the decoder is linear with the transposed weight
        torch.testing.assert_close(out.x_hat, (out.z @ enc.weight + dec.bias).view_as(x))

    def test_k_sparse_gradient_reaches_only_the_selected_units(self, x):
        torch.manual_seed(4)
        model = cl.tied_autoencoder((1, 28, 28), 40, None, k=2)
        out = model(x[:1])
        cl.squared_error(out.x_hat, x[:1]).sum().backward()
        selected = out.z[0] != 0
        grad_rows = model.encoder[1].weight.grad.abs().sum(1)
        assert bool((grad_rows[selected] > 0).all()) and bool((grad_rows[~selected] == 0).all())
        assert bool((model.encoder[1].bias.grad[~selected] == 0).all())

    def test_top_k_layer_follows_a_changed_k(self):
        layer = cl.TopK(3)
        z = torch.randn(5, 10)
        layer.k = 6
        assert bool(((layer(z) != 0).sum(1) == 6).all())
        torch.testing.assert_close(layer(z), cl.top_k_codes(z, 6, absolute=False))

    def test_argument_checks(self):
        for k in (0, 11, 2.5):
            with pytest.raises(ValueError, match="k must be"):
                cl.tied_autoencoder(5, 10, None, k=k)
        with pytest.raises(ValueError, match="latent_dim"):
            cl.tied_autoencoder(5, 0)

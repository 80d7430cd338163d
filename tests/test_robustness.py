"""Robustness audit (issue 9): every model and every loss of course_lib answers a
wrong input with one clear sentence (what was expected, what came), never with
a matrix-size error from inside a layer.

The other cases of the audit live next to the code they exercise:
unknown profile (test_profiles), missing data with no network and no npm,
half-written data folder, Ctrl-C during data preparation, two processes
preparing at once, running from another working directory (test_data); corrupt,
truncated or mismatched checkpoints (test_checkpoints); Ctrl-C and NaN during
training (test_training, test_train).
"""

import functools

import pytest
import torch
from torch import nn

import course_lib as cl

THESIS_ACT = functools.partial(nn.LeakyReLU, 0.3)
# name -> (model, a valid input of one batch, extra arguments after x)
MODELS = {
    "mlp_autoencoder": (lambda: cl.mlp_autoencoder(6, 2), (4, 6), ()),
    "linear_autoencoder": (lambda: cl.linear_autoencoder(6, 2), (4, 6), ()),
    "mlp_vae": (lambda: cl.mlp_vae(6, 2, sigma=0.1), (4, 6), ()),
    "ConditionalVAE": (lambda: cl.conditional_conv_vae(latent_dim=4), (2, 1, 32, 32),
                       (torch.tensor([0, 3]),)),
    "conv_vae (faces)": (lambda: cl.conv_vae(4, 3, 32, 8, likelihood="gaussian", sigma=0.05), (2, 3, 32, 32), ()),
    "thesis AE": (lambda: cl.mlp_autoencoder((1, 28, 28), 4, (16,), activation=THESIS_ACT, likelihood="bernoulli"),
                  (2, 1, 28, 28), ()),
    "thesis VAE": (lambda: cl.mlp_vae((1, 28, 28), 4, (16,), decoder_hidden=(16,), activation=THESIS_ACT,
                                      likelihood="bernoulli"), (2, 1, 28, 28), ()),
    "thesis conv VAE": (lambda: cl.all_conv_vae(4, width=0.25), (2, 1, 28, 28), ()),
    "AttributeRegressor": (lambda: cl.AttributeRegressor(width=4), (2, 3, 32, 32), ()),
}


@pytest.fixture(params=list(MODELS), ids=list(MODELS))
def case(request):
    build, shape, extra = MODELS[request.param]
    torch.manual_seed(0)
    return build(), shape, extra


def test_valid_input_works(case):
    model, shape, extra = case
    model(torch.rand(shape), *extra)


def test_wrong_shape(case):
    model, shape, extra = case
    if isinstance(model, cl.AttributeRegressor):     # any H x W is fine for it; the channels are not
        bad = torch.rand(shape[0], 1, *shape[2:])
    else:
        bad = torch.rand(*shape[:-1], shape[-1] + 1)
    with pytest.raises(ValueError, match=r"shape .*got"):
        model(bad, *extra)


def test_integer_images(case):
    model, shape, extra = case
    with pytest.raises((TypeError, ValueError), match="floating-point"):
        model(torch.zeros(shape, dtype=torch.uint8), *extra)


def test_float64_batch_names_both_dtypes(case):
    model, shape, extra = case
    with pytest.raises(TypeError, match=r"torch.float64 but the model's weights are torch.float32"):
        model(torch.rand(shape, dtype=torch.float64), *extra)


def test_tensor_on_another_device(case):
    model, shape, extra = case
    with pytest.raises(ValueError, match="is on meta but the model is on cpu"):
        model(torch.empty(shape, device="meta"), *extra)


def test_not_a_tensor(case):
    model, shape, extra = case
    with pytest.raises((TypeError, ValueError)):
        model(torch.rand(shape).numpy(), *extra)


def test_decoders_check_codes():
    for model in (cl.mlp_vae(6, 2), cl.mlp_vae((1, 28, 28), 4, (16,), likelihood="bernoulli"),
                  cl.conv_vae(4, 3, 32, 8), cl.all_conv_vae(4, width=0.25)):
        with pytest.raises(ValueError, match=r"z must have shape \(batch, \d+\)"):
            model.decode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 4\)"):
        cl.conv_vae(4, 3, 32, 8).decode_logits(torch.zeros(3, 5))
    cvae = cl.conditional_conv_vae(latent_dim=4)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 4\)"):
        cvae.decode(torch.zeros(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="class labels must lie in 0..9"):
        cvae.decode(torch.zeros(2, 4), torch.tensor([0, 10]))


B = 4
LOSSES = {
    "squared_error": lambda a, b: cl.squared_error(a, b),
    "bernoulli_log_likelihood": lambda a, b: cl.bernoulli_log_likelihood(a, b.clamp(0, 1)),
    "gaussian_log_likelihood": lambda a, b: cl.gaussian_log_likelihood(a, b, 0.1),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_likelihoods_reject_mismatched_and_integer_inputs(name):
    loss = LOSSES[name]
    with pytest.raises(ValueError, match=r"x_hat has shape \(4, 10\) but x has \(4, 9\)"):
        loss(torch.zeros(B, 10), torch.rand(B, 9))
    with pytest.raises(TypeError, match="floating-point"):
        loss(torch.zeros(B, 10), torch.ones(B, 10, dtype=torch.long))
    with pytest.raises(ValueError, match="x_hat is on meta but x is on cpu"):
        loss(torch.empty(B, 10, device="meta"), torch.rand(B, 10))


def test_bernoulli_rejects_images_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"targets in \[0, 1\].*rescale images"):
        cl.bernoulli_log_likelihood(torch.zeros(B, 10), torch.full((B, 10), 255.0))
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        cl.vae_loss(cl.conditional_conv_vae(latent_dim=4), (2 * torch.rand(2, 1, 32, 32), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        cl.ae_loss(cl.mlp_autoencoder(10, 2, likelihood="bernoulli"), torch.full((B, 10), 255.0))


def test_gaussian_terms_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="must have the same shape"):
        cl.gaussian_kl(torch.zeros(B, 3), torch.zeros(B, 2))
    with pytest.raises(ValueError, match="must have the same shape"):
        cl.gaussian_kl_diag(torch.zeros(B, 3), torch.zeros(B, 3), torch.zeros(B, 2), torch.zeros(B, 3))
    with pytest.raises(ValueError, match=r"z \(4, 2\) does not broadcast"):
        cl.log_normal_diag(torch.zeros(B, 2), torch.zeros(B, 3), torch.zeros(B, 3))
    # K samples against (B, L) parameters is the intended broadcast
    assert cl.log_normal_diag(torch.zeros(5, B, 3), torch.zeros(B, 3), torch.zeros(B, 3)).shape == (5, B)


def test_bounds_reject_mismatched_parts():
    out = cl.VAEOutput(torch.zeros(B, 10), torch.zeros(B, 2), torch.zeros(B, 2), torch.zeros(B, 2))
    with pytest.raises(ValueError, match=r"x_hat has shape \(4, 10\) but x has \(3, 10\)"):
        cl.negative_elbo(out, torch.zeros(3, 10), likelihood="gaussian", sigma=1.0)
    with pytest.raises(ValueError, match="must have the same shape"):
        cl.negative_elbo(out._replace(logvar=torch.zeros(B, 3)), torch.zeros(B, 10), likelihood="gaussian", sigma=1.0)
    with pytest.raises(ValueError, match=r"expected \(K, B\) log-weights, got shape \(5,\)"):
        cl.iwae_bound(torch.zeros(5))
    with pytest.raises(ValueError, match=r"expected \(K, B\) log-weights"):
        cl.iwae_bound(torch.zeros(5, 4, 3))

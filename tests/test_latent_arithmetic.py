"""Attribute vectors, class means and edits, checked on models whose latent
space is known (linear maps), so the expected images can be computed by hand."""

import numpy as np
import pytest
import torch
from torch import nn

import course_lib as cl


class LinearVAE(nn.Module):
    """encode: x -> (A x, 0); decode: z -> sigmoid(B z), the mean of a Bernoulli decoder
    of logits B z, images (B, 1, 2, 2)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.A = nn.Linear(4, 3, bias=False)
        self.B = nn.Linear(3, 4, bias=False)

    def encode(self, x):
        mu = self.A(x.flatten(1))
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        return torch.sigmoid(self.B(z)).view(-1, 1, 2, 2)


def test_attribute_vector_is_a_difference_of_means():
    z = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [-2.0, 4.0]])
    has = np.array([True, True, False, False])
    torch.testing.assert_close(cl.attribute_vector(z, has), torch.tensor([3.0, -1.0]))
    # leaving examples out of both groups
    v = cl.attribute_vector(z, torch.tensor([True, False, False, False]), torch.tensor([False, False, True, False]))
    torch.testing.assert_close(v, torch.tensor([1.0, 0.0]))


def test_attribute_vector_errors():
    z = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="both groups need examples"):
        cl.attribute_vector(z, np.ones(3, bool))
    with pytest.raises(ValueError, match="both groups"):
        cl.attribute_vector(z, np.array([1, 0, 0], bool), np.array([1, 1, 0], bool))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        cl.attribute_vector(z, np.ones(4, bool))
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        cl.attribute_vector(torch.zeros(3), np.ones(3, bool))


def test_class_means_against_numpy():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 3)).astype(np.float32)
    y = rng.integers(0, 4, 50)
    got = cl.class_means(torch.from_numpy(z), torch.from_numpy(y)).numpy()
    want = np.stack([z[y == c].mean(0) for c in range(4)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"classes \[2\]"):
        cl.class_means(torch.zeros(3, 2), torch.tensor([0, 1, 3]))


def test_edit_decodes_shifted_codes():
    model = LinearVAE()
    x = torch.rand(5, 1, 2, 2)
    v = torch.tensor([1.0, -2.0, 0.5])
    out = cl.edit(model, x, v, [0.0, 1.0, 2.5])
    assert out.shape == (3, 5, 1, 2, 2)
    with torch.no_grad():
        mu = model.A(x.flatten(1))
        for i, a in enumerate([0.0, 1.0, 2.5]):
            want = torch.sigmoid(model.B(mu + a * v)).view(5, 1, 2, 2)
            torch.testing.assert_close(out[i], want)  # decode's means, with no second sigmoid
    # linear in alpha before the sigmoid: logit(out) is affine in alpha
    logit = torch.logit(out)
    torch.testing.assert_close(logit[2] - logit[0], 2.5 * (logit[1] - logit[0]), rtol=1e-4, atol=1e-4)


def test_edit_many_adds_vectors():
    model = LinearVAE()
    x = torch.rand(2, 1, 2, 2)
    v1, v2 = torch.tensor([1.0, 0, 0]), torch.tensor([0, 1.0, 0])
    both = cl.edit_many(model, x, {"a": v1, "b": v2}, [{"a": 1.0, "b": 2.0}])[0]
    one = cl.edit(model, x, v1 + 2 * v2, [1.0])[0]
    torch.testing.assert_close(both, one)
    with pytest.raises(KeyError, match="no attribute vector"):
        cl.edit_many(model, x, {"a": v1}, [{"c": 1.0}])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        cl.edit(model, x, torch.zeros(4), [1.0])


def test_encode_dataset_for_an_autoencoder_and_batches():
    ae = cl.mlp_autoencoder((1, 2, 2), 2, hidden=(8,))
    x = torch.rand(7, 1, 2, 2)
    z = cl.encode_dataset(ae, x, batch_size=3)
    torch.testing.assert_close(z, ae.encode(x).detach())
    assert ae.training  # mode restored
    img = cl.decode_images(ae, z)
    torch.testing.assert_close(img, ae.decode(z).detach())


def test_vae_encode_dataset_is_mu_and_eval_mode():
    vae = cl.conv_vae(latent_dim=4, width=8)
    x = torch.rand(3, 3, 32, 32)
    z = cl.encode_dataset(vae, x)
    vae.eval()
    torch.testing.assert_close(z, vae.encode(x)[0].detach())


def test_decode_images_gives_the_means_of_a_bernoulli_decoder_in_batches():
    torch.manual_seed(0)
    vae = cl.mlp_vae((1, 2, 2), 2, (8,), likelihood="bernoulli")
    z = torch.randn(7, 2)
    img = cl.decode_images(vae, z, batch_size=3)
    torch.testing.assert_close(img, torch.sigmoid(vae.decode_logits(z)).detach())


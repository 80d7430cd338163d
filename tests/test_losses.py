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

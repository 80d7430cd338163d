import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.decomposition import PCA

import course_lib as cl


class TestPrincipalAngles:
    def test_against_scipy(self):
        rng = np.random.default_rng(0)
        A, B = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
        ours = np.sort(cl.principal_angles(A, B))
        ref = np.sort(np.degrees(scipy.linalg.subspace_angles(A, B)))
        np.testing.assert_allclose(ours, ref, atol=1e-8)

    def test_same_span_different_basis_is_zero(self):
        rng = np.random.default_rng(1)
        A = rng.normal(size=(8, 3))
        M = rng.normal(size=(3, 3)) + 3 * np.eye(3)
        np.testing.assert_allclose(cl.principal_angles(A, A @ M), 0, atol=1e-5)

    def test_orthogonal_spans_are_ninety_degrees(self):
        e = np.eye(4)
        np.testing.assert_allclose(cl.principal_angles(e[:, :2], e[:, 2:]), [90, 90])

    def test_known_angle(self):
        a = np.array([[1.0], [0.0]])
        b = np.array([[np.cos(0.3)], [np.sin(0.3)]])
        np.testing.assert_allclose(cl.principal_angles(a, b), [np.degrees(0.3)])

    def test_shape_error(self):
        with pytest.raises(ValueError):
            cl.principal_angles(np.ones((3, 2)), np.ones((4, 2)))


class TestPca:
    def test_matches_sklearn(self):
        x = np.random.default_rng(2).normal(size=(200, 6)) @ np.diag([5, 3, 2, 1, 0.5, 0.1])
        mean, U = cl.pca_fit(x, 3)
        ref = PCA(3).fit(x)
        np.testing.assert_allclose(mean, ref.mean_)
        np.testing.assert_allclose(cl.principal_angles(U, ref.components_.T), 0, atol=1e-5)
        np.testing.assert_allclose(cl.pca_reconstruct(x, mean, U),
                                   ref.inverse_transform(ref.transform(x)), atol=1e-8)
        np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-10)

    def test_bad_k(self):
        with pytest.raises(ValueError):
            cl.pca_fit(np.ones((5, 3)), 4)


def test_linear_autoencoder_spans_the_pca_subspace():
    """Baldi & Hornik (1989): at the optimum, span(W_d) = top-k principal subspace."""
    g = torch.Generator().manual_seed(0)
    D, k = 12, 2
    scales = torch.tensor([3.0, 2.0] + [0.2] * (D - 2))
    rot, _ = torch.linalg.qr(torch.randn(D, D, generator=g))
    x = (torch.randn(2000, D, generator=g) * scales) @ rot.T + 0.5
    mean, U = cl.pca_fit(x, k)
    cl.seed_everything(0)
    ae = cl.linear_autoencoder(D, k)
    cl.fit(ae, cl.ae_loss, x, steps=1500, batch_size=250, lr=1e-2, seed=0, progress=False)
    angles = cl.principal_angles(ae.decoder.weight.detach(), U)
    assert angles.max() < 2.0, angles
    pca_err = ((cl.pca_reconstruct(x, mean, U) - x.numpy()) ** 2).sum(1).mean()
    ae_err = cl.evaluate(ae, cl.ae_loss, x)["loss"]
    assert ae_err >= pca_err - 1e-3  # PCA is optimal (Eckart-Young) ...
    assert ae_err < 1.02 * pca_err  # ... and the linear AE reaches it

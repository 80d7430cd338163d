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


# --- chapters 2 and 3: distortion, sparsity, encoder sensitivity -------------------


class TestDistortionAndSparsity:
    def test_pairwise_sq_distances_against_scipy(self):
        from scipy.spatial.distance import pdist

        rng = np.random.default_rng(0)
        x = rng.normal(size=(12, 7))
        np.testing.assert_allclose(cl.pairwise_sq_distances(x), pdist(x, "sqeuclidean"), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(cl.pairwise_sq_distances(torch.tensor(x).view(12, 1, 7)),
                                   pdist(x, "sqeuclidean"), rtol=1e-10, atol=1e-10)
        with pytest.raises(ValueError, match="two points"):
            cl.pairwise_sq_distances(x[:1])

    def test_distortion_of_isometry_and_scaling(self):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(20, 5))
        Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        np.testing.assert_allclose(cl.distance_distortion(x, x @ Q.T + 3.0), 1.0, rtol=1e-9)
        # scaling by 2 multiplies squared distances by 4; "median" undoes any global scale
        np.testing.assert_allclose(cl.distance_distortion(x, 2 * x), 4.0, rtol=1e-9)
        np.testing.assert_allclose(cl.distance_distortion(x, 2 * x, scale="median"), 1.0, rtol=1e-9)
        np.testing.assert_allclose(cl.distance_distortion(x, 2 * x, scale=4.0), 1.0, rtol=1e-9)
        with pytest.raises(ValueError, match="same number"):
            cl.distance_distortion(x, x[:5])
        with pytest.raises(ValueError, match="median"):
            cl.distance_distortion(x, x, scale="mean")

    def test_distortion_by_hand_and_duplicates_skipped(self):
        x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
        y = np.array([[0.0], [2.0], [3.0]])
        # pairs (0,1): 4/1, (0,2): 9/1, (1,2): identical inputs -> skipped
        np.testing.assert_allclose(cl.distance_distortion(x, y), [4.0, 9.0])

    def test_random_projection_matches_the_jl_expectation(self):
        # E[ratio] = 1 for a Gaussian projection scaled by 1/sqrt(k) (sklearn's convention)
        from sklearn.random_projection import GaussianRandomProjection

        rng = np.random.default_rng(2)
        x = rng.normal(size=(200, 300))
        y = GaussianRandomProjection(n_components=100, random_state=0).fit_transform(x)
        r = cl.distance_distortion(x, y)
        assert abs(r.mean() - 1.0) < 0.05
        assert cl.fraction_within(r, 0.5) > 0.95

    def test_fraction_within_by_hand(self):
        r = np.array([0.85, 0.95, 1.0, 1.05, 1.3])
        assert cl.fraction_within(r, 0.1) == pytest.approx(0.6)
        assert cl.fraction_within(r, 0.2) == pytest.approx(0.8)
        with pytest.raises(ValueError, match="eps"):
            cl.fraction_within(r, 0)

    def test_code_sparsity_by_hand(self):
        z = np.array([[0.0, 2.0, 0.0, 0.0], [1.0, 0.5, 0.0, 0.0], [0.0, 1e-5, 0.0, 0.0]])
        s = cl.code_sparsity(z, tol=1e-3)
        assert s["zero_fraction"] == pytest.approx(9 / 12)
        assert s["active_per_example"] == pytest.approx(1.0)
        np.testing.assert_allclose(s["unit_activity"], [1 / 3, 2 / 3, 0, 0])
        assert s["dead_units"] == 2
        with pytest.raises(ValueError, match=r"\(N, L\)"):
            cl.code_sparsity(np.zeros(4))

    def test_jacobian_norms_of_a_linear_map(self):
        lin = torch.nn.Linear(6, 3)
        x = torch.randn(10, 6)
        norms = cl.jacobian_norms(lin, x, batch_size=4)
        np.testing.assert_allclose(norms, float(lin.weight.detach().norm()), rtol=1e-5)
        assert norms.shape == (10,)

    def test_code_sensitivity_of_a_linear_map(self):
        # for E(x) = a x in D dims, ||E(x + delta) - E(x)|| = a ||delta|| ~ a sigma sqrt(D)
        x = torch.randn(2000, 50, generator=torch.Generator().manual_seed(0))
        out = cl.code_sensitivity(lambda v: 3.0 * v, x, sigma=0.01, generator=0)
        assert out["change"].shape == (2000,)
        assert out["change"].mean() == pytest.approx(3.0 * 0.01 * np.sqrt(50), rel=0.02)
        ref = cl.code_sensitivity(lambda v: v, x, sigma=0.01, generator=0)
        assert out["relative"] == pytest.approx(ref["relative"], rel=1e-5)  # scale-free
        again = cl.code_sensitivity(lambda v: 3.0 * v, x, sigma=0.01, generator=0)
        np.testing.assert_array_equal(out["change"], again["change"])
        with pytest.raises(ValueError, match="sigma"):
            cl.code_sensitivity(lambda v: v, x, sigma=0.0)


def test_nearest_distances_against_brute_force():
    g = torch.Generator().manual_seed(0)
    points, reference = torch.randn(30, 1, 2, 3, generator=g), torch.randn(50, 1, 2, 3, generator=g)
    brute = torch.cdist(points.flatten(1).double(), reference.flatten(1).double()).min(1).values
    np.testing.assert_allclose(cl.nearest_distances(points, reference), brute.numpy(), rtol=1e-10)
    assert cl.nearest_distances(reference[:5], reference).max() == 0.0
    with pytest.raises(ValueError, match="points have 6 coordinates but the reference 4"):
        cl.nearest_distances(points, torch.zeros(3, 4))

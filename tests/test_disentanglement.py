import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

import course_lib as cl


def _factors(n=3000, seed=0):
    """Five independent factors: three continuous in [0, 1], a binary one and a three-valued one."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(size=(n, 5))
    v[:, 3] = rng.random(n) < 0.7
    v[:, 4] = rng.integers(0, 3, n)
    return v


def _rotation(k, seed=1):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(k, k)))
    return q


class TestDiscretize:
    def test_discrete_columns_keep_their_values_and_continuous_ones_get_equal_width_bins(self):
        v = np.array([[0.0, 0.0], [1.0, 0.26], [1.0, 0.74], [0.0, 1.0]])
        np.testing.assert_array_equal(cl.discretize(v, bins=2)[:, 0], [0, 1, 1, 0])
        # 4 distinct values > 2 bins: cut [0, 1] at 0.5
        v2 = np.array([0.0, 0.26, 0.49, 0.51, 1.0])
        np.testing.assert_array_equal(cl.discretize(v2, bins=2)[:, 0], [0, 0, 0, 1, 1])

    def test_bins_below_two_is_an_error(self):
        with pytest.raises(ValueError, match="bins must be at least 2"):
            cl.discretize(np.arange(5.0), bins=1)


class TestMutualInformation:
    def test_mi_of_a_discrete_variable_with_itself_is_its_entropy(self):
        a = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2], dtype=float)
        p = np.array([3, 2, 5]) / 10
        h = -(p * np.log(p)).sum()
        res = cl.mutual_information_matrix(a, a)
        assert res.mi.shape == (1, 1)
        assert res.mi[0, 0] == pytest.approx(h, abs=1e-12)
        assert res.entropy[0] == pytest.approx(h, abs=1e-12)

    def test_matrix_matches_sklearn_on_the_same_bins(self):
        rng = np.random.default_rng(3)
        v = _factors(2000)
        z = np.column_stack([v[:, 0] + 0.1 * rng.normal(size=2000), rng.normal(size=2000),
                             v[:, 3] - v[:, 1], np.tanh(v[:, 4] + rng.normal(size=2000))])
        res = cl.mutual_information_matrix(z, v, bins=15)
        zd, vd = cl.discretize(z, 15), cl.discretize(v, 15)
        ref = np.array([[mutual_info_score(zd[:, j], vd[:, k]) for k in range(5)] for j in range(4)])
        np.testing.assert_allclose(res.mi, ref, atol=1e-10)
        ref_h = [mutual_info_score(vd[:, k], vd[:, k]) for k in range(5)]
        np.testing.assert_allclose(res.entropy, ref_h, atol=1e-10)

    def test_accepts_tensors(self):
        v = _factors(500)
        a = cl.mutual_information_matrix(torch.from_numpy(v).float(), torch.from_numpy(v))
        b = cl.mutual_information_matrix(v.astype(np.float32), v)
        np.testing.assert_allclose(a.mi, b.mi)


class TestMIG:
    def test_a_copy_of_the_factors_scores_near_one(self):
        # not exactly 1: the histogram estimate of I between independent factors is biased
        # upwards by about (bins - 1)^2 / (2N) nats, which the second-largest MI picks up
        v = _factors()
        assert cl.mig(v, v) == pytest.approx(1.0, abs=0.03)

    def test_a_slightly_noisy_copy_with_an_unused_dimension_scores_near_one(self):
        v = _factors()
        rng = np.random.default_rng(2)
        z = np.column_stack([v + 0.002 * rng.normal(size=v.shape), rng.normal(size=len(v))])
        assert cl.mig(z, v) > 0.9

    def test_a_rotation_of_the_copy_scores_lower(self):
        v = _factors()
        copy = cl.mig(v, v)
        rotated = cl.mig(v @ _rotation(5), v)
        assert rotated < 0.5 * copy

    def test_independent_noise_scores_near_zero(self):
        v = _factors()
        z = np.random.default_rng(4).normal(size=(len(v), 6))
        assert cl.mig(z, v) < 0.02

    def test_gaps_are_per_factor_and_their_mean_is_mig(self):
        v = _factors(1000)
        z = np.column_stack([v[:, :3], v[:, :2] @ _rotation(2)])  # factors 3 and 4 not captured
        res = cl.mutual_information_matrix(z, v)
        gaps = res.gaps()
        assert gaps.shape == (5,)
        assert cl.mig(z, v) == pytest.approx(gaps.mean())
        assert gaps[2] > 0.9 and gaps[3] < 0.05 and gaps[4] < 0.05

    def test_a_constant_factor_is_an_error(self):
        v = _factors(500)
        v[:, 1] = 0.5
        with pytest.raises(ValueError, match="factor 1 is constant"):
            cl.mig(v + 0.1, v)


class TestDCI:
    def test_copy_scores_near_one_and_rotation_lower(self):
        v = _factors(1000)
        copy = cl.dci(v, v)
        rot = cl.dci(v @ _rotation(5), v)
        assert copy.disentanglement > 0.9 and copy.completeness > 0.9
        assert rot.disentanglement < copy.disentanglement - 0.3
        assert copy.importance.shape == (5, 5) and copy.informativeness.shape == (5,)
        assert copy.informativeness.min() > 0.9

    def test_noise_is_neither_informative_nor_disentangled(self):
        v = _factors(1000)
        z = np.random.default_rng(5).normal(size=(len(v), 5))
        res = cl.dci(z, v)
        assert res.informativeness.max() < 0.05
        assert res.disentanglement < 0.2

    def test_one_dimension_per_factor_counts_the_unused_dimension_for_nothing(self):
        v = _factors(1000)
        z = np.column_stack([v, 0.001 * np.random.default_rng(6).normal(size=len(v))])
        res = cl.dci(z, v)
        assert res.importance[5].sum() < 0.05
        assert res.disentanglement > 0.9


class TestErrors:
    @pytest.mark.parametrize("score", [cl.mutual_information_matrix, cl.mig, cl.dci])
    def test_mismatched_lengths(self, score):
        with pytest.raises(ValueError, match="same examples: 100 codes but 99 rows"):
            score(np.zeros((100, 3)), np.zeros((99, 2)))

    @pytest.mark.parametrize("score", [cl.mutual_information_matrix, cl.mig, cl.dci])
    def test_nan_codes(self, score):
        z = np.random.default_rng(0).normal(size=(50, 3))
        z[7, 1] = np.nan
        with pytest.raises(ValueError, match="codes contains NaN"):
            score(z, np.random.default_rng(1).normal(size=(50, 2)))

    def test_three_dimensional_input(self):
        with pytest.raises(ValueError, match="factors must be a 1-D or 2-D array"):
            cl.mig(np.zeros((4, 2)), np.zeros((4, 2, 1)))

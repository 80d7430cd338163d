import math

import pytest
import torch

import course_lib as cl

IMAGES = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1  # no exact 0 or 1


def _binomial_tol(p: float, n: int, k: float = 5.0) -> float:
    return k * math.sqrt(p * (1 - p) / n) + 1e-9


class TestCommonContract:
    @pytest.mark.parametrize("kind", list(cl.CORRUPTIONS))
    @pytest.mark.parametrize("strength", [0.0, 0.3, 1.0])
    def test_shape_dtype_range(self, kind, strength):
        out = cl.corrupt(IMAGES, kind, strength, generator=1)
        assert out.shape == IMAGES.shape and out.dtype == IMAGES.dtype and out.device == IMAGES.device
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0

    @pytest.mark.parametrize("kind", list(cl.CORRUPTIONS))
    def test_determinism_under_a_seed(self, kind):
        a = cl.corrupt(IMAGES, kind, 0.5, generator=3)
        b = cl.corrupt(IMAGES, kind, 0.5, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        if kind != "blur":
            assert not torch.equal(a, cl.corrupt(IMAGES, kind, 0.5, generator=4))

    @pytest.mark.parametrize("kind", ["gaussian noise", "pixel dropping", "salt and pepper", "blur", "block mask"])
    def test_strength_zero_is_identity(self, kind):
        torch.testing.assert_close(cl.corrupt(IMAGES, kind, 0.0, generator=0), IMAGES)

    def test_input_is_not_modified(self):
        x = IMAGES.clone()
        for kind in cl.CORRUPTIONS:
            cl.corrupt(x, kind, 0.7, generator=0)
        assert torch.equal(x, IMAGES)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="unknown corruption"):
            cl.corrupt(IMAGES, "fog", 0.5)
        with pytest.raises(ValueError, match="strength"):
            cl.corrupt(IMAGES, "blur", 1.5)
        with pytest.raises(TypeError, match="floating"):
            cl.mask_pixels(torch.zeros(2, 4, dtype=torch.long), 0.5)
        with pytest.raises(ValueError, match="batch"):
            cl.gaussian_noise(torch.zeros(3), 0.1)
        with pytest.raises(TypeError, match="generator"):
            cl.mask_pixels(IMAGES, 0.5, generator="seed")


class TestMaskPixels:
    @pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
    def test_dropped_fraction(self, p):
        out = cl.mask_pixels(IMAGES, p, generator=0)
        n = IMAGES.numel()
        frac = float((out == 0).float().mean())
        assert abs(frac - p) < _binomial_tol(p, n)
        kept = out != 0
        assert torch.equal(out[kept], IMAGES[kept])  # untouched pixels keep their value

    def test_extremes(self):
        assert torch.equal(cl.mask_pixels(IMAGES, 1.0), torch.zeros_like(IMAGES))
        assert torch.equal(cl.mask_pixels(IMAGES, 0.0), IMAGES)

    def test_same_mask_for_all_channels(self):
        x = torch.rand(8, 3, 6, 6) + 0.1
        out = cl.mask_pixels(x, 0.5, generator=0)
        dropped = out == 0
        assert torch.equal(dropped[:, 0], dropped[:, 1]) and torch.equal(dropped[:, 0], dropped[:, 2])

    def test_per_image_probability_range(self):
        # p ~ U[0.3, 0.7] per image: each image's dropped fraction is inside the range (up to
        # binomial noise), the fractions vary between images, and their mean is 0.5
        x = torch.rand(400, 1, 28, 28, generator=torch.Generator().manual_seed(1)) + 0.1
        out = cl.mask_pixels(x, (0.3, 0.7), generator=0)
        per_image = (out == 0).flatten(1).float().mean(1)
        tol = _binomial_tol(0.5, 784, k=4)
        assert float(per_image.min()) > 0.3 - tol and float(per_image.max()) < 0.7 + tol
        assert float(per_image.std()) > 0.08  # U[0.3, 0.7] has sd 0.115; a fixed p gives 0.018
        assert abs(float(per_image.mean()) - 0.5) < 4 * 0.4 / math.sqrt(12 * 400)

    @pytest.mark.parametrize("p", [-0.1, 1.2, (0.7, 0.3), (0.2, 1.5)])
    def test_probability_outside_unit_interval(self, p):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            cl.mask_pixels(IMAGES, p)

    def test_works_on_flat_data(self):
        x = torch.ones(100, 50)
        out = cl.mask_pixels(x, 0.25, generator=0)
        assert abs(float((out == 0).float().mean()) - 0.25) < _binomial_tol(0.25, 5000)


class TestSaltAndPepper:
    def test_hit_fraction_and_values(self):
        p = 0.3
        out = cl.salt_and_pepper(IMAGES, p, generator=0)
        hit = out != IMAGES
        n = IMAGES.numel()
        assert abs(float(hit.float().mean()) - p) < _binomial_tol(p, n)
        values = out[hit]
        assert bool(((values == 0) | (values == 1)).all())
        salt = float((values == 1).float().mean())
        assert abs(salt - 0.5) < _binomial_tol(0.5, hit.sum().item())

    def test_bad_probability(self):
        with pytest.raises(ValueError, match="probability"):
            cl.salt_and_pepper(IMAGES, 2.0)
        with pytest.raises(ValueError, match="low < high"):
            cl.salt_and_pepper(IMAGES, 0.2, low=1.0, high=0.0)


class TestGaussianNoise:
    def test_unclipped_noise_statistics(self):
        x = torch.zeros(200, 500)
        out = cl.gaussian_noise(x, 0.3, generator=0, clip=False)
        assert abs(float(out.mean())) < 5 * 0.3 / math.sqrt(x.numel())
        assert abs(float(out.std()) - 0.3) < 0.01

    def test_clipped_to_unit_interval(self):
        out = cl.gaussian_noise(IMAGES, 2.0, generator=0)
        assert float(out.min()) == 0.0 and float(out.max()) == 1.0

    def test_negative_sigma(self):
        with pytest.raises(ValueError, match="sigma"):
            cl.gaussian_noise(IMAGES, -0.1)


class TestBlur:
    def test_preserves_constant_images_and_mass_inside(self):
        x = torch.full((2, 1, 28, 28), 0.4)
        torch.testing.assert_close(cl.gaussian_blur(x, 2.0), x)

    def test_impulse_response_is_a_normalised_gaussian(self):
        x = torch.zeros(1, 1, 29, 29)
        x[0, 0, 14, 14] = 1.0
        sigma = 1.5
        out = cl.gaussian_blur(x, sigma)[0, 0]
        r = math.ceil(3 * sigma)
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = k / k.sum()
        torch.testing.assert_close(out[14 - r:14 + r + 1, 14 - r:14 + r + 1], torch.outer(k, k))
        torch.testing.assert_close(out.sum(), torch.tensor(1.0))

    def test_needs_images(self):
        with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
            cl.gaussian_blur(torch.rand(4, 784), 1.0)
        with pytest.raises(ValueError, match="sigma"):
            cl.gaussian_blur(IMAGES, -1.0)


class TestBlockMask:
    def test_exactly_one_square_per_image(self):
        size = 9
        out = cl.block_mask(IMAGES, size, generator=0)
        zeros = out == 0
        assert bool((zeros.flatten(1).sum(1) == size * size).all())
        for img in zeros[:, 0]:
            rows, cols = img.any(1).nonzero(), img.any(0).nonzero()
            assert rows.max() - rows.min() + 1 == size and cols.max() - cols.min() + 1 == size

    def test_positions_vary_and_cover_the_image(self):
        x = torch.ones(500, 1, 10, 10)
        out = cl.block_mask(x, 3, generator=0)
        coverage = (out == 0).float().mean(0)[0]
        assert bool((coverage > 0).all())  # every pixel is masked in some image

    def test_bad_size(self):
        with pytest.raises(ValueError, match="size"):
            cl.block_mask(IMAGES, 40)
        with pytest.raises(ValueError, match="size"):
            cl.block_mask(IMAGES, 2.5)


class TestRandomCorruption:
    def test_every_image_gets_one_of_the_kinds(self):
        x = IMAGES[:40]
        out = cl.random_corruption(x, (0.5, 0.5), generator=0)
        assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
        # at strength 0.5, each output equals one of the five corruptions of its image at
        # some seed; we check the cheaper invariant that every image was changed
        assert bool(((out - x).abs().flatten(1).amax(1) > 0).all())
        torch.testing.assert_close(out, cl.random_corruption(x, (0.5, 0.5), generator=0))

    def test_single_kind_matches_that_corruption_statistics(self):
        x = torch.rand(200, 1, 28, 28) + 0.1
        out = cl.random_corruption(x, (0.4, 0.4), generator=0, kinds=("pixel dropping",))
        assert abs(float((out == 0).float().mean()) - 0.4) < _binomial_tol(0.4, x.numel())

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="unknown corruption"):
            cl.random_corruption(IMAGES, kinds=("fog",))
        with pytest.raises(ValueError, match="strength"):
            cl.random_corruption(IMAGES, (0.5, 1.5))
        with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
            cl.random_corruption(torch.rand(4, 10))

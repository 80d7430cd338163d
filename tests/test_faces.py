"""The synthetic faces (determinism, ranges, each attribute touches only its own
pixels) and the CelebA loader (on a tiny fake folder in the official layout)."""

import numpy as np
import pytest
import torch

import course_lib as cl
from course_lib.faces import FaceAttributes, render_faces, sample_face_attributes

S = 32


def _base(n=6, seed=3):
    """Centred, straight faces without noise: differences come from the drawing only."""
    return sample_face_attributes(n, seed, jitter=False)


def _changed(a, b):
    """Boolean (H, W) map of the pixels that differ in any face or channel."""
    return (np.abs(render_faces(a, noise=0) - render_faces(b, noise=0)) > 1e-6).any(axis=(0, 1))


def _rows_cols(mask):
    rows, cols = np.nonzero(mask)
    return rows.min(), rows.max(), cols.min(), cols.max()


# face centre at 32x32 without jitter: x = 16, y = 17 (pixel centres at i + 0.5)
CX, CY = 16.0, 17.0


class TestGenerator:
    def test_shapes_ranges_dtype(self):
        x, attrs = cl.make_faces(50, seed=0)
        assert x.shape == (50, 3, S, S) and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        assert len(attrs) == 50
        assert attrs.table().shape == (50, len(cl.FACE_ATTRIBUTES))
        assert set(np.unique(attrs.glasses)) <= {0.0, 1.0} and set(np.unique(attrs.hair)) <= {0.0, 1.0}
        assert attrs.smile.min() >= -1 and attrs.smile.max() <= 1

    def test_size_64(self):
        x, _ = cl.make_faces(3, seed=0, size=64)
        assert x.shape == (3, 3, 64, 64)

    def test_deterministic_under_a_seed(self):
        x1, a1 = cl.make_faces(20, seed=7)
        x2, a2 = cl.make_faces(20, seed=7)
        x3, _ = cl.make_faces(20, seed=8)
        assert torch.equal(x1, x2)
        np.testing.assert_array_equal(a1.table(), a2.table())
        assert not torch.equal(x1, x3)

    def test_attributes_are_independent(self):
        attrs = sample_face_attributes(20000, seed=0)
        corr = np.corrcoef(attrs.table().T)
        off = corr - np.eye(len(corr))
        assert np.abs(off).max() < 0.05

    def test_chunking_does_not_change_the_images(self):
        a = sample_face_attributes(10, seed=1)
        np.testing.assert_array_equal(render_faces(a, chunk=3), render_faces(a, chunk=100))

    def test_smile_changes_only_the_mouth(self):
        a = _base()
        mask = _changed(a.replace(smile=-1.0), a.replace(smile=1.0))
        r0, r1, c0, c1 = _rows_cols(mask)
        # mouth: 5.5 px either side of the centre, 3.5 to 7.5 px below it (plus its thickness)
        assert CY + 1 <= r0 and r1 <= CY + 9 and CX - 7 <= c0 and c1 <= CX + 7
        # and the smile is a smile: the mouth corners are higher (smaller row) than its middle
        img = render_faces(a[:1].replace(smile=1.0, glasses=0.0), noise=0)[0]
        red = img[0] - img[1]  # the mouth is much redder than skin
        col_mid, col_corner = int(CX), int(CX + 4)
        assert np.argmax(red[:, col_corner]) < np.argmax(red[:, col_mid])

    def test_eyes_change_only_the_eyes(self):
        a = _base().replace(glasses=0.0)
        mask = _changed(a.replace(eyes=0.0), a.replace(eyes=1.0))
        r0, r1, c0, c1 = _rows_cols(mask)
        assert CY - 5 <= r0 and r1 <= CY and CX - 7 <= c0 and c1 <= CX + 7
        # a wider open eye covers more dark pixels
        closed, opened = render_faces(a.replace(eyes=0.0), noise=0), render_faces(a.replace(eyes=1.0), noise=0)
        assert (opened < 0.2).sum() > (closed < 0.2).sum()

    def test_glasses_change_only_the_eye_band(self):
        a = _base()
        mask = _changed(a.replace(glasses=0.0), a.replace(glasses=1.0))
        r0, r1, c0, c1 = _rows_cols(mask)
        assert CY - 7 <= r0 and r1 <= CY + 2 and CX - 9 <= c0 and c1 <= CX + 9

    def test_width_changes_only_the_sides(self):
        a = _base()
        mask = _changed(a.replace(width=0.0), a.replace(width=1.0))
        assert mask.any()
        # only the outline moves: the inside of the face (eyes, glasses, mouth) is untouched
        inner = mask[int(CY) - 5:int(CY) + 8, int(CX) - 6:int(CX) + 6]
        assert not inner.any()
        # and the widest rows change at the sides
        assert mask[int(CY), :int(CX) - 7].any() and mask[int(CY), int(CX) + 7:].any()

    def test_hair_colour_changes_only_hair_and_not_on_bald_faces(self):
        a = _base()
        with_hair = a.replace(hair=1.0)
        mask = _changed(with_hair.replace(hair_colour=0.0), with_hair.replace(hair_colour=1.0))
        r0, r1, _, _ = _rows_cols(mask)
        assert r1 <= CY - 1  # above the middle of the face
        bald = a.replace(hair=0.0)
        assert not _changed(bald.replace(hair_colour=0.0), bald.replace(hair_colour=1.0)).any()

    def test_hair_presence_changes_the_top_only(self):
        a = _base()
        mask = _changed(a.replace(hair=0.0), a.replace(hair=1.0))
        _, r1, _, _ = _rows_cols(mask)
        assert r1 <= CY - 1

    def test_skin_changes_the_face_not_the_background(self):
        a = _base()
        light, dark = render_faces(a.replace(skin=0.0), noise=0), render_faces(a.replace(skin=1.0), noise=0)
        changed = (np.abs(light - dark) > 1e-6).any(axis=(0, 1))
        assert changed[int(CY) + 1, int(CX) + 2]  # the cheek changes
        for r, c in ((0, 0), (0, S - 1), (S - 1, 0), (S - 1, S - 1)):
            assert not changed[r, c]  # corners are background
        assert dark[:, :, int(CY) + 1, int(CX) + 2].mean() < light[:, :, int(CY) + 1, int(CX) + 2].mean()

    def test_jitter_moves_the_face(self):
        a = _base()
        assert _changed(a, a.replace(dx=1.5)).any()
        assert _changed(a, a.replace(angle=0.1)).any()

    def test_noise_level(self):
        a = _base(200)
        clean = render_faces(a, noise=0)
        noisy = render_faces(a, noise=0.03, seed=1)
        inside = (clean > 0.1) & (clean < 0.9)  # away from clipping
        assert abs(float((noisy - clean)[inside].std()) - 0.03) < 0.003

    def test_errors(self):
        a = _base()
        with pytest.raises(ValueError, match="smile.*\\[-1, 1\\]"):
            a.replace(smile=2.0)
        with pytest.raises(ValueError, match="has 2 values, expected 6"):
            FaceAttributes(**{**{k: getattr(a, k) for k in a.__dataclass_fields__}, "eyes": np.zeros(2)})
        with pytest.raises(TypeError, match="FaceAttributes"):
            render_faces(np.zeros((2, 11)))
        with pytest.raises(ValueError, match="size"):
            render_faces(a, size=8)
        with pytest.raises(ValueError, match="non-negative"):
            render_faces(a, noise=-1)


# ---------------------------------------------------------------------------
# CelebA loader on a fake folder

NAMES = ["5_o_Clock_Shadow", "Eyeglasses", "Smiling", "Young"]


def _fake_celeba(root, n=6, seed=0):
    from PIL import Image

    x, attrs = cl.make_faces(n, seed=seed, size=64)
    img_dir = root / "img_align_celeba"
    img_dir.mkdir(parents=True)
    lines = [str(n), " ".join(NAMES)]
    for i in range(n):
        face = (x[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        canvas = np.full((218, 178, 3), 128, np.uint8)
        big = np.asarray(Image.fromarray(face).resize((148, 148), Image.BILINEAR))
        canvas[35:183, 15:163] = big  # the centred 148x148 crop is the face
        name = f"{i + 1:06d}.jpg"
        Image.fromarray(canvas).save(img_dir / name, quality=95)
        smiling = 1 if attrs.smile[i] > 0 else -1
        glasses = 1 if attrs.glasses[i] > 0.5 else -1
        lines.append(f"{name} -1  {glasses}  {smiling}  1")
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return x, attrs


class TestCelebA:
    def test_loads_a_fake_copy(self, tmp_path):
        x, attrs = _fake_celeba(tmp_path)
        images, labels = cl.load_celeba(tmp_path, size=32, attributes=("Smiling", "Eyeglasses"))
        assert images.shape == (6, 3, 32, 32) and images.dtype == torch.float32
        assert 0 <= float(images.min()) and float(images.max()) <= 1
        np.testing.assert_array_equal(labels["Smiling"], (attrs.smile > 0).astype(np.float32))
        np.testing.assert_array_equal(labels["Eyeglasses"], attrs.glasses)
        # the crop recovers the face: close to the original downsampled to 32x32
        small = torch.nn.functional.interpolate(x, size=32, mode="bilinear", antialias=True)
        assert float((images - small).abs().mean()) < 0.06

    def test_torchvision_layout_and_limit(self, tmp_path):
        _fake_celeba(tmp_path / "celeba")
        images, labels = cl.load_celeba(tmp_path, size=16, limit=2)
        assert images.shape == (2, 3, 16, 16) and labels["Smiling"].shape == (2,)

    def test_missing_folder_says_what_is_missing(self, tmp_path):
        with pytest.raises(cl.CelebAUnavailableError, match="list_attr_celeba.txt"):
            cl.load_celeba(tmp_path)

    def test_missing_image_and_unknown_attribute(self, tmp_path):
        _fake_celeba(tmp_path)
        with pytest.raises(KeyError, match="Bald"):
            cl.load_celeba(tmp_path, attributes=("Bald",))
        (tmp_path / "img_align_celeba" / "000002.jpg").unlink()
        with pytest.raises(cl.CelebAUnavailableError, match="000002.jpg"):
            cl.load_celeba(tmp_path)

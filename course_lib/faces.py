"""Synthetic faces with known attributes, and a loader for a local CelebA copy (chapter 7).

Latent arithmetic ("add a smile vector") is usually shown on CelebA, where the
only check of an edit is to look at it. Here faces are *drawn* from a handful of
independent numbers, so every attribute of every image is known exactly and an
edit can be measured. Each face is painted, layer by layer, with anti-aliased
shapes on a pixel grid (numpy, vectorised over the batch):

* ``smile`` in [-1, 1]: the mouth's curvature, from a frown (-1) to a smile (+1);
* ``eyes`` in [0, 1]: eye openness, from closed to wide open;
* ``width`` in [0, 1]: the face's width (the height is fixed);
* ``hair`` in {0, 1} and ``hair_colour`` in [0, 1] (black, brown, blond; only
  visible when ``hair`` is 1);
* ``glasses`` in {0, 1};
* ``skin`` in [0, 1]: skin tone, from light to dark.

Nuisance factors make the task less trivial: a shift of up to 1.5 pixels, an
in-plane rotation of up to 8 degrees, a random background colour and Gaussian
pixel noise. Images are 32x32 RGB by default: colour keeps skin tone and hair
colour apart from shading (in grey they would both be brightness), while 32x32
pixels cost a quarter of 64x64 to train on, which matters on a 2-core CPU. The
geometry scales with ``size``, so 64x64 faces are one argument away.

Shape edges are linear ramps one pixel wide, so a shape changes no pixel more
than half a pixel outside its outline: changing one attribute changes only the
pixels of its own part of the face (the tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

__all__ = ["FaceAttributes", "FACE_ATTRIBUTES", "sample_face_attributes", "render_faces",
           "make_faces", "load_celeba", "CelebAUnavailableError"]

# the semantic attributes, in the order the regressor of the chapter predicts them
FACE_ATTRIBUTES = ("smile", "eyes", "width", "hair", "hair_colour", "glasses", "skin")
_NUISANCE = ("dx", "dy", "angle", "background")

_SKIN = np.array([[0.98, 0.85, 0.72], [0.45, 0.28, 0.18]], dtype=np.float32)  # light, dark
_HAIR = np.array([[0.08, 0.06, 0.05], [0.45, 0.27, 0.12], [0.92, 0.80, 0.45]], dtype=np.float32)
_EYE = np.array([0.08, 0.06, 0.06], dtype=np.float32)
_MOUTH = np.array([0.60, 0.12, 0.15], dtype=np.float32)
_GLASSES = np.array([0.05, 0.05, 0.10], dtype=np.float32)


@dataclass(frozen=True)
class FaceAttributes:
    """The numbers a batch of N faces is drawn from: one (N,) float32 array per
    field. The first seven fields are the ground-truth attributes
    (``FACE_ATTRIBUTES``); ``dx``, ``dy`` (pixels at 32x32), ``angle``
    (radians) and ``background`` (grey level) are nuisance factors."""

    smile: np.ndarray
    eyes: np.ndarray
    width: np.ndarray
    hair: np.ndarray
    hair_colour: np.ndarray
    glasses: np.ndarray
    skin: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    angle: np.ndarray
    background: np.ndarray

    def __post_init__(self):
        n = None
        for f in fields(self):
            a = np.asarray(getattr(self, f.name), dtype=np.float32)
            if a.ndim != 1:
                raise ValueError(f"attribute {f.name!r} must be a 1-D array, got shape {a.shape}")
            if n is not None and len(a) != n:
                raise ValueError(f"attribute {f.name!r} has {len(a)} values, expected {n}")
            n = len(a)
            object.__setattr__(self, f.name, a)
        for name, lo, hi in (("smile", -1, 1), ("eyes", 0, 1), ("width", 0, 1), ("hair", 0, 1),
                             ("hair_colour", 0, 1), ("glasses", 0, 1), ("skin", 0, 1),
                             ("background", 0, 1)):
            a = getattr(self, name)
            if len(a) and (a.min() < lo or a.max() > hi):
                raise ValueError(f"attribute {name!r} must lie in [{lo}, {hi}], "
                                 f"got values in [{a.min():.3g}, {a.max():.3g}]")

    def __len__(self) -> int:
        return len(self.smile)

    def __getitem__(self, index) -> "FaceAttributes":
        return FaceAttributes(**{f.name: np.atleast_1d(getattr(self, f.name)[index]) for f in fields(self)})

    def table(self, names: Sequence[str] = FACE_ATTRIBUTES) -> np.ndarray:
        """The attributes ``names`` as columns of an (N, K) float32 array."""
        return np.stack([getattr(self, n) for n in names], axis=1)

    def replace(self, **values) -> "FaceAttributes":
        """A copy with some fields set; scalars are broadcast to all N faces."""
        n = len(self)
        return replace(self, **{k: np.broadcast_to(np.asarray(v, np.float32), (n,)).copy()
                                for k, v in values.items()})


def sample_face_attributes(n: int, seed: int | np.random.Generator = 0, *,
                           jitter: bool = True) -> FaceAttributes:
    """Draw the attributes of ``n`` faces, independently: smile ~ U(-1, 1),
    eyes, width, hair colour, skin ~ U(0, 1), hair ~ Bernoulli(0.7), glasses ~
    Bernoulli(0.3); nuisance shift ~ U(-1.5, 1.5) px, angle ~ U(-8, 8) degrees,
    background ~ U(0.25, 0.95). ``jitter=False`` centres and straightens every
    face (handy for tests and figures)."""
    if int(n) < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    u = lambda lo, hi: rng.uniform(lo, hi, n).astype(np.float32)  # noqa: E731
    attrs = FaceAttributes(
        smile=u(-1, 1), eyes=u(0, 1), width=u(0, 1),
        hair=(rng.random(n) < 0.7).astype(np.float32), hair_colour=u(0, 1),
        glasses=(rng.random(n) < 0.3).astype(np.float32), skin=u(0, 1),
        dx=u(-1.5, 1.5), dy=u(-1.5, 1.5), angle=np.deg2rad(u(-8, 8)).astype(np.float32),
        background=u(0.25, 0.95),
    )
    if not jitter:
        attrs = attrs.replace(dx=0.0, dy=0.0, angle=0.0)
    return attrs


# ---------------------------------------------------------------------------
# Drawing: signed distances (negative inside, in pixels) turned into coverage.

def _coverage(d: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a shape from its signed distance: 1 inside,
    0 more than half a pixel outside, a linear ramp in between."""
    return np.clip(0.5 - d, 0.0, 1.0)


def _ellipse(u, v, cu, cv, a, b):
    """Approximate signed distance to an axis-aligned ellipse (first-order:
    (rho - 1) / |grad rho|), exact on the axes and good enough for drawing."""
    du, dv = u - cu, v - cv
    rho = np.sqrt((du / a) ** 2 + (dv / b) ** 2)
    grad = np.sqrt((du / a**2) ** 2 + (dv / b**2) ** 2) / np.maximum(rho, 1e-6)
    return (rho - 1.0) / np.maximum(grad, 1e-6)


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """Alpha-blend ``colour`` (3,) or (N, 3) onto ``img`` (N, 3, H, W) where ``mask`` (N, H, W)."""
    colour = np.asarray(colour, np.float32)
    colour = colour.reshape(-1, 3, 1, 1)
    m = mask[:, None]
    img *= 1.0 - m
    img += m * colour


def _palette(stops: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear colours (N, 3) at positions t in [0, 1] along ``stops`` (S, 3)."""
    pos = t * (len(stops) - 1)
    i = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
    w = (pos - i)[:, None]
    return (1 - w) * stops[i] + w * stops[i + 1]


def _render_chunk(a: FaceAttributes, size: int) -> np.ndarray:
    n, k = len(a), size / 32.0  # k: all lengths below are in pixels of a 32x32 face
    col = lambda x: x[:, None, None]  # noqa: E731  (N,) -> (N, 1, 1)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    x, y = xs[None] - col(size / 2 + a.dx * k), ys[None] - col(size / 2 + k + a.dy * k)
    c, s = col(np.cos(a.angle)), col(np.sin(a.angle))
    u, v = c * x + s * y, -s * x + c * y  # face coordinates, v pointing down

    img = np.broadcast_to(col(a.background)[:, None], (n, 3, size, size)).copy()
    img[:, 2] *= 0.9  # a slightly warm background, so grey faces are not invisible

    fa, fb = col((8.5 + 3.5 * a.width) * k), 12.0 * k  # face half-width, half-height
    hair = col(a.hair)
    hair_rgb = _palette(_HAIR, a.hair_colour)
    # hair behind the head: a larger ellipse, upper part only
    back = np.minimum(_coverage(_ellipse(u, v, 0, -1.0 * k, fa + 1.8 * k, fb + 1.5 * k)),
                      _coverage(v + 0.15 * fb))
    _paint(img, hair * back, hair_rgb)
    face = _coverage(_ellipse(u, v, 0, 0, fa, fb))
    _paint(img, face, _palette(_SKIN, a.skin))
    # fringe: the part of the face above the hairline
    _paint(img, hair * np.minimum(face, _coverage(v + 0.62 * fb)), hair_rgb)

    # The small features are drawn on a band of rows only (a third of the cost):
    # the band covers every row within reach of their outlines, so no pixel is lost.
    max_sin = float(np.abs(np.sin(a.angle)).max()) if n else 0.0
    centre = size / 2 + k + a.dy * k

    def band(v_lo: float, v_hi: float, u_max: float):
        lo = int(np.floor(centre.min() + (v_lo - u_max * max_sin - 1.0) * k)) if n else 0
        hi = int(np.ceil(centre.max() + (v_hi + u_max * max_sin + 1.0) * k)) if n else 0
        rows = slice(max(lo, 0), min(hi, size))
        return u[:, rows], v[:, rows], img[:, :, rows]

    eye_u, eye_v = 4.0 * k, -2.5 * k  # eye positions do not depend on the width
    bu, bv, bimg = band(-2.5 - 3.5, -2.5 + 3.5, 7.5)
    eye_b = col((0.3 + 1.4 * a.eyes) * k)
    for side in (-1.0, 1.0):
        _paint(bimg, _coverage(_ellipse(bu, bv, side * eye_u, eye_v, 1.8 * k, eye_b)), _EYE)

    ring = np.full(bu.shape, np.inf, dtype=np.float32)
    for side in (-1.0, 1.0):
        r = np.sqrt((bu - side * eye_u) ** 2 + (bv - eye_v) ** 2)
        ring = np.minimum(ring, np.abs(r - 3.0 * k) - 0.45 * k)
    bridge = np.maximum(np.abs(bv - eye_v) - 0.45 * k, np.abs(bu) - 1.2 * k)
    _paint(bimg, col(a.glasses) * _coverage(np.minimum(ring, bridge)), _GLASSES)

    # mouth: the curve v = m0 + smile * (1.5 - 3.5 (u/w)^2) pixels, |u| <= w: a smile
    # (smile > 0) lifts the corners 2 px and lowers the middle 1.5 px
    m0, w, s_ = 5.5 * k, 5.5 * k, col(a.smile) * k
    bu, bv, bimg = band(5.5 - 2.0 - 1.0, 5.5 + 2.0 + 1.0, 6.5)
    f = m0 + s_ * (1.5 - 3.5 * (bu / w) ** 2)
    slope = s_ * (-7.0 * bu / w**2)
    d_curve = np.abs(bv - f) / np.sqrt(1.0 + slope**2) - 0.8 * k
    _paint(bimg, _coverage(np.maximum(d_curve, np.abs(bu) - w)), _MOUTH)
    return img


def render_faces(attrs: FaceAttributes, *, size: int = 32, noise: float = 0.03,
                 seed: int | np.random.Generator = 0, chunk: int = 2048) -> np.ndarray:
    """Draw the faces described by ``attrs``: a float32 array (N, 3, size, size)
    with values in [0, 1], plus Gaussian pixel noise of standard deviation
    ``noise`` drawn from ``seed`` (clipped to [0, 1]). The same attributes and
    seed give the same images."""
    if not isinstance(attrs, FaceAttributes):
        raise TypeError(f"attrs must be FaceAttributes, got {type(attrs).__name__}")
    if int(size) < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    size = int(size)
    out = np.empty((len(attrs), 3, size, size), dtype=np.float32)
    for start in range(0, len(attrs), chunk):
        out[start:start + chunk] = _render_chunk(attrs[start:start + chunk], size)
    if noise > 0:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        out += noise * rng.standard_normal(out.shape, dtype=np.float32)
    return np.clip(out, 0.0, 1.0, out=out)


def make_faces(n: int, seed: int = 0, *, size: int = 32, noise: float = 0.03, jitter: bool = True,
               device: str | torch.device | None = None) -> tuple[torch.Tensor, FaceAttributes]:
    """``n`` random faces: images (N, 3, size, size) as a float32 tensor in [0, 1]
    (on ``device``) and their :class:`FaceAttributes`. Deterministic under ``seed``."""
    rng = np.random.default_rng(seed)
    attrs = sample_face_attributes(n, rng, jitter=jitter)
    x = torch.from_numpy(render_faces(attrs, size=size, noise=noise, seed=rng))
    return (x.to(device) if device is not None else x), attrs


# ---------------------------------------------------------------------------
# CelebA (optional): a local copy in the official layout.

class CelebAUnavailableError(FileNotFoundError):
    """No usable local CelebA copy; the message says what is missing."""


def _celeba_folder(root: Path) -> Path:
    for candidate in (root, root / "celeba", root / "CelebA"):
        if (candidate / "list_attr_celeba.txt").is_file() or (candidate / "img_align_celeba").is_dir():
            return candidate
    return root


def load_celeba(root: str | Path, *, size: int = 32, limit: int | None = None,
                attributes: Sequence[str] = ("Smiling",), crop: int = 148,
                device: str | torch.device | None = None) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """Load a local CelebA copy in the official layout (``img_align_celeba/*.jpg``
    and ``list_attr_celeba.txt``, directly under ``root`` or in ``root/celeba``).

    Each 178x218 image is centre-cropped to ``crop`` x ``crop`` (the face) and
    resized to ``size`` x ``size``. Returns images (N, 3, size, size) in [0, 1]
    and a dict attribute name -> (N,) array of 0/1 (the file's -1/1 labels).
    ``limit`` keeps the first images of the list. Raises
    :class:`CelebAUnavailableError` when files are missing.
    """
    from PIL import Image

    root = _celeba_folder(Path(root).expanduser())
    attr_file, img_dir = root / "list_attr_celeba.txt", root / "img_align_celeba"
    missing = [str(p) for p in (attr_file, img_dir) if not p.exists()]
    if missing:
        raise CelebAUnavailableError(
            "CelebA is not available: missing " + " and ".join(missing) + ". Download the "
            "aligned-and-cropped images (img_align_celeba) and list_attr_celeba.txt from the "
            "CelebA web page (Liu et al., 2015), unpack them into one folder and pass it as root.")
    lines = attr_file.read_text().splitlines()
    if len(lines) < 3:
        raise ValueError(f"{attr_file}: expected a count line, a header line and one line per image")
    names = lines[1].split()
    unknown = [a for a in attributes if a not in names]
    if unknown:
        raise KeyError(f"{attr_file} has no attribute(s) {unknown}; it has: {', '.join(names)}")
    rows = [line.split() for line in lines[2:] if line.strip()]
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        rows = rows[:limit]
    images, labels = [], {a: [] for a in attributes}
    for row in rows:
        if len(row) != len(names) + 1:
            raise ValueError(f"{attr_file}: line for {row[0]} has {len(row) - 1} labels, expected {len(names)}")
        path = img_dir / row[0]
        if not path.is_file():
            raise CelebAUnavailableError(f"{path} is listed in {attr_file.name} but missing")
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            c = min(crop, w, h)
            left, top = (w - c) // 2, (h - c) // 2
            im = im.crop((left, top, left + c, top + c)).resize((size, size), Image.BILINEAR)
            images.append(np.asarray(im, dtype=np.uint8))
        for a in attributes:
            labels[a].append(int(row[1 + names.index(a)]) > 0)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255)
    if device is not None:
        x = x.to(device)
    return x.contiguous(), {a: np.asarray(v, dtype=np.float32) for a, v in labels.items()}

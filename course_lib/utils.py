"""Device choice, seeding, showing library source in a chapter, notebook set-up."""

from __future__ import annotations

import inspect
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from .profiles import Profile, get_profile

__all__ = ["get_device", "seed_everything", "show_source", "setup_notebook", "NotebookSetup"]

_DEVICES = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(name: str | None = None) -> torch.device:
    """The device to compute on: ``name`` if given, else ``$COURSE_DEVICE``,
    else the first available of cuda > mps > cpu.

    Asking for a device that is not available raises ``RuntimeError`` rather
    than silently falling back, so a lab GPU that is not seen gets noticed.
    """
    if name is None:
        name = os.environ.get("COURSE_DEVICE", "").strip() or None
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type not in _DEVICES:
        raise ValueError(f"unknown device {name!r}; use one of {', '.join(_DEVICES)}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested (COURSE_DEVICE?) but CUDA is not available")
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(f"device {name!r} requested (COURSE_DEVICE?) but MPS is not available")
    return device


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a fresh CPU
    ``torch.Generator`` seeded with ``seed`` for code that wants its own stream.

    With ``deterministic=True`` PyTorch is asked for deterministic kernels where
    it has them (a warning, not an error, where it does not).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS needs this set before its first call to be deterministic.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def show_source(obj) -> object:
    """Display the source code of a ``course_lib`` function or class with
    syntax highlighting (a plain string outside IPython)."""
    source = inspect.getsource(obj)
    try:
        from IPython.display import Code
    except ImportError:  # pragma: no cover - IPython is a dependency of the course
        return source
    return Code(source, language="python")


@dataclass(frozen=True)
class NotebookSetup:
    """What a chapter needs to know about the run: profile, device and seed."""

    profile: Profile
    device: torch.device
    seed: int

    def banner(self) -> str:
        return (
            f"course_lib | profile: {self.profile.name} | device: {self.device} | "
            f"torch {torch.__version__} | seed: {self.seed}"
        )


def setup_notebook(seed: int = 0, profile: str | None = None, device: str | None = None) -> NotebookSetup:
    """Seed everything, choose the device and profile, set figure defaults and
    print one banner line. Call it once at the top of every chapter."""
    import matplotlib.pyplot as plt  # noqa: F401  (activates the inline backend in Jupyter)

    setup = NotebookSetup(get_profile(profile), get_device(device), seed)
    seed_everything(seed)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "axes.grid": False,
                         "figure.figsize": (6.0, 4.0), "font.size": 10})
    print(setup.banner())
    return setup

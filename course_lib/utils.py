"""Device choice, seeding, showing library source in a chapter, notebook set-up."""

from __future__ import annotations

import inspect
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, TypeVar

import numpy as np
import torch

from .profiles import Profile, get_profile


T = TypeVar("T")

__all__ = ["get_device", "seed_everything", "show_source", "setup_notebook", "NotebookSetup",
           "model_device", "model_dtype", "to_model", "eval_mode", "to_numpy", "strict_placement", "STRICT_DTYPE"]

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
    try:
        device = torch.device(name)
    except RuntimeError:  # a string torch does not parse as a device
        device = None
    if device is None or device.type not in _DEVICES:
        raise ValueError(f"unknown device {name!r}; use one of {', '.join(_DEVICES)}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested (COURSE_DEVICE?) but CUDA is not available")
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(f"device {name!r} requested (COURSE_DEVICE?) but MPS is not available")
    return device


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); the CPU for a model without any."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating-point dtype of ``model``'s first floating parameter (or buffer);
    torch's default dtype for a model without any."""
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``with eval_mode(model):`` runs the block in eval mode (dropout off, batch norm
    on its running statistics) and restores the mode the model had, even on errors."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def to_model(data: T, model: torch.nn.Module) -> T:
    """``data`` (a tensor, or a tuple/list/dict of them) on ``model``'s device, with
    floating-point tensors in the model's dtype; integer tensors (labels) keep
    theirs. This is how every ``course_lib`` function feeds a model, so the same
    call works whether the model sits on the CPU, a CUDA GPU or Apple's MPS."""
    device, dtype = model_device(model), model_dtype(model)

    def move(t):
        if isinstance(t, torch.Tensor):
            return t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
        if isinstance(t, tuple):
            return tuple(move(u) for u in t)
        if isinstance(t, list):
            return [move(u) for u in t]
        if isinstance(t, dict):
            return {k: move(v) for k, v in t.items()}
        return t

    return move(data)


def to_numpy(t: object) -> np.ndarray:
    """A tensor on any device (or anything array-like) as a NumPy array, detached, on the CPU."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t)


# ---------------------------------------------------------------------------
# Strict placement: a CPU stand-in for a second device, so that tests without a
# GPU catch the tensors that would sit on the wrong device on CUDA or MPS.

#: the dtype that strict placement gives everything moved with ``.to(device)``
STRICT_DTYPE = torch.float64
#: setting this environment variable (to 1) turns strict placement on in ``setup_notebook``
STRICT_ENV = "COURSE_STRICT"
_ORIGINAL_TO: dict[str, object] = {}


def _device_only(args: tuple, kwargs: dict) -> bool:
    """Does a ``.to(...)`` call name a device and no dtype (nor a tensor to copy both from)?"""
    if kwargs.get("dtype") is not None or any(isinstance(a, (torch.dtype, torch.Tensor)) for a in args):
        return False
    if kwargs.get("device") is not None:
        return True
    return bool(args) and isinstance(args[0], (str, torch.device, int))


def strict_placement(enable: bool = True) -> None:
    """Make ``.to(device)`` (on tensors and modules) also convert floating-point
    values to float64, while torch's factories keep making float32.

    On a GPU, a tensor created without ``device=`` stays on the CPU and a model
    on the GPU refuses it. On a machine without a GPU every tensor is on the CPU,
    so that mistake is invisible. Under strict placement it becomes visible: the
    model (placed with ``.to(device)``) holds float64 weights, the stray tensor
    is float32, and :func:`course_lib.check_input` refuses it as CUDA would.
    ``make test`` runs every chapter this way (``COURSE_STRICT=1``).
    ``enable=False`` restores the original methods."""
    if not enable:
        for name, original in _ORIGINAL_TO.items():
            setattr(torch.Tensor if name == "tensor" else torch.nn.Module, "to", original)
        _ORIGINAL_TO.clear()
        return
    if _ORIGINAL_TO:
        return
    tensor_to, module_to = torch.Tensor.to, torch.nn.Module.to

    def strict_tensor_to(self, *args, **kwargs):
        if self.is_floating_point() and _device_only(args, kwargs):
            kwargs["dtype"] = STRICT_DTYPE
        return tensor_to(self, *args, **kwargs)

    def strict_module_to(self, *args, **kwargs):
        if _device_only(args, kwargs):
            kwargs["dtype"] = STRICT_DTYPE
        return module_to(self, *args, **kwargs)

    _ORIGINAL_TO.update(tensor=tensor_to, module=module_to)
    torch.Tensor.to, torch.nn.Module.to = strict_tensor_to, strict_module_to


def strict_placement_requested() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


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


def show_source(obj: object) -> object:
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
        strict = " | strict placement (float64)" if _ORIGINAL_TO else ""
        return (
            f"course_lib | profile: {self.profile.name} | device: {self.device} | "
            f"torch {torch.__version__} | seed: {self.seed}{strict}"
        )


def setup_notebook(seed: int = 0, profile: str | None = None, device: str | None = None) -> NotebookSetup:
    """Seed everything, choose the device and profile, apply the course's figure
    style (:func:`course_lib.plotting.use_course_style`) and print one banner
    line. Call it once at the top of every chapter."""
    from .plotting import use_course_style

    setup = NotebookSetup(get_profile(profile), get_device(device), seed)
    seed_everything(seed)
    if strict_placement_requested():
        strict_placement()
    use_course_style()
    print(setup.banner())
    return setup

"""Training loops: ``fit`` (with progress bar, Ctrl-C and NaN guard), ``evaluate``.

A loss function has the signature ``loss_fn(model, batch) -> dict`` whose
``"loss"`` entry is the scalar to minimise; the other entries (``"recon"``,
``"kl"``, ...) are logged in the :class:`History`. Returning a bare scalar
tensor is accepted too.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence, Union

import numpy as np
import torch
from torch import nn

from .profiles import Budget
from .utils import eval_mode, model_device, to_model

__all__ = ["History", "NonFiniteLossError", "fit", "evaluate", "batches", "stepped_lr_factor", "stepped_lr_epochs"]

Batch = Union[torch.Tensor, tuple]
Data = Union[torch.Tensor, Sequence[torch.Tensor], Callable[[int], Batch]]
LossFn = Callable[[nn.Module, Batch], Union[dict, torch.Tensor]]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the model keeps its last finite weights."""


@dataclass
class History:
    """Loss parts logged at every optimisation step, plus how the run ended."""

    records: list[dict[str, float]] = field(default_factory=list)
    steps_per_epoch: int | None = None
    interrupted: bool = False
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.records)

    @property
    def keys(self) -> list[str]:
        return list(self.records[0]) if self.records else []

    def __getitem__(self, key: str) -> np.ndarray:
        if self.records and key not in self.records[0]:
            raise KeyError(f"no loss part {key!r}; logged parts: {', '.join(self.keys)}")
        return np.array([r[key] for r in self.records], dtype=float)

    def epoch_means(self, key: str) -> np.ndarray:
        """Mean of ``key`` over each complete epoch (needs an epoch-based run)."""
        if not self.steps_per_epoch:
            raise ValueError("this run was step-based; there are no epochs to average over")
        values = self[key]
        n = len(values) // self.steps_per_epoch
        return values[: n * self.steps_per_epoch].reshape(n, self.steps_per_epoch).mean(axis=1)

    def last(self, key: str = "loss", window: int = 1) -> float:
        """Mean of the last ``window`` logged values of ``key``."""
        return float(self[key][-window:].mean())


def _as_tuple(data) -> tuple[torch.Tensor, ...]:
    if isinstance(data, torch.Tensor):
        return (data,)
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, torch.Tensor) for t in data):
        n = len(data[0])
        if any(len(t) != n for t in data):
            raise ValueError(f"tensors in the data tuple have different lengths {[len(t) for t in data]}")
        return tuple(data)
    raise TypeError("data must be a tensor, a tuple of tensors of equal length, "
                    f"or a callable batch_size -> batch; got {type(data).__name__}")


def batches(data: Data, batch_size: int, shuffle: bool = True,
            generator: torch.Generator | None = None, drop_last: bool = False) -> Iterator[Batch]:
    """Slice an in-memory data set (a tensor or tuple of tensors) into batches.

    Indices are drawn on the CPU with ``generator`` (for reproducibility) and
    the slicing happens on the tensors' own device: no copies, no workers.
    A single tensor yields tensors; a tuple yields tuples.
    """
    tensors = _as_tuple(data)
    n = len(tensors[0])
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size].to(tensors[0].device)
        part = tuple(t[idx] for t in tensors)
        yield part[0] if len(part) == 1 else part


def _parts(out) -> dict[str, torch.Tensor]:
    if isinstance(out, torch.Tensor):
        out = {"loss": out}
    if not isinstance(out, dict) or "loss" not in out:
        raise TypeError("loss_fn must return a scalar tensor or a dict with a 'loss' entry")
    if out["loss"].dim() != 0:
        raise ValueError(f"the 'loss' entry must be a scalar, got shape {tuple(out['loss'].shape)}")
    return out


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return os.environ.get("COURSE_PROGRESS", "1") not in ("0", "false", "no")


@contextmanager
def _deferred_sigint(state: dict):
    """First Ctrl-C: finish the current step, then stop. Second: stop at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if state.get("stop"):
            raise KeyboardInterrupt
        state["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_expected_device(model: nn.Module, batch: Batch) -> None:
    """``COURSE_EXPECT_DEVICE=cuda`` (set by the GPU check): fail unless the model and
    its batches really sit on that kind of device."""
    expected = os.environ.get("COURSE_EXPECT_DEVICE", "").strip()
    if not expected:
        return
    kind = torch.device(expected).type
    tensors = [t for t in (batch if isinstance(batch, (tuple, list)) else (batch,)) if isinstance(t, torch.Tensor)]
    found = {str(model_device(model))} | {str(t.device) for t in tensors}
    if any(torch.device(d).type != kind for d in found):
        raise RuntimeError(f"COURSE_EXPECT_DEVICE={expected}, but the model and its batch are on {sorted(found)}")


def fit(model: nn.Module, loss_fn: LossFn, data: Data, *, budget: Budget | None = None,
        steps: int | None = None, epochs: int | None = None, batch_size: int | None = None,
        lr: float | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        callback: Callable[[int, dict[str, float], nn.Module], None] | None = None,
        progress: bool | None = None, desc: str = "training", seed: int | None = None,
        grad_clip: float | None = None) -> History:
    """Train ``model`` by minimising ``loss_fn`` and return the :class:`History`.

    ``data`` is an in-memory data set (a tensor or a tuple of tensors, shuffled
    into batches every epoch) or a callable ``batch_size -> batch`` that draws
    fresh data (toy problems). Each batch is moved to the model's device and
    dtype (:func:`course_lib.to_model`), so the data may stay on the CPU.
    ``budget`` (a profile's :class:`course_lib.Budget`) gives the steps or epochs,
    the batch size and the learning rate; an explicit argument overrides it
    (without a budget: batch size 128, learning rate 1e-3). Give ``steps`` (optimiser updates) or ``epochs``.
    The optimiser defaults to Adam with learning rate ``lr``.

    * **Ctrl-C / kernel interrupt**: the current step finishes, training stops,
      and the model keeps everything learnt so far (``history.interrupted``).
    * **NaN/inf loss**: raises :class:`NonFiniteLossError` naming the step and
      the loss parts, before the bad gradient touches the weights.
    * ``callback(step, parts, model)`` runs after every step.
    """
    if budget is not None and steps is None and epochs is None:
        steps, epochs = (budget.steps, None) if budget.steps else (None, budget.epochs)
    batch_size = batch_size if batch_size is not None else (budget.batch_size if budget is not None else 128)
    lr = lr if lr is not None else (budget.lr if budget is not None else 1e-3)
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs= (or a budget with one of them)")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if callable(data) and not isinstance(data, torch.Tensor):
        if epochs is not None:
            raise ValueError("a sampling function has no epochs; use steps=")
        steps_per_epoch, total = None, int(steps)
    else:
        n = len(_as_tuple(data)[0])
        if n == 0:
            raise ValueError("data is empty (0 examples): fit needs at least one example to train on")
        steps_per_epoch = math.ceil(n / batch_size)
        total = int(steps) if steps is not None else int(epochs) * steps_per_epoch
    if total < 0:
        raise ValueError("steps/epochs must not be negative")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)

    def stream() -> Iterator[Batch]:
        # every batch goes to the model's device and dtype, wherever the data live
        if steps_per_epoch is None:
            while True:
                yield to_model(data(batch_size), model)
        while True:
            for batch in batches(data, batch_size, shuffle=True, generator=generator):
                yield to_model(batch, model)

    history = History(steps_per_epoch=steps_per_epoch)
    bar = None
    if _progress_enabled(progress) and total > 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, leave=True)
    was_training = model.training
    model.train()
    state: dict = {}
    start = time.perf_counter()
    try:
        with _deferred_sigint(state):
            it = stream()
            for step in range(1, total + 1):
                batch = next(it)
                if step == 1:
                    _check_expected_device(model, batch)
                parts = _parts(loss_fn(model, batch))
                values = {k: float(v.detach()) for k, v in parts.items()}
                if not all(math.isfinite(v) for v in values.values()):
                    shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
                    raise NonFiniteLossError(
                        f"{desc}: non-finite loss at step {step} ({shown}). The model keeps the "
                        "weights of the previous step; try a lower learning rate, check the "
                        "inputs for NaN, or use grad_clip=."
                    )
                optimizer.zero_grad(set_to_none=True)
                parts["loss"].backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                history.records.append(values)
                if bar is not None:
                    bar.update(1)
                    if step % 20 == 0 or step == total:
                        bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
                if callback is not None:
                    callback(step, values, model)
                if state.get("stop"):
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
        history.seconds = time.perf_counter() - start
    done = len(history)
    if history.interrupted:
        print(f"{desc}: interrupted after {done}/{total} steps; the model keeps what it learnt so far.")
    elif done:
        print(f"{desc}: {done} steps in {history.seconds:.1f} s, final loss {history.last('loss'):.4g}")
    return history


@torch.no_grad()
def evaluate(model: nn.Module, loss_fn: LossFn, data: Data, batch_size: int = 1024) -> dict[str, float]:
    """Mean of every loss part over an in-memory data set (eval mode, no grad)."""
    totals: dict[str, float] = {}
    count = 0
    with eval_mode(model):
        for batch in batches(data, batch_size, shuffle=False):
            batch = to_model(batch, model)
            size = len(batch[0] if isinstance(batch, tuple) else batch)
            for k, v in _parts(loss_fn(model, batch)).items():
                totals[k] = totals.get(k, 0.0) + float(v) * size
            count += size
    if count == 0:
        raise ValueError("evaluate got an empty data set")
    return {k: v / count for k, v in totals.items()}


# ---------------------------------------------------------------------------
# Learning-rate schedules: a factor of the base rate for each epoch

def stepped_lr_factor(epoch: int, scale: float = 1.0, stages: int = 8) -> float:
    r"""The learning-rate schedule of Burda et al. (2015) as a factor of the base
    rate: stage ``i = 0 .. stages-1`` lasts :math:`\lceil s\,3^i\rceil` epochs at
    :math:`10^{-i/7}` (``s = scale``; ``s = 1`` is the paper's 3,280 epochs).
    ``epoch`` counts from 1; past the last stage the last factor stays."""
    if epoch < 1:
        raise ValueError(f"epoch counts from 1, got {epoch}")
    end = 0
    for i in range(stages):
        end += math.ceil(scale * 3 ** i)
        if epoch <= end:
            return 10 ** (-i / 7)
    return 10 ** (-(stages - 1) / 7)


def stepped_lr_epochs(scale: float = 1.0, stages: int = 8) -> int:
    """How many epochs :func:`stepped_lr_factor` spans with this ``scale``."""
    return sum(math.ceil(scale * 3 ** i) for i in range(stages))

"""Pretrained weights: save them with a manifest, load them only when they are
the right ones, otherwise train.

A checkpoint is two files side by side: ``<name>.pt`` (the ``state_dict``) and
``<name>.json`` (the manifest: model name, config, seed, epochs, data source,
torch version, device, wall time, test metrics, sha256 of the weights, git
commit). Both are written atomically (a temporary file, then ``os.replace``),
so an interrupted save never leaves a half-written checkpoint under the real name.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

__all__ = ["CheckpointMismatchError", "Loaded", "sha256_file", "save_checkpoint",
           "read_manifest", "check_checkpoint", "load_or_train", "display_path"]


class CheckpointMismatchError(RuntimeError):
    """A checkpoint exists but is not the one asked for (or is damaged)."""


@dataclass
class Loaded:
    """What :func:`load_or_train` returns: the model (eval mode), its manifest,
    whether it was ``"loaded"`` or ``"trained"``, and why a checkpoint was not used."""

    model: nn.Module
    manifest: dict
    source: str
    problems: list[str] = field(default_factory=list)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The current git commit (with ``+dirty`` if there are uncommitted changes
    to tracked files), or ``None`` outside a repository."""
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes private files; checkpoints are for everyone
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def manifest_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_checkpoint(model: nn.Module, path: str | Path, manifest: dict) -> dict:
    """Write ``model.state_dict()`` to ``path`` and the manifest (plus the
    weights' sha256 and file name) to ``path`` with suffix ``.json``, each
    atomically. Returns the manifest as written."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_write(path, lambda tmp: torch.save(state, tmp))
    manifest = {**manifest, "weights": path.name, "sha256": sha256_file(path)}
    _atomic_write(manifest_path(path), lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n"))
    return manifest


def read_manifest(path: str | Path) -> dict:
    """The manifest beside the weights file ``path`` (raises on a missing or bad file)."""
    return json.loads(manifest_path(path).read_text())


def _diff(expected: dict, found: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(expected) | set(found)):
        a, b = expected.get(key, "<missing>"), found.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"config {prefix}{key}: expected {a!r}, checkpoint has {b!r}")
    return out


def check_checkpoint(path: str | Path, config: dict, model_name: str | None = None) -> list[str]:
    """Everything that stops the checkpoint at ``path`` from being used for a
    model with ``config`` (a JSON-like dict): missing files, an unreadable
    manifest, another model name, config differences (key by key), a sha256
    that does not match (a corrupt or truncated file). Empty list = usable."""
    path = Path(path)
    if not path.is_file():
        return [f"no weights file {path.name}"]
    if not manifest_path(path).is_file():
        return [f"no manifest {manifest_path(path).name} beside the weights"]
    try:
        manifest = read_manifest(path)
    except (OSError, ValueError) as err:
        return [f"manifest {manifest_path(path).name} is unreadable: {err}"]
    problems = []
    if model_name is not None and manifest.get("model") != model_name:
        problems.append(f"model: expected {model_name!r}, checkpoint has {manifest.get('model')!r}")
    problems += _diff(json.loads(json.dumps(config)), manifest.get("config", {}))
    actual = sha256_file(path)
    if manifest.get("sha256") != actual:
        problems.append(f"sha256 of {path.name} is {actual[:12]}... but the manifest records "
                        f"{str(manifest.get('sha256'))[:12]}... (file corrupt, truncated or replaced; "
                        f"{path.stat().st_size} bytes)")
    return problems


def display_path(path: str | Path) -> str:
    """A path as printed in a notebook's output: relative to the package's folder for
    the course's own files, ``<temporary folder>/...`` for temporary files and ``~/...``
    under the home folder, so that no machine's absolute path ends up in a rendered page."""
    import tempfile

    path = Path(path).expanduser().resolve()
    anchors = ((Path(__file__).resolve().parent.parent, ""), (Path(tempfile.gettempdir()).resolve(), "<temporary folder>/"),
               (Path.home().resolve(), "~/"))
    for anchor, prefix in anchors:
        try:
            return prefix + str(path.relative_to(anchor))
        except ValueError:
            continue
    return str(path)


def _retrain_forced() -> bool:
    return os.environ.get("COURSE_RETRAIN", "").strip().lower() in ("1", "true", "yes")


def load_or_train(path: str | Path, config: dict, build: Callable[[], nn.Module],
                  train: Callable[[], tuple[nn.Module, dict]], *, model_name: str | None = None,
                  save_to: str | Path | None = None, on_mismatch: str = "retrain",
                  device: str | torch.device | None = None) -> Loaded:
    """Load the checkpoint at ``path`` if it matches, else train.

    The checkpoint is used only when its files exist, its sha256 matches the
    manifest and its recorded ``config`` (and ``model_name``) equal the ones
    given; then ``build()`` makes the model and the weights are loaded into it.
    Otherwise every problem is printed and ``train()`` -> ``(model, manifest)``
    is called, or, with ``on_mismatch="raise"``, :class:`CheckpointMismatchError`
    is raised. ``COURSE_RETRAIN=1`` always trains. Trained weights are saved
    to ``save_to`` when given (never implicitly over ``path``).
    """
    if on_mismatch not in ("retrain", "raise"):
        raise ValueError(f"on_mismatch must be 'retrain' or 'raise', got {on_mismatch!r}")
    path = Path(path)
    if _retrain_forced():
        problems = ["COURSE_RETRAIN=1 forces training"]
    else:
        problems = check_checkpoint(path, config, model_name)
        if not problems:
            model = build()
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except Exception as err:  # e.g. a state_dict of another shape
                problems = [f"weights in {display_path(path)} do not load into the model: {type(err).__name__}: {err}"]
            else:
                manifest = read_manifest(path)
                print(f"loaded {path.name}: {manifest.get('model')} trained for {manifest.get('epochs')} "
                      f"epochs ({manifest.get('profile')} profile), sha256 {manifest['sha256'][:12]}...")
                return Loaded(model.to(device or "cpu").eval(), manifest, "loaded")
        message = f"checkpoint {display_path(path)} not used:\n  - " + "\n  - ".join(problems)
        if on_mismatch == "raise":
            raise CheckpointMismatchError(message)
        print(message + "\ntraining instead.")
    model, manifest = train()
    if save_to is not None:
        manifest = save_checkpoint(model, save_to, manifest)
    return Loaded(model.eval(), manifest, "trained", problems)

"""The full profile (the default on a CUDA machine) is coherent without a GPU: its
budgets make sense, every registered model builds from its configuration, and the
committed checkpoints are the ones a full-profile run of the chapters loads."""

import json
import re
from pathlib import Path

import pytest
import torch

import course_lib as cl
from course_lib.checkpoints import check_checkpoint, read_manifest

ROOT = Path(__file__).resolve().parent.parent
FULL = cl.get_profile("full")


def _chapter_models() -> set[str]:
    """The registered models that some chapter loads with load_or_train_model."""
    names = set()
    for path in (ROOT / "chapters").glob("*.ipynb"):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "code")
        names |= set(re.findall(r'load_or_train_model\(\s*"([^"]+)"', code))
    return names


@pytest.mark.parametrize("key", sorted(FULL.budgets))
def test_every_full_budget_is_runnable(key):
    b = FULL[key]
    assert (b.steps or 0) > 0 or (b.epochs or 0) > 0 or b.test_size, f"{key}: nothing to do"
    assert b.batch_size > 0 and b.lr > 0
    if b.train_size is not None:
        assert b.train_size >= b.batch_size, f"{key}: fewer training examples than one batch"
    smoke = cl.get_profile("smoke")[key]
    assert (b.epochs or 0) >= (smoke.epochs or 0) and (b.steps or 0) >= (smoke.steps or 0)


@pytest.mark.parametrize("name", sorted(cl.REGISTRY))
def test_every_registered_model_builds_from_its_config_and_has_a_full_budget(name):
    spec = cl.REGISTRY[name]
    model = spec.build(spec.config)
    assert sum(p.numel() for p in model.parameters()) > 0
    budget = FULL[spec.budget_key]
    assert budget.epochs and budget.epochs > 0


def test_the_chapters_load_only_registered_models():
    used = _chapter_models()
    assert used, "no chapter loads a pretrained model"
    assert used <= set(cl.REGISTRY), f"unregistered: {sorted(used - set(cl.REGISTRY))}"


@pytest.mark.parametrize("name", sorted(_chapter_models()))
def test_a_full_profile_run_loads_the_committed_checkpoint(name):
    """What load_or_train_model checks before it loads (files, sha256, model name and
    config) holds for the committed weights, the state dict fits the built model, and
    the manifest says how much of the full budget it had, and why when less."""
    spec = cl.REGISTRY[name]
    path = cl.CHECKPOINT_DIR / f"{name}.pt"
    assert check_checkpoint(path, spec.config, name) == []
    model = spec.build(spec.config)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    manifest = read_manifest(path)
    budget = FULL[spec.budget_key]
    assert manifest["profile"] == "full"
    assert 0 < manifest["epochs"] <= budget.epochs
    if manifest["epochs"] < budget.epochs:
        assert manifest.get("note"), (f"{name}: {manifest['epochs']} of the full profile's {budget.epochs} "
                                      "epochs; the manifest must say why (a 'note')")

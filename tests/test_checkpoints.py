import json

import pytest
import torch
from torch import nn

import course_lib as cl
from course_lib.checkpoints import manifest_path

CONFIG = {"n_in": 3, "n_out": 2, "hidden": [4, 5]}


def build():
    return nn.Linear(3, 2)


def trained_model(seed=0):
    torch.manual_seed(seed)
    return build()


class Trainer:
    """A stand-in for a training run that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return trained_model(seed=self.calls), {"model": "toy", "config": CONFIG, "epochs": 1}


@pytest.fixture
def ckpt(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_RETRAIN", raising=False)
    path = tmp_path / "toy.pt"
    model = trained_model()
    manifest = cl.save_checkpoint(model, path, {"model": "toy", "config": CONFIG, "seed": 0, "epochs": 3})
    return path, model, manifest


class TestSave:
    def test_manifest_contents(self, ckpt):
        path, _, manifest = ckpt
        on_disk = json.loads(manifest_path(path).read_text())
        assert on_disk == manifest
        assert on_disk["sha256"] == cl.sha256_file(path)
        assert len(on_disk["sha256"]) == 64 and on_disk["weights"] == "toy.pt"
        assert on_disk["config"] == CONFIG and on_disk["epochs"] == 3

    def test_no_temporary_files_left(self, ckpt):
        path, _, _ = ckpt
        assert sorted(p.name for p in path.parent.iterdir()) == ["toy.json", "toy.pt"]


class TestLoadOrTrain:
    def test_matching_checkpoint_is_loaded(self, ckpt, capsys):
        path, model, _ = ckpt
        trainer = Trainer()
        loaded = cl.load_or_train(path, CONFIG, build, trainer, model_name="toy")
        assert loaded.source == "loaded" and trainer.calls == 0 and loaded.problems == []
        torch.testing.assert_close(loaded.model.weight, model.weight)
        assert not loaded.model.training
        assert "loaded toy.pt" in capsys.readouterr().out

    def test_mismatched_config_says_what_differs_and_retrains(self, ckpt, capsys):
        path, model, _ = ckpt
        trainer = Trainer()
        other = {**CONFIG, "hidden": [4, 6]}
        loaded = cl.load_or_train(path, other, build, trainer, model_name="toy")
        assert loaded.source == "trained" and trainer.calls == 1
        assert loaded.problems == ["config hidden: expected [4, 6], checkpoint has [4, 5]"]
        assert "config hidden: expected [4, 6]" in capsys.readouterr().out
        # the committed checkpoint is untouched
        torch.testing.assert_close(torch.load(path)["weight"], model.weight)

    def test_mismatch_raises_when_asked(self, ckpt):
        path, _, _ = ckpt
        with pytest.raises(cl.CheckpointMismatchError, match="model: expected 'other', checkpoint has 'toy'"):
            cl.load_or_train(path, CONFIG, build, Trainer(), model_name="other", on_mismatch="raise")
        with pytest.raises(ValueError, match="on_mismatch"):
            cl.load_or_train(path, CONFIG, build, Trainer(), on_mismatch="ignore")

    def test_corrupt_file(self, ckpt):
        path, _, _ = ckpt
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # flip one byte
        path.write_bytes(bytes(data))
        with pytest.raises(cl.CheckpointMismatchError, match="sha256 of toy.pt .* corrupt, truncated"):
            cl.load_or_train(path, CONFIG, build, Trainer(), on_mismatch="raise")
        loaded = cl.load_or_train(path, CONFIG, build, Trainer())
        assert loaded.source == "trained"

    def test_truncated_file(self, ckpt):
        path, _, _ = ckpt
        size = path.stat().st_size
        path.write_bytes(path.read_bytes()[: size // 3])
        problems = cl.check_checkpoint(path, CONFIG)
        assert len(problems) == 1 and "sha256" in problems[0] and f"{size // 3} bytes" in problems[0]
        assert cl.load_or_train(path, CONFIG, build, Trainer()).source == "trained"

    def test_missing_and_unreadable_manifest(self, ckpt):
        path, _, _ = ckpt
        manifest_path(path).write_text("{not json")
        assert "unreadable" in cl.check_checkpoint(path, CONFIG)[0]
        manifest_path(path).unlink()
        assert cl.check_checkpoint(path, CONFIG) == [f"no manifest {manifest_path(path).name} beside the weights"]
        assert cl.check_checkpoint(path.with_name("nope.pt"), CONFIG)[0].startswith("no weights file")

    def test_weights_of_another_shape(self, tmp_path):
        path = tmp_path / "big.pt"
        cl.save_checkpoint(nn.Linear(5, 2), path, {"config": CONFIG})
        loaded = cl.load_or_train(path, CONFIG, build, Trainer())
        assert loaded.source == "trained" and "do not load into the model" in loaded.problems[0]

    def test_course_retrain_forces_training(self, ckpt, monkeypatch):
        path, _, _ = ckpt
        monkeypatch.setenv("COURSE_RETRAIN", "1")
        trainer = Trainer()
        loaded = cl.load_or_train(path, CONFIG, build, trainer)
        assert loaded.source == "trained" and trainer.calls == 1

    def test_save_to_writes_a_new_checkpoint(self, ckpt, tmp_path):
        path, _, _ = ckpt
        out = tmp_path / "new" / "toy.pt"
        loaded = cl.load_or_train(path, {**CONFIG, "n_in": 9}, build, Trainer(), save_to=out)
        assert loaded.source == "trained" and cl.check_checkpoint(out, CONFIG) == []


def test_display_path_hides_the_machine():
    import tempfile
    from pathlib import Path

    assert cl.display_path(cl.CHECKPOINT_DIR / "cvae-fashion.pt") == "course_lib/pretrained/cvae-fashion.pt"
    inside_tmp = Path(tempfile.gettempdir()) / "run-1" / "w.pt"
    assert cl.display_path(inside_tmp) == "<temporary folder>/run-1/w.pt"
    if not Path.home().resolve().is_relative_to(Path(tempfile.gettempdir()).resolve()):
        assert cl.display_path(Path.home() / "weights" / "w.pt") == "~/weights/w.pt"


def test_messages_of_a_missing_checkpoint_name_no_machine_path(tmp_path, capsys):
    import torch

    path = tmp_path / "deep" / "w.pt"
    loaded = cl.load_or_train(path, CONFIG, build=lambda: torch.nn.Linear(2, 2),
                              train=lambda: (torch.nn.Linear(2, 2), {"model": "m"}))
    out = capsys.readouterr().out
    assert loaded.source == "trained"
    assert str(tmp_path) not in out and "w.pt" in out, out

import pytest
import torch

import course_lib as cl
from course_lib.profiles import Budget


class TestProfileResolution:
    def test_env_override(self, monkeypatch):
        monkeypatch.setenv("COURSE_PROFILE", "smoke")
        assert cl.get_profile().name == "smoke"
        monkeypatch.setenv("COURSE_PROFILE", "FULL")
        assert cl.profile_name() == "full"

    def test_explicit_name_beats_env(self, monkeypatch):
        monkeypatch.setenv("COURSE_PROFILE", "smoke")
        assert cl.get_profile("cpu").name == "cpu"

    def test_default_depends_on_cuda(self, monkeypatch):
        monkeypatch.delenv("COURSE_PROFILE", raising=False)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        assert cl.profile_name() == "cpu"
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        assert cl.profile_name() == "full"

    def test_unknown_name_lists_valid_ones(self, monkeypatch):
        monkeypatch.setenv("COURSE_PROFILE", "turbo")
        with pytest.raises(ValueError, match="turbo.*smoke, cpu, full"):
            cl.get_profile()


class TestBudgets:
    def test_every_profile_has_the_same_budget_keys(self):
        keys = {name: set(p.budgets) for name, p in cl.PROFILES.items()}
        assert keys["smoke"] == keys["cpu"] == keys["full"]

    def test_smoke_is_the_smallest(self):
        smoke, cpu = cl.PROFILES["smoke"], cl.PROFILES["cpu"]
        for key in smoke.budgets:
            s, c = smoke[key], cpu[key]
            assert (s.steps or 0) <= (c.steps or 0)
            assert (s.epochs or 0) <= (c.epochs or 0)
            assert (s.train_size or 10**9) <= (c.train_size or 10**9)

    def test_unknown_budget_key(self):
        with pytest.raises(KeyError, match="no budget 'nope'.*toy"):
            cl.PROFILES["cpu"]["nope"]

    def test_profiles_and_budgets_are_frozen(self):
        from dataclasses import FrozenInstanceError

        with pytest.raises(FrozenInstanceError):
            cl.PROFILES["cpu"]["toy"].steps = 1
        with pytest.raises(TypeError):
            cl.PROFILES["cpu"].budgets["toy"] = Budget()


def test_a_budget_prints_as_a_sentence():
    from course_lib.profiles import Budget

    assert str(Budget(epochs=5, batch_size=128, lr=1e-3, train_size=12000, test_size=2000)) == (
        "5 epochs on 12,000 training examples, batches of 128, learning rate 0.001; evaluated on 2,000")
    assert str(Budget(steps=3000, batch_size=500, lr=1e-3)) == "3,000 steps, batches of 500, learning rate 0.001"
    assert str(Budget(epochs=1, lr=2e-3)) == "1 epoch on the whole training set, batches of 128, learning rate 0.002"
    assert "Budget(" in repr(Budget(steps=1))   # the repr stays the dataclass's, for debugging

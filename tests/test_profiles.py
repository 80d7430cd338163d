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

"""Device handling: the library moves what it feeds a model, and strict placement
makes a notebook that would fail on a GPU fail on the CPU too."""

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import course_lib as cl


@pytest.fixture
def strict():
    cl.strict_placement()
    try:
        yield
    finally:
        cl.strict_placement(False)


def test_to_model_moves_floats_to_the_model_dtype_and_keeps_labels():
    model = nn.Linear(3, 2).to(torch.float64)
    x, y = torch.rand(4, 3), torch.arange(4)
    mx, my = cl.to_model((x, y), model)
    assert mx.dtype == torch.float64 and my.dtype == torch.int64
    torch.testing.assert_close(mx, x.double())
    assert cl.to_model({"a": [x]}, model)["a"][0].dtype == torch.float64


def test_model_device_and_dtype():
    model = nn.Linear(3, 2)
    assert cl.model_device(model) == torch.device("cpu") and cl.model_dtype(model) == torch.float32
    assert cl.model_dtype(nn.ReLU()) == torch.get_default_dtype()


def test_to_numpy_detaches_and_leaves_arrays_alone():
    t = torch.ones(2, requires_grad=True) * 2
    assert cl.to_numpy(t).tolist() == [2.0, 2.0]
    assert cl.to_numpy([1, 2]).tolist() == [1, 2]


class TestStrictPlacement:
    def test_to_device_gives_float64_and_factories_stay_float32(self, strict):
        device = torch.device("cpu")
        model = cl.mlp_autoencoder(2, 4).to(device)
        assert cl.model_dtype(model) == torch.float64
        assert torch.randn(3, 2).dtype == torch.float32
        assert torch.randn(3, 2).to(device).dtype == torch.float64
        assert torch.arange(3).to(device).dtype == torch.int64          # labels keep their dtype
        assert torch.randn(3).to(device, torch.float32).dtype == torch.float32  # an explicit dtype wins

    def test_a_tensor_made_without_the_device_is_refused_as_cuda_would(self, strict):
        # chapter 1 before the fix: the model placed with .to(device), the data made without it
        model = cl.mlp_autoencoder(2, 4).to(torch.device("cpu"))
        stray = cl.swiss_roll(8, seed=0)
        with pytest.raises(TypeError, match="float32 but the model's weights are torch.float64"):
            model(stray)
        placed = cl.swiss_roll(8, seed=0, device=torch.device("cpu"))
        assert model(placed).x_hat.dtype == torch.float64

    def test_fit_and_evaluate_feed_the_model_from_any_placement(self, strict):
        # the chapter 1 and 5 pattern: a sampler made without device= feeding fit
        model = cl.mlp_autoencoder(2, 4).to(torch.device("cpu"))
        sampler = cl.swiss_roll_sampler(noise=0.1, seed=1)
        hist = cl.fit(model, cl.ae_loss, sampler, steps=3, batch_size=16, progress=False)
        assert len(hist) == 3
        parts = cl.evaluate(model, cl.ae_loss, cl.swiss_roll(32, seed=2))
        assert set(parts) >= {"loss"}

    def test_off_restores_torch(self):
        cl.strict_placement()
        cl.strict_placement(False)
        assert torch.randn(2).to("cpu").dtype == torch.float32
        assert cl.model_dtype(nn.Linear(2, 2).to("cpu")) == torch.float32

    def test_setup_notebook_turns_it_on_from_the_environment(self):
        code = textwrap.dedent("""
            import torch, course_lib as cl
            setup = cl.setup_notebook(profile="smoke", device="cpu")
            print(torch.zeros(1).to(setup.device).dtype)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**__import__("os").environ, "COURSE_STRICT": "1"}, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "strict placement (float64)" in out.stdout and "torch.float64" in out.stdout


def test_cuda_requested_without_cuda_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="'cuda' requested .*CUDA is not available"):
        cl.setup_notebook(profile="smoke")


def test_active_units_computes_in_float64_off_the_device():
    # MPS has no float64: the variance in float64 must happen on the CPU
    mu = torch.randn(50, 3)
    count, a = cl.active_units(mu * torch.tensor([1.0, 0.01, 1.0]))
    assert count == 2 and a.device.type == "cpu"


def test_the_gpu_check_hook_fails_when_training_is_not_on_the_expected_device(monkeypatch):
    model = cl.mlp_autoencoder(2, 4)
    monkeypatch.setenv("COURSE_EXPECT_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match=r"COURSE_EXPECT_DEVICE=cuda, but the model and its batch are on \['cpu'\]"):
        cl.fit(model, cl.ae_loss, cl.swiss_roll(32, seed=0), steps=1, batch_size=8, progress=False)
    monkeypatch.setenv("COURSE_EXPECT_DEVICE", "cpu")
    assert len(cl.fit(model, cl.ae_loss, cl.swiss_roll(32, seed=0), steps=1, batch_size=8, progress=False)) == 1


def test_float64_happens_on_the_cpu_in_the_library():
    """Apple's MPS has no float64: the library converts to float64 only after .cpu() (or in
    ppca, whose exact model lives on the CPU), so no device tensor is asked for it."""
    import re
    from pathlib import Path

    lib = Path(cl.__file__).parent
    offenders = []
    for path in sorted(lib.glob("*.py")):
        if path.name == "ppca.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"(?<!cpu\(\))\.double\(\)", line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []

"""Robustness audit (issue 9): every model and every loss of course_lib answers a
wrong input with one clear sentence (what was expected, what came), never with
a matrix-size error from inside a layer.

The other cases of the audit live next to the code they exercise:
unknown profile (test_profiles), missing data with no network and no npm,
half-written data folder, Ctrl-C during data preparation, two processes
preparing at once, running from another working directory (test_data); corrupt,
truncated or mismatched checkpoints (test_checkpoints); Ctrl-C and NaN during
training (test_training, test_train).
"""

import functools

import pytest
import torch
from torch import nn

import course_lib as cl

THESIS_ACT = functools.partial(nn.LeakyReLU, 0.3)
# name -> (model, a valid input of one batch, extra arguments after x)
MODELS = {
    "mlp_autoencoder": (lambda: cl.mlp_autoencoder(6, 2), (4, 6), ()),
    "linear_autoencoder": (lambda: cl.linear_autoencoder(6, 2), (4, 6), ()),
    "mlp_vae": (lambda: cl.mlp_vae(6, 2, sigma=0.1), (4, 6), ()),
    "ConditionalVAE": (lambda: cl.conditional_conv_vae(latent_dim=4), (2, 1, 32, 32),
                       (torch.tensor([0, 3]),)),
    "conv_vae (faces)": (lambda: cl.conv_vae(4, 3, 32, 8, likelihood="gaussian", sigma=0.05), (2, 3, 32, 32), ()),
    "thesis AE": (lambda: cl.mlp_autoencoder((1, 28, 28), 4, (16,), activation=THESIS_ACT, likelihood="bernoulli"),
                  (2, 1, 28, 28), ()),
    "thesis VAE": (lambda: cl.mlp_vae((1, 28, 28), 4, (16,), decoder_hidden=(16,), activation=THESIS_ACT,
                                      likelihood="bernoulli"), (2, 1, 28, 28), ()),
    "thesis conv VAE": (lambda: cl.all_conv_vae(4, width=0.25), (2, 1, 28, 28), ()),
    "AttributeRegressor": (lambda: cl.AttributeRegressor(width=4), (2, 3, 32, 32), ()),
}


@pytest.fixture(params=list(MODELS), ids=list(MODELS))
def case(request):
    build, shape, extra = MODELS[request.param]
    torch.manual_seed(0)
    return build(), shape, extra


def test_valid_input_works(case):
    model, shape, extra = case
    model(torch.rand(shape), *extra)


def test_wrong_shape(case):
    model, shape, extra = case
    if isinstance(model, cl.AttributeRegressor):     # any H x W is fine for it; the channels are not
        bad = torch.rand(shape[0], 1, *shape[2:])
    else:
        bad = torch.rand(*shape[:-1], shape[-1] + 1)
    with pytest.raises(ValueError, match=r"shape .*got"):
        model(bad, *extra)


def test_integer_images(case):
    model, shape, extra = case
    with pytest.raises((TypeError, ValueError), match="floating-point"):
        model(torch.zeros(shape, dtype=torch.uint8), *extra)


def test_float64_batch_names_both_dtypes(case):
    model, shape, extra = case
    with pytest.raises(TypeError, match=r"torch.float64 but the model's weights are torch.float32"):
        model(torch.rand(shape, dtype=torch.float64), *extra)


def test_tensor_on_another_device(case):
    model, shape, extra = case
    with pytest.raises(ValueError, match="is on meta but the model is on cpu"):
        model(torch.empty(shape, device="meta"), *extra)


def test_not_a_tensor(case):
    model, shape, extra = case
    with pytest.raises((TypeError, ValueError)):
        model(torch.rand(shape).numpy(), *extra)


def test_decoders_check_codes():
    for model in (cl.mlp_vae(6, 2), cl.mlp_vae((1, 28, 28), 4, (16,), likelihood="bernoulli"),
                  cl.conv_vae(4, 3, 32, 8), cl.all_conv_vae(4, width=0.25)):
        with pytest.raises(ValueError, match=r"z must have shape \(batch, \d+\)"):
            model.decode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 4\)"):
        cl.conv_vae(4, 3, 32, 8).decode_logits(torch.zeros(3, 5))
    cvae = cl.conditional_conv_vae(latent_dim=4)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 4\)"):
        cvae.decode(torch.zeros(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="class labels must lie in 0..9"):
        cvae.decode(torch.zeros(2, 4), torch.tensor([0, 10]))


B = 4
LOSSES = {
    "squared_error": lambda a, b: cl.squared_error(a, b),
    "bernoulli_log_likelihood": lambda a, b: cl.bernoulli_log_likelihood(a, b.clamp(0, 1)),
    "gaussian_log_likelihood": lambda a, b: cl.gaussian_log_likelihood(a, b, 0.1),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_likelihoods_reject_mismatched_and_integer_inputs(name):
    loss = LOSSES[name]
    with pytest.raises(ValueError, match=r"x_hat has shape \(4, 10\) but x has \(4, 9\)"):
        loss(torch.zeros(B, 10), torch.rand(B, 9))
    with pytest.raises(TypeError, match="floating-point"):
        loss(torch.zeros(B, 10), torch.ones(B, 10, dtype=torch.long))
    with pytest.raises(ValueError, match="x_hat is on meta but x is on cpu"):
        loss(torch.empty(B, 10, device="meta"), torch.rand(B, 10))


def test_bernoulli_rejects_images_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"targets in \[0, 1\].*rescale images"):
        cl.bernoulli_log_likelihood(torch.zeros(B, 10), torch.full((B, 10), 255.0))
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        cl.vae_loss(cl.conditional_conv_vae(latent_dim=4), (2 * torch.rand(2, 1, 32, 32), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        cl.ae_loss(cl.mlp_autoencoder(10, 2, likelihood="bernoulli"), torch.full((B, 10), 255.0))


def test_gaussian_terms_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="must have the same shape"):
        cl.gaussian_kl(torch.zeros(B, 3), torch.zeros(B, 2))
    with pytest.raises(ValueError, match="must have the same shape"):
        cl.gaussian_kl_diag(torch.zeros(B, 3), torch.zeros(B, 3), torch.zeros(B, 2), torch.zeros(B, 3))
    with pytest.raises(ValueError, match=r"z \(4, 2\) does not broadcast"):
        cl.log_normal_diag(torch.zeros(B, 2), torch.zeros(B, 3), torch.zeros(B, 3))
    # K samples against (B, L) parameters is the intended broadcast
    assert cl.log_normal_diag(torch.zeros(5, B, 3), torch.zeros(B, 3), torch.zeros(B, 3)).shape == (5, B)


def test_bounds_reject_mismatched_parts():
    out = cl.VAEOutput(torch.zeros(B, 10), torch.zeros(B, 2), torch.zeros(B, 2), torch.zeros(B, 2))
    with pytest.raises(ValueError, match=r"x_hat has shape \(4, 10\) but x has \(3, 10\)"):
        cl.negative_elbo(out, torch.zeros(3, 10), likelihood="gaussian", sigma=1.0)
    with pytest.raises(ValueError, match="must have the same shape"):
        cl.negative_elbo(out._replace(logvar=torch.zeros(B, 3)), torch.zeros(B, 10), likelihood="gaussian", sigma=1.0)
    with pytest.raises(ValueError, match=r"expected \(K, B\) log-weights, got shape \(5,\)"):
        cl.iwae_bound(torch.zeros(5))
    with pytest.raises(ValueError, match=r"expected \(K, B\) log-weights"):
        cl.iwae_bound(torch.zeros(5, 4, 3))


# ---------------------------------------------------------------------------
# Issue 25: an empty or impossible argument gets one sentence naming it and what is
# allowed, before any work is done (no ZeroDivisionError, no "math domain error")

def test_image_grid_refuses_an_empty_batch():
    for empty in (torch.zeros(0, 1, 8, 8), torch.zeros(0, 8, 8)):
        with pytest.raises(ValueError, match=r"images is an empty batch .*needs at least one image \(N >= 1\)"):
            cl.image_grid(empty)


def test_iwae_bound_refuses_zero_samples():
    with pytest.raises(ValueError, match=r"log_weights must hold K >= 1 samples per example, got K = 0 \(shape \(0, 4\)\)"):
        cl.iwae_bound(torch.zeros(0, 4))


def test_iwae_estimates_refuse_a_plain_autoencoder():
    ae = cl.mlp_autoencoder(6, 2)
    for estimate in (cl.iwae_nll, cl.iwae_log_likelihood):
        with pytest.raises(TypeError, match=r"model must be a VAE \(encode\(x\) gives mu and logvar\), "
                                            r"got Autoencoder: a plain autoencoder has no posterior"):
            estimate(ae, torch.rand(3, 6), 5)


def test_fit_refuses_an_empty_data_set():
    model = cl.mlp_autoencoder(6, 2)
    before = [p.detach().clone() for p in model.parameters()]
    for data in (torch.zeros(0, 6), (torch.zeros(0, 6), torch.zeros(0, dtype=torch.long))):
        for length in ({"epochs": 1}, {"steps": 3}):
            with pytest.raises(ValueError, match=r"data is empty \(0 examples\): fit needs at least one example"):
                cl.fit(model, cl.ae_loss, data, progress=False, **length)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_load_images_refuses_a_subset_larger_than_its_split(tmp_path):
    for name, split, n in (("mnist", "test", 10_000), ("fashion-mnist", "train", 60_000)):
        for subset in (n + 1, 2 * n, 0):
            with pytest.raises(ValueError, match=rf"subset must be between 1 and {n:,}, the number of images "
                                                 rf"in {name}'s {split} split, got {subset:,}"):
                cl.load_images(name, split, subset=subset, root=tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any data were fetched


SPLIT_SIZES = {"train": 60_000, "test": 10_000}  # MNIST and Fashion-MNIST


def _budgets_given_to_load_images() -> set[tuple[str, str]]:
    """(budget, split) for every ``load_images(..., split, subset=b.<split>_size)`` of the
    chapters, ``b`` being a ``profile["budget"]`` of the same notebook, and for every
    registered pretrain model whose data loader calls load_images."""
    import inspect
    import json
    import re
    from pathlib import Path

    from course_lib.pretrain import REGISTRY

    found = set()
    for path in sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        names: dict[str, set[str]] = {}
        for lhs, rhs in re.findall(r"^\s*(\w+(?:\s*,\s*\w+)*)\s*=\s*(profile\[.*)$", code, flags=re.M):
            for var, key in zip(re.split(r"\s*,\s*", lhs), re.findall(r'profile\["(\w+)"\]', rhs)):
                names.setdefault(var, set()).add(key)
        for split, var, attr in re.findall(r'load_images\("[\w-]+",\s*"(\w+)"[^)]*?subset=(\w+)\.(\w+)_size', code):
            assert attr == split, f"{path.name}: the {split} split takes {var}.{attr}_size"
            found |= {(key, split) for key in names[var]}
    for spec in REGISTRY.values():
        if "load_images(" in inspect.getsource(spec.load_data):
            found |= {(spec.budget_key, "train"), (spec.budget_key, "test")}
    return found


def test_no_profile_asks_for_more_images_than_a_split_holds():
    """load_images now refuses such a subset; before, it silently gave the whole split."""
    found = _budgets_given_to_load_images()
    assert {("mnist_ae", "test"), ("vae_mnist", "train"), ("cvae_fashion", "test")} <= found, sorted(found)
    for profile in cl.PROFILES.values():
        for key, split in sorted(found):
            size = getattr(profile[key], f"{split}_size")
            assert size is None or 1 <= size <= SPLIT_SIZES[split], f"{profile.name}: {key}.{split}_size = {size}"

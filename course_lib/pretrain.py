"""The training command for the course's pretrained models.

    python -m course_lib pretrain cvae-fashion [--profile full|cpu|smoke] [--epochs N]
                                            [--seed S] [--out DIR] [--resume-dir DIR] [--threads N]

trains a registered model with the budget of a run profile, shows a progress
bar, and writes ``<out>/<name>.pt`` with its JSON manifest (see
:mod:`course_lib.checkpoints`). After every epoch a resume state is saved
atomically to ``<resume-dir>/<name>.resume.pt`` (default: ``<out>``): after
Ctrl-C, running the same command again continues from the last finished epoch,
on this machine or on another one that has the resume file. New models are
added to :data:`REGISTRY`.
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .checkpoints import Loaded, _atomic_write, display_path, git_commit, load_or_train, save_checkpoint
from .losses import IWAEObjective, kl_warmup, vae_loss
from .profiles import Budget, Profile, get_profile
from .training import evaluate, fit
from .utils import get_device, seed_everything

__all__ = ["FacesVAEConfig", "ModelSpec", "REGISTRY", "CHECKPOINT_DIR", "MNIST_TEST_BINARIZE_SEED", "TrainResult", "train_model",
           "load_or_train_model"]

#: where the pretrained weights live: ``course_lib/pretrained/``, package data, so that a plain
#: ``pip install`` of the course (Colab, Kaggle) brings them along with their manifests
CHECKPOINT_DIR = Path(__file__).resolve().parent / "pretrained"

Tensors = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class ModelSpec:
    """How to build, feed and train one registered model.

    ``build(config)`` makes the model from its JSON-like ``config``;
    ``load_data(budget, device)`` returns ``(train, test, info)`` with in-memory
    tensor tuples and a dict describing the data source; ``loss_fn`` is a
    :func:`course_lib.fit` loss returning parts (``loss``, ``elbo``, ...).
    The budget comes from ``profile[budget_key]``.
    """

    name: str
    description: str
    budget_key: str
    config: dict
    build: Callable[[dict], nn.Module]
    load_data: Callable[[Budget, torch.device], tuple[Tensors, Tensors, dict]]
    loss_fn: Callable
    #: what the loss is, for the manifest
    loss_description: str = "negative ELBO, Bernoulli likelihood from logits, sum over pixels, batch mean"
    #: how the test ELBO is estimated, for the manifest
    estimator: str = "one z ~ q(z|x) per test image, torch.manual_seed(seed)"
    #: optimiser class and its keyword arguments besides the learning rate
    optimizer: str = "AdamW"
    optimizer_kwargs: dict = field(default_factory=dict)
    #: learning-rate factor of epoch ``e`` (from 1), times the budget's lr; None = constant
    lr_factor: Callable[[int], float] | None = None
    #: called once on a fresh model with the training tensors (e.g. an output-bias init)
    init: Callable[[nn.Module, Tensors], None] | None = None
    #: extra test metrics for the manifest: ``(model, test, profile, seed) -> dict``
    test_metrics: Callable[[nn.Module, Tensors, Profile, int], dict] | None = None
    #: evaluate the test ELBO every this many epochs into the history (0 = never)
    eval_every: int = 0
    #: KL weight of epoch ``e`` (from 1), a warm-up; None = 1 throughout. When set, ``loss_fn``
    #: must take ``kl_weight=`` (per epoch, not per step, so that a resumed run gets the same weights)
    kl_weight: Callable[[int], float] | None = None


def _data_source(name: str) -> str | None:
    """Where a prepared data set came from (npm package or mirror), from its completion marker."""
    from .data import DATASETS, data_root

    marker = data_root() / DATASETS[name].folder / "raw" / "COMPLETE.json"
    source = json.loads(marker.read_text()) if marker.is_file() else {}
    return source.get("package") or source.get("source")


def _fashion_data(budget: Budget, device: torch.device) -> tuple[Tensors, Tensors, dict]:
    from .data import load_images

    train = load_images("fashion-mnist", "train", size=32, subset=budget.train_size, device=device)
    test = load_images("fashion-mnist", "test", size=32, subset=budget.test_size, device=device)
    info = {"dataset": "fashion-mnist", "source": _data_source("fashion-mnist"),
            "image_size": 32, "train_images": len(train), "test_images": len(test)}
    return train.tensors, test.tensors, info


def _build_cvae(config: dict) -> nn.Module:
    from .architectures import conditional_conv_vae

    return conditional_conv_vae(**config)


#: held-out faces for the manifest's test ELBO (training faces use FacesVAEConfig.data_seed)
FACES_TEST_SEED, FACES_TEST_SIZE = 2, 5000


@dataclass(frozen=True)
class FacesVAEConfig:
    """Architecture, likelihood and data of the faces VAE (the budget comes from the profile)."""

    latent_dim: int = 32
    width: int = 32
    size: int = 32
    sigma: float = 0.05  # decoder standard deviation (Gaussian likelihood on pixel values)
    data_seed: int = 1  # the faces are drawn from this seed; held-out faces use others
    beta: float = 1.0

    def build(self) -> nn.Module:
        """The untrained faces VAE: :func:`course_lib.conv_vae` with a Gaussian decoder of
        standard deviation ``sigma``."""
        from .architectures import conv_vae

        return conv_vae(self.latent_dim, 3, self.size, self.width, likelihood="gaussian", sigma=self.sigma)


def _faces_config():
    from dataclasses import asdict

    return asdict(FacesVAEConfig())


def _faces_data(budget: Budget, device: torch.device) -> tuple[Tensors, Tensors, dict]:
    from .faces import make_faces

    config = _faces_config()
    n_train, n_test = budget.train_size or 60_000, budget.test_size or FACES_TEST_SIZE
    train, _ = make_faces(n_train, seed=config["data_seed"], size=config["size"], device=device)
    test, _ = make_faces(n_test, seed=FACES_TEST_SEED, size=config["size"], device=device)
    info = {"dataset": "synthetic faces (course_lib.make_faces)", "image_size": config["size"],
            "train_seed": config["data_seed"], "test_seed": FACES_TEST_SEED,
            "train_images": n_train, "test_images": n_test}
    return (train,), (test,), info


def _build_faces_vae(config: dict) -> nn.Module:
    return FacesVAEConfig(**config).build()


def _faces_loss(model, batch):
    return vae_loss(model, batch, beta=_faces_config()["beta"])


#: the binarised MNIST test set is drawn once with this seed (dynamic binarisation, fixed test set)
MNIST_TEST_BINARIZE_SEED = 0


def _binary_mnist_data(budget: Budget, device: torch.device) -> tuple[Tensors, Tensors, dict]:
    from .data import load_images
    from .data import dynamic_binarize

    train = load_images("mnist", "train", subset=budget.train_size, device=device)
    test = load_images("mnist", "test", subset=budget.test_size, device=device)
    gen = torch.Generator().manual_seed(MNIST_TEST_BINARIZE_SEED)
    test_bin = dynamic_binarize(test.x.cpu(), generator=gen).to(test.x)
    info = {"dataset": "mnist", "source": _data_source("mnist"),
            "binarisation": "dynamic: a fresh Bernoulli draw of every training image at every step; "
                            f"the test images drawn once with torch.Generator seed {MNIST_TEST_BINARIZE_SEED}",
            "train_images": len(train), "test_images": len(test)}
    return (train.x,), (test_bin,), info


def _build_binary_mnist_vae(config: dict) -> nn.Module:
    from .architectures import mlp_vae
    from .priors import MixtureOfGaussiansPrior, VampPrior

    model = mlp_vae((1, 28, 28), config["latent_dim"], tuple(config["hidden"]),
                    activation={"tanh": nn.Tanh, "relu": nn.ReLU}[config["activation"]], likelihood="bernoulli")
    prior = config.get("prior", "standard normal")
    if prior == "vampprior":
        model.prior = VampPrior(model.encode, config["prior_components"], model.input_shape)
    elif prior == "mixture of gaussians":
        model.prior = MixtureOfGaussiansPrior(model.latent_dim, config["prior_components"])
    elif prior != "standard normal":
        raise ValueError(f"unknown prior {prior!r}")
    return model


def _binary_vae_loss(model, batch, kl_weight: float = 1.0):
    return vae_loss(model, batch, binarize=True, kl_weight=kl_weight)


#: the IWAE paper's training objective: k = 5 importance samples, a fresh binarisation per batch
_binary_iwae_loss = IWAEObjective(k=5, binarize=True)

#: the VampPrior paper's KL warm-up: a linear ramp of the KL weight over its first 100 epochs
VAMPPRIOR_WARMUP_EPOCHS = 100


def _vampprior_warmup(epoch: int) -> float:
    return kl_warmup(epoch, VAMPPRIOR_WARMUP_EPOCHS)


def _init_bias(model, train):
    from .architectures import init_output_bias

    init_output_bias(model, train[0])


def _burda_lr(epoch: int) -> float:
    from .training import stepped_lr_factor

    return stepped_lr_factor(epoch, scale=BURDA_SCHEDULE_SCALE)


#: the IWAE paper's schedule (3^i epochs at 1e-3 * 10^(-i/7)) compressed by this factor
BURDA_SCHEDULE_SCALE = 1 / 3


def _nll_metrics(model, test, prof: Profile, seed: int) -> dict:
    from .latent import iwae_nll

    budget = prof["mnist_nll"]
    x = test[0][: budget.test_size] if budget.test_size else test[0]
    est = iwae_nll(model, x, int(budget.steps), generator=torch.Generator().manual_seed(seed), batch_size=50)
    k = est.k
    return {"nll_nats_per_image": est.nll, "nll_standard_error": est.standard_error,
            "nll_k": k, "nll_images": est.n,
            "nll_estimator": f"importance-weighted bound L_K, K = {k} samples z ~ q(z|x) per image, "
                             f"torch.Generator seed {seed}; standard error = std over images / sqrt(N)"}


def _mnist_data(budget: Budget, device: torch.device) -> tuple[Tensors, Tensors, dict]:
    from .data import load_images

    train = load_images("mnist", "train", subset=budget.train_size, device=device)
    test = load_images("mnist", "test", subset=budget.test_size, device=device)
    info = {"dataset": "mnist", "source": _data_source("mnist"), "pixels": "grey levels in [0, 1]",
            "train_images": len(train), "test_images": len(test)}
    return (train.x,), (test.x,), info


#: the network of "vae-binary-mnist", shared by the models that change only its objective or prior
_BURDA_NETWORK = {"latent_dim": 50, "hidden": [200, 200], "activation": "tanh", "output_bias": "logit of mean image",
                  "lr_schedule": f"Burda et al. 2015, stage lengths ceil({BURDA_SCHEDULE_SCALE:.4g} * 3^i)"}
#: how the three binarised-MNIST models are optimised, as for "vae-binary-mnist"
_BURDA_TRAINING = dict(load_data=_binary_mnist_data, optimizer="Adam",
                       optimizer_kwargs={"betas": (0.9, 0.999), "eps": 1e-4}, lr_factor=_burda_lr,
                       init=_init_bias, test_metrics=_nll_metrics, eval_every=10)


def _build_mlp_vae(config: dict) -> nn.Module:
    from .architectures import mlp_vae

    return mlp_vae((1, 28, 28), config["latent_dim"], tuple(config["hidden"]), likelihood="bernoulli")


REGISTRY: dict[str, ModelSpec] = {
    "cvae-fashion": ModelSpec(
        name="cvae-fashion",
        description="conditional convolutional VAE on Fashion-MNIST 32x32, L=128 (chapter 6)",
        budget_key="cvae_fashion",
        config={"image_shape": [1, 32, 32], "latent_dim": 128, "n_classes": 10, "channels": [16, 32, 64]},
        build=_build_cvae,
        load_data=_fashion_data,
        loss_fn=vae_loss,
        estimator="one z ~ q(z|x,y) per test image, torch.manual_seed(seed)",
    ),
    "faces-vae": ModelSpec(
        name="faces-vae",
        description="convolutional VAE on 32x32 synthetic faces, L=32, Gaussian decoder sigma=0.05 (chapter 7)",
        budget_key="faces_vae",
        config=_faces_config(),
        build=_build_faces_vae,
        load_data=_faces_data,
        loss_fn=_faces_loss,
        loss_description="negative ELBO, Gaussian likelihood N(x; sigmoid(logits), sigma^2 I) with its "
                         "normaliser, sum over pixels, batch mean",
    ),
    "vae2d-mnist": ModelSpec(
        name="vae2d-mnist",
        description="MLP VAE 784-128-64-2 (ReLU) on grey-level MNIST, Bernoulli decoder, L=2: the in-page "
                    "latent plane and draw-a-digit widget (chapter 9)",
        budget_key="vae2d_mnist",
        config={"latent_dim": 2, "hidden": [128, 64]},
        build=_build_mlp_vae,
        load_data=_mnist_data,
        loss_fn=vae_loss,
        loss_description="negative ELBO, Bernoulli likelihood from logits on grey levels (binary "
                         "cross-entropy), sum over pixels, batch mean",
    ),
    "vae-binary-mnist": ModelSpec(
        name="vae-binary-mnist",
        description="MLP VAE 784-200-200-50 (tanh) on dynamically binarised MNIST, the one-stochastic-layer "
                    "model of Burda et al. 2015 (chapter 8)",
        budget_key="mnist_burda",
        config=dict(_BURDA_NETWORK),
        build=_build_binary_mnist_vae,
        loss_fn=_binary_vae_loss,
        loss_description="negative ELBO, Bernoulli likelihood from logits on a fresh binarisation of each batch, "
                         "sum over pixels, batch mean",
        estimator="one z ~ q(z|x) per binarised test image, torch.manual_seed(seed)",
        **_BURDA_TRAINING,
    ),
    "iwae-binary-mnist": ModelSpec(
        name="iwae-binary-mnist",
        description="the network of vae-binary-mnist trained on the importance-weighted bound with k = 5 "
                    "samples: the one-stochastic-layer IWAE of Burda et al. 2015 (chapter 8b)",
        budget_key="mnist_burda_iwae",
        config={**_BURDA_NETWORK, "objective": "iwae", "iwae_k": 5},
        build=_build_binary_mnist_vae,
        loss_fn=_binary_iwae_loss,
        loss_description="negative importance-weighted bound L_5 (k = 5 reparameterised z ~ q(z|x) per image), "
                         "Bernoulli likelihood from logits on a fresh binarisation of each batch, batch mean",
        estimator="k = 5 z ~ q(z|x) per binarised test image, torch.manual_seed(seed): the ELBO's recon "
                  "averaged over them, closed-form KL; iwae = L_5 on the same samples",
        **_BURDA_TRAINING,
    ),
    "vampprior-binary-mnist": ModelSpec(
        name="vampprior-binary-mnist",
        description="the network of vae-binary-mnist with a VampPrior of 500 learned pseudo-inputs "
                    "(Tomczak & Welling 2018), trained on the ELBO (chapter 8b)",
        budget_key="mnist_burda_vampprior",
        config={**_BURDA_NETWORK, "prior": "vampprior", "prior_components": 500,
                "pseudo_inputs": "hardtanh(w) in [0, 1], w ~ N(0.05, 0.01^2) per pixel at the start",
                "kl_warmup": f"KL weight min(1, epoch / {VAMPPRIOR_WARMUP_EPOCHS}) (Tomczak & Welling 2018)"},
        build=_build_binary_mnist_vae,
        loss_fn=_binary_vae_loss,
        loss_description="negative ELBO with a one-sample Monte-Carlo KL, log q(z|x) - log p(z) at the sampled z; "
                         "Bernoulli likelihood from logits on a fresh binarisation of each batch, sum over pixels, "
                         "batch mean; the KL weighted by the warm-up (the logged elbo is always the bound)",
        estimator="one z ~ q(z|x) per binarised test image, torch.manual_seed(seed); the KL by Monte Carlo at it",
        kl_weight=_vampprior_warmup,
        **_BURDA_TRAINING,
    ),
}


def _spec(name: str) -> ModelSpec:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(REGISTRY)}")
    return REGISTRY[name]


@dataclass
class TrainResult:
    """A finished (or interrupted) run: the model, its manifest (``None`` when
    interrupted) and the number of finished epochs."""

    model: nn.Module
    manifest: dict | None
    epochs_done: int
    interrupted: bool


def train_model(name: str, *, profile: str | Profile | None = None, epochs: int | None = None,
                seed: int = 0, out: str | Path = CHECKPOINT_DIR, device: str | torch.device | None = None,
                resume: bool = True, progress: bool | None = None,
                epoch_callback: Callable[[int], None] | None = None,
                data: tuple[Tensors, Tensors, dict] | None = None,
                resume_dir: str | Path | None = None) -> TrainResult:
    """Train the registered model ``name`` and write ``<out>/<name>.pt`` + manifest.

    Budget (epochs, batch size, learning rate, subsets) from the profile;
    ``epochs`` overrides it. AdamW as in the source notes. After each epoch the
    model, optimiser, random state and per-epoch history are saved to
    ``<resume_dir>/<name>.resume.pt`` (default ``resume_dir``: ``out``); a later
    call with the same settings resumes from there (``resume=False`` starts
    afresh). Ctrl-C (or a KeyboardInterrupt raised by ``epoch_callback(epoch)``)
    stops the run with the last finished epoch saved. ``data`` replaces the
    registered data loader (tests).
    """
    spec = _spec(name)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    budget = prof[spec.budget_key]
    epochs = int(epochs if epochs is not None else budget.epochs)
    if epochs <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    device = torch.device(device) if device is not None else get_device()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resume_dir = Path(resume_dir) if resume_dir is not None else out
    resume_dir.mkdir(parents=True, exist_ok=True)
    resume_file = resume_dir / f"{name}.resume.pt"

    train, test, data_info = data if data is not None else spec.load_data(budget, device)
    train = tuple(t.to(device) for t in train)
    test = tuple(t.to(device) for t in test)
    seed_everything(seed)
    model = spec.build(spec.config).to(device)
    if spec.init is not None:
        spec.init(model, train)
    optimizer = getattr(torch.optim, spec.optimizer)(model.parameters(), lr=budget.lr, **spec.optimizer_kwargs)
    # what must agree for a resume state to be continued
    run = {"model": name, "config": spec.config, "seed": seed, "profile": prof.name,
           "batch_size": budget.batch_size, "lr": budget.lr, "train_images": len(train[0])}

    done, history, seconds = 0, [], 0.0
    if resume and resume_file.is_file():
        try:
            # weights_only: a resume state holds tensors, numbers, strings, dicts and lists, and
            # unpickling anything else could run code from a file someone else put there
            state = torch.load(resume_file, map_location=device, weights_only=True)
            ok = state.get("run") == run
            if not ok:
                print(f"{name}: resume state {display_path(resume_file)} has other settings; starting afresh")
        except pickle.UnpicklingError:  # refused by the safe loader: keep the file, start nothing
            raise pickle.UnpicklingError(
                f"{name}: the resume state {display_path(resume_file)} holds something other than tensors, "
                "numbers, strings, dicts and lists, so it was not loaded (the file is left as it is); "
                "delete it, or run with --fresh (resume=False) to start afresh") from None
        except Exception as err:  # a damaged (e.g. truncated) resume file: say so and start afresh
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(f"{name}: ignoring the damaged resume state {display_path(resume_file)} ({reason}); "
                  "starting afresh")
            ok = False
        if ok:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            done, history, seconds = state["epoch"], state["history"], state["seconds"]
            print(f"{name}: resuming after epoch {done} from {display_path(resume_file)}")

    interrupted = False
    try:
        for epoch in range(done + 1, epochs + 1):
            if spec.lr_factor is not None:
                for group in optimizer.param_groups:
                    group["lr"] = budget.lr * spec.lr_factor(epoch)
            loss_fn = spec.loss_fn
            if spec.kl_weight is not None:
                loss_fn = partial(spec.loss_fn, kl_weight=spec.kl_weight(epoch))
            h = fit(model, loss_fn, train, epochs=1, batch_size=budget.batch_size,
                    optimizer=optimizer, seed=seed * 100_003 + epoch, progress=progress,
                    desc=f"{name} epoch {epoch}/{epochs}")
            if h.interrupted:
                interrupted = True
                break
            history.append({k: float(h[k].mean()) for k in h.keys})
            history[-1]["lr"] = optimizer.param_groups[0]["lr"]
            if spec.kl_weight is not None:
                history[-1]["kl_weight"] = spec.kl_weight(epoch)
            if spec.eval_every and (epoch % spec.eval_every == 0 or epoch == epochs):
                with torch.random.fork_rng(devices=[]):  # the training stream stays untouched
                    torch.manual_seed(seed)
                    parts = evaluate(model, spec.loss_fn, test, batch_size=1000)
                history[-1]["test_elbo"] = parts.get("elbo")
                if "iwae" in parts:
                    history[-1]["test_iwae"] = parts["iwae"]
            seconds += h.seconds
            done = epoch
            state = {"run": run, "epoch": done, "history": history, "seconds": seconds,
                     "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "rng": torch.get_rng_state()}
            _atomic_write(resume_file, lambda tmp: torch.save(state, tmp))
            if epoch_callback is not None:
                epoch_callback(epoch)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        print(f"{name}: interrupted; {done}/{epochs} epochs are saved in {display_path(resume_file)}. "
              "Run the same command again to resume.")
        return TrainResult(model, None, done, True)

    torch.manual_seed(seed)  # the test ELBO draws one z per image: make it reproducible
    test_parts = evaluate(model, spec.loss_fn, test, batch_size=1000)
    extra = spec.test_metrics(model, test, prof, seed) if spec.test_metrics is not None else {}
    manifest = {
        "model": name, "description": spec.description, "config": spec.config, "seed": seed,
        "epochs": done, "profile": prof.name,
        "training": {"optimizer": spec.optimizer, **spec.optimizer_kwargs, "lr": budget.lr,
                     "batch_size": budget.batch_size, "loss": spec.loss_description},
        "data": data_info,
        "test": {"elbo_nats_per_image": test_parts.get("elbo"), "recon_nats_per_image": test_parts.get("recon"),
                 "kl_nats_per_image": test_parts.get("kl"), "images": len(test[0]),
                 **({"iwae_nats_per_image": test_parts["iwae"]} if "iwae" in test_parts else {}),
                 "estimator": spec.estimator, **extra},
        "history": history,
        "torch": torch.__version__, "python": platform.python_version(), "device": str(device),
        "wall_time_seconds": round(seconds, 1),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "command": f"python -m course_lib pretrain {name} --profile {prof.name} --epochs {done} --seed {seed}",
    }
    manifest = save_checkpoint(model, out / f"{name}.pt", manifest)
    resume_file.unlink(missing_ok=True)
    print(f"{name}: {done} epochs in {seconds:.0f} s; test ELBO {test_parts.get('elbo', float('nan')):.2f} "
          f"nats/image; wrote {display_path(out / (name + '.pt'))} and its manifest")
    return TrainResult(model.eval(), manifest, done, False)


def load_or_train_model(name: str, *, checkpoint_dir: str | Path = CHECKPOINT_DIR,
                        profile: str | Profile | None = None, device: str | torch.device | None = None,
                        train_dir: str | Path | None = None, on_mismatch: str = "retrain",
                        seed: int = 0, progress: bool | None = None) -> Loaded:
    """:func:`course_lib.load_or_train` for a registered model: load
    ``<checkpoint_dir>/<name>.pt`` if it matches the registered config, else
    train with the profile's budget into ``train_dir`` (default: a new temporary
    folder, so a notebook never overwrites the committed checkpoint)."""
    spec = _spec(name)

    def train() -> tuple[nn.Module, dict]:
        out = Path(train_dir) if train_dir is not None else Path(tempfile.mkdtemp(prefix=f"{name}-"))
        result = train_model(name, profile=profile, seed=seed, out=out, device=device,
                             resume=False, progress=progress)
        if result.interrupted:
            raise KeyboardInterrupt(f"training of {name} was interrupted")
        return result.model, result.manifest

    loaded = load_or_train(Path(checkpoint_dir) / f"{name}.pt", spec.config,
                           lambda: spec.build(spec.config), train, model_name=name,
                           on_mismatch=on_mismatch, device=device or get_device())
    loaded.model.to(device or get_device())
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib pretrain",
                                     description="Train a course model and write its checkpoint + manifest.")
    parser.add_argument("model", choices=sorted(REGISTRY), help="registered model")
    parser.add_argument("--profile", choices=["full", "cpu", "smoke"], default=None,
                        help="budget (default: $COURSE_PROFILE, else full with CUDA, cpu without)")
    parser.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(CHECKPOINT_DIR), help="output folder (default: course_lib/pretrained/)")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--resume-dir", default=None,
                        help="folder of the per-epoch resume state (default: the output folder)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice, or $OMP_NUM_THREADS)")
    parser.add_argument("--fresh", action="store_true", help="ignore a resume state and start afresh")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result = train_model(args.model, profile=args.profile, epochs=args.epochs, seed=args.seed,
                         out=args.out, device=args.device, resume=not args.fresh, resume_dir=args.resume_dir)
    if result.interrupted:
        return 130
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

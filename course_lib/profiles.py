"""Run profiles: one notebook, three training budgets.

``smoke`` proves that a chapter runs end to end in seconds (CI, ``make test``);
``cpu`` gives results that look right in minutes on a 2-core laptop; ``full``
uses the source material's settings and is meant for a GPU.

The profile is chosen by the ``COURSE_PROFILE`` environment variable, or else
``full`` when a CUDA device is present and ``cpu`` otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = ["Budget", "Profile", "PROFILES", "get_profile", "profile_name"]


@dataclass(frozen=True)
class Budget:
    """How much training one experiment gets under a profile.

    ``steps`` counts optimiser updates (used for toy data drawn fresh at each
    step); ``epochs`` counts passes over a training set of ``train_size``
    examples (``None`` = the whole split). ``test_size`` limits evaluation
    sets the same way.
    """

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    train_size: int | None = None
    test_size: int | None = None

    def __str__(self) -> str:
        """A sentence for a chapter's output, e.g. "5 epochs on 12,000 training examples,
        batches of 128, learning rate 0.001; evaluated on 2,000"."""
        parts = []
        if self.steps is not None:
            parts.append(f"{self.steps:,} steps")
        if self.epochs is not None:
            on = f"{self.train_size:,} training examples" if self.train_size else "the whole training set"
            parts.append(f"{self.epochs:,} epoch{'s' if self.epochs != 1 else ''} on {on}")
        elif self.train_size:
            parts.append(f"{self.train_size:,} training examples")
        parts.append(f"batches of {self.batch_size:,}")
        parts.append(f"learning rate {self.lr:g}")
        text = ", ".join(parts)
        if self.test_size:
            text += f"; evaluated on {self.test_size:,}"
        return text


@dataclass(frozen=True)
class Profile:
    """A named set of budgets, one per experiment key (``profile["toy"]``)."""

    name: str
    description: str
    budgets: Mapping[str, Budget] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Budget:
        try:
            return self.budgets[key]
        except KeyError:
            known = ", ".join(sorted(self.budgets))
            raise KeyError(
                f"profile {self.name!r} has no budget {key!r}; known budgets: {known}"
            ) from None


def _profile(name: str, description: str, **budgets: Budget) -> Profile:
    return Profile(name, description, MappingProxyType(dict(budgets)))


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "smoke": _profile(
            "smoke",
            "seconds per notebook: tiny subsets, proves the code runs (CI)",
            # 2-D swiss roll, fresh batch at every step (chapters 1-5)
            toy=Budget(steps=60, batch_size=256, lr=1e-3),
            # MLP autoencoders on MNIST (chapters 1-2)
            mnist_ae=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=1024, test_size=256),
            # Gaussian VAE on the swiss roll (chapter 5): main run, 2-D latent variant
            vae_toy=Budget(steps=20, batch_size=128, lr=1e-3),
            # one run per sigma_0 value in chapter 5's trade-off
            vae_sigma=Budget(steps=10, batch_size=128, lr=1e-3),
            # MLP Bernoulli VAEs on MNIST, loss reductions (chapter 4)
            vae_mnist=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=512, test_size=256),
            # chapter 7: conv VAE on synthetic faces, attribute regressor, MNIST AE vs VAE
            faces_vae=Budget(epochs=1, batch_size=64, lr=2e-3, train_size=256),
            faces_regressor=Budget(epochs=1, batch_size=64, lr=2e-3, train_size=256, test_size=200),
            mnist_gen=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=1024, test_size=500),
            # conditional conv VAE on Fashion-MNIST 32x32 (chapter 6); cpu/full load course_lib/pretrained/
            cvae_fashion=Budget(epochs=1, batch_size=64, lr=1e-3, train_size=512, test_size=256),
            # dense Bernoulli VAEs on binarised MNIST: beta sweep and collapse fixes (chapter 8)
            mnist_beta=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=512, test_size=256),
            # importance-weighted test NLL: steps = K samples per image (chapter 8)
            mnist_iwae=Budget(steps=10, batch_size=50, test_size=50),
            # the IWAE paper's one-layer VAE (chapter 8; cpu/full load course_lib/pretrained/) and its test NLL
            mnist_burda=Budget(epochs=1, batch_size=100, lr=1e-3, train_size=500, test_size=100),
            # the same network trained as an IWAE (k = 5) and with a VampPrior (chapter 8b; cpu/full load
            # course_lib/pretrained/)
            mnist_burda_iwae=Budget(epochs=1, batch_size=100, lr=1e-3, train_size=500, test_size=100),
            mnist_burda_vampprior=Budget(epochs=1, batch_size=100, lr=1e-3, train_size=500, test_size=100),
            mnist_nll=Budget(steps=10, test_size=100),
            # thesis AE / VAE (dense) and conv VAE, per seed (chapter 9)
            mnist_thesis=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=512, test_size=500),
            mnist_thesis_conv=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=256, test_size=500),
            # t-SNE: test_size = number of codes embedded (chapter 9)
            tsne=Budget(test_size=300),
            # chapter 2: MNIST autoencoders (2-D map, anomaly detection, JL comparison, generation)
            ch2_mnist=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=1024, test_size=512),
            # chapter 2: the swiss-roll autoencoder (L = 16) used for generation and interpolation
            ch2_toy=Budget(steps=60, batch_size=256, lr=1e-3),
            # chapter 3: overcomplete sparse AEs (one per alpha), AE vs contractive AE on MNIST
            ch3_sparse=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=512, test_size=256),
            ch3_contractive=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=256, test_size=256),
            # chapter 3: denoising AEs, 2-D swiss roll (steps) and Fashion-MNIST (epochs)
            ch3_dae_toy=Budget(steps=60, batch_size=256, lr=1e-3),
            ch3_dae=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=1024, test_size=256),
            # chapter 10: conv beta-VAEs (L = 10) on synthetic faces, one per beta and seed; test_size =
            # held-out faces for the disentanglement scores
            faces_beta=Budget(epochs=1, batch_size=64, lr=2e-3, train_size=256, test_size=300),
            # chapter 9: MLP VAE with L = 2 on MNIST for the in-page latent plane (the chapter loads
            # course_lib/pretrained/vae2d-mnist.pt under every profile; `pretrain` trains it)
            vae2d_mnist=Budget(epochs=1, batch_size=128, lr=1e-3, train_size=1024, test_size=500),
        ),
        "cpu": _profile(
            "cpu",
            "minutes per notebook on a 2-core laptop; results look right",
            # the cpu profile's chapters must execute within 15 minutes in all on a 2-core
            # machine: 2,000 steps and 6 epochs here (the notes' 5,000 and 8), 6 epochs for
            # faces_beta, 4 for mnist_thesis_conv and 1,000 t-SNE points (all were more)
            toy=Budget(steps=2000, batch_size=1000, lr=1e-3),
            mnist_ae=Budget(epochs=6, batch_size=128, lr=1e-3, train_size=20000, test_size=10000),
            vae_toy=Budget(steps=3000, batch_size=500, lr=1e-3),
            vae_sigma=Budget(steps=3000, batch_size=500, lr=1e-3),
            vae_mnist=Budget(epochs=5, batch_size=128, lr=1e-3, train_size=20000, test_size=2000),
            faces_vae=Budget(epochs=6, batch_size=64, lr=2e-3, train_size=8000),
            faces_regressor=Budget(epochs=5, batch_size=64, lr=2e-3, train_size=8000, test_size=3000),
            mnist_gen=Budget(epochs=8, batch_size=128, lr=1e-3, train_size=20000, test_size=10000),
            cvae_fashion=Budget(epochs=10, batch_size=256, lr=1e-3),
            # 3 epochs, not 5: chapter 8 trains 18 models (7 betas, then 4 configurations x 3 seeds),
            # which at 3 epochs take about the optimiser steps its 10 one-seed models took at 5
            mnist_beta=Budget(epochs=3, batch_size=128, lr=1e-3, train_size=12000, test_size=2000),
            mnist_iwae=Budget(steps=500, batch_size=50, test_size=300),
            mnist_burda=Budget(epochs=1094, batch_size=100, lr=1e-3),
            mnist_burda_iwae=Budget(epochs=1094, batch_size=100, lr=1e-3),
            mnist_burda_vampprior=Budget(epochs=1094, batch_size=100, lr=1e-3),
            mnist_nll=Budget(steps=5000),
            mnist_thesis=Budget(epochs=5, batch_size=128, lr=1e-3, train_size=10000, test_size=5000),
            mnist_thesis_conv=Budget(epochs=4, batch_size=128, lr=1e-3, train_size=8000, test_size=5000),
            tsne=Budget(test_size=1000),
            ch2_mnist=Budget(epochs=5, batch_size=128, lr=1e-3, train_size=12000, test_size=10000),
            ch2_toy=Budget(steps=3000, batch_size=1000, lr=1e-3),
            ch3_sparse=Budget(epochs=3, batch_size=128, lr=1e-3, train_size=8000, test_size=5000),
            ch3_contractive=Budget(epochs=4, batch_size=128, lr=1e-3, train_size=5000, test_size=2000),
            ch3_dae_toy=Budget(steps=1500, batch_size=500, lr=1e-3),
            ch3_dae=Budget(epochs=3, batch_size=128, lr=1e-3, train_size=12000, test_size=10000),
            faces_beta=Budget(epochs=6, batch_size=128, lr=2e-3, train_size=8000, test_size=2000),
            vae2d_mnist=Budget(epochs=15, batch_size=128, lr=1e-3),
        ),
        "full": _profile(
            "full",
            "the source material's settings; meant for a GPU",
            toy=Budget(steps=5000, batch_size=1000, lr=1e-3),
            mnist_ae=Budget(epochs=30, batch_size=128, lr=1e-3),
            vae_toy=Budget(steps=5000, batch_size=1000, lr=1e-3),
            vae_sigma=Budget(steps=5000, batch_size=1000, lr=1e-3),
            vae_mnist=Budget(epochs=20, batch_size=128, lr=1e-3, test_size=10000),
            faces_vae=Budget(epochs=40, batch_size=128, lr=1e-3, train_size=60000),
            faces_regressor=Budget(epochs=20, batch_size=128, lr=1e-3, train_size=50000, test_size=10000),
            mnist_gen=Budget(epochs=30, batch_size=128, lr=1e-3, test_size=10000),
            cvae_fashion=Budget(epochs=50, batch_size=256, lr=1e-3),
            mnist_beta=Budget(epochs=100, batch_size=128, lr=1e-3),
            mnist_iwae=Budget(steps=5000, batch_size=20),
            # 1094 epochs = the IWAE paper's 3,280-epoch schedule compressed threefold (batch 100, not 20)
            mnist_burda=Budget(epochs=1094, batch_size=100, lr=1e-3),
            # the same schedule for the IWAE (k = 5) and the VampPrior model
            mnist_burda_iwae=Budget(epochs=1094, batch_size=100, lr=1e-3),
            mnist_burda_vampprior=Budget(epochs=1094, batch_size=100, lr=1e-3),
            mnist_nll=Budget(steps=5000),
            mnist_thesis=Budget(epochs=30, batch_size=128, lr=1e-3),
            mnist_thesis_conv=Budget(epochs=30, batch_size=128, lr=1e-3),
            tsne=Budget(test_size=5000),
            ch2_mnist=Budget(epochs=30, batch_size=128, lr=1e-3),
            ch2_toy=Budget(steps=5000, batch_size=1000, lr=1e-3),
            ch3_sparse=Budget(epochs=20, batch_size=128, lr=1e-3),
            ch3_contractive=Budget(epochs=20, batch_size=128, lr=1e-3),
            ch3_dae_toy=Budget(steps=5000, batch_size=1000, lr=1e-3),
            # the source notes' setting: 5 epochs of batches of 128 over all 60,000 images
            ch3_dae=Budget(epochs=5, batch_size=128, lr=1e-3),
            faces_beta=Budget(epochs=30, batch_size=128, lr=1e-3, train_size=60000, test_size=5000),
            vae2d_mnist=Budget(epochs=30, batch_size=128, lr=1e-3),
        ),
    }
)


def profile_name(name: str | None = None) -> str:
    """The profile in force: ``name`` if given, else ``$COURSE_PROFILE``, else
    ``full`` with CUDA and ``cpu`` without. Raises ``ValueError`` on an unknown name."""
    if name is None:
        name = os.environ.get("COURSE_PROFILE", "").strip() or None
    if name is None:
        import torch  # imported here so that profile look-ups stay cheap

        name = "full" if torch.cuda.is_available() else "cpu"
    name = name.lower()
    if name not in PROFILES:
        valid = ", ".join(PROFILES)
        raise ValueError(
            f"unknown run profile {name!r}; valid profiles are: {valid} "
            "(set COURSE_PROFILE to one of them, or leave it unset for the default)"
        )
    return name


def get_profile(name: str | None = None) -> Profile:
    """The :class:`Profile` in force (see :func:`profile_name`)."""
    return PROFILES[profile_name(name)]

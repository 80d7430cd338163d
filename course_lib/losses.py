"""Loss terms as pure functions over tensors.

Convention used throughout the course: a loss is **summed over the data
dimensions** of one example (and over latent dimensions for KL terms) and
**averaged over the batch**. Per-example functions return shape (B,) so that
the caller decides how to reduce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .data import dynamic_binarize
from .models import ConditionalVAE, VAEOutput
from .priors import StandardNormalPrior

if TYPE_CHECKING:
    from .training import LossFn

__all__ = ["squared_error", "ae_loss", "gaussian_kl", "gaussian_kl_diag", "log_normal_diag",
           "bernoulli_log_likelihood", "gaussian_log_likelihood", "decoder_log_likelihood", "iwae_bound",
           "kl_per_dim", "free_bits_kl", "kl_warmup", "posterior_kl", "negative_elbo", "vae_loss", "VAEObjective",
           "IWAEObjective",
           "sparsity_penalty", "top_k_codes", "encoder_jacobian", "contractive_penalty",
           "sparse_ae_loss", "contractive_ae_loss", "denoising_ae_loss"]


def _images(batch):
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _same_shape(x_hat: torch.Tensor, x: torch.Tensor) -> None:
    for name, t in (("x_hat", x_hat), ("x", x)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype} (use .float())")
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat has shape {tuple(x_hat.shape)} but x has {tuple(x.shape)}; "
                         "they must match")
    if x_hat.device != x.device:
        raise ValueError(f"x_hat is on {x_hat.device} but x is on {x.device}; move one of them with .to(device)")
    if x.dim() < 2:
        raise ValueError(f"expected a batch (B, ...) of examples, got shape {tuple(x.shape)}")


def squared_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-example squared error ``||x - x_hat||^2`` summed over data dimensions.

    Shapes: ``x_hat``, ``x``: (B, ...) -> (B,).
    """
    _same_shape(x_hat, x)
    return (x_hat - x).pow(2).flatten(1).sum(dim=1)


def ae_loss(model: torch.nn.Module, batch: torch.Tensor | tuple[torch.Tensor, ...], *, binarize: bool = False) -> dict[str, torch.Tensor]:
    r"""The autoencoder objective, for :func:`course_lib.fit`, by the model's likelihood:
    :math:`\frac1B\sum_b \lVert x_b - g(f(x_b))\rVert^2` for a decoder of means
    (the classic autoencoder), :math:`-\frac1B\sum_b \log p(x_b \mid z_b)` from the
    logits for a Bernoulli decoder (summed binary cross-entropy).

    ``batch`` is x or (x, labels) (labels unused); ``binarize`` draws a fresh
    binary image per call first. Returns the parts dict that ``fit`` logs.
    """
    x = _images(batch)
    if binarize:
        x = dynamic_binarize(x)
    out = model(x)
    if getattr(model, "likelihood", "gaussian") == "bernoulli":
        recon = -bernoulli_log_likelihood(out.logits, x).mean()
    else:
        recon = squared_error(out.x_hat, x).mean()
    return {"loss": recon, "recon": recon}


# ---------------------------------------------------------------------------
# Variational terms (chapter 4). Per-example functions return shape (B,).

LOG_2PI = math.log(2 * math.pi)


def _check_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    if mu.dim() < 1:
        raise ValueError("mu and logvar need a latent dimension, got scalars")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL divergence from :math:`q = \mathcal{N}(\mu, \mathrm{diag}\,\sigma^2)` to the
    prior :math:`\mathcal{N}(0, I_L)`, summed over the last (latent) dimension:

    .. math:: \mathrm{KL}(q \,\Vert\, p) = \tfrac12 \sum_{l=1}^{L}
              \left(\mu_l^2 + \sigma_l^2 - \log \sigma_l^2 - 1\right)

    The ``-1`` terms (``-L/2`` in total) are kept, so the value is a true KL
    (zero when ``q = p``). Shapes: ``mu``, ``logvar``: (..., L) -> (...).
    """
    _check_gaussian(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=-1)


def gaussian_kl_diag(mu_q: torch.Tensor, logvar_q: torch.Tensor,
                     mu_p: torch.Tensor, logvar_p: torch.Tensor) -> torch.Tensor:
    r"""KL between two diagonal Gaussians, summed over the last dimension:

    .. math:: \tfrac12 \sum_l \Big(\log\frac{\sigma_{p,l}^2}{\sigma_{q,l}^2}
              + \frac{\sigma_{q,l}^2 + (\mu_{q,l} - \mu_{p,l})^2}{\sigma_{p,l}^2} - 1\Big)

    Shapes broadcast; the result drops the last dimension.
    """
    _check_gaussian(mu_q, logvar_q)
    _check_gaussian(mu_p, logvar_p)
    return 0.5 * (logvar_p - logvar_q
                  + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1.0).sum(dim=-1)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""Log density of :math:`\mathcal{N}(\mu, \mathrm{diag}\,e^{\mathrm{logvar}})` at ``z``,
    summed over the last dimension, with the :math:`-\tfrac{L}{2}\log 2\pi` constant.
    ``z`` may carry extra leading dimensions (e.g. K samples (K, B, L) against
    (B, L) parameters): the shapes must broadcast."""
    _check_gaussian(mu, logvar)
    try:
        torch.broadcast_shapes(z.shape, mu.shape)
    except RuntimeError:
        raise ValueError(f"z {tuple(z.shape)} does not broadcast against mu and logvar {tuple(mu.shape)}") from None
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Per-example :math:`\log p(x \mid z) = \sum_d x_d \log \pi_d + (1 - x_d)\log(1 - \pi_d)`
    with :math:`\pi = \mathrm{sigmoid}(\text{logits})`, computed *from the logits*
    (``-binary_cross_entropy_with_logits``): finite even where the sigmoid saturates,
    unlike ``x_hat.log()`` after a sigmoid.

    ``x`` must lie in [0, 1] (binary, or grey levels as probabilities).
    Shapes: (B, ...) -> (B,).
    """
    _same_shape(logits, x)
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(f"a Bernoulli likelihood needs targets in [0, 1]; x lies in "
                         f"[{float(x.min()):.3g}, {float(x.max()):.3g}] (rescale images to [0, 1])")
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def gaussian_log_likelihood(x_hat: torch.Tensor, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    r"""Per-example :math:`\log \mathcal{N}(x;\, \hat{x}, \sigma^2 I_D)`, *with* the
    normaliser, so that an ELBO built on it is in nats:

    .. math:: -\frac{\lVert x - \hat{x}\rVert^2}{2\sigma^2} - \frac{D}{2}\log(2\pi\sigma^2)

    Shapes: (B, ...) -> (B,). ``sigma`` > 0 is a float or broadcasts to ``x``.
    """
    _same_shape(x_hat, x)
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if (sigma <= 0).any():
        raise ValueError("sigma must be positive")
    var = sigma.pow(2).expand_as(x)
    return -0.5 * ((x - x_hat).pow(2) / var + LOG_2PI + var.log()).flatten(1).sum(dim=1)


def iwae_bound(log_weights: torch.Tensor) -> torch.Tensor:
    r"""Importance-weighted bound (Burda et al., 2015) from the log-weights of K
    samples per example, :math:`\log w_k = \log p(x, z_k) - \log q(z_k \mid x)`:

    .. math:: \mathcal{L}_K = \log \frac{1}{K}\sum_{k=1}^K w_k,\quad z_k \sim q(z \mid x)

    computed as a numerically stable log-mean-exp. Shape (K, B) -> (B,).
    K = 1 gives a one-sample ELBO estimate; the bound tightens towards
    log p(x) as K grows."""
    if log_weights.dim() != 2:
        raise ValueError(f"expected (K, B) log-weights, got shape {tuple(log_weights.shape)}")
    if log_weights.shape[0] == 0:
        raise ValueError(f"log_weights must hold K >= 1 samples per example, got K = 0 (shape "
                         f"{tuple(log_weights.shape)}): a mean over no importance weights is undefined")
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


# ---------------------------------------------------------------------------
# The negative ELBO and its knobs (chapters 4-9)

def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL of each latent dimension, :math:`\tfrac12(\mu_d^2 + \sigma_d^2 - \log\sigma_d^2 - 1)`.
    Shapes (B, L) -> (B, L); summing over L gives :func:`gaussian_kl`."""
    _check_gaussian(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def free_bits_kl(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float) -> torch.Tensor:
    r"""The free-bits KL penalty of Kingma et al. (2016), one group per latent dimension:

    .. math:: \sum_{d=1}^{L} \max\big(\tau,\ \tfrac1B \textstyle\sum_b \mathrm{KL}_{bd}\big)

    A dimension whose batch-mean KL is below ``free_bits`` (:math:`\tau`, nats) gets
    no gradient pushing it further towards the prior. Shapes (B, L) -> scalar."""
    if free_bits < 0:
        raise ValueError(f"free_bits must be >= 0 nats, got {free_bits}")
    return kl_per_dim(mu, logvar).mean(dim=0).clamp(min=free_bits).sum()


def kl_warmup(step: int, warmup_steps: int) -> float:
    """Linear KL annealing weight ``min(1, step / warmup_steps)`` (Bowman et al. 2016);
    1 from the start when ``warmup_steps == 0``."""
    if warmup_steps < 0 or step < 0:
        raise ValueError(f"step and warmup_steps must be >= 0, got {step}, {warmup_steps}")
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)


def decoder_log_likelihood(output: torch.Tensor, x: torch.Tensor, likelihood: str,
                           sigma: float | torch.Tensor | None = None) -> torch.Tensor:
    r"""Per-example :math:`\log p(x \mid z)` from the decoder network's output at z:
    logits for ``likelihood="bernoulli"`` (:func:`bernoulli_log_likelihood`), the
    mean for ``"gaussian"`` (:func:`gaussian_log_likelihood` with standard
    deviation ``sigma``, normaliser included). Shapes (B, ...) -> (B,)."""
    if likelihood == "bernoulli":
        return bernoulli_log_likelihood(output, x)
    if likelihood == "gaussian":
        if sigma is None:
            raise ValueError("a Gaussian likelihood needs the decoder's sigma: give sigma= "
                             "(or build the model with sigma=)")
        return gaussian_log_likelihood(output, x, sigma)
    raise ValueError(f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}")


def posterior_kl(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                 log_prior: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    r"""Per-example :math:`\mathrm{KL}\big(q(z \mid x)\,\Vert\,p(z)\big)`, the rate of the ELBO.

    * ``log_prior=None``, the standard normal prior: the closed form
      :func:`gaussian_kl` (``z`` is not used);
    * a learned prior's ``log_prior(z)`` (e.g. ``model.log_prior``): no closed form,
      so the Monte-Carlo estimate at the sampled codes,

      .. math:: \widehat{\mathrm{KL}} = \frac1S\sum_{s=1}^{S} \log q(z_s \mid x) - \log p(z_s),
                \qquad z_s \sim q(z \mid x),

      unbiased, with gradients through the reparameterised z.

    ``mu``, ``logvar``: (B, L); ``z``: (B, L), or (S, B, L) for S samples per
    example (averaged). Returns (B,) in nats."""
    if log_prior is None:
        return gaussian_kl(mu, logvar)
    mc = log_normal_diag(z, mu, logvar) - log_prior(z)                      # (B,) or (S, B)
    return mc.reshape(-1, *mu.shape[:-1]).mean(dim=0)


def negative_elbo(out: VAEOutput, x: torch.Tensor, *, likelihood: str, sigma: float | None = None,
                  beta: float = 1.0, free_bits: float = 0.0, kl_weight: float = 1.0,
                  log_prior: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    r"""The negative ELBO of one batch from a VAE's forward pass ``out`` on ``x``,
    with one sample :math:`z_b \sim q(z \mid x_b)` per example:

    .. math:: \begin{aligned}
              \mathcal{L} &= \frac1B\sum_b -\log p_\theta(x_b \mid z_b) \;+\; w\,\beta\,R, \\
              R &= \begin{cases}\tfrac1B\sum_b \mathrm{KL}\big(q(z\mid x_b)\,\Vert\,\mathcal{N}(0, I)\big)
              & \tau = 0\\ \sum_d \max\big(\tau, \tfrac1B\sum_b \mathrm{KL}_{bd}\big) & \tau > 0\end{cases}
              \end{aligned}

    ``likelihood`` is ``"bernoulli"`` (from ``out.logits``) or ``"gaussian"``
    (from the mean ``out.x_hat``, standard deviation ``sigma``, with the
    normaliser, so every part is in nats); ``beta`` weights the KL (beta-VAE),
    ``free_bits`` is :math:`\tau` (Kingma et al. 2016) and ``kl_weight`` is w (a KL
    warm-up). Sums over data and latent dimensions, mean over the batch.
    ``log_prior`` is a learned prior's ``log_prior(z)``: the KL is then the
    Monte-Carlo estimate of :func:`posterior_kl` at ``out.z`` (``None``: the
    standard normal, in closed form); free bits need the closed form's split by dimension.

    Returns ``loss`` (what to minimise) and the true quantities, whatever the
    knobs: ``elbo`` (the bound, beta = 1), ``recon`` (:math:`-\log p(x\mid z)`)
    and ``kl``, all batch means in nats per example.
    """
    if not isinstance(out, VAEOutput):
        raise TypeError(f"negative_elbo needs a VAE's output (a VAEOutput with mu and logvar), got "
                        f"{type(out).__name__} (for an autoencoder use ae_loss)")
    if likelihood == "bernoulli":
        if out.logits is None:
            raise ValueError("a Bernoulli likelihood needs the decoder's logits, but this model's decoder "
                             "outputs a Gaussian mean (out.logits is None)")
        decoded = out.logits
    else:
        decoded = out.x_hat
    if free_bits > 0 and log_prior is not None:
        raise ValueError("free bits split the KL by latent dimension, which only the standard normal prior's "
                         "closed form allows; this model has a learned prior")
    log_px_z = decoder_log_likelihood(decoded, x, likelihood, sigma)
    kl = posterior_kl(out.z, out.mu, out.logvar, log_prior)
    recon, kl_mean = -log_px_z.mean(), kl.mean()
    rate = free_bits_kl(out.mu, out.logvar, free_bits) if free_bits > 0 else kl_mean
    return {"loss": recon + kl_weight * beta * rate, "elbo": -(recon + kl_mean), "recon": recon, "kl": kl_mean}


def _split_batch(model: nn.Module, batch) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """(x, the model's inputs): a conditional model gets (x, y), others x alone (labels unused)."""
    conditional = isinstance(model, ConditionalVAE)
    if isinstance(batch, (tuple, list)):
        if conditional:
            if len(batch) != 2:
                raise TypeError("a conditional VAE needs batches (x, y) of images and labels")
            return batch[0], tuple(batch)
        return batch[0], (batch[0],)
    if conditional:
        raise TypeError("a conditional VAE needs batches (x, y) of images and labels, got one tensor")
    return batch, (batch,)


def vae_loss(model: nn.Module, batch: torch.Tensor | tuple[torch.Tensor, ...], *, likelihood: str | None = None, sigma: float | None = None,
             beta: float = 1.0, free_bits: float = 0.0, kl_weight: float = 1.0,
             binarize: bool = False) -> dict[str, torch.Tensor]:
    r"""``loss_fn(model, batch)`` of any VAE of the course for :func:`course_lib.fit`:
    a forward pass, then :func:`negative_elbo`.

    ``likelihood`` and ``sigma`` default to the model's own (``model.likelihood``,
    ``model.sigma``); ``beta``, ``free_bits`` and ``kl_weight`` are those of
    :func:`negative_elbo`. A batch ``(x, y)`` feeds ``y`` to a conditional VAE
    and is otherwise read as (images, unused labels). ``binarize`` draws a fresh
    binary image per call first (dynamic binarisation). A model with a learned
    prior (``model.prior``) gets the Monte-Carlo KL (:func:`posterior_kl`). Returns
    ``loss``, ``elbo``, ``recon``, ``kl`` (nats per example).
    """
    x, inputs = _split_batch(model, batch)
    if binarize:
        x = dynamic_binarize(x)
        inputs = (x, *inputs[1:])
    out = model(*inputs)
    if not isinstance(out, VAEOutput):
        raise TypeError(f"vae_loss needs a VAE: this model's forward returns {type(out).__name__}, not a "
                        "VAEOutput with mu and logvar (for an autoencoder use ae_loss)")
    likelihood = likelihood or getattr(model, "likelihood", None)
    if likelihood is None:
        raise ValueError("give likelihood= ('gaussian' or 'bernoulli'): the model does not say")
    sigma = sigma if sigma is not None else getattr(model, "sigma", None)
    return negative_elbo(out, x, likelihood=likelihood, sigma=sigma, beta=beta, free_bits=free_bits,
                         kl_weight=kl_weight, log_prior=_learned_log_prior(model))


def _learned_log_prior(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``model.log_prior`` when the model has a learned prior, else None (the standard normal:
    no prior module, or a :class:`~course_lib.StandardNormalPrior`, gets the closed-form KL)."""
    prior = getattr(model, "prior", None)
    return None if prior is None or isinstance(prior, StandardNormalPrior) else model.log_prior


@dataclass
class VAEObjective:
    """``loss_fn(model, batch)`` for :func:`course_lib.fit`: :func:`vae_loss` with fixed
    ``beta``, ``free_bits`` and ``binarize``, and the KL weight
    ``kl_warmup(step, warmup_steps)``, where ``step`` counts the calls made in
    training mode (evaluation calls do not advance it)."""

    beta: float = 1.0
    free_bits: float = 0.0
    warmup_steps: int = 0
    binarize: bool = False
    step: int = field(default=0, init=False)

    def __call__(self, model: nn.Module, batch: torch.Tensor | tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        if model.training:
            self.step += 1
        w = kl_warmup(self.step, self.warmup_steps)
        parts = vae_loss(model, batch, beta=self.beta, free_bits=self.free_bits, kl_weight=w,
                         binarize=self.binarize)
        parts["kl_weight"] = torch.tensor(w * self.beta)
        return parts


@dataclass(frozen=True)
class IWAEObjective:
    r"""``loss_fn(model, batch)`` for :func:`course_lib.fit`: train a VAE on the
    importance-weighted bound of Burda et al. (2015) with ``k`` samples,

    .. math:: \mathcal{L}_k(x) = \log \frac1k \sum_{i=1}^{k}
              \frac{p_\theta(x \mid z_i)\, p(z_i)}{q_\phi(z_i \mid x)},
              \qquad z_i \sim q_\phi(z \mid x) \text{ (reparameterised)},

    ``loss`` :math:`= -\frac1B\sum_b \mathcal{L}_k(x_b)`, by :func:`iwae_bound`
    over the (k, B) log-weights; :math:`\log p(z)` is ``model.log_prior`` (the
    standard normal or a learned prior). ``k = 1`` is the one-sample ELBO with a
    Monte-Carlo KL. ``binarize`` draws a fresh binary image per call first.

    Returns the parts, batch means in nats per example: ``loss``, ``iwae``
    (:math:`\mathcal{L}_k`), and the ELBO of the same k samples, ``elbo`` =
    ``-(recon + kl)``, with ``recon`` the mean of :math:`-\log p(x \mid z_i)` over
    the k samples and ``kl`` that of :func:`posterior_kl` (closed form for the
    standard normal prior), so that ``iwae >= elbo`` can be watched during training.
    """

    k: int = 5
    binarize: bool = False

    def __post_init__(self):
        if int(self.k) < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")

    def __call__(self, model: nn.Module, batch: torch.Tensor | tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        if isinstance(model, ConditionalVAE):
            raise TypeError("IWAEObjective trains an unconditional VAE; a conditional one needs the labels")
        x = _images(batch)
        if self.binarize:
            x = dynamic_binarize(x)
        mu, logvar = model.encode(x)                                        # (B, L)
        k, B = int(self.k), len(x)
        z = model.reparameterize(mu.expand(k, *mu.shape), logvar.expand(k, *mu.shape))  # (k, B, L)
        decoded = model.decoder_output(z.flatten(0, 1))                     # (k B, *input_shape)
        x_rep = x.expand(k, *x.shape).flatten(0, 1)                         # (k B, *input_shape)
        log_px_z = decoder_log_likelihood(decoded, x_rep, model.likelihood, model.sigma).view(k, B)
        log_pz, log_qz = model.log_prior(z), log_normal_diag(z, mu, logvar)  # (k, B) each
        iwae = iwae_bound(log_px_z + log_pz - log_qz)                       # log w -> L_k, (B,)
        recon = -log_px_z.mean()
        learned = _learned_log_prior(model) is not None   # reuse log p(z) above: a VampPrior's costs an encoder pass
        kl = posterior_kl(z, mu, logvar, (lambda _: log_pz) if learned else None).mean()
        return {"loss": -iwae.mean(), "iwae": iwae.mean(), "elbo": -(recon + kl), "recon": recon, "kl": kl}


# ---------------------------------------------------------------------------
# Regularisers (chapter 3): sparse, k-sparse, contractive and denoising
# autoencoders. Per-example penalties return shape (B,).

def sparsity_penalty(z: torch.Tensor, p: float = 1.0) -> torch.Tensor:
    r"""Per-example :math:`\lVert z \rVert_p^p = \sum_{l=1}^{L} |z_l|^p`, the
    penalty of a sparse autoencoder (``p = 1`` is the L1 norm).
    Shapes: (B, L) -> (B,)."""
    if z.dim() != 2:
        raise ValueError(f"codes must have shape (B, L), got {tuple(z.shape)}")
    if not p > 0:
        raise ValueError(f"p must be positive, got {p}")
    return z.abs().pow(p).sum(dim=1)


def top_k_codes(z: torch.Tensor, k: int, *, absolute: bool = True) -> torch.Tensor:
    r"""Keep ``k`` entries of each code and set the other :math:`L - k` to zero:
    those with the largest absolute value (``absolute=True``), or the ``k``
    largest values (``absolute=False``, the :math:`\mathrm{supp}_k` of the
    k-sparse autoencoder of Makhzani & Frey, 2013, whose codes are linear and
    may be negative). The two agree on non-negative codes (after a ReLU).
    Ties are broken as ``torch.topk`` breaks them (no order is promised). The result is differentiable: gradients reach
    the kept entries only. Shapes: (B, L) -> (B, L)."""
    if z.dim() != 2:
        raise ValueError(f"codes must have shape (B, L), got {tuple(z.shape)}")
    L = z.shape[1]
    if not (isinstance(k, int) and 0 <= k <= L):
        raise ValueError(f"k must be an integer between 0 and L = {L}, got {k}")
    if k == L:
        return z.clone()
    keep = torch.zeros_like(z, dtype=torch.bool)
    keep.scatter_(1, (z.abs() if absolute else z).topk(k, dim=1).indices, True)
    return torch.where(keep, z, torch.zeros_like(z))


def encoder_jacobian(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""The Jacobian :math:`J(x) = \partial E(x) / \partial x` of an encoder at
    each example, by reverse-mode autodiff vectorised over the batch
    (``torch.func.vmap(torch.func.jacrev(...))``). ``encode`` maps a batch
    (B, ...) to codes (B, L), e.g. ``model.encode``. The result is
    differentiable with respect to the encoder's parameters, so it can be used
    in a loss. Shapes: (B, ...) -> (B, L, D) with D the number of input entries."""
    from torch.func import jacrev, vmap

    def one(xi: torch.Tensor) -> torch.Tensor:
        return encode(xi.unsqueeze(0)).squeeze(0)

    J = vmap(jacrev(one))(x)  # (B, L, *input_shape)
    return J.reshape(x.shape[0], J.shape[1], -1)


def contractive_penalty(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""Per-example squared Frobenius norm of the encoder Jacobian,
    :math:`\lVert J_E(x) \rVert_F^2 = \sum_{l,d} (\partial E_l / \partial x_d)^2`,
    the penalty of a contractive autoencoder (Rifai et al., 2011).
    Shapes: (B, ...) -> (B,)."""
    return encoder_jacobian(encode, x).pow(2).sum(dim=(1, 2))


def sparse_ae_loss(weight: float, p: float = 1.0) -> LossFn:
    r"""Loss ``loss_fn(model, batch)`` of a sparse autoencoder,
    :math:`\frac{1}{B}\sum_b \lVert x_b - \hat{x}_b\rVert^2 + \lambda \lVert z_b \rVert_p^p`, with
    ``weight`` = :math:`\lambda`.
    Returns the parts ``loss``, ``recon`` and ``penalty`` (batch means)."""
    if weight < 0:
        raise ValueError(f"weight must be non-negative, got {weight}")

    def loss_fn(model: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        x = _images(batch)
        out = model(x)
        recon = squared_error(out.x_hat, x).mean()
        penalty = sparsity_penalty(out.z, p).mean()
        return {"loss": recon + weight * penalty, "recon": recon, "penalty": penalty}

    return loss_fn


def contractive_ae_loss(weight: float) -> LossFn:
    r"""Loss ``loss_fn(model, batch)`` of a contractive autoencoder,
    :math:`\frac{1}{B}\sum_b \lVert x_b - \hat{x}_b\rVert^2 + \gamma \lVert J_f(x_b) \rVert_F^2`, with
    ``weight`` = :math:`\gamma`.
    Returns the parts ``loss``, ``recon`` and ``penalty`` (batch means)."""
    if weight < 0:
        raise ValueError(f"weight must be non-negative, got {weight}")

    def loss_fn(model: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        x = _images(batch)
        recon = squared_error(model(x).x_hat, x).mean()
        penalty = contractive_penalty(model.encode, x).mean()
        return {"loss": recon + weight * penalty, "recon": recon, "penalty": penalty}

    return loss_fn


def denoising_ae_loss(corruption: Callable[[torch.Tensor], torch.Tensor]) -> LossFn:
    r"""Loss ``loss_fn(model, batch)`` of a denoising autoencoder,
    :math:`\frac{1}{B}\sum_b \lVert x_b - g(f(T(x_b)))\rVert^2`, where
    ``corruption`` is :math:`T`, a function (B, ...) -> (B, ...) drawing fresh
    noise at each call. The target is the *clean* batch."""

    def loss_fn(model: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        x = _images(batch)
        x_tilde = corruption(x)
        if x_tilde.shape != x.shape:
            raise ValueError(f"the corruption changed the shape {tuple(x.shape)} -> {tuple(x_tilde.shape)}")
        return {"loss": squared_error(model(x_tilde).x_hat, x).mean()}

    return loss_fn

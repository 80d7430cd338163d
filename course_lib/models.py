"""The model classes of the course: one autoencoder, one VAE, one conditional VAE.

Every model exposes ``encode`` and ``decode`` and returns a named output from
``forward``. What the decoder's numbers *mean* is part of the model, in its
``likelihood``:

* ``"gaussian"``: the decoder outputs the mean of :math:`p(x \\mid z)`
  (a Gaussian with standard deviation ``sigma``);
* ``"bernoulli"``: the decoder outputs *logits*; the mean is their sigmoid.

``decode(z)`` always returns the mean in data space (what you look at);
``decode_logits(z)`` returns the logits of a Bernoulli decoder (what a stable
loss uses). The networks themselves are built in :mod:`course_lib.architectures`;
training loops live in :mod:`course_lib.training`, never in a model
(``nn.Module.train(mode)`` is how ``.eval()`` switches modes).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .priors import StandardNormalPrior

__all__ = ["mlp", "AEOutput", "VAEOutput", "Autoencoder", "VAE", "ConditionalVAE", "reparameterize",
           "check_input", "LIKELIHOODS"]

#: the decoder likelihoods a model can have
LIKELIHOODS = ("gaussian", "bernoulli")
Likelihood = Literal["gaussian", "bernoulli"]


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU,
        out_activation: nn.Module | None = None) -> nn.Sequential:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]`` with
    ``activation()`` between layers and ``out_activation`` (if any) at the end."""
    if len(sizes) < 2 or any(int(s) <= 0 for s in sizes):
        raise ValueError(f"mlp needs at least two positive layer sizes, got {list(sizes)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    if out_activation is not None:
        layers.append(out_activation)
    return nn.Sequential(*layers)


class AEOutput(NamedTuple):
    """What an autoencoder's forward pass returns.

    ``x_hat`` is the reconstruction in data space (the decoder's mean); ``z`` the
    code; ``logits`` the decoder's logits when its likelihood is Bernoulli
    (``x_hat = sigmoid(logits)``), else ``None``."""

    x_hat: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor | None = None


class VAEOutput(NamedTuple):
    """What a variational autoencoder's forward pass returns.

    ``x_hat`` is the decoder's mean in data space at the sampled code ``z``;
    ``mu`` and ``logvar`` are the posterior's parameters; ``logits`` holds the
    decoder's logits when its likelihood is Bernoulli (``x_hat = sigmoid(logits)``),
    else ``None``."""

    x_hat: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    logits: torch.Tensor | None = None


def check_input(t: object, shape: Sequence[int], what: str, model: nn.Module | None = None) -> None:
    """Raise a clear error unless ``t`` is a floating-point tensor of shape
    (batch, *shape) with the dtype and on the device of ``model``'s weights.

    Every model of the course calls it on its inputs, so a wrong shape, an
    integer image, a float64 batch or a tensor on another device is reported in
    one sentence instead of a matrix-size error from deep inside a layer.
    """
    shape = tuple(int(s) for s in shape)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != len(shape) + 1 or tuple(t.shape[1:]) != shape:
        raise ValueError(f"{what} must have shape (batch, {', '.join(map(str, shape))}), got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor, got {t.dtype}")
    weight = next(model.parameters(), None) if model is not None else None
    if weight is not None:
        if t.device != weight.device:
            raise ValueError(f"{what} is on {t.device} but the model is on {weight.device}; "
                             "move one of them with .to(device)")
        if t.dtype != weight.dtype:
            raise TypeError(f"{what} is {t.dtype} but the model's weights are {weight.dtype}; "
                            f"convert it with .to({weight.dtype})")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Sample :math:`z = \mu + \sigma \odot \varepsilon`, :math:`\varepsilon \sim \mathcal{N}(0, I)`,
    with :math:`\sigma = \exp(\tfrac12 \log\sigma^2)`: a differentiable function of
    ``mu`` and ``logvar`` (the reparameterisation trick). Shapes: (B, L) -> (B, L)."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    if generator is None:
        eps = torch.randn_like(mu)
    else:
        eps = torch.randn(mu.shape, generator=generator, device=generator.device,
                          dtype=mu.dtype).to(mu.device)
    return mu + (0.5 * logvar).exp() * eps


class Autoencoder(nn.Module):
    """A deterministic autoencoder ``x -> z = E(x) -> x_hat = D(z)``.

    ``encoder`` receives the batch as given, (B, *input_shape) (start it with
    ``nn.Flatten()`` for a fully connected network on images); ``decoder`` maps
    codes (B, L) to (B, D) or (B, *input_shape), reshaped to the input shape.
    ``likelihood`` says what the decoder outputs: the mean (``"gaussian"``, with
    standard deviation ``sigma`` when a loss needs one) or Bernoulli logits
    (``"bernoulli"``). Inputs are checked against ``input_shape`` so that a wrong
    tensor gets a clear error instead of a matrix-size message from deep inside a layer.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_shape: Sequence[int],
                 latent_dim: int, *, likelihood: Likelihood = "gaussian", sigma: float | None = None):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if sigma is not None and not sigma > 0:
            raise ValueError(f"the decoder's sigma must be positive, got {sigma}")
        self.encoder = encoder
        self.decoder = decoder
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim = int(latent_dim)
        self.likelihood: Likelihood = likelihood
        self.sigma = None if sigma is None else float(sigma)

    @property
    def data_dim(self) -> int:
        """D, the number of entries of one example."""
        return math.prod(self.input_shape)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Code ``z`` (B, L) of a batch ``x`` (B, *input_shape)."""
        check_input(x, self.input_shape, "x", self)
        return self.encoder(x)

    def decoder_output(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The decoder network's output at codes ``z`` (B, L), shaped like the
        data: the mean for a Gaussian likelihood, logits for a Bernoulli one."""
        z = inputs[0]
        check_input(z, (self.latent_dim,), "z", self)
        return self.decoder(*inputs).reshape(len(z), *self.input_shape)

    def decode_logits(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Logits (B, *input_shape) of a Bernoulli decoder at codes ``z`` (B, L)."""
        if self.likelihood != "bernoulli":
            raise ValueError(f"this model's decoder outputs the mean of a {self.likelihood} likelihood, "
                             "not logits; use decode(z)")
        return self.decoder_output(*inputs)

    def mean_of(self, output: torch.Tensor) -> torch.Tensor:
        """The data-space mean from the decoder network's output (sigmoid of logits
        for a Bernoulli likelihood)."""
        return torch.sigmoid(output) if self.likelihood == "bernoulli" else output

    def decode(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The reconstruction in data space (B, *input_shape) of codes ``z`` (B, L):
        the decoder's mean (pixel probabilities for a Bernoulli decoder)."""
        return self.mean_of(self.decoder_output(*inputs))

    def _logits_or_none(self, output: torch.Tensor) -> torch.Tensor | None:
        return output if self.likelihood == "bernoulli" else None

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.encode(x)
        out = self.decoder_output(z)
        return AEOutput(self.mean_of(out), z, self._logits_or_none(out))


class VAE(Autoencoder):
    r"""A variational autoencoder with a diagonal Gaussian posterior and, by
    default, a standard normal prior.

    * encoder: (B, *input_shape) -> (B, 2L), read as ``[mu, logvar]`` of
      :math:`q_\phi(z \mid x) = \mathcal{N}(\mu, \mathrm{diag}\,e^{\mathrm{logvar}})`
      (the log-variance is unconstrained, exponentiated where a variance is needed);
    * decoder: codes (B, L) -> the mean (Gaussian likelihood with standard
      deviation ``sigma``) or the logits (Bernoulli) of :math:`p_\theta(x \mid z)`;
    * prior :math:`p(z) = \mathcal{N}(0, I_L)` when ``prior`` is ``None``
      (:class:`~course_lib.StandardNormalPrior`: no parameters, the loss uses the
      closed-form KL), else a learned prior module with ``log_prob(z)`` and
      ``sample(n, generator)`` from :mod:`course_lib.priors` (its parameters join
      the model's; the loss estimates the KL by Monte Carlo). It can also be
      attached later: ``model.prior = cl.VampPrior(model.encode, 500, model.input_shape)``.

    ``forward`` samples one :math:`z \sim q(z \mid x)` by the reparameterisation
    trick and returns a :class:`VAEOutput`. The loss lives in
    :func:`course_lib.vae_loss`, not here.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_shape: Sequence[int],
                 latent_dim: int, *, likelihood: Likelihood = "gaussian", sigma: float | None = None,
                 prior: nn.Module | None = None):
        super().__init__(encoder, decoder, input_shape, latent_dim, likelihood=likelihood, sigma=sigma)
        self.prior = prior

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        r"""The prior's log density :math:`\log p(z)`, summed over the latent
        dimension; ``z`` (..., L) -> (...), so K samples (K, B, L) give (K, B). With
        no prior module it is the standard normal's (:class:`~course_lib.StandardNormalPrior`)."""
        prior = self.prior if self.prior is not None else StandardNormalPrior
        return prior.log_prob(z)

    def _split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if h.dim() != 2 or h.shape[1] != 2 * self.latent_dim:
            raise ValueError(f"the encoder must output (B, 2L) = (B, {2 * self.latent_dim}) for [mu, logvar], "
                             f"got {tuple(h.shape)}")
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each (B, L), of a batch ``x``."""
        check_input(x, self.input_shape, "x", self)
        return self._split(self.encoder(x))

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """``z = mu + exp(logvar / 2) * eps`` (see :func:`reparameterize`)."""
        return reparameterize(mu, logvar, generator)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        out = self.decoder_output(z)
        return VAEOutput(self.mean_of(out), z, mu, logvar, self._logits_or_none(out))

    def prior_codes(self, n: int, generator: torch.Generator | None = None,
                    temperature: float = 1.0) -> torch.Tensor:
        """``n`` codes (n, L) from the prior, on the model's device and dtype: ``z = T * eps``,
        ``eps ~ N(0, I_L)`` for the standard normal, ``self.prior.sample(n)`` for a learned
        prior (which has no temperature: ``T`` must stay 1)."""
        if int(n) <= 0:
            raise ValueError(f"n must be positive, got {n}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        weight = next(self.parameters())
        if self.prior is not None and not isinstance(self.prior, StandardNormalPrior):
            if temperature != 1.0:
                raise ValueError("a temperature scales the standard normal prior only; this model has a "
                                 f"{type(self.prior).__name__}")
            return self.prior.sample(int(n), generator).to(weight.device, weight.dtype)
        eps = torch.randn(int(n), self.latent_dim, generator=generator,
                          device=generator.device if generator is not None else None)
        return (temperature * eps).to(weight.device, weight.dtype)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, noise: bool = False) -> torch.Tensor:
        """``n`` new examples (n, *input_shape): the decoder's mean at ``z ~ p(z)`` (see :meth:`prior_codes`).
        With ``noise=True`` a Gaussian decoder also adds its noise ``sigma * eps``
        and a Bernoulli one draws binary pixels."""
        x = self.decode(self.prior_codes(n, generator))
        if not noise:
            return x
        if self.likelihood == "bernoulli":
            u = torch.rand(x.shape, generator=generator, device=generator.device if generator else None)
            return (u.to(x.device) < x).to(x.dtype)
        if self.sigma is None:
            raise ValueError("noise=True needs the decoder's sigma; build the model with sigma=")
        eps = torch.randn(x.shape, generator=generator, device=generator.device if generator else None)
        return x + self.sigma * eps.to(x.device, x.dtype)


class ConditionalVAE(VAE):
    r"""A conditional VAE :math:`q_\phi(z \mid x, y)`, :math:`p_\theta(x \mid z, y)`,
    :math:`p(z) = \mathcal{N}(0, I_L)` (Sohn et al., 2015), for images with one
    of ``n_classes`` labels.

    The label enters both networks: the encoder sees the image with the one-hot
    label broadcast as ``n_classes`` extra constant channels, (B, C + K, H, W) ->
    (B, 2L); the decoder sees ``[z, one_hot(y)]`` (B, L + K). ``y`` is a (B,)
    tensor of class indices, or (B, K) float class weights (e.g. a blend of two
    one-hot vectors).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_shape: Sequence[int],
                 latent_dim: int, n_classes: int, *, likelihood: Likelihood = "bernoulli",
                 sigma: float | None = None):
        super().__init__(encoder, decoder, input_shape, latent_dim, likelihood=likelihood, sigma=sigma)
        if len(self.input_shape) != 3:
            raise ValueError(f"a conditional VAE takes images (C, H, W), got input_shape {self.input_shape}")
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_classes = int(n_classes)

    def one_hot(self, y: torch.Tensor, batch: int) -> torch.Tensor:
        """Class labels (B,) or class weights (B, K) -> float (B, K), checked."""
        k = self.n_classes
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor of class indices, got {type(y).__name__}")
        weight = next(self.parameters())
        if y.device != weight.device:
            raise ValueError(f"y is on {y.device} but the model is on {weight.device}")
        if y.dim() == 1 and not y.is_floating_point():
            if len(y) != batch:
                raise ValueError(f"y has {len(y)} labels for a batch of {batch}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= k):
                raise ValueError(f"class labels must lie in 0..{k - 1}, got {int(y.min())}..{int(y.max())}")
            return F.one_hot(y.long(), k).to(weight.dtype)
        if y.dim() == 2 and y.is_floating_point():
            if tuple(y.shape) != (batch, k):
                raise ValueError(f"class weights must have shape ({batch}, {k}), got {tuple(y.shape)}")
            return y.to(weight.dtype)
        raise ValueError(f"y must be integer labels (B,) or float class weights (B, {k}); "
                         f"got {y.dtype} of shape {tuple(y.shape)}")

    def encoder_input(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[x, one-hot maps]`` (B, C + K, H, W): what the encoder network sees."""
        check_input(x, self.input_shape, "x", self)
        B, _, H, W = x.shape
        maps = self.one_hot(y, B)[:, :, None, None].expand(B, self.n_classes, H, W)
        return torch.cat([x, maps], dim=1)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``mu``, ``logvar`` (B, L) of images x (B, C, H, W) with labels y."""
        return self._split(self.encoder(self.encoder_input(x, y)))

    def decoder_output(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The decoder network's output (B, C, H, W) at codes z (B, L) with labels y."""
        check_input(z, (self.latent_dim,), "z", self)
        return self.decoder(torch.cat([z, self.one_hot(y, len(z))], dim=1)).reshape(len(z), *self.input_shape)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar)
        out = self.decoder_output(z, y)
        return VAEOutput(self.mean_of(out), z, mu, logvar, self._logits_or_none(out))

    @torch.no_grad()
    def sample(self, y: torch.Tensor, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """The decoder's mean (B, C, H, W) at ``z ~ N(0, T^2 I)``, one per label in ``y``."""
        return self.decode(self.prior_codes(len(y), generator, temperature), y)

    def layer_shapes(self, x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, str, tuple[int, ...]]]:
        """(network, layer, output shape) for every layer on one pass of x, y: an
        architecture walk-through. Both networks must be ``nn.Sequential``."""
        rows = []
        with torch.no_grad():
            h = self.encoder_input(x, y)
            rows.append(("encoder", "input [x, one-hot maps]", tuple(h.shape)))
            for layer in self.encoder:
                h = layer(h)
                rows.append(("encoder", type(layer).__name__, tuple(h.shape)))
            mu, _ = self._split(h)
            rows.append(("encoder", "chunk -> mu (and logvar)", tuple(mu.shape)))
            h = torch.cat([mu, self.one_hot(y, len(x))], 1)
            rows.append(("decoder", "input [z, one-hot]", tuple(h.shape)))
            for layer in self.decoder:
                h = layer(h)
                rows.append(("decoder", type(layer).__name__, tuple(h.shape)))
        return rows

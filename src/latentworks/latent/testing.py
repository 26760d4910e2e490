"""A tiny stand-in generative model with the common interface, for tests and examples (not for real use).

``ToyVAE`` is a linear Gaussian-encoder / Bernoulli-decoder VAE: ``decode``, ``sample_latent``, ``encode``,
``reconstruct``, ``elbo`` and ``iw_nll`` behave like the real models' (per-image nats), so the latent tools
and the metrics can be tested in milliseconds without the real builders. ``conditional=True`` adds a one-hot
label to both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from latentworks.models.generative_base import sample_normal


class ToyVAE(nn.Module):
    kind = "toy"

    @dataclass
    class Config:
        latent_dim: int = 4
        image_size: int = 8
        channels: int = 1
        conditional: bool = False
        num_classes: int = 10

    def __init__(self, config: Config | None = None, seed: int = 0):
        super().__init__()
        self.config = config = config or ToyVAE.Config()
        self.conditional = config.conditional
        self.num_classes = config.num_classes
        pixels = config.channels * config.image_size ** 2
        extra = config.num_classes if config.conditional else 0
        g = torch.Generator().manual_seed(seed)
        self.enc = nn.Linear(pixels + extra, 2 * config.latent_dim)
        self.dec = nn.Linear(config.latent_dim + extra, pixels)
        with torch.no_grad():
            for layer in (self.enc, self.dec):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=g) * 0.5)
                layer.bias.zero_()

    # ------------------------------------------------------------------ interface
    def _cat(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.conditional:
            return h
        if labels is None:
            raise ValueError("conditional model needs labels")
        return torch.cat([h, F.one_hot(labels.long(), self.num_classes).to(h.dtype)], dim=1)

    def logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        c, s = self.config.channels, self.config.image_size
        return self.dec(self._cat(z, labels)).view(-1, c, s, s)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.logits(z, labels))

    def sample_latent(self, n: int, generator: torch.Generator | None = None, truncate: float | None = None,
                      scale: float = 1.0) -> torch.Tensor:
        return sample_normal(n, self.config.latent_dim, generator, truncate, scale)

    def posterior(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        mu, logvar = self.enc(self._cat(x.flatten(1), labels)).chunk(2, dim=1)
        return mu, logvar.clamp(-6, 3)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.posterior(x, labels)[0]

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, labels), labels)

    def log_weights(self, x: torch.Tensor, k: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B, k) importance log-weights log p(x|z) + log p(z) − log q(z|x), z ~ q (global RNG)."""
        mu, logvar = self.posterior(x, labels)
        std = (0.5 * logvar).exp()
        eps = torch.randn(x.shape[0], k, mu.shape[1])
        z = mu[:, None] + std[:, None] * eps
        b = x.shape[0]
        lab = None if labels is None else labels.repeat_interleave(k)
        logit = self.logits(z.reshape(b * k, -1), lab).view(b, k, -1)
        target = x.flatten(1)[:, None].expand_as(logit)
        log_px = -F.binary_cross_entropy_with_logits(logit, target, reduction="none").sum(-1)
        half_log_2pi = 0.5 * math.log(2 * math.pi)
        log_pz = (-0.5 * z ** 2 - half_log_2pi).sum(-1)
        log_qz = (-0.5 * eps ** 2 - half_log_2pi - 0.5 * logvar[:, None]).sum(-1)
        return log_px + log_pz - log_qz

    def elbo(self, x: torch.Tensor, k: int = 1, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image ELBO in nats (≤ log p(x) ≤ 0 for binary x), averaged over ``k`` samples."""
        return self.log_weights(x, k, labels).mean(1)

    def iw_nll(self, x: torch.Tensor, k: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image importance-weighted NLL estimate −log (1/k Σ w) in nats."""
        lw = self.log_weights(x, k, labels)
        return -(torch.logsumexp(lw, dim=1) - math.log(k))

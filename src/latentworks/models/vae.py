"""Variational autoencoder (course §4.5) with a Gaussian encoder, reparameterisation and an honest ELBO.

* Encoder: conv stack → two linear heads, ``mu`` and ``logvar``. With ``style="notebook"`` the trunk ends in
  the course's sigmoid ``Dense(2·latent)`` and the heads read from it.
* Decoder: transposed-conv stack → logits. ``likelihood="bernoulli"``: log p(x|z) = −BCE summed per image
  (targets may be grey; for a true likelihood binarise the data). ``"gaussian"``: N(x; sigmoid(logits), σ²)
  with fixed σ = ``decoder_std``; the default σ = 1/√2 makes −log p(x|z) the summed squared error plus a
  constant, which is included so the number stays in nats.
* ``loss="elbo"``: mean over the batch of [−log p(x|z) + β·KL] per image. ``loss="notebook"``: the course's
  weighting, per-pixel mean BCE (MSE for gaussian) over pixels and batch + β·KL summed over batch and latent
  / prod(data_shape) — relative to the ELBO a β-VAE with β = batch size.
* ``elbo(x, k)`` and ``iw_nll(x, k)`` give per-image numbers in nats; ``iw_nll`` is the importance-weighted
  estimate −log (1/k Σ p(x, z_i)/q(z_i|x)) (Burda et al.), streamed over chunks of samples.
* ``pixel_layers > 0`` (grey, Bernoulli) puts a small PixelCNN head (``models/pixel_head.py``) after the conv
  decoder, so p(x|z) = Π p(x_ij | x_<ij, z): the likelihood then needs x (teacher forcing) and ``decode``
  draws binary images pixel by pixel from a fixed uniform field (``decode_seed``), so it is deterministic.
* ``prior="fitted"`` samples from a full-covariance Gaussian fitted, once training ends, to the posterior means of
  the training images (ex-post density estimation, Ghosh et al. 2020): the codes a trained encoder uses do not
  fill N(0, I), and decoding where they do not lie draws blends. Only sampling changes; the ELBO, the
  likelihood and every latent tool's coordinates stay those of the trained model (N(0, I) noise, whitened).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import positive, require
from latentworks.errors import LatentworksError
from latentworks.models.builders import ConvNet, DeconvNet
from latentworks.models.generative_base import GenerativeBase, GenOptions, label_maps
from latentworks.models.pixel_head import PixelHead
from latentworks.registry import ELBO, FLD_RATIO, RECON_MSE, register_model

LOG_2PI = math.log(2 * math.pi)


@register_model("vae", family="generative", title="VAE",
                capabilities=("sample", "decode", "encode", "reconstruct", "elbo"),
                measures=(FLD_RATIO, ELBO, RECON_MSE), step_seconds=0.03, scoring_seconds=10.0)
class VAE(GenerativeBase):
    @dataclass
    class Config(GenOptions):
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"  # decoder: BCE summed per image, or Gaussian
        decoder_std: float = 1 / math.sqrt(2)  # the Gaussian decoder's fixed σ
        beta: float = 1.0  # weight of the KL term
        loss: Literal["elbo", "notebook"] = "elbo"  # notebook: the course's per-pixel weighting
        pixel_layers: int = 0  # masked PixelCNN layers after the decoder (autoregressive, binary grey; 0: none)
        pixel_channels: int = 32  # width of the PixelCNN head
        decode_seed: int = 0  # the uniform field behind the autoregressive decoder's samples
        free_bits: float = 0.0  # nats of KL per latent dimension the loss leaves free (Kingma et al. 2016); 0: off
        prior: Literal["standard", "fitted"] = "standard"  # sample from N(0, I), or a Gaussian fitted to the codes

        def check(self) -> None:
            super().check()
            require(positive(self.decoder_std), "decoder_std", self.decoder_std, "must be positive")
            require(positive(self.beta) or self.beta == 0, "beta", self.beta, "must be a finite number >= 0")
            require(self.pixel_layers >= 0, "pixel_layers", self.pixel_layers, "must be >= 0")
            require(self.pixel_channels >= 1, "pixel_channels", self.pixel_channels, "must be at least 1")
            require(self.free_bits == 0 or positive(self.free_bits), "free_bits", self.free_bits,
                    "must be a finite number of nats >= 0")
            require(not self.pixel_layers or (self.channels == 1 and self.likelihood == "bernoulli"),
                    "pixel_layers", self.pixel_layers, "models binary grey pixels: use it with one channel and the "
                    "bernoulli likelihood, or set --pixel-layers 0")
            require(not (self.prior == "fitted" and self.num_classes), "prior", self.prior,
                    "is for unconditional VAEs (a CVAE samples each class from N(0, I)); drop --prior")

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        c = config
        self.z_cond = self._setup_conditioning()
        in_ch = c.channels + self.num_classes
        if c.style == "notebook":
            self.encoder = ConvNet(c.image_size, in_ch, 2 * c.latent_dim, "sigmoid", c.encoder_stack())
            trunk = 2 * c.latent_dim
        else:
            self.encoder = ConvNet(c.image_size, in_ch, 0, None, c.encoder_stack())
            trunk = self.encoder.feature_dim
        self.mu_head = nn.Linear(trunk, c.latent_dim)
        self.logvar_head = nn.Linear(trunk, c.latent_dim)
        out = c.pixel_channels if c.pixel_layers else c.channels
        self.decoder = DeconvNet(c.image_size, out, c.latent_dim + self.z_cond.extra, None, c.decoder_stack())
        self.pixel_head = PixelHead(c.pixel_channels, c.pixel_layers) if c.pixel_layers else None
        if c.prior == "fitted":  # N(0, I) until after_training fits them
            self.register_buffer("prior_mean", torch.zeros(c.latent_dim))
            self.register_buffer("prior_chol", torch.eye(c.latent_dim))

    @property
    def data_dim(self) -> int:
        c = self.config
        return c.channels * c.image_size * c.image_size

    # ------------------------------------------------------------------ sampling prior
    def sample_latent(self, n: int, generator: torch.Generator | None = None, truncate: float | None = None,
                      scale: float = 1.0) -> torch.Tensor:
        """N(0, I) draws (truncated, scaled); with the fitted prior, coloured by its mean and Cholesky factor."""
        noise = super().sample_latent(n, generator, truncate, scale)
        if self.config.prior != "fitted":
            return noise
        return self.prior_mean + noise @ self.prior_chol.T

    @torch.no_grad()
    def after_training(self, images: torch.Tensor) -> None:
        """With ``prior="fitted"``: fit the sampling prior to the posterior means of ``images`` (the training set)."""
        if self.config.prior != "fitted":
            return
        if len(images) < 2:
            raise LatentworksError("--prior fitted needs at least 2 training images to fit a Gaussian to")
        was_training = self.training
        self.eval()
        codes = torch.cat([self.encode(images[i:i + 512]) for i in range(0, len(images), 512)]).double()
        self.train(was_training)
        cov = torch.cov(codes.T)
        jitter = 1e-6 * float(cov.diagonal().mean()) + 1e-12  # a few codes, or a dead dimension: still definite
        chol = torch.linalg.cholesky(cov + jitter * torch.eye(len(cov), dtype=cov.dtype, device=cov.device))
        self.prior_mean.copy_(codes.mean(0).float())
        self.prior_chol.copy_(chol.float())

    # ------------------------------------------------------------------ interface
    def encode_dist(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) as (mu, logvar), each (B, latent_dim)."""
        x = self.check_images(x)
        h = self.encoder(label_maps(x, self.check_labels(labels, x.shape[0]), self.num_classes))
        return self.mu_head(h), self.logvar_head(h)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.encode_dist(x, labels)[0]

    def decode_logits(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, x: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits of p(x|z); the autoregressive decoder also needs the images ``x`` it scores."""
        out = self._decoder_output(z, labels)
        if self.pixel_head is None:
            return out
        if x is None:
            raise LatentworksError("the autoregressive decoder's logits need the images; use decode() to draw")
        return self.pixel_head(x, out)

    def _decoder_output(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The conv decoder's output: logits, or the pixel head's feature map."""
        z = self.check_latents(z)
        return self.decoder(self.z_cond(z, self.check_labels(labels, z.shape[0])))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.pixel_head is None:
            return torch.sigmoid(self.decode_logits(z, labels))
        features = self._decoder_output(z, labels)
        size = self.config.image_size
        gen = torch.Generator().manual_seed(self.config.decode_seed)
        uniform = torch.rand((1, 1, size, size), generator=gen).to(features.device)
        return self.pixel_head.sample(features, uniform)

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, labels), labels)

    # ------------------------------------------------------------------ densities
    @staticmethod
    def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Closed-form KL(N(mu, exp(logvar)) || N(0, I)) per row, in nats."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)

    def log_likelihood(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per image, in nats."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        sigma = self.config.decoder_std
        sq = (x - torch.sigmoid(logits)).pow(2).flatten(1).sum(1)
        return -0.5 * sq / sigma**2 - 0.5 * self.data_dim * (LOG_2PI + 2 * math.log(sigma))

    def _randn(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        if generator is None:
            return torch.randn(shape, device=self.device)
        if generator.device.type == self.device.type:
            return torch.randn(shape, generator=generator, device=self.device)
        return torch.randn(shape, generator=generator).to(self.device)

    # ------------------------------------------------------------------ training
    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        x = self.check_images(x)
        mu, logvar = self.encode_dist(x, labels)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        logits = self.decode_logits(z, labels, x)
        rec = self.log_likelihood(x, logits)
        kl = self.kl_divergence(mu, logvar)
        beta = self.config.beta
        # Free bits: each latent dimension's batch-mean KL below ``free_bits`` nats costs nothing, so the encoder
        # is not pushed to switch dimensions off; the logged ELBO stays the true one.
        penalty = kl
        if self.config.free_bits:
            per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(0)
            penalty = per_dim.clamp_min(self.config.free_bits).sum().expand_as(kl)
        if self.config.loss == "notebook":
            pixel = (
                F.binary_cross_entropy_with_logits(logits, x)
                if self.config.likelihood == "bernoulli"
                else F.mse_loss(torch.sigmoid(logits), x)
            )
            loss = pixel + beta * penalty.sum() / self.data_dim
        else:
            loss = (-rec + beta * penalty).mean()
        rec, kl = rec.detach(), kl.detach()
        return loss, {
            "recon_nll": float(-rec.mean()),
            "kl": float(kl.mean()),
            "elbo": float((rec - kl).mean()),
        }

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def elbo(
        self,
        x: torch.Tensor,
        k: int = 1,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per-image ELBO in nats: E_q[log p(x|z)] (mean of k samples) − KL(q||p) in closed form."""
        x = self.check_images(x)
        mu, logvar = self.encode_dist(x, labels)
        std = (0.5 * logvar).exp()
        rec = torch.zeros(x.shape[0], device=self.device)
        for _ in range(int(k)):
            z = mu + std * self._randn(tuple(mu.shape), generator)
            rec += self.log_likelihood(x, self.decode_logits(z, labels, x))
        return rec / k - self.kl_divergence(mu, logvar)

    @torch.no_grad()
    def iw_nll(
        self,
        x: torch.Tensor,
        k: int,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        chunk: int | None = None,
    ) -> torch.Tensor:
        """Per-image importance-weighted NLL estimate in nats with ``k`` samples from q(z|x)."""
        if k < 1:
            raise LatentworksError(f"k must be at least 1, got {k}")
        x = self.check_images(x)
        b = x.shape[0]
        labels = self.check_labels(labels, b)
        mu, logvar = self.encode_dist(x, labels)
        std = (0.5 * logvar).exp()
        if chunk is None:  # ~4M decoded values per chunk keeps memory flat for any k
            width = 1 + (self.config.pixel_channels // 4 if self.pixel_head is not None else 0)
            chunk = max(1, (1 << 22) // (self.data_dim * b * width))
        acc = torch.full((b,), -math.inf, device=self.device)
        done = 0
        while done < k:
            kc = min(chunk, k - done)
            eps = self._randn((kc, b, mu.shape[1]), generator)
            z = mu + std * eps  # (kc, b, L)
            flat_labels = labels.repeat(kc) if labels is not None else None
            xs = x.repeat(kc, 1, 1, 1)
            log_px = self.log_likelihood(xs, self.decode_logits(z.reshape(kc * b, -1), flat_labels, xs)).view(kc, b)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)
            acc = torch.logaddexp(acc, torch.logsumexp(log_px + log_pz - log_qz, dim=0))
            done += kc
        return -(acc - math.log(k))


__all__ = ["VAE"]

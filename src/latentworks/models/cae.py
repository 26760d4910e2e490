"""Convolutional autoencoder (course §4.4): conv encoder → latent code → transposed-conv decoder.

The decoder ends in a sigmoid (``decode`` returns [0, 1]); training uses the logits, with per-pixel mean BCE
(the course's loss) or MSE. With ``style="notebook"`` the code is sigmoid-bounded, as in the course.

A CAE's codes are not N(0, I), so ``sample_latent`` draws from a diagonal Gaussian fitted to the training
codes (running mean and standard deviation kept as buffers, saved with the weights): truncation and scale act
on the standardised draw, then ``z = mean + std · ε``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from latentworks.config import positive, require
from latentworks.models.builders import ConvNet, DeconvNet
from latentworks.models.generative_base import GenerativeBase, GenOptions, label_maps
from latentworks.registry import FLD_RATIO, RECON_MSE, register_model


@register_model("cae", family="generative", title="CAE", capabilities=("sample", "decode", "encode", "reconstruct"),
                measures=(RECON_MSE, FLD_RATIO))
class CAE(GenerativeBase):
    @dataclass
    class Config(GenOptions):
        loss: Literal["bce", "mse"] = "bce"  # per-pixel mean reconstruction loss
        code_momentum: float = 0.01  # running mean/std of the codes, for sample_latent

        def check(self) -> None:
            super().check()
            require(positive(self.code_momentum) and self.code_momentum <= 1, "code_momentum",
                    self.code_momentum, "must lie in (0, 1]")

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.z_cond = self._setup_conditioning()
        c = config
        bounded = "sigmoid" if c.style == "notebook" else None
        self.encoder = ConvNet(
            c.image_size, c.channels + self.num_classes, c.latent_dim, bounded, c.encoder_stack()
        )
        self.decoder = DeconvNet(
            c.image_size, c.channels, c.latent_dim + self.z_cond.extra, None, c.decoder_stack()
        )
        self.register_buffer("code_mean", torch.zeros(c.latent_dim))
        self.register_buffer("code_std", torch.ones(c.latent_dim))
        self.register_buffer("code_count", torch.zeros(()))

    # ------------------------------------------------------------------ interface
    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.check_images(x)
        return self.encoder(label_maps(x, self.check_labels(labels, x.shape[0]), self.num_classes))

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = self.check_latents(z)
        return self.decoder(self.z_cond(z, self.check_labels(labels, z.shape[0])))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, labels))

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, labels), labels)

    def sample_latent(
        self,
        n: int,
        generator: torch.Generator | None = None,
        truncate: float | None = None,
        scale: float = 1.0,
    ) -> torch.Tensor:
        # An autoencoder's codes are not N(0, I): draw from a Gaussian fitted to the training codes instead.
        return self.code_mean + self.code_std * super().sample_latent(n, generator, truncate, scale)

    # ------------------------------------------------------------------ training
    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on images in [0, 1]; also tracks the code statistics."""
        x = self.check_images(x)
        z = self.encoder(label_maps(x, self.check_labels(labels, x.shape[0]), self.num_classes))
        logits = self.decode_logits(z, labels)
        if self.training:
            with torch.no_grad():  # a plain average over the first 1/momentum batches, then an EMA
                self.code_count += 1
                m = max(self.config.code_momentum, 1.0 / float(self.code_count))
                self.code_mean.lerp_(z.mean(0), m)
                self.code_std.lerp_(z.std(0, unbiased=False).clamp_min(1e-4), m)
        if self.config.loss == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, x)
        else:
            loss = F.mse_loss(torch.sigmoid(logits), x)
        mse = F.mse_loss(torch.sigmoid(logits.detach()), x)
        return loss, {"recon_mse": float(mse)}


__all__ = ["CAE"]

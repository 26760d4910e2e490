"""DCGAN (course §4.6, seed 004): a transposed-conv generator (tanh) against a conv discriminator (logits).

The alternating updates that train it live in :mod:`latentworks.training.gan`. With ``ema`` > 0 the model
also keeps an exponential moving average of the generator's weights, updated after each generator step, and
``decode`` samples from that average (see :mod:`latentworks.models.ema`). ``d_norm="spectral"`` swaps the
discriminator's batch norm for spectral normalisation (SN-GAN); its learning rate is the trainer's ``d_lr``.

``codes = K`` adds InfoGAN's categorical code (Chen et al. 2016) to an unconditional GAN, without labels: the
argmax of the first K latent coordinates (uniform over K for z ~ N(0, I)) joins z as a one-hot code, and a head
on the discriminator's features learns to name the code back from the image, a term that the generator also
minimises. The generator is pushed to make K distinguishable kinds of image (on MNIST, mostly the ten digits),
which leaves fewer samples halfway between kinds. The code is a function of z, so ``decode(z)`` and every
latent tool work unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from latentworks.errors import LatentworksError
from latentworks.models.builders import ConvNet, DeconvNet, init_weights
from latentworks.models.ema import check_decay, standing_statistics, update_average
from latentworks.models.generative_base import (
    GenerativeBase,
    GenOptions,
    ZCondition,
    dec_options,
    enc_options,
    label_maps,
)
from latentworks.models.io import register_model

D_CONDITIONING = ("channels", "projection", "both")


def latent_code(z: torch.Tensor, codes: int) -> torch.Tensor:
    """The categorical code of each latent: argmax of its first ``codes`` coordinates, (B,) long."""
    return z[:, :codes].argmax(1)


class Generator(nn.Module):
    """(z, labels) → images in [-1, 1]."""

    def __init__(self, c, z_cond: ZCondition):
        super().__init__()
        self.z_cond = z_cond
        self.codes = c.codes
        self.net = DeconvNet(c.image_size, c.channels, c.latent_dim + z_cond.extra + c.codes, "tanh", dec_options(c))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.codes:
            z = torch.cat([z, F.one_hot(latent_code(z, self.codes), self.codes).to(z.dtype)], dim=1)
        return self.net(self.z_cond(z, labels))


class Critic(nn.Module):
    """(images in [-1, 1], labels) → logits (B,). Labels enter as one-hot input maps and/or a projection."""

    def __init__(self, c, num_classes: int, d_cond: str):
        super().__init__()
        if d_cond not in D_CONDITIONING:
            raise LatentworksError(f"unknown d_cond '{d_cond}'; choose {', '.join(D_CONDITIONING)}")
        self.maps = num_classes if num_classes and d_cond in ("channels", "both") else 0
        opts = enc_options(c)
        opts.norm = c.d_norm or opts.norm
        self.net = ConvNet(c.image_size, c.channels + self.maps, 1, None, opts)
        self.project = None
        if num_classes and d_cond in ("projection", "both"):  # Miyato & Koyama (2018): logit += <embed(y), h>
            self.project = nn.Embedding(num_classes, self.net.feature_dim)
            init_weights(self.project, c.init)
            if opts.norm == "spectral":
                spectral_norm(self.project)
        self.code_head = nn.Linear(self.net.feature_dim, c.codes) if c.codes else None  # InfoGAN's Q

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, with_codes: bool = False):
        """Logits (B,); with ``with_codes``, ``(logits, code logits (B, codes))``."""
        h = self.net.features(label_maps(x, labels, self.maps))
        out = self.net.head(h).squeeze(1)
        if self.project is not None:
            out = out + (self.project(labels) * h).sum(1)
        if with_codes:
            if self.code_head is None:
                raise LatentworksError("this discriminator has no code head; train with --codes K")
            return out, self.code_head(h)
        return out


@register_model("dcgan")
class DCGAN(GenerativeBase):
    @dataclass
    class Config(GenOptions):
        MODEL_DEFAULTS: ClassVar[dict] = {
            "default": {"latent_dim": 100, "filters": 64, "max_filters": 512},
            "notebook": {"latent_dim": 256},
        }

        d_cond: str = "channels"  # conditional models: channels | projection | both
        d_norm: str | None = None  # the discriminator's none | batch | spectral (None: the stacks' ``norm``)
        ema: float = 0.0  # decay of the generator's weight average used for sampling (0: off)
        codes: int = 0  # InfoGAN categorical code over the first ``codes`` latent coordinates (0: off)

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        check_decay(config.ema)
        if config.codes and not 2 <= config.codes <= config.latent_dim:
            raise LatentworksError(f"--codes must be 0 or between 2 and the latent size {config.latent_dim}, "
                                   f"got {config.codes}")
        if config.codes and config.num_classes:
            raise LatentworksError("--codes is for unconditional GANs; a cGAN already has its labels")
        z_cond = self._setup_conditioning()
        self.generator = Generator(config, z_cond)
        self.discriminator = Critic(config, self.num_classes, config.d_cond)
        self.generator_ema = None
        if config.ema:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self._stats_at = -1  # ema_updates when the average's batch-norm statistics were last estimated
        self.sample_average = True  # False: decode from the live generator (to measure what the average adds)

    def update_ema(self) -> None:
        """Fold the generator's current weights into its average (after each generator update)."""
        if self.generator_ema is not None:
            update_average(self.generator_ema, self.generator, self.config.ema, int(self.ema_updates))
            self.ema_updates += 1

    def sampler(self) -> nn.Module:
        """The network ``decode`` uses: the weight average when ``ema`` > 0, else the generator."""
        if self.generator_ema is None or not self.sample_average:
            return self.generator
        if self._stats_at != int(self.ema_updates):
            noise = torch.Generator().manual_seed(0)  # CPU draws: the same statistics on every device

            def forward(_: int) -> None:
                z = torch.randn(256, self.config.latent_dim, generator=noise).to(self.device)
                labels = torch.arange(256, device=self.device) % self.num_classes if self.conditional else None
                self.generator_ema(z, labels)

            standing_statistics(self.generator_ema, forward)
            self._stats_at = int(self.ema_updates)
        return self.generator_ema

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latents → images in [0, 1] (the generator's tanh output mapped by (x + 1) / 2)."""
        z = self.check_latents(z)
        return (self.sampler()(z, self.check_labels(labels, z.shape[0])) + 1) / 2

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] (or uint8) → the discriminator's logits (B,)."""
        x = self.check_images(x)
        return self.discriminator(x * 2 - 1, self.check_labels(labels, x.shape[0]))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(z, labels)


__all__ = ["DCGAN", "Critic", "Generator", "latent_code"]

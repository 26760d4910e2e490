"""DCGAN (course §4.6, seed 004): a transposed-conv generator (tanh) against a conv discriminator (logits).

The model owns its training: ``configure_optimizers`` and a ``training_step`` that alternates a discriminator
and a generator update (the updates themselves are in :mod:`latentworks.models.gan_updates`). Schemes:

* ``"default"``: separate optimizers ``g`` and ``d`` (the recipes use Adam, lr 2e-4, β1 0.5); one batch of fakes
  per step scores against the full real batch, then G is updated through the frozen D on the same fakes.
  ``d_lr`` gives D its own learning rate (the two time-scale rule, TTUR).
* ``"notebook"``: the course's scheme. One optimizer (``shared``) updates both networks; D trains on half a
  batch of fakes labelled 0 and half a batch of reals labelled 1 in one pooled BCE; G trains on a full batch of
  fresh latents labelled 1. (Keras's shared optimizer counts one iteration per update of either model for
  Adam's bias correction; PyTorch counts per parameter. The difference vanishes after a few hundred steps.)

With ``ema`` > 0 the model also keeps an exponential moving average of the generator's weights, updated after
each generator step, and ``decode`` samples from that average (see :mod:`latentworks.models.ema`).
``d_norm="spectral"`` swaps the discriminator's batch norm for spectral normalisation (SN-GAN). Under torchrun
the generator and a pairwise critic run in their own DistributedDataParallel wrappers (``ctx.synced``), so each
update synchronises exactly the gradients it applies; latent noise is seeded by (seed, step, rank).

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
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from latentworks.config import positive, require
from latentworks.errors import LatentworksError
from latentworks.models.builders import ConvNet, DeconvNet, init_weights
from latentworks.models.diff_augment import diff_augment, parse_policy
from latentworks.models.ema import check_decay, standing_statistics, update_average
from latentworks.models.gan_updates import PairCritic, discriminator_step, generator_step
from latentworks.models.generative_base import GenerativeBase, GenOptions, ZCondition, label_maps
from latentworks.registry import CLASS_BALANCE, FLD_RATIO, PRECISION, RECALL, register_model
from latentworks.training.config import TrainConfig
from latentworks.training.module import StepOutput
from latentworks.training.optim import build_optimizer

D_CONDITIONING = ("channels", "projection", "both")
SCHEMES = ("default", "notebook")


def latent_code(z: torch.Tensor, codes: int) -> torch.Tensor:
    """The categorical code of each latent: argmax of its first ``codes`` coordinates, (B,) long."""
    return z[:, :codes].argmax(1)


class Generator(nn.Module):
    """(z, labels) → images in [-1, 1]."""

    def __init__(self, c, z_cond: ZCondition):
        super().__init__()
        self.z_cond = z_cond
        self.codes = c.codes
        self.net = DeconvNet(c.image_size, c.channels, c.latent_dim + z_cond.extra + c.codes, "tanh",
                             c.decoder_stack())

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
        opts = c.encoder_stack(norm=c.d_norm)
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


@register_model("dcgan", family="generative", title="DCGAN", capabilities=("sample", "decode", "adversarial", "codes"),
                measures=(FLD_RATIO, PRECISION, RECALL, CLASS_BALANCE), step_seconds=0.025)
class DCGAN(GenerativeBase):
    manual_optimization = True  # it steps its own optimizers, D then G

    @dataclass
    class Config(GenOptions):
        latent_dim: int = 100  # latent size
        filters: int = 64  # filters of the first level (doubled per level)
        max_filters: int = 512  # cap on the doubling
        d_cond: Literal["channels", "projection", "both"] = "channels"  # cGAN: how labels enter D
        d_norm: Literal["none", "batch", "spectral"] | None = None  # D's normalisation (None: --norm); SN-GAN
        d_lr: float | None = None  # the discriminator's learning rate (None: --lr); 2x-4x --lr is TTUR
        ema: float = 0.0  # sample from an average of G's weights with this decay, e.g. 0.999 (0: off)
        codes: int = 0  # InfoGAN categorical code with this many values (10 for digits), learnt without labels
        augment: str = "none"  # DiffAugment: D sees reals and fakes through e.g. "color,translation,cutout"
        scheme: Literal["default", "notebook"] = "default"  # separate Adams, or the course's shared one

        def check(self) -> None:
            super().check()
            require(self.scheme in SCHEMES, "scheme", self.scheme, "must be default or notebook")
            require(self.d_cond in D_CONDITIONING, "d_cond", self.d_cond, "must be channels, projection or both")
            check_decay(self.ema)
            try:
                parse_policy(self.augment)
            except ValueError as err:
                require(False, "augment", self.augment, f"{err}, e.g. --augment translation,cutout")
            require(self.d_lr is None or positive(self.d_lr), "d_lr", self.d_lr, "must be a positive number")
            require(not self.codes or 2 <= self.codes <= self.latent_dim, "codes", self.codes,
                    f"must be 0 or between 2 and the latent size {self.latent_dim}")
            require(not (self.codes and self.num_classes), "codes", self.codes,
                    "is for unconditional GANs; a cGAN already has its labels")
            require(not (self.scheme == "notebook" and self.codes), "codes", self.codes,
                    "needs the default scheme (the notebook scheme has no code loss); drop --codes")
            require(not (self.scheme == "notebook" and self.d_lr is not None), "d_lr", self.d_lr,
                    "needs the default scheme (the notebook scheme shares one optimizer); drop --d-lr")

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        z_cond = self._setup_conditioning()
        self.generator = Generator(config, z_cond)
        self.discriminator = Critic(config, self.num_classes, config.d_cond)
        self.generator_ema = None
        if config.ema:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self._stats_at = -1  # ema_updates when the average's batch-norm statistics were last estimated
        self.sample_average = True  # False: decode from the live generator (to measure what the average adds)
        # Not a registered sub-module: it only routes the discriminator, whose weights are saved once.
        self.__dict__["pair_critic"] = PairCritic(self.discriminator)

    # ------------------------------------------------------------------ training
    def configure_optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        if self.config.scheme == "notebook":
            return {"shared": build_optimizer(self.parameters(), train)}
        return {"g": build_optimizer(self.generator.parameters(), train),
                "d": build_optimizer(self.discriminator.parameters(), train, lr=self.config.d_lr)}

    def training_step(self, batch, ctx) -> StepOutput:
        """Batches are (uint8 or [0, 1] images,), or (images, labels) when conditional."""
        images = batch[0]
        real = (images.float() / 127.5 - 1.0) if images.dtype == torch.uint8 else images.float() * 2 - 1
        labels = batch[1] if self.conditional else None
        gen, pair = ctx.synced(self.generator), ctx.synced(self.pair_critic)
        b, device = real.shape[0], real.device
        noise = ctx.noise(device)
        policy = parse_policy(self.config.augment)

        def seen(x: torch.Tensor) -> torch.Tensor:  # what D is shown: the same augmentations for real and fake
            return diff_augment(x, policy, noise)

        def draw(n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
            z = torch.randn(n, self.config.latent_dim, device=device, generator=noise)
            y = (torch.randint(self.num_classes, (n,), device=device, generator=noise)
                 if self.conditional else None)
            return z, y

        if self.config.scheme == "notebook":
            opt = ctx.optimizers["shared"]
            n_real = (b + 1) // 2
            real, labels = real[:n_real], (labels[:n_real] if labels is not None else None)
            z, y = draw(max(1, b - n_real))
            with torch.no_grad():
                fake = gen(z, y)
            logs = discriminator_step(pair, opt, seen(real), seen(fake), labels, y, pooled=True)
            z, y = draw(b)
            logs.update(generator_step(self.discriminator, opt, seen(gen(z, y)), y))
        else:
            z, y = draw(b)
            fake = seen(gen(z, y))  # one augmented batch of fakes: detached for D's update, through G's for G's
            codes = latent_code(z, self.config.codes) if self.config.codes else None
            logs = discriminator_step(pair, ctx.optimizers["d"], seen(real), fake, labels, y, fake_codes=codes)
            logs.update(generator_step(self.discriminator, ctx.optimizers["g"], fake, y, fake_codes=codes))
        self.update_ema()
        return StepOutput(logs=logs)  # no loss: both optimizers have stepped (manual_optimization)

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

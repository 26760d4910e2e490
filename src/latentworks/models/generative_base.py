"""What every generative model (CAE, VAE, DCGAN and their conditional forms) shares beyond the conv stacks.

* :class:`GenOptions`: the config fields every generative model has (flat, so each is one command-line flag)
  and the :class:`~latentworks.models.builders.Stack` of its encoder and decoder;
* :func:`sample_normal`: the latent sampler with truncation (re-drawn beyond ±t) and scale;
* label conditioning: a one-hot or embedded code joined to z (:class:`ZCondition`), one-hot maps as extra
  image channels (:func:`label_maps`);
* :class:`GenerativeBase`: ``conditional``, ``sample_latent``, the one-line checks of labels, latents and
  images, and the autoencoders' training step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.config import Derived, finite, flag_alias, require, validate
from latentworks.data.images import check_image_size
from latentworks.errors import LatentworksError
from latentworks.models.builders import Stack, check_choice
from latentworks.training.module import StepOutput, Trainable


@dataclass
class GenOptions:
    """Fields every generative model config has, flat so each is one option and ``model.json`` round-trips.

    Defaults are the DCGAN-style stacks; the course's Keras stacks are the ``notebook`` recipe
    (:mod:`latentworks.recipes.generative`).
    """

    image_size: Derived[int] = 28
    channels: Derived[int] = 1
    num_classes: Derived[int] = 0
    latent_dim: int = 32  # latent size
    cond_embed: Literal["onehot", "embedding"] = "onehot"  # conditional models: how labels join z
    embed_dim: int = 16  # conditional models with --cond-embed embedding: the label embedding's size
    style: Literal["default", "notebook"] = "default"  # conv stacks: DCGAN style, or the course's Keras ones
    enc_depth: Annotated[int | None, flag_alias("--d-depth")] = None  # stride-2 convs in the encoder / D (None: auto)
    dec_depth: Annotated[int | None, flag_alias("--g-depth")] = None  # transposed convs in the decoder / G
    filters: int = 32  # filters of the first level (doubled per level)
    max_filters: int = 256  # cap on the doubling (seed 001: 32→256)
    kernel: Literal[3, 4, 5] = 4  # conv kernel size
    norm: Literal["none", "batch"] = "batch"  # normalisation in the stacks
    dropout: float = 0.0  # dropout in the encoder / discriminator
    activation: Literal["leakyrelu", "relu"] = "leakyrelu"  # encoder / discriminator activation
    dec_activation: Literal["leakyrelu", "relu"] = "relu"  # decoder / generator activation
    init: Literal["normal", "xavier", "torch"] = "normal"  # normal: N(0, 0.02); xavier: Glorot; torch: its default
    bf16: bool = False  # bfloat16 conv products (autocast; weights and losses stay float32): needs bf16 hardware

    def check(self) -> None:
        require(self.latent_dim >= 1, "latent_dim", self.latent_dim, "must be at least 1")
        require(self.embed_dim >= 1, "embed_dim", self.embed_dim, "must be at least 1")
        require(self.filters >= 1 and self.max_filters >= 1, "filters", self.filters,
                "and --max-filters must be at least 1")
        for name in ("enc_depth", "dec_depth"):
            value = getattr(self, name)
            require(value is None or value >= 1, name, value, "must be at least 1 (or left out)")
        require(finite(self.dropout) and 0 <= self.dropout < 1, "dropout", self.dropout, "must lie in [0, 1)")
        check_image_size(self.image_size)
        require(self.channels >= 1, "channels", self.channels, "must be positive")

    def encoder_stack(self, norm: str | None = None) -> Stack:
        return Stack(style=self.style, depth=self.enc_depth, filters=self.filters, max_filters=self.max_filters,
                     kernel=self.kernel, norm=norm or self.norm, dropout=self.dropout, activation=self.activation,
                     init=self.init, bf16=self.bf16)

    def decoder_stack(self) -> Stack:
        return Stack(style=self.style, depth=self.dec_depth, filters=self.filters, max_filters=self.max_filters,
                     kernel=self.kernel, norm=self.norm, dropout=0.0, activation=self.dec_activation,
                     init=self.init, bf16=self.bf16)


def check_sampling(truncate: float | None, scale: float) -> None:
    if truncate is not None and not (truncate > 0 and math.isfinite(truncate)):
        raise LatentworksError(f"--truncate must be a positive number of standard deviations, got {truncate}")
    if not (scale > 0 and math.isfinite(scale)):
        raise LatentworksError(f"--scale must be a positive number, got {scale}")


def sample_normal(
    n: int,
    dim: int,
    generator: torch.Generator | None = None,
    truncate: float | None = None,
    scale: float = 1.0,
) -> torch.Tensor:
    """N(0, I) on the CPU; entries beyond ±``truncate`` are re-drawn (truncation trick); then × ``scale``."""
    check_sampling(truncate, scale)
    z = torch.randn(n, dim, generator=generator)
    if truncate is not None:
        for _ in range(1000):  # P(|z| > t) ≤ 0.32 for t ≥ 1, so this ends quickly; the clamp is a last resort
            bad = z.abs() > truncate
            if not bool(bad.any()):
                break
            z[bad] = torch.randn(int(bad.sum()), generator=generator)
        z = z.clamp(-truncate, truncate)
    return z * scale


class ZCondition(nn.Module):
    """Concatenates a label code to z: one-hot or a learned embedding; the identity without classes."""

    def __init__(self, num_classes: int = 0, mode: str = "onehot", embed_dim: int = 16):
        super().__init__()
        check_choice("cond_embed", mode, ("onehot", "embedding"))
        self.num_classes, self.mode = num_classes, mode
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes and mode == "embedding" else None
        self.extra = 0 if not num_classes else (embed_dim if self.embed is not None else num_classes)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if not self.num_classes:
            return z
        code = (
            self.embed(labels) if self.embed is not None else F.one_hot(labels, self.num_classes).to(z.dtype)
        )
        return torch.cat([z, code], dim=1)


def label_maps(x: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """Append one constant one-hot map per class to the images as extra input channels."""
    if not num_classes or labels is None:
        return x
    maps = F.one_hot(labels, num_classes).to(x.dtype)[:, :, None, None]
    return torch.cat([x, maps.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)


class GenerativeBase(Trainable, nn.Module):
    """Common interface: ``conditional``, ``num_classes``, ``sample_latent``, and the input checks."""

    config: GenOptions
    kind: str

    def _setup_conditioning(self) -> ZCondition:
        c = self.config
        validate(c)
        if c.num_classes < 0 or c.num_classes == 1:
            raise LatentworksError(
                f"num_classes must be 0 (unconditional) or at least 2, got {c.num_classes}"
            )
        self.num_classes = int(c.num_classes)
        self.conditional = self.num_classes > 0
        return ZCondition(self.num_classes, c.cond_embed, c.embed_dim)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def training_step(self, batch, ctx) -> StepOutput:
        """Autoencoders: batches are (images,) or (images, labels); ``forward`` returns (loss, logs)."""
        return StepOutput(*self(batch[0], batch[1] if self.conditional else None))

    def after_training(self, images: torch.Tensor) -> None:
        """Work a model does once, when its training ends, on its training images (a VAE with a fitted prior
        fits it); nothing by default."""

    def sample_latent(
        self,
        n: int,
        generator: torch.Generator | None = None,
        truncate: float | None = None,
        scale: float = 1.0,
    ) -> torch.Tensor:
        return sample_normal(n, self.config.latent_dim, generator, truncate, scale).to(self.device)

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """None for unconditional models (labels are ignored); a long (n,) tensor in range otherwise."""
        if not self.conditional:
            return None
        if labels is None:
            raise LatentworksError(
                f"the {self.kind} model is conditional: pass one class label "
                f"(0..{self.num_classes - 1}) per image"
            )
        labels = torch.as_tensor(labels, device=self.device).long().reshape(-1)
        if labels.numel() == 1 and n > 1:
            labels = labels.expand(n)
        if labels.numel() != n:
            raise LatentworksError(f"got {labels.numel()} labels for {n} images")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise LatentworksError(f"class labels must lie in 0..{self.num_classes - 1}")
        return labels

    def check_latents(self, z: torch.Tensor) -> torch.Tensor:
        d = self.config.latent_dim
        if z.dim() != 2 or z.shape[1] != d:
            raise LatentworksError(
                f"latents must have shape (N, {d}), got {tuple(z.shape)}; the latent dimension "
                f"does not match this {self.kind} model"
            )
        return z.to(self.device, torch.float32)

    def check_images(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 or float in [0, 1], (B, C, H, W) matching the config → float on the model's device."""
        c = self.config
        want = (c.channels, c.image_size, c.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise LatentworksError(
                f"the {self.kind} model takes images (N, {want[0]}, {want[1]}, {want[2]}), got "
                f"{tuple(x.shape)}; resize to --size {c.image_size}"
            )
        x = x.to(self.device)
        return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


__all__ = [
    "GenOptions",
    "GenerativeBase",
    "ZCondition",
    "check_sampling",
    "label_maps",
    "sample_normal",
]

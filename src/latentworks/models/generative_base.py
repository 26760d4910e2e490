"""What every generative model (CAE, VAE, DCGAN and their conditional forms) shares beyond the conv stacks.

* :class:`GenOptions`: the flat config fields, resolved against the stack presets so ``model.json`` holds
  concrete numbers;
* :func:`sample_normal`: the latent sampler with truncation (re-drawn beyond ±t) and scale;
* label conditioning: a one-hot or embedded code joined to z (:class:`ZCondition`), one-hot maps as extra
  image channels (:func:`label_maps`);
* :class:`GenerativeBase`: ``conditional``, ``sample_latent`` and the one-line checks of labels, latents and
  images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from latentworks.errors import LatentworksError
from latentworks.models.builders import (
    PRESETS,
    STACK_PRESETS,
    StackOptions,
    check_choice,
    check_image_size,
    default_depth,
)


@dataclass
class GenOptions:
    """Fields every generative model config has, flat so ``model.json`` round-trips without nesting.

    Options left at None take the preset's value in ``__post_init__`` (``STACK_PRESETS`` merged with the
    model's ``MODEL_DEFAULTS``), so a saved config always holds concrete numbers.
    """

    MODEL_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

    image_size: int = 28
    channels: int = 1
    latent_dim: int | None = None
    num_classes: int = 0
    cond_embed: str = "onehot"  # onehot | embedding: how labels join z
    embed_dim: int = 16
    preset: str = "default"
    enc_depth: int | None = None
    dec_depth: int | None = None
    filters: int | None = None
    max_filters: int | None = None
    kernel: int | None = None
    norm: str | None = None
    dropout: float | None = None
    activation: str | None = None
    dec_activation: str | None = None
    init: str | None = None

    def __post_init__(self) -> None:
        check_choice("preset", self.preset, PRESETS)
        check_image_size(self.image_size)
        if self.channels < 1:
            raise LatentworksError(f"channels must be positive, got {self.channels}")
        table = {**STACK_PRESETS[self.preset], **self.MODEL_DEFAULTS.get(self.preset, {})}
        for key, value in table.items():
            if getattr(self, key, 0) is None:
                setattr(self, key, value)
        if self.enc_depth is None:
            self.enc_depth = default_depth(self.image_size, self.preset, "encoder")
        if self.dec_depth is None:
            self.dec_depth = default_depth(self.image_size, self.preset, "decoder")
        if self.latent_dim is None or self.latent_dim < 1:
            raise LatentworksError(f"latent_dim must be a positive integer, got {self.latent_dim}")


def enc_options(c: GenOptions) -> StackOptions:
    return StackOptions(
        c.preset, c.enc_depth, c.filters, c.max_filters, c.kernel, c.norm, c.dropout, c.activation, c.init
    )


def dec_options(c: GenOptions) -> StackOptions:
    return StackOptions(
        c.preset, c.dec_depth, c.filters, c.max_filters, c.kernel, c.norm, 0.0, c.dec_activation, c.init
    )


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


class GenerativeBase(nn.Module):
    """Common interface: ``conditional``, ``num_classes``, ``sample_latent``, and the input checks."""

    config: GenOptions
    kind: str

    def _setup_conditioning(self) -> ZCondition:
        c = self.config
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
    "dec_options",
    "enc_options",
    "label_maps",
    "sample_normal",
]

"""Differentiable augmentation for GAN training (DiffAugment, Zhao et al. 2020).

A discriminator that sees the same few thousand real images epoch after epoch learns them by heart, and its
verdicts stop telling the generator anything general. DiffAugment shows the discriminator every image, real and
generated alike, through the same random transformations, built from operations the generator's gradient passes
through; the generator then learns the real distribution, not the augmented one (unlike augmenting the reals
alone, which leaks the augmentations into the samples).

Policies, applied in this order (each drawn per image, from the caller's generator, so resume is exact):

* ``color``: brightness ±0.5, saturation ×[0, 2], contrast ×[0.5, 1.5] (images in [-1, 1]);
* ``translation``: shift by up to 1/8 of the side in each direction, zero-padded;
* ``cutout``: zero a square of half the side at a random place.
"""

from __future__ import annotations

import torch

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` → ``("color", "translation")``; ``""`` or ``"none"`` → ``()``. Raises ValueError
    naming the unknown part."""
    if policy.strip().lower() in ("", "none"):
        return ()
    parts = tuple(p.strip() for p in policy.split(","))
    unknown = [p for p in parts if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown augmentation '{unknown[0]}'; choose from {', '.join(POLICIES)} "
                         "(comma-separated) or none")
    return parts


def _uniform(n: int, x: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=noise, device=x.device, dtype=x.dtype)


def _color(x: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_uniform(n, x, noise) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(n, x, noise) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, x, noise) + 0.5) + mean


def _translation(x: torch.Tensor, noise: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), generator=noise, device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=noise, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy + 1  # +1: the zero border added below
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx + 1
    rows, cols = rows.clamp(0, h + 1).expand(n, h, w), cols.clamp(0, w + 1).expand(n, h, w)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, noise: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=noise, device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=noise, device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], noise: torch.Generator) -> torch.Tensor:
    """Images (B, C, H, W) in [-1, 1] through ``policy``'s transformations, each drawn per image from
    ``noise``; differentiable in ``x``. An empty policy returns ``x`` itself."""
    for name in policy:
        x = _OPS[name](x, noise)
    return x


__all__ = ["POLICIES", "diff_augment", "parse_policy"]

"""A small PixelCNN head that makes the VAE's Bernoulli decoder autoregressive (PixelVAE, Gulrajani et al. 2017).

A factorised decoder must explain every pixel from z alone, so the uncertain edge of each stroke costs nats
that no latent can remove. The head lets pixel (i, j) also see the pixels above it and to its left:

    h = MaskA_k×k(2x − 1) + features(z)          # features: the conv decoder's output, C channels at H×W
    h = h + MaskB_3×3(relu(h))                   # ``layers − 1`` times
    logits = Conv1×1(relu(h))

Mask "A" hides the centre pixel, "B" (used after the first layer) lets a position read its own hidden state,
so logits at (i, j) depend on x only through pixels earlier in raster order. Single-channel images only.
Training and likelihoods need one pass (teacher forcing); sampling needs one pass per pixel, each restricted
to the rows the receptive field can reach, so it stays affordable at 28×28.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """Same-size conv whose output at (i, j) reads inputs above row i, or left of column j in row i
    (plus (i, j) itself for mask "B")."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel, padding=kernel // 2)
        centre = kernel // 2
        mask = torch.ones_like(self.weight)
        mask[:, :, centre, centre + (mask_type == "B"):] = 0
        mask[:, :, centre + 1:] = 0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelHead(nn.Module):
    def __init__(self, channels: int, layers: int, first_kernel: int = 7):
        super().__init__()
        if layers < 1:
            raise ValueError("a pixel head needs at least one layer")
        self.first = MaskedConv2d(1, channels, first_kernel, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(channels, channels, 3, "B") for _ in range(layers - 1))
        self.out = nn.Conv2d(channels, 1, 1)
        # Rows above i that can reach the logits at row i: the first kernel's half-height, then one per block.
        self.reach = first_kernel // 2 + len(self.blocks)

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1, H, W) for binary images ``x`` given the decoder's ``features`` (B, C, H, W)."""
        h = self.first(2 * x - 1) + features
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.out(F.relu(h))

    @torch.no_grad()
    def sample(self, features: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        """Binary images, pixel by pixel in raster order: x_ij = [u_ij < p(x_ij = 1 | x_<ij, z)].

        ``uniform`` (broadcastable to (B, 1, H, W)) fixes the randomness, so the same noise gives the same
        images and nearby latents give nearby images.
        """
        b, _, height, width = features.shape
        u = uniform.expand(b, 1, height, width)
        x = torch.zeros(b, 1, height, width, dtype=features.dtype, device=features.device)
        for i in range(height):
            top = max(0, i - self.reach)  # rows above ``top`` cannot reach row i, so leave them out
            rows = slice(top, i + 1)
            for j in range(width):
                p = torch.sigmoid(self(x[:, :, rows], features[:, :, rows])[:, 0, -1, j])
                x[:, 0, i, j] = (u[:, 0, i, j] < p).to(x.dtype)
        return x


__all__ = ["MaskedConv2d", "PixelHead"]

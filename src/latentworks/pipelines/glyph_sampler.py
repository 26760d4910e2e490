"""Handwriting for index tensors, drawn in torch so that every batch can get fresh digits cheaply."""

from __future__ import annotations

import numpy as np
import torch

from latentworks.data.glyphs import GlyphBank
from latentworks.errors import LatentworksError


class GlyphSampler:
    """All pools of a ``GlyphBank`` in one tensor, addressed by charset index."""

    def __init__(self, bank: GlyphBank, charset: str):
        pools, offsets, sizes = [], [], []
        start = 0
        for ch in charset:
            if ch not in bank.pools:
                raise LatentworksError(f"no glyphs for {ch!r}; the glyph bank renders {bank.charset!r}")
            pool = bank.pools[ch]
            pools.append(pool)
            offsets.append(start)
            sizes.append(len(pool))
            start += len(pool)
        self.images = torch.from_numpy(np.concatenate(pools))
        self.offsets = torch.tensor(offsets)
        self.sizes = torch.tensor(sizes)

    def render(self, ids: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 images (..., 28, 28): one independent random pool image per character occurrence."""
        ids_cpu = ids.cpu()
        u = torch.rand(ids_cpu.shape, generator=generator)
        pick = self.offsets[ids_cpu] + (u * self.sizes[ids_cpu]).long()
        return self.images[pick]

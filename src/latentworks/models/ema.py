"""An exponential moving average of a network's weights, for sampling (Karras et al. 2018; BigGAN, StyleGAN).

A GAN generator's weights keep moving around the equilibrium, so samples from the last step carry the last
few updates' noise; the average over the last ~1/(1 − decay) steps gives cleaner samples at no training cost.

Batch-norm running statistics belong to the weights that produced them, not to their average, so the averaged
copy gets its own "standing" statistics (BigGAN): batch-norm layers in cumulative mode, a few batches of fresh
latents through the averaged network, recomputed whenever the average has moved since the last time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from latentworks.errors import LatentworksError


def check_decay(decay: float) -> None:
    if not 0.0 <= decay < 1.0:
        raise LatentworksError(f"ema must be in [0, 1) (0 turns it off; 0.999 is usual), got {decay}")


@torch.no_grad()
def update_average(average: nn.Module, live: nn.Module, decay: float, updates: int) -> None:
    """average ← d·average + (1 − d)·live, with d warmed up as min(decay, (1 + t)/(10 + t)) so that the
    early average is not dominated by the random initialisation."""
    d = min(decay, (1.0 + updates) / (10.0 + updates))
    for a, p in zip(average.parameters(), live.parameters()):
        a.lerp_(p.detach(), 1.0 - d)


@torch.no_grad()
def standing_statistics(module: nn.Module, forward: Callable[[int], object], batches: int = 8) -> None:
    """Re-estimate every batch-norm layer's running mean/var as the plain average over ``batches`` calls
    of ``forward(i)`` in training mode; the module's mode and the layers' momentum are restored."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = module.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
    module.train()
    try:
        for i in range(batches):
            forward(i)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        module.train(was_training)


__all__ = ["check_decay", "standing_statistics", "update_average"]

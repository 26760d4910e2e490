"""Optimizers, learning-rate schedules and gradient clipping, as the ``train`` section names them."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from latentworks.training.config import TrainConfig


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: TrainConfig, lr: float | None = None,
                    betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
    """The optimizer ``cfg.optimizer`` over ``params`` (``lr`` / ``betas`` override the config's)."""
    lr = cfg.lr if lr is None else lr
    betas = cfg.betas if betas is None else betas
    # Lists, not generators: the fused check below reads them, and so does the optimizer.
    params = [dict(p, params=list(p["params"])) if isinstance(p, dict) else p for p in params]
    # One fused kernel per step instead of a dozen tensor ops per parameter: at batch 8 the per-parameter Adam
    # was a quarter of a step (1.7 of 7 ms for the course's model, BENCHMARKS.md); the arithmetic is Adam's own.
    fused = {"fused": True} if _can_fuse(params) else {}
    name = cfg.optimizer
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=cfg.weight_decay, **fused)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=cfg.weight_decay, **fused)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, **fused)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adagrad(params, lr=lr, weight_decay=cfg.weight_decay)


def _can_fuse(params: list) -> bool:
    """Whether torch's fused optimizers take these parameters (plain tensors or param groups): floating point,
    on the CPU or a CUDA device."""
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    return bool(tensors) and all(t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors)


def lr_factor(step: int, total: int, cfg: TrainConfig) -> float:
    """Multiplier on the base LR at ``step``: a pure function of the step, so resume needs no scheduler state."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    progress = min(max(progress, 0.0), 1.0)
    floor = cfg.min_lr_ratio
    if cfg.schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.schedule == "linear":
        return floor + (1 - floor) * (1 - progress)
    if cfg.schedule == "onecycle":
        peak = 0.3
        if progress < peak:
            return 0.1 + 0.9 * progress / peak
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (progress - peak) / (1 - peak)))
    return 1.0


def clip_gradients(params: Iterable[torch.nn.Parameter], cfg: TrainConfig) -> None:
    """``--clip norm``: scale all gradients to a global L2 norm of at most ``--clip-value``; ``elementwise``:
    clamp each gradient element to ±``--clip-value``."""
    if cfg.clip == "norm":
        torch.nn.utils.clip_grad_norm_(params, cfg.clip_value)
    elif cfg.clip == "elementwise":
        torch.nn.utils.clip_grad_value_(params, cfg.clip_value)


__all__ = ["build_optimizer", "clip_gradients", "lr_factor"]
